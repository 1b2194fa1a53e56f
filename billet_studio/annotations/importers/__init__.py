"""Importing labels from other tools' formats into a project, one module per format."""

from __future__ import annotations

from pathlib import Path

from billet_studio.annotations.errors import AnnotationError
from billet_studio.annotations.importers.coco import read_coco
from billet_studio.annotations.importers.cvat import read_cvat
from billet_studio.annotations.importers.intake import (
    ImportReport,
    ParsedSource,
    write_into_project,
)
from billet_studio.annotations.importers.voc import read_voc
from billet_studio.annotations.importers.yolo import read_yolo
from billet_studio.annotations.project import Project

IMPORT_FORMATS = ("coco", "yolo", "voc", "cvat-xml")


def import_annotations(
    project: Project, fmt: str, source: Path | str, images: Path | str | None = None
) -> ImportReport:
    """Import ``source`` (in format ``fmt``) into ``project``.

    The whole source is parsed first, so a malformed file raises AnnotationError before
    anything is written. Images are copied into ``project.root / "images"``; an image that
    already has labels, or whose name is taken by a different file, is skipped (listed in the
    report), never overwritten. ``images`` says where the image files are for COCO, VOC and
    CVAT sources; a YOLO folder holds its own.
    """
    if fmt not in IMPORT_FORMATS:
        raise ValueError(f"unknown import format {fmt!r}; use one of {', '.join(IMPORT_FORMATS)}")
    source = Path(source)
    image_dir = Path(images) if images is not None else None
    if not source.exists():
        raise AnnotationError(source, "does not exist")
    if image_dir is not None and not image_dir.is_dir():
        raise AnnotationError(image_dir, "is not a folder of images")
    parsed: ParsedSource
    if fmt == "coco":
        parsed = read_coco(source, image_dir)
    elif fmt == "yolo":
        if image_dir is not None:
            raise ValueError("a YOLO folder holds its own images; leave out `images`")
        parsed = read_yolo(source, project.config.classes)
    elif fmt == "voc":
        parsed = read_voc(source, image_dir)
    else:
        parsed = read_cvat(source, image_dir)
    return write_into_project(project, parsed)


__all__ = ["IMPORT_FORMATS", "ImportReport", "import_annotations"]
