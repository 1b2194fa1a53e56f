"""LabelMe JSON sidecars: strict reading, faithful writing (unknown keys survive).

Files written here open in labelme, and labelme's files open here. The per-image facts
that are not booleans live in one extra top-level object, ``billet``, which labelme keeps.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from billet_studio.annotations.atomic import atomic_write_json
from billet_studio.annotations.errors import AnnotationError
from billet_studio.annotations.records import LABELME_VERSION, SPLITS, BilletInfo, ImageRecord
from billet_studio.annotations.shapes import USED_SHAPE_TYPES, VISIBILITIES, Shape

TOP_LEVEL_KEYS = (
    "version", "flags", "shapes", "imagePath", "imageData", "imageHeight", "imageWidth",
)
SHAPE_KEYS = ("label", "points", "group_id", "description", "shape_type", "flags")
BILLET_KEY = "billet"
#: The largest sidecar we read; a real one is a few hundred kB even with imageData.
MAX_JSON_BYTES = 256 * 1024 * 1024


def load_json_document(path: Path) -> Any:
    """Read a JSON file, turning every way it can be broken into an AnnotationError."""
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise AnnotationError(path, f"is {size} bytes, larger than any label file")
        raw = path.read_bytes()
    except OSError as error:
        raise AnnotationError(path, f"cannot be read ({error.strerror or error})") from None
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise AnnotationError(path, f"is not UTF-8 text ({error.reason})") from None
    except json.JSONDecodeError as error:
        raise AnnotationError(
            path, f"is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    except RecursionError:
        raise AnnotationError(path, "is not valid JSON (nested too deeply)") from None


def parse_labelme(document: Any, json_path: Path, image_path: Path) -> ImageRecord:
    """Validate a decoded LabelMe document and build its record.

    Raises AnnotationError for anything that makes the labels unusable; problems that
    leave the file usable (an unknown shape type, say) become the record's warnings.
    """
    if not isinstance(document, dict):
        raise AnnotationError(json_path, "is not a LabelMe file (the top level is not an object)")
    if "shapes" not in document:
        raise AnnotationError(json_path, "is not a LabelMe file (no 'shapes' list)")
    raw_shapes = document["shapes"]
    if not isinstance(raw_shapes, list):
        raise AnnotationError(json_path, "'shapes' is not a list")
    warnings: list[str] = []
    shapes = tuple(
        _parse_shape(raw, index, json_path, warnings) for index, raw in enumerate(raw_shapes)
    )
    height = _optional_size(document, "imageHeight", json_path)
    width = _optional_size(document, "imageWidth", json_path)
    flags = _flags(document.get("flags"), json_path, "")
    image_data = document.get("imageData")
    if image_data is not None and not isinstance(image_data, str):
        raise AnnotationError(json_path, "'imageData' must be base64 text or null")
    version = document.get("version", "")
    if not isinstance(version, str):
        raise AnnotationError(json_path, "'version' must be text")
    image_path_text = document.get("imagePath")
    if image_path_text is not None and not isinstance(image_path_text, str):
        raise AnnotationError(json_path, "'imagePath' must be text")
    billet = _parse_billet(document.get(BILLET_KEY), json_path)
    extra = {k: v for k, v in document.items() if k not in (*TOP_LEVEL_KEYS, BILLET_KEY)}
    return ImageRecord(
        image_path=image_path,
        height=height or 0,
        width=width or 0,
        shapes=shapes,
        billet=billet,
        json_path=json_path,
        flags=dict(flags),
        version=version,
        image_data=image_data,
        extra=extra,
        warnings=tuple(warnings),
        image_path_text=image_path_text,
    )


def _optional_size(document: dict, key: str, path: Path) -> int | None:
    value = document.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise AnnotationError(path, f"'{key}' must be a positive whole number, got {value!r}")
    return value


def _parse_shape(raw: Any, index: int, path: Path, warnings: list[str]) -> Shape:
    where = f"shape {index + 1}"
    if not isinstance(raw, dict):
        raise AnnotationError(path, f"{where} is not an object")
    label = raw.get("label")
    if not isinstance(label, str) or not label:
        raise AnnotationError(path, f"{where} has no label (a non-empty text is needed)")
    where = f"shape {index + 1} ({label!r})"
    shape_type = raw.get("shape_type") or "polygon"
    if not isinstance(shape_type, str):
        raise AnnotationError(path, f"{where}: 'shape_type' must be text")
    points = _parse_points(raw.get("points"), path, where)
    if shape_type == "polygon" and len(points) < 3:
        raise AnnotationError(path, f"{where}: a polygon needs at least 3 points, has "
                                    f"{len(points)}")
    if shape_type == "rectangle" and len(points) != 2:
        raise AnnotationError(path, f"{where}: a rectangle needs 2 corner points, has "
                                    f"{len(points)}")
    if shape_type not in USED_SHAPE_TYPES:
        warnings.append(f"{path}: {where}: shape type {shape_type!r} is kept but not used "
                        "(Billet Studio uses polygon and rectangle)")
    flags = _flags(raw.get("flags"), path, f"{where}: ")
    group_id = raw.get("group_id")
    if group_id is not None and (isinstance(group_id, bool) or not isinstance(group_id, int)):
        raise AnnotationError(path, f"{where}: 'group_id' must be a whole number or null")
    description = raw.get("description") or ""
    if not isinstance(description, str):
        raise AnnotationError(path, f"{where}: 'description' must be text")
    extra = {k: v for k, v in raw.items() if k not in SHAPE_KEYS}
    return Shape(label, points, shape_type, dict(flags), group_id, description, extra)


def _parse_points(raw: Any, path: Path, where: str) -> tuple[tuple[float, float], ...]:
    if not isinstance(raw, list):
        raise AnnotationError(path, f"{where}: 'points' must be a list of [x, y] pairs")
    points = []
    for point in raw:
        if (
            not isinstance(point, list | tuple)
            or len(point) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in point)
            or not all(_finite(v) for v in point)
        ):
            shown = repr(point) if len(repr(point)) < 60 else repr(point)[:57] + "..."
            raise AnnotationError(path, f"{where}: point {shown} is not an [x, y] pair of "
                                        "finite numbers")
        points.append((point[0], point[1]))
    return tuple(points)


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def _flags(raw: Any, path: Path, where: str) -> dict[str, bool]:
    """A labelme flags object: names to booleans (labelme writes ``{}`` when there are none)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, bool) for v in raw.values()):
        raise AnnotationError(path, f"{where}'flags' must map names to true/false")
    return dict(raw)


