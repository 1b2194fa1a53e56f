"""Exporting a project's labels for training tools, one module per format."""

from billet_studio.annotations.exporters.coco import coco_document, export_coco
from billet_studio.annotations.exporters.report import ExportReport
from billet_studio.annotations.exporters.yolo import export_yolo, yolo_lines

EXPORT_FORMATS = ("coco", "yolo")

__all__ = [
    "EXPORT_FORMATS",
    "ExportReport",
    "coco_document",
    "export_coco",
    "export_yolo",
    "yolo_lines",
]
