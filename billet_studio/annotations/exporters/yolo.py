"""YOLO detection export: ``images/<split>``, ``labels/<split>`` and ``data.yaml``.

Each stamp becomes ``class cx cy w h``, its box as fractions of the image size with six
decimals; an image without stamps gets an empty label file (a background image). Images are
hard-linked when the file system allows it, else copied. Subfolders of the project's image
folder are kept, so two images with the same name in different folders do not collide.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import yaml

from billet_studio.annotations.atomic import atomic_write_text
from billet_studio.annotations.exporters.report import (
    ExportReport,
    checked_output_folder,
    records_by_split,
)
from billet_studio.annotations.project import Project
from billet_studio.annotations.records import ImageRecord


def export_yolo(project: Project, out: Path | str) -> ExportReport:
    """Write a YOLO dataset folder at ``out``."""
    out = checked_output_folder(project, out)
    records = project.load_records()
    class_ids = {name: index for index, name in enumerate(project.config.classes)}
    warnings: list[str] = []
    files: list[Path] = []
    per_split: dict[str, int] = {}
    for split, items in records_by_split(records).items():
        labels_seen: set[Path] = set()
        for record in items:
            relative = record.image_path.relative_to(project.image_root)
            label_path = (out / "labels" / split / relative).with_suffix(".txt")
            if label_path in labels_seen:
                warnings.append(f"{record.image_path}: another image of the {split} split has "
                                f"the same stem, and so the same label file; left out")
                continue
            labels_seen.add(label_path)
            image_path = out / "images" / split / relative
            _place_image(record.image_path, image_path)
            atomic_write_text(label_path, "".join(
                f"{line}\n" for line in yolo_lines(record, class_ids, warnings)
            ))
            files += [image_path, label_path]
            per_split[split] = per_split.get(split, 0) + 1
    if per_split and "val" not in per_split:
        warnings.append("no image is in the val split; Ultralytics needs one to train "
                        "(mark some images as val)")
    data = {
        "path": str(out),
        **{split: f"images/{split}" for split in per_split},
        "names": dict(enumerate(project.config.classes)),
    }
    data_path = out / "data.yaml"
    atomic_write_text(data_path, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    files.append(data_path)
    return ExportReport(tuple(files), per_split, tuple(warnings))


def yolo_lines(
    record: ImageRecord, class_ids: dict[str, int], warnings: list[str]
) -> list[str]:
    """``class cx cy w h`` for each stamp of a record (unknown labels are warned about)."""
    warnings.extend(record.geometry_warnings)
    lines = []
    for stamp in record.stamps:
        if stamp.label not in class_ids:
            warnings.append(f"{record.image_path}: a stamp labelled {stamp.label!r} is not one "
                            "of the project's classes; left out")
            continue
        box = stamp.box
        cx = (box.x0 + box.x1) / 2 / record.width
        cy = (box.y0 + box.y1) / 2 / record.height
        w = box.width / record.width
        h = box.height / record.height
        lines.append(f"{class_ids[stamp.label]} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
    return lines


def _place_image(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # Writing over an old export's hard link would write into the project's own image.
    if target.exists() or target.is_symlink():
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
