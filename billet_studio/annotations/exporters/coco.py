"""COCO instances export: one JSON file per split, loadable by pycocotools.

Boxes and polygon vertices keep Billet Studio's pixel-area convention, which is COCO's. A
polygon stamp's ``segmentation`` lists the outlines of its pieces; COCO polygons cannot cut
holes, so a stamp with holes (an 8, a B) is written as a compressed RLE mask instead, the
form pycocotools uses for regions with holes. ``area`` is always the exact polygon area.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as coco_mask

from billet_studio.annotations.atomic import atomic_write_json
from billet_studio.annotations.exporters.report import (
    ExportReport,
    labelled_records,
    records_by_split,
)
from billet_studio.annotations.output_folder import checked_output_folder, staged_output
from billet_studio.annotations.project import Project
from billet_studio.annotations.records import ImageRecord
from billet_studio.annotations.shapes import Stamp
from billet_studio.geometry import rasterize_polygons_exact

SUPERCATEGORY = "character"


def export_coco(project: Project, out: Path | str) -> ExportReport:
    """Write ``train.json``, ``val.json`` and ``test.json`` (the splits that have images)."""
    out = checked_output_folder(project, out)
    warnings: list[str] = []
    records = labelled_records(project, warnings)
    files: list[Path] = []
    per_split: dict[str, int] = {}
    with staged_output(out, "coco") as stage:
        for split, items in records_by_split(records).items():
            atomic_write_json(stage / f"{split}.json",
                              coco_document(project, split, items, warnings))
            files.append(out / f"{split}.json")
            per_split[split] = len(items)
    return ExportReport(tuple(files), per_split, tuple(warnings))


def coco_document(
    project: Project, split: str, records: list[ImageRecord], warnings: list[str]
) -> dict[str, Any]:
    """The COCO document of one split; problems are appended to ``warnings``."""
    classes = project.config.classes
    category_ids = {name: index + 1 for index, name in enumerate(classes)}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for image_id, record in enumerate(records, start=1):
        images.append({
            "id": image_id,
            "file_name": project.relative(record.image_path),
            "width": record.width,
            "height": record.height,
            # What evaluation needs to form the paper's test subsets without the project.
            "billet": {**record.billet.to_json(), "visibility": record.visibility},
        })
        warnings.extend(record.geometry_warnings)
        for stamp in record.stamps:
            if stamp.label not in category_ids:
                warnings.append(
                    f"{record.image_path}: a stamp labelled {stamp.label!r} is not one of the "
                    f"project's classes; left out of {split}.json"
                )
                continue
            annotations.append({
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": category_ids[stamp.label],
                **stamp_geometry(stamp, record.height, record.width),
                "iscrowd": 0,
                "attributes": {"partial": stamp.partial, "poor": stamp.poor},
            })
    return {
        "info": {"description": f"Billet Studio export of {project.config.name} ({split})"},
        "images": images,
        "annotations": annotations,
        "categories": [
            {"id": category_ids[name], "name": name, "supercategory": SUPERCATEGORY}
            for name in classes
        ],
        "billet_studio": {"project_root": str(project.root), "split": split},
    }


def stamp_geometry(stamp: Stamp, height: int, width: int) -> dict[str, Any]:
    """COCO ``bbox``, ``area`` and ``segmentation`` of a stamp (RLE when it has holes)."""
    box = stamp.box
    segmentation: list[list[float]] | dict[str, Any]
    if any(p.holes for p in stamp.polygons):
        mask = rasterize_polygons_exact(stamp.polygons, height, width)
        rle = coco_mask.encode(np.asfortranarray(mask))
        segmentation = {"size": [height, width], "counts": rle["counts"].decode("ascii")}
        area = sum(p.area for p in stamp.polygons)
    elif stamp.polygons:
        segmentation = [p.exterior.reshape(-1).tolist() for p in stamp.polygons]
        area = sum(p.area for p in stamp.polygons)
    else:
        segmentation = [[box.x0, box.y0, box.x1, box.y0, box.x1, box.y1, box.x0, box.y1]]
        area = box.area
    return {
        "bbox": [float(v) for v in box.xywh()],
        "area": float(area),
        "segmentation": segmentation,
    }
