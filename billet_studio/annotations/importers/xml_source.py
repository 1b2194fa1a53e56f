"""Strict reading of XML label files: every parse failure or missing element names the file."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from billet_studio.annotations.errors import AnnotationError
from billet_studio.annotations.importers.intake import finite_number


def parse_xml(path: Path) -> ET.Element:
    """The root element of an XML file, or an AnnotationError saying why it cannot be read."""
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as error:
        raise AnnotationError(path, f"is not valid XML ({error})") from None
    except OSError as error:
        raise AnnotationError(path, f"cannot be read ({error.strerror or error})") from None


def optional_text(element: ET.Element, tag: str) -> str | None:
    """The stripped text of a child element; None when it is missing or empty."""
    child = element.find(tag)
    if child is None or child.text is None or not child.text.strip():
        return None
    return child.text.strip()


def required_text(element: ET.Element, tag: str, path: Path, where: str) -> str:
    text = optional_text(element, tag)
    if text is None:
        raise AnnotationError(path, f"{where}: <{tag}> is missing or empty")
    return text


def required_number(element: ET.Element, tag: str, path: Path, where: str) -> float:
    return finite_number(required_text(element, tag, path, where), path, f"{where} <{tag}>")


def attribute_number(element: ET.Element, name: str, path: Path, where: str) -> float:
    value = element.get(name)
    if value is None:
        raise AnnotationError(path, f"{where}: attribute {name!r} is missing")
    return finite_number(value, path, f"{where} {name}")


def stated_size(
    width: str | None, height: str | None, path: Path, where: str
) -> tuple[int, int] | None:
    """(height, width) from size texts; None when absent or zero (tools write 0 for unknown)."""
    if width is None or height is None:
        return None
    w = finite_number(width, path, f"{where} width")
    h = finite_number(height, path, f"{where} height")
    if w != int(w) or h != int(h) or w < 0 or h < 0:
        raise AnnotationError(path, f"{where}: size {width}x{height} is not two whole numbers")
    if w == 0 or h == 0:
        return None
    return int(h), int(w)
