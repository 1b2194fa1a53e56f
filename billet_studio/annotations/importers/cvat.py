"""CVAT XML import: "CVAT for images 1.1" ``annotations.xml`` and "LabelMe 3.0" XML files.

Which one a file is comes from its root element: ``<annotations>`` (CVAT for images, one
file for the whole task) or ``<annotation>`` (LabelMe 3.0, one file per image). Boxes become
rectangles and polygons polygons; CVAT coordinates are continuous pixel coordinates like
ours, so they are taken as they are. A rotated CVAT box (``rotation`` degrees, clockwise
about its centre) becomes a 4-point polygon. In LabelMe 3.0 files a polygon with
``<type>bounding_box</type>`` is a box, and ``<deleted>1</deleted>`` objects are left out.
CVAT ``subset`` names (Train, Validation, Test) set the split; ``partial``/``poor``
attributes that are true become shape flags. Other shape kinds are reported, not imported.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

from billet_studio.annotations.errors import AnnotationError
from billet_studio.annotations.importers.intake import (
    FLAG_ATTRIBUTES,
    ParsedSource,
    SourceImage,
    finite_number,
    first_existing,
    rectangle,
    split_from_name,
)
from billet_studio.annotations.importers.xml_source import (
    attribute_number,
    optional_text,
    parse_xml,
    required_number,
    required_text,
    stated_size,
)
from billet_studio.annotations.shapes import Shape

TRUE_TEXTS = ("true", "1", "yes")
TASK_FILE = "annotations.xml"


def read_cvat(source: Path, images: Path | None = None) -> ParsedSource:
    """Parse an ``annotations.xml`` file, a folder holding one, or a folder of LabelMe 3.0
    XML files; images are looked up under ``images`` (else beside the XML)."""
    if source.is_file():
        files = [source]
    elif (source / TASK_FILE).is_file():
        files = [source / TASK_FILE]
    elif source.is_dir():
        files = sorted(
            p for p in source.rglob("*.xml")
            if not any(part.startswith(".") for part in p.relative_to(source).parts)
        )
    else:
        raise AnnotationError(source, "does not exist")
    if not files:
        raise AnnotationError(source, "holds no CVAT .xml files")
    parsed = ParsedSource()
    for path in files:
        root = parse_xml(path)
        base = images if images is not None else path.parent
        if root.tag == "annotations":
            _read_task(root, path, base, parsed)
        elif root.tag == "annotation":
            parsed.images.append(_read_labelme3(root, path, base, parsed.warnings))
        else:
            raise AnnotationError(
                path, f"root element <{root.tag}> is neither CVAT for images (<annotations>) "
                      "nor LabelMe 3.0 (<annotation>)"
            )
    return parsed


def _read_task(root: ET.Element, path: Path, base: Path, parsed: ParsedSource) -> None:
    if root.find("track") is not None:
        parsed.warnings.append(f"{path}: <track> elements (video tracks) are not imported")
    for index, image in enumerate(root.findall("image")):
        where = f"<image> {index + 1}"
        name = image.get("name")
        if not name:
            raise AnnotationError(path, f"{where}: attribute 'name' is missing")
        where = f"<image name={name!r}>"
        relative = Path(name.replace("\\", "/"))
        found, tried = first_existing([
            base / relative, base / "images" / relative, base / relative.name,
            base / "images" / relative.name,
        ], base)
        shapes: list[Shape] = []
        for child in image:
            shape = _task_shape(child, path, where)
            if shape is not None:
                shapes.append(shape)
            elif child.tag != "tag":
                parsed.warnings.append(
                    f"{path}: {where}: a <{child.tag}> is not a box or polygon; not imported"
                )
        parsed.images.append(SourceImage(
            origin=path, name=relative.name, source=found, shapes=shapes,
            stated_size=stated_size(image.get("width"), image.get("height"), path, where),
            split=split_from_name(image.get("subset")), looked_for=tried,
        ))


def _task_shape(element: ET.Element, path: Path, where: str) -> Shape | None:
    if element.tag not in ("box", "polygon"):
        return None
    label = element.get("label")
    if not label:
        raise AnnotationError(path, f"{where}: a <{element.tag}> has no label")
    where = f"{where} <{element.tag} label={label!r}>"
    flags = _flags(element)
    if element.tag == "polygon":
        points = _points(element.get("points"), path, where)
        return Shape(label, points, "polygon", flags)
    x0, y0, x1, y1 = (attribute_number(element, k, path, where) for k in
                      ("xtl", "ytl", "xbr", "ybr"))
    rotation = finite_number(element.get("rotation", "0"), path, f"{where} rotation")
    if rotation % 360 == 0:
        return rectangle(label, x0, y0, x1, y1, flags)
    return Shape(label, _rotated_corners(x0, y0, x1, y1, rotation), "polygon", flags)


def _rotated_corners(
    x0: float, y0: float, x1: float, y1: float, degrees: float
) -> tuple[tuple[float, float], ...]:
    # y points down, so the ordinary rotation matrix turns clockwise on screen, as CVAT does.
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    cos, sin = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    corners = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
    return tuple(
        (cx + (x - cx) * cos - (y - cy) * sin, cy + (x - cx) * sin + (y - cy) * cos)
        for x, y in corners
    )


def _points(text: str | None, path: Path, where: str) -> tuple[tuple[float, float], ...]:
    if not text:
        raise AnnotationError(path, f"{where}: attribute 'points' is missing")
    points = []
    for pair in text.split(";"):
        parts = pair.split(",")
        if len(parts) != 2:
            raise AnnotationError(path, f"{where}: point {pair!r} is not 'x,y'")
        points.append((finite_number(parts[0], path, where), finite_number(parts[1], path, where)))
    if len(points) < 3:
        raise AnnotationError(path, f"{where}: a polygon needs at least 3 points")
    return tuple(points)


def _flags(element: ET.Element) -> dict[str, bool]:
    flags = {}
    for attribute in element.findall("attribute"):
        name = attribute.get("name", "")
        if name in FLAG_ATTRIBUTES and (attribute.text or "").strip().lower() in TRUE_TEXTS:
            flags[name] = True
    return flags


def _read_labelme3(root: ET.Element, path: Path, base: Path, warnings: list[str]) -> SourceImage:
    filename = required_text(root, "filename", path, "<annotation>")
    relative = Path(filename.replace("\\", "/"))
    folder = optional_text(root, "folder") or ""
    found, tried = first_existing([base / folder / relative, base / relative,
                                   base / relative.name], base)
    size = root.find("imagesize")
    stated = None
    if size is not None:
        stated = stated_size(
            optional_text(size, "ncols"), optional_text(size, "nrows"), path, "<imagesize>"
        )
    shapes = []
    for index, obj in enumerate(root.findall("object")):
        if (optional_text(obj, "deleted") or "0") not in ("0", "false"):
            continue
        shape = _labelme3_object(obj, path, f"object {index + 1}", warnings)
        if shape is not None:
            shapes.append(shape)
    return SourceImage(
        origin=path, name=relative.name, source=found, shapes=shapes, stated_size=stated,
        looked_for=tried,
    )


def _labelme3_object(
    element: ET.Element, path: Path, where: str, warnings: list[str]
) -> Shape | None:
    label = required_text(element, "name", path, where)
    where = f"{where} ({label!r})"
    polygon = element.find("polygon")
    if polygon is None:
        warnings.append(f"{path}: {where} has no <polygon> (a mask?); not imported")
        return None
    points = tuple(
        (required_number(pt, "x", path, where), required_number(pt, "y", path, where))
        for pt in polygon.findall("pt")
    )
    if optional_text(element, "type") == "bounding_box":
        if not points:
            raise AnnotationError(path, f"{where}: a bounding box with no <pt>")
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        return rectangle(label, min(xs), min(ys), max(xs), max(ys))
    if len(points) < 3:
        raise AnnotationError(path, f"{where}: a polygon needs at least 3 <pt>, has "
                                    f"{len(points)}")
    return Shape(label, points, "polygon")