def _parse_billet(raw: Any, path: Path) -> BilletInfo:
    if raw is None:
        return BilletInfo()
    if not isinstance(raw, dict):
        raise AnnotationError(path, f"'{BILLET_KEY}' must be an object")
    values: dict[str, str | None] = {}
    for key in ("site", "split", "id", "visibility"):
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            raise AnnotationError(path, f"'{BILLET_KEY}.{key}' must be text, got {value!r}")
        values[key] = value
    if values["split"] is not None and values["split"] not in SPLITS:
        raise AnnotationError(path, f"'{BILLET_KEY}.split' is {values['split']!r}; use one "
                                    f"of {', '.join(SPLITS)}")
    if values["visibility"] is not None and values["visibility"] not in VISIBILITIES:
        raise AnnotationError(path, f"'{BILLET_KEY}.visibility' is {values['visibility']!r}; "
                                    f"use one of {', '.join(VISIBILITIES)}")
    extra = {k: v for k, v in raw.items() if k not in values}
    return BilletInfo(**values, extra=extra)


def labelme_document(record: ImageRecord, json_path: Path) -> dict[str, Any]:
    """The LabelMe JSON for a record, with labelme's key order and ``imagePath`` relative
    to the sidecar."""
    image_path = os.path.relpath(record.image_path, json_path.parent)
    document: dict[str, Any] = {
        "version": record.version or LABELME_VERSION,
        "flags": dict(record.flags),
        "shapes": [_shape_document(s) for s in record.shapes],
        "imagePath": Path(image_path).as_posix(),
        "imageData": record.image_data,
        "imageHeight": record.height,
        "imageWidth": record.width,
    }
    if not record.billet.is_empty():
        document[BILLET_KEY] = record.billet.to_json()
    document.update(record.extra)
    return document


def _shape_document(shape: Shape) -> dict[str, Any]:
    document: dict[str, Any] = {
        "label": shape.label,
        "points": [[x, y] for x, y in shape.points],
        "group_id": shape.group_id,
        "description": shape.description,
        "shape_type": shape.shape_type,
        "flags": dict(shape.flags),
    }
    document.update(shape.extra)
    return document


def read_labelme(json_path: Path, image_path: Path) -> ImageRecord:
    """Read and validate the sidecar of ``image_path``."""
    return parse_labelme(load_json_document(json_path), json_path, image_path)


def write_labelme(record: ImageRecord, json_path: Path | None = None) -> Path:
    """Save a record as LabelMe JSON, atomically; returns the path written."""
    target = json_path or record.json_path or record.image_path.with_suffix(".json")
    atomic_write_json(target, labelme_document(record, target))
    return target
