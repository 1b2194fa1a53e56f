"""YOLO txt import (Ultralytics and darknet layouts): boxes become rectangles, polygons stay.

Label files are found by Ultralytics' rule, ``images`` folders mirrored by ``labels``
folders (``images/train/a.jpg`` -> ``labels/train/a.txt``, or Roboflow's
``train/images`` -> ``train/labels``), else as ``.txt`` files next to their images. A folder
named train, val/valid or test on an image's path sets its split. A line is
``class cx cy w h`` (a box) or ``class x1 y1 ... xn yn`` (a polygon of at least 3 points),
all fractions of the image size; an image with no label file is imported with no shapes
(YOLO's background image). Class names come from ``data.yaml`` (``names`` as a list or an
``{id: name}`` mapping), else from ``classes.txt``, else the project's classes in order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from billet_studio.annotations.errors import AnnotationError
from billet_studio.annotations.images import is_image_file
from billet_studio.annotations.importers.intake import (
    ParsedSource,
    SourceImage,
    finite_number,
    rectangle,
    split_from_name,
)
from billet_studio.annotations.shapes import Shape

NAME_FILES = ("data.yaml", "data.yml", "classes.txt")
#: Fractions a hair outside [0, 1] come from rounding; anything more is not normalised.
TOLERANCE = 1e-6


def read_yolo(source: Path, classes: tuple[str, ...]) -> ParsedSource:
    """Parse a YOLO dataset folder; ``classes`` name the ids when the folder does not."""
    if not source.is_dir():
        raise AnnotationError(source, "is not a folder; give the YOLO dataset folder")
    parsed = ParsedSource()
    names = _class_names(source, classes, parsed.warnings)
    label_files: set[Path] = set()
    for image in _files(source, is_image_file):
        relative = image.relative_to(source)
        label_path = _label_path(source, relative)
        split = next(
            (s for part in relative.parts[:-1] if (s := split_from_name(part))), None
        )
        shapes: list[Shape] = []
        if label_path is not None:
            label_files.add(label_path)
            shapes = _read_label_file(label_path, names)
        parsed.images.append(SourceImage(
            origin=label_path or image, name=image.name, source=image, shapes=shapes,
            split=split, normalised=True,
        ))
    for path in _files(source, lambda p: p.suffix == ".txt" and p.name not in NAME_FILES):
        if path not in label_files:
            parsed.skipped.append(f"{path}: no image with this stem was found; skipped")
    return parsed


def _label_path(source: Path, relative: Path) -> Path | None:
    """The label file of an image: Ultralytics' rule (the last ``images`` folder of the path
    swapped for ``labels``, as in ``images/train`` or Roboflow's ``train/images``), else the
    ``.txt`` beside the image; None when neither exists."""
    parts = list(relative.parts)
    candidates = []
    if "images" in parts[:-1]:
        last = len(parts) - 2 - parts[-2::-1].index("images")
        parts[last] = "labels"
        candidates.append(source.joinpath(*parts).with_suffix(".txt"))
    candidates.append((source / relative).with_suffix(".txt"))
    return next((c for c in candidates if c.is_file()), None)


def _files(root: Path, wanted: Any) -> list[Path]:
    """Files under ``root`` that ``wanted`` accepts, sorted, hidden folders left out."""
    return sorted(
        path for path in root.rglob("*")
        if path.is_file() and wanted(path)
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
    )


def _class_names(source: Path, classes: tuple[str, ...], warnings: list[str]) -> dict[int, str]:
    for name in NAME_FILES:
        path = source / name
        if path.is_file():
            return _names_from_text(path) if path.suffix == ".txt" else _names_from_yaml(path)
    warnings.append(
        f"{source}: no data.yaml or classes.txt; class ids are read as the project's classes "
        "in order"
    )
    return dict(enumerate(classes))


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise AnnotationError(path, f"cannot be read ({error.strerror or error})") from None
    except UnicodeDecodeError as error:
        raise AnnotationError(path, f"is not UTF-8 text ({error.reason})") from None


def _names_from_text(path: Path) -> dict[int, str]:
    names = [line.strip() for line in _read_text(path).splitlines()]
    while names and not names[-1]:
        names.pop()
    if not names or not all(names):
        raise AnnotationError(path, "must list one non-empty class name per line")
    return dict(enumerate(names))


def _names_from_yaml(path: Path) -> dict[int, str]:
    try:
        document = yaml.safe_load(_read_text(path))
    except yaml.YAMLError as error:
        raise AnnotationError(path, f"is not valid YAML ({error})") from None
    if not isinstance(document, dict) or "names" not in document:
        raise AnnotationError(path, "has no 'names' (a list or an {id: name} mapping)")
    raw = document["names"]
    if isinstance(raw, list):
        items = list(enumerate(raw))
    elif isinstance(raw, dict):
        items = list(raw.items())
    else:
        raise AnnotationError(path, "'names' must be a list or an {id: name} mapping")
    names: dict[int, str] = {}
    for key, value in items:
        # YAML reads unquoted digit names (``- 0``) as numbers; digits are our classes.
        if isinstance(key, bool) or not isinstance(key, int) or key < 0:
            raise AnnotationError(path, f"'names': class id {key!r} is not a whole number")
        if isinstance(value, bool) or not isinstance(value, str | int) or str(value) == "":
            raise AnnotationError(path, f"'names': the name of class {key} must be a text")
        names[key] = str(value)
    if not names:
        raise AnnotationError(path, "'names' is empty")
    return names


def _read_label_file(path: Path, names: dict[int, str]) -> list[Shape]:
    shapes = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        tokens = line.split()
        if tokens:
            shapes.append(_parse_line(tokens, path, f"line {number}", names))
    return shapes


def _parse_line(tokens: list[str], path: Path, where: str, names: dict[int, str]) -> Shape:
    try:
        class_id = int(tokens[0])
    except ValueError:
        raise AnnotationError(
            path, f"{where}: class id {tokens[0]!r} is not a whole number"
        ) from None
    if class_id not in names:
        raise AnnotationError(
            path, f"{where}: class id {class_id} has no name (known ids: "
                  f"{min(names)}..{max(names)})"
        )
    values = [finite_number(token, path, where) for token in tokens[1:]]
    if any(v < -TOLERANCE or v > 1 + TOLERANCE for v in values):
        raise AnnotationError(
            path, f"{where}: coordinates must be fractions of the image size (0 to 1)"
        )
    label = names[class_id]
    if len(values) == 4:
        cx, cy, w, h = values
        return rectangle(label, cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    if len(values) >= 6 and len(values) % 2 == 0:
        return Shape(label, tuple(zip(values[0::2], values[1::2], strict=True)), "polygon")
    raise AnnotationError(
        path, f"{where}: expected 'class cx cy w h' or 'class x1 y1 ... xn yn' (at least 3 "
              f"points), got {len(values)} numbers after the class id"
    )
