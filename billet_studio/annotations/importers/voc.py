"""Pascal VOC XML import: each ``<object>``'s ``<bndbox>`` becomes a rectangle.

Coordinates: VOC ``xmin``/``ymin``/``xmax``/``ymax`` are 1-based pixel indices of the first
and last pixel the box covers (a box over the whole of a W-pixel-wide image is xmin=1,
xmax=W). Billet Studio boxes are continuous, with pixel (r, c) covering [c, c+1) x [r, r+1),
so the box is (xmin - 1, ymin - 1, xmax, ymax): the left/top edge of the first pixel and the
right/bottom edge of the last.

Layouts: a VOC folder (``Annotations/*.xml`` with images in ``JPEGImages/``, and
``ImageSets/Main/{train,val,test}.txt`` setting splits when present) or a folder of ``.xml``
files with the images beside them. ``images`` overrides where images are looked up.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from billet_studio.annotations.errors import AnnotationError
from billet_studio.annotations.images import IMAGE_SUFFIXES
from billet_studio.annotations.importers.intake import (
    ParsedSource,
    SourceImage,
    first_existing,
    rectangle,
)
from billet_studio.annotations.importers.xml_source import (
    optional_text,
    parse_xml,
    required_number,
    required_text,
    stated_size,
)
from billet_studio.annotations.records import SPLITS
from billet_studio.annotations.shapes import Shape


def read_voc(source: Path, images: Path | None = None) -> ParsedSource:
    """Parse a VOC folder (or a folder of VOC xml files)."""
    if not source.is_dir():
        raise AnnotationError(source, "is not a folder; give the VOC folder (with Annotations/)")
    annotations_dir = source / "Annotations"
    splits: dict[str, str] = {}
    if annotations_dir.is_dir():
        xml_files = sorted(annotations_dir.glob("*.xml"))
        image_dir: Path | None = images or source / "JPEGImages"
        splits = _image_sets(source / "ImageSets" / "Main")
    else:
        xml_files = sorted(source.glob("*.xml"))
        image_dir = images
    if not xml_files:
        raise AnnotationError(source, "holds no VOC .xml files (in Annotations/ or the folder)")
    parsed = ParsedSource()
    for path in xml_files:
        item = _read_file(path, image_dir or path.parent)
        item.split = splits.get(path.stem)
        parsed.images.append(item)
    return parsed


def _image_sets(folder: Path) -> dict[str, str]:
    """Image stem -> split, from ``ImageSets/Main/<split>.txt`` (one stem per line)."""
    splits: dict[str, str] = {}
    for split in SPLITS:
        path = folder / f"{split}.txt"
        if not path.is_file():
            continue
        try:
            lines = path.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise AnnotationError(path, f"cannot be read ({error})") from None
        for line in lines:
            if line.split():
                splits[line.split()[0]] = split
    return splits


def _read_file(path: Path, image_dir: Path) -> SourceImage:
    root = parse_xml(path)
    if root.tag != "annotation":
        raise AnnotationError(
            path, f"is not a Pascal VOC file (root element <{root.tag}>, not <annotation>)"
        )
    filename = optional_text(root, "filename")
    candidates = []
    if filename:
        relative = Path(filename.replace("\\", "/"))
        candidates += [image_dir / relative, image_dir / relative.name]
    # Some tools leave out <filename> or write it without the extension.
    candidates += [image_dir / f"{path.stem}{suffix}" for suffix in IMAGE_SUFFIXES]
    found, tried = first_existing(candidates, image_dir)
    name = found.name if found else Path(filename or f"{path.stem}.jpg").name
    size = root.find("size")
    stated = None
    if size is not None:
        stated = stated_size(
            optional_text(size, "width"), optional_text(size, "height"), path, "<size>"
        )
    shapes = [_object(obj, path, index) for index, obj in enumerate(root.findall("object"))]
    return SourceImage(
        origin=path, name=name, source=found, shapes=shapes, stated_size=stated,
        looked_for=tried,
    )


def _object(element: ET.Element, path: Path, index: int) -> Shape:
    where = f"object {index + 1}"
    label = required_text(element, "name", path, where)
    where = f"object {index + 1} ({label!r})"
    box = element.find("bndbox")
    if box is None:
        raise AnnotationError(path, f"{where}: <bndbox> is missing")
    xmin, ymin, xmax, ymax = (
        required_number(box, tag, path, where) for tag in ("xmin", "ymin", "xmax", "ymax")
    )
    if xmax < xmin or ymax < ymin:
        raise AnnotationError(path, f"{where}: xmax/ymax lie before xmin/ymin")
    return rectangle(label, xmin - 1, ymin - 1, xmax, ymax)
