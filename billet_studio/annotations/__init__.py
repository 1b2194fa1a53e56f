"""The project on disk: records, LabelMe sidecars, import/export, splits, atomic saves."""

from billet_studio.annotations.atomic import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
)
from billet_studio.annotations.document import EditConflict, LabelDocument, ShapesEdit
from billet_studio.annotations.errors import AnnotationError, SaveError
from billet_studio.annotations.id_format import IdFormat
from billet_studio.annotations.images import (
    IMAGE_SUFFIXES,
    MAX_IMAGE_PIXELS,
    is_image_file,
    read_image,
    read_image_size,
)
from billet_studio.annotations.journal import CrashJournal, JournalEntry
from billet_studio.annotations.labelme import (
    labelme_document,
    load_json_document,
    parse_labelme,
    read_labelme,
    write_labelme,
)
from billet_studio.annotations.project import (
    DEFAULT_CLASSES,
    PROJECT_FILE,
    Project,
    ProjectConfig,
    order_classes,
)
from billet_studio.annotations.records import SPLITS, BilletInfo, ImageRecord
from billet_studio.annotations.shapes import (
    VISIBILITIES,
    Shape,
    Stamp,
    derive_visibility,
    stamps_from_shapes,
)

__all__ = [
    "DEFAULT_CLASSES",
    "IMAGE_SUFFIXES",
    "MAX_IMAGE_PIXELS",
    "PROJECT_FILE",
    "SPLITS",
    "VISIBILITIES",
    "AnnotationError",
    "BilletInfo",
    "CrashJournal",
    "EditConflict",
    "IdFormat",
    "ImageRecord",
    "JournalEntry",
    "LabelDocument",
    "Project",
    "ProjectConfig",
    "SaveError",
    "Shape",
    "ShapesEdit",
    "Stamp",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "derive_visibility",
    "is_image_file",
    "labelme_document",
    "load_json_document",
    "order_classes",
    "parse_labelme",
    "read_image",
    "read_image_size",
    "read_labelme",
    "stamps_from_shapes",
    "write_labelme",
]
