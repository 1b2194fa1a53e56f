"""The COCO files of a built dataset: real images referenced where they are, synthetic
images from their label files, in plan order (so any shard count gives the same bytes)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from billet_studio.annotations.atomic import atomic_stream, atomic_write_json
from billet_studio.annotations.errors import AnnotationError
from billet_studio.annotations.exporters.coco import stamp_geometry
from billet_studio.annotations.project import Project
from billet_studio.jobs import Progress

PLAN_FILE = "plan.json"
MANIFEST_FILE = "manifest.json"
SPLITS = ("train", "val")


def synthetic_name(index: int, image_format: str) -> str:
    return f"images/syn_{index:06d}.{image_format}"


def read_plan(out: Path) -> dict[str, Any]:
    path = out / PLAN_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AnnotationError(out, "holds no plan.json; build the dataset first") from None
    except (OSError, ValueError) as error:
        raise AnnotationError(path, f"cannot be read ({error})") from None


def _real_entry(project: Project, out: Path, relative: str, warnings: list[str]
                ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    record = project.load_record(project.root / relative)
    image = {
        "file_name": Path(os.path.relpath(record.image_path, out)).as_posix(),
        "width": record.width, "height": record.height,
        "billet": {**record.billet.to_json(), "visibility": record.visibility,
                   "synthetic": False},
    }
    annotations = [{"label": stamp.label,
                    **stamp_geometry(stamp, record.height, record.width),
                    "attributes": {"partial": stamp.partial, "poor": stamp.poor,
                                   "synthetic": False}}
                   for stamp in record.stamps]
    warnings.extend(record.geometry_warnings)
    return image, annotations


def _synthetic_entry(out: Path, index: int, image_format: str
                     ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    path = out / "labels" / f"syn_{index:06d}.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AnnotationError(path, "is missing: synthetic image not made yet (run the "
                                    "remaining shards, or the build again)") from None
    except (OSError, ValueError) as error:
        raise AnnotationError(path, f"cannot be read ({error}); delete it and build again "
                                    "to remake that image") from None
    if not (out / synthetic_name(index, image_format)).is_file():
        raise AnnotationError(out / synthetic_name(index, image_format), "is missing")
    image = {key: document[key] for key in ("file_name", "width", "height", "billet")}
    return image, document["annotations"]


def write_dataset_coco(project: Project, out: Path, supercategory: str, version: str
                       ) -> Iterator[Progress]:
    """Job: ``train.json``, ``val.json`` and ``manifest.json`` of a fully built dataset.

    One pass over the images: each image's entry goes straight to its COCO file and its
    annotations to a spooled temporary file appended at the end, so merging a dataset of
    any size takes the same memory and reads every label once.
    """
    plan = read_plan(out)
    classes = plan["classes"]
    category = {name: index + 1 for index, name in enumerate(classes)}
    image_format = plan["config"]["image_format"]
    categories = [{"id": category[name], "name": name, "supercategory": supercategory}
                  for name in classes]
    warnings: list[str] = []
    counts = {split: {"images": 0, "synthetic": 0} for split in SPLITS}
    entries = [("real", relative, split) for relative, split in plan["real"]]
    entries += [("synthetic", index, split) for index, split in plan["synthetic"]]
    done = 0
    for split in SPLITS:
        mine = [(kind, key) for kind, key, s in entries if s == split]
        annotation_id = 0
        with atomic_stream(out / f"{split}.json", text=True) as stream, \
                tempfile.SpooledTemporaryFile(4 << 20, mode="w+", encoding="utf-8") as spool:
            info = {"description": f"Billet Studio dataset ({split})"}
            stream.write(f'{{"info": {json.dumps(info)},\n"images": [')
            for image_id, (kind, key) in enumerate(mine, start=1):
                image, annotations = (_real_entry(project, out, key, warnings)
                                      if kind == "real"
                                      else _synthetic_entry(out, key, image_format))
                stream.write(("\n" if image_id == 1 else ",\n")
                             + json.dumps({"id": image_id, **image}))
                counts[split]["images"] += 1
                counts[split]["synthetic"] += bool(image["billet"]["synthetic"])
                for annotation in annotations:
                    label = annotation["label"]
                    if label not in category:
                        warnings.append(f"{image['file_name']}: label {label!r} is not a "
                                        "project class; left out")
                        continue
                    annotation_id += 1
                    rest = {k: v for k, v in annotation.items() if k != "label"}
                    spool.write(("\n" if annotation_id == 1 else ",\n") + json.dumps({
                        "id": annotation_id, "image_id": image_id,
                        "category_id": category[label], **rest, "iscrowd": 0}))
                done += 1
                if done % 200 == 0:
                    yield Progress(done, len(entries), "writing COCO files")
            stream.write('\n],\n"annotations": [')
            spool.seek(0)
            shutil.copyfileobj(spool, stream)
            stream.write(f'\n],\n"categories": {json.dumps(categories)}}}\n')
    atomic_write_json(out / MANIFEST_FILE, {
        "code_version": version, "config": plan["config"], "renderer": plan["renderer"],
        "counts": counts, "real_sites": plan["real_sites"],
        "real_images": [relative for relative, _ in plan["real"]],
        "synthetic_images": len(plan["synthetic"]), "warnings": warnings,
    })
    yield Progress(done, done, f"wrote {out / 'train.json'} and val.json")
