"""COCO instances JSON import: polygon segmentations become polygons, the rest rectangles.

Coordinates need no conversion: a COCO ``bbox`` ``[x, y, w, h]`` and polygon vertices use
the same continuous pixel-area convention as Billet Studio (pixel (r, c) covers
[c, c+1) x [r, r+1)). Several rings of one annotation share a ``group_id`` so they stay one
stamp; an RLE mask (how COCO holds regions with holes) is traced back into outlines
with holes. ``attributes.partial``/``poor`` (as the
Billet Studio exporter writes them) become shape flags, and a top-level
``billet_studio.split`` becomes the images' split.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

from pycocotools import mask as coco_mask

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
from billet_studio.annotations.labelme import load_json_document
from billet_studio.annotations.shapes import Shape
from billet_studio.geometry import bounds_of, trace_mask


def read_coco(source: Path, images: Path | None = None) -> ParsedSource:
    """Parse a COCO instances file; image files are looked up under ``images`` (else the
    file's folder), by ``file_name`` as given and then by its base name."""
    if source.is_dir():
        raise AnnotationError(source, "is a folder; give the COCO instances JSON file")
    document = load_json_document(source)
    if not isinstance(document, dict):
        raise AnnotationError(source, "is not a COCO file (the top level is not an object)")
    raw_images = _required_list(document, "images", source)
    raw_annotations = _required_list(document, "annotations", source)
    categories = _categories(_required_list(document, "categories", source), source)
    split = _split(document.get("billet_studio"), source)
    base = images if images is not None else source.parent
    parsed = ParsedSource()
    by_id: dict[int, SourceImage] = {}
    for index, raw in enumerate(raw_images):
        image_id, item = _image(raw, index, source, base, split)
        if image_id in by_id:
            raise AnnotationError(source, f"images[{index}]: id {image_id} is used twice")
        by_id[image_id] = item
        parsed.images.append(item)
    next_group: dict[int, int] = {}
    for index, raw in enumerate(raw_annotations):
        where = f"annotations[{index}]"
        if not isinstance(raw, dict):
            raise AnnotationError(source, f"{where} is not an object")
        image_id = _whole(raw.get("image_id"), source, f"{where}.image_id")
        if image_id not in by_id:
            raise AnnotationError(source, f"{where}: image_id {image_id} is not in 'images'")
        category_id = _whole(raw.get("category_id"), source, f"{where}.category_id")
        if category_id not in categories:
            raise AnnotationError(
                source, f"{where}: category_id {category_id} is not in 'categories'"
            )
        label = categories[category_id]
        item = by_id[image_id]
        if raw.get("iscrowd"):
            parsed.warnings.append(
                f"{source}: {where} ({label!r} on {item.name}) is a crowd region "
                "(iscrowd); not imported"
            )
            continue
        flags = _flags(raw.get("attributes"))
        segmentation = raw.get("segmentation")
        if isinstance(segmentation, dict):
            traced = _rle_shapes(segmentation, label, flags, source, where, item.stated_size,
                                 raw.get("bbox"))
            if traced:
                group_id = next_group.get(image_id, 0) + 1
                next_group[image_id] = group_id
                item.shapes.extend(replace(s, group_id=group_id) for s in traced)
                continue
        rings = _polygon_rings(segmentation, source, where, parsed.warnings)
        if rings:
            group_id = None
            if len(rings) > 1:
                group_id = next_group.get(image_id, 0) + 1
                next_group[image_id] = group_id
            item.shapes.extend(
                Shape(label, ring, "polygon", dict(flags), group_id) for ring in rings
            )
        else:
            x, y, w, h = _bbox(raw.get("bbox"), source, where)
            item.shapes.append(rectangle(label, x, y, x + w, y + h, flags))
    return parsed


def _required_list(document: dict[str, Any], key: str, source: Path) -> list[Any]:
    if key not in document:
        raise AnnotationError(source, f"is not a COCO instances file (no {key!r} list)")
    value = document[key]
    if not isinstance(value, list):
        raise AnnotationError(source, f"{key!r} is not a list")
    return value


def _whole(value: Any, source: Path, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise AnnotationError(source, f"{where} must be a whole number, got {value!r}")
    return value


def _categories(raw: list[Any], source: Path) -> dict[int, str]:
    categories: dict[int, str] = {}
    for index, category in enumerate(raw):
        where = f"categories[{index}]"
        if not isinstance(category, dict):
            raise AnnotationError(source, f"{where} is not an object")
        category_id = _whole(category.get("id"), source, f"{where}.id")
        name = category.get("name")
        if not isinstance(name, str) or not name:
            raise AnnotationError(source, f"{where}.name must be a non-empty text")
        if category_id in categories:
            raise AnnotationError(source, f"{where}: id {category_id} is used twice")
        categories[category_id] = name
    return categories


def _split(raw: Any, source: Path) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise AnnotationError(source, "'billet_studio' must be an object")
    split = raw.get("split")
    return split_from_name(split) if isinstance(split, str) else None


def _image(
    raw: Any, index: int, source: Path, base: Path, split: str | None
) -> tuple[int, SourceImage]:
    where = f"images[{index}]"
    if not isinstance(raw, dict):
        raise AnnotationError(source, f"{where} is not an object")
    image_id = _whole(raw.get("id"), source, f"{where}.id")
    file_name = raw.get("file_name")
    if not isinstance(file_name, str) or not file_name.strip():
        raise AnnotationError(source, f"{where}.file_name must be a non-empty text")
    # Exports made on Windows may use backslashes.
    relative = Path(file_name.replace("\\", "/"))
    stated = None
    if "width" in raw or "height" in raw:
        width = _whole(raw.get("width"), source, f"{where}.width")
        height = _whole(raw.get("height"), source, f"{where}.height")
        if width <= 0 or height <= 0:
            raise AnnotationError(source, f"{where}: width and height must be positive")
        stated = (height, width)
    found, tried = first_existing([base / relative, base / relative.name], base)
    item = SourceImage(
        origin=source, name=relative.name, source=found, stated_size=stated, split=split,
        looked_for=tried,
    )
    return image_id, item


def _flags(raw: Any) -> dict[str, bool]:
    if not isinstance(raw, dict):
        return {}
    return {key: True for key in FLAG_ATTRIBUTES if raw.get(key) is True}


def _polygon_rings(
    raw: Any, source: Path, where: str, warnings: list[str]
) -> list[tuple[tuple[float, float], ...]]:
    """The polygon rings of a segmentation; none for RLE or a missing segmentation."""
    if raw is None or isinstance(raw, dict):
        return []
    if not isinstance(raw, list):
        raise AnnotationError(
            source, f"{where}.segmentation must be a list of polygons or an RLE object"
        )
    rings = []
    for number, ring in enumerate(raw):
        ring_where = f"{where}.segmentation[{number}]"
        if not isinstance(ring, list):
            raise AnnotationError(source, f"{ring_where} must be a list [x1, y1, x2, y2, ...]")
        if len(ring) % 2:
            raise AnnotationError(source, f"{ring_where} has an odd number of coordinates")
        values = [finite_number(v, source, ring_where) for v in ring]
        if len(values) < 6:
            warnings.append(f"{source}: {ring_where} has fewer than 3 points; ignored")
            continue
        rings.append(tuple(zip(values[0::2], values[1::2], strict=True)))
    return rings


def _rle_shapes(
    raw: dict[str, Any], label: str, flags: dict[str, bool], source: Path, where: str,
    image_size: tuple[int, int] | None, bbox: Any,
) -> list[Shape]:
    """Outline and hole shapes traced from an RLE segmentation (compressed or not).

    The mask must have the image's size and, when the annotation has a ``bbox``, lie
    within it: pycocotools decodes any string, so these checks catch a corrupt RLE.
    """
    size = raw.get("size")
    counts = raw.get("counts")
    if (not isinstance(size, list) or len(size) != 2
            or not all(isinstance(v, int) and v > 0 for v in size)
            or not isinstance(counts, str | list)):
        raise AnnotationError(source, f"{where}.segmentation is not a valid RLE object "
                                      "(needs 'size' [height, width] and 'counts')")
    try:
        rle = (coco_mask.frPyObjects(raw, *size) if isinstance(counts, list)
               else {"size": size, "counts": counts.encode("ascii")})
        with warnings.catch_warnings():
            # pycocotools' own numpy-2 deprecation notice, not the user's concern.
            warnings.simplefilter("ignore", DeprecationWarning)
            mask = coco_mask.decode(rle)
    except (ValueError, TypeError, UnicodeEncodeError) as error:
        raise AnnotationError(source, f"{where}.segmentation RLE cannot be decoded "
                                      f"({error})") from None
    if image_size is not None and tuple(size) != image_size:
        raise AnnotationError(source, f"{where}.segmentation RLE is {size[1]}x{size[0]} but "
                                      f"its image is {image_size[1]}x{image_size[0]}")
    polygons = trace_mask(mask)
    if polygons and bbox is not None:
        x, y, w, h = _bbox(bbox, source, where)
        region = bounds_of(polygons)
        if (region.x0 < x - 1 or region.y0 < y - 1 or region.x1 > x + w + 1
                or region.y1 > y + h + 1):
            raise AnnotationError(source, f"{where}.segmentation RLE covers {region.xyxy()}, "
                                          f"outside its bbox {[x, y, w, h]}; it is corrupt")
    shapes = []
    for polygon in polygons:
        shapes.append(Shape(label, _points(polygon.exterior), "polygon", dict(flags)))
        shapes.extend(Shape(label, _points(hole), "polygon", {**flags, "hole": True})
                      for hole in polygon.holes)
    return shapes


def _points(ring: Any) -> tuple[tuple[float, float], ...]:
    return tuple((float(x), float(y)) for x, y in ring)


def _bbox(raw: Any, source: Path, where: str) -> tuple[float, float, float, float]:
    if not isinstance(raw, list) or len(raw) != 4:
        raise AnnotationError(
            source, f"{where}: needs a polygon segmentation or a 'bbox' [x, y, width, height]"
        )
    x, y, w, h = (finite_number(v, source, f"{where}.bbox") for v in raw)
    if w < 0 or h < 0:
        raise AnnotationError(source, f"{where}.bbox has a negative width or height")
    return x, y, w, h
