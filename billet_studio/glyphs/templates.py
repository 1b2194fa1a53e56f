"""Character templates: the polygons (with cut-outs) a stamp is drawn from, and their JSON file.

A glyph lives in its own unit box: x in [0, width], y in [0, 1] with y pointing down (the
pixel convention of ``geometry.shapes``), so the glyph height is the unit of length.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from billet_studio.annotations.atomic import atomic_write_text
from billet_studio.annotations.errors import AnnotationError
from billet_studio.annotations.labelme import load_json_document
from billet_studio.geometry import Box, StampPolygon, bounds_of, rasterize_polygons

GLYPHS_FORMAT = "billet-studio-glyphs"
GLYPHS_VERSION = 1
#: The file name of a glyph set, bundled (``resources/``) and in a project folder.
GLYPHS_FILE = "glyphs.json"
DEFAULT_STYLE = "block punch"
DEFAULT_STROKE_WIDTH = 0.14
#: Decimals kept in the file: 1e-4 of the glyph height is far below a pixel at any stamp size.
COORDINATE_DECIMALS = 4


@dataclass(frozen=True)
class GlyphTemplate:
    """One character's stamp area: polygons with holes in the box [0, width] x [0, 1]."""

    char: str
    width: float
    polygons: tuple[StampPolygon, ...]

    def bounds(self) -> Box:
        """The box around the inked area (within, not necessarily equal to, the unit box)."""
        return bounds_of(self.polygons)

    def placed(self, matrix: np.ndarray) -> tuple[StampPolygon, ...]:
        """The polygons under a 2x3 affine or 3x3 projective matrix (unit box -> image)."""
        return tuple(polygon.transformed(matrix) for polygon in self.polygons)

    def mask(self, height_px: int, margin_px: int = 0) -> np.ndarray:
        """A uint8 0/255 mask with the glyph's unit height scaled to ``height_px`` pixels.

        The mask is ``height_px + 2*margin_px`` rows by ``ceil(width*height_px) +
        2*margin_px`` columns, the glyph box starting at (margin_px, margin_px).
        """
        if height_px < 1 or margin_px < 0:
            raise ValueError(f"need height_px >= 1 and margin_px >= 0, got {height_px}, "
                             f"{margin_px}")
        scale = float(height_px)
        matrix = np.array([[scale, 0.0, margin_px], [0.0, scale, margin_px]])
        # Rounded first so 0.7 * 10 = 7.000000000000001 does not gain a column.
        width_px = math.ceil(round(self.width * scale, 6)) + 2 * margin_px
        return rasterize_polygons(self.placed(matrix), height_px + 2 * margin_px, width_px)


def _char_order(char: str) -> tuple[int, str]:
    return (0 if char.isdigit() else 1 if char.isalpha() else 2, char)


@dataclass(frozen=True)
class GlyphSet:
    """The templates of one style, by character.

    ``glyphs`` is a plain dict for speed and simple equality; treat it as read-only (the
    dataclass is frozen, but a dict cannot be): build a new set to change a glyph.
    """

    glyphs: Mapping[str, GlyphTemplate]
    style: str = DEFAULT_STYLE
    stroke_width: float = DEFAULT_STROKE_WIDTH

    def __getitem__(self, char: str) -> GlyphTemplate:
        try:
            return self.glyphs[char]
        except KeyError:
            raise KeyError(
                f"no glyph for {char!r} in the {self.style!r} set; available: "
                f"{''.join(self.chars)}"
            ) from None

    def __contains__(self, char: object) -> bool:
        return char in self.glyphs

    def __iter__(self) -> Iterator[GlyphTemplate]:
        return (self.glyphs[char] for char in self.chars)

    def __len__(self) -> int:
        return len(self.glyphs)

    @property
    def chars(self) -> tuple[str, ...]:
        """The characters, digits first, then letters, then anything else."""
        return tuple(sorted(self.glyphs, key=_char_order))


# ---------------------------------------------------------------------------------------
# The file: writing


def _rounded(value: float) -> float:
    # + 0.0 turns -0.0 into 0.0, so a coordinate never gains a sign in the file.
    return round(float(value), COORDINATE_DECIMALS) + 0.0


def _ring_document(ring: np.ndarray) -> list[list[float]]:
    return [[_rounded(x), _rounded(y)] for x, y in ring]


def glyph_set_document(glyph_set: GlyphSet) -> dict[str, Any]:
    """The JSON document of a glyph set (coordinates rounded to 4 decimals)."""
    return {
        "format": GLYPHS_FORMAT,
        "version": GLYPHS_VERSION,
        "style": glyph_set.style,
        "stroke_width": _rounded(glyph_set.stroke_width),
        "glyphs": {
            glyph.char: {
                "width": _rounded(glyph.width),
                "polygons": [
                    {"exterior": _ring_document(polygon.exterior),
                     "holes": [_ring_document(hole) for hole in polygon.holes]}
                    for polygon in glyph.polygons
                ],
            }
            for glyph in glyph_set
        },
    }


_NUMBER = r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_SPLIT_POINT = re.compile(rf"\[\s*({_NUMBER}),\s*({_NUMBER})\s*\]")


def glyph_set_text(glyph_set: GlyphSet) -> str:
    """The file's text: indented JSON with one point per line, so a diff shows each vertex."""
    text = json.dumps(glyph_set_document(glyph_set), indent=2, ensure_ascii=False)
    return _SPLIT_POINT.sub(r"[\1, \2]", text) + "\n"


def save_glyph_set(glyph_set: GlyphSet, path: Path | str) -> None:
    """Write a glyph set atomically; :func:`load_glyph_set` gives an equal set back."""
    # Not atomic_write_json: its indent puts every number on a line of its own (~10k lines).
    atomic_write_text(path, glyph_set_text(glyph_set))


# ---------------------------------------------------------------------------------------
# The file: strict reading


def bundled_glyphs_path() -> Path:
    """The glyph set shipped with Billet Studio (``resources/glyphs.json``)."""
    return Path(str(files("billet_studio.resources") / GLYPHS_FILE))


def load_glyph_set(path: Path | str | None = None) -> GlyphSet:
    """Read a glyph file (the bundled set when ``path`` is None), validating it strictly.

    Raises AnnotationError naming the file and, for a bad glyph, the character and ring.
    Invalid polygons are refused rather than repaired: a template is drawn thousands of
    times, so a broken one must be fixed at its source.
    """
    path = bundled_glyphs_path() if path is None else Path(path)
    return parse_glyph_document(load_json_document(path), path)


def project_glyph_set(project_root: Path | str) -> GlyphSet:
    """A project's own ``glyphs.json`` if it has one, else the bundled set."""
    own = Path(project_root) / GLYPHS_FILE
    return load_glyph_set(own if own.exists() else None)


def parse_glyph_document(document: Any, path: Path) -> GlyphSet:
    """Validate a decoded glyph document and build its set (``path`` is for messages)."""
    if not isinstance(document, dict):
        raise AnnotationError(path, "is not a glyph file (the top level is not an object)")
    if document.get("format") != GLYPHS_FORMAT:
        raise AnnotationError(path, f"is not a glyph file (format is {document.get('format')!r}"
                                    f", expected {GLYPHS_FORMAT!r})")
    version = document.get("version")
    if isinstance(version, bool) or version != GLYPHS_VERSION:
        raise AnnotationError(path, f"has glyph file version {version!r}; this Billet Studio "
                                    f"reads version {GLYPHS_VERSION}")
    style = document.get("style")
    if not isinstance(style, str) or not style:
        raise AnnotationError(path, "'style' is not a non-empty string")
    stroke_width = _positive_number(document.get("stroke_width"))
    if stroke_width is None:
        raise AnnotationError(path, "'stroke_width' is not a positive number")
    raw_glyphs = document.get("glyphs")
    if not isinstance(raw_glyphs, dict) or not raw_glyphs:
        raise AnnotationError(path, "'glyphs' is not a non-empty object")
    glyphs = {char: _parse_glyph(char, raw, path) for char, raw in raw_glyphs.items()}
    return GlyphSet(glyphs=glyphs, style=style, stroke_width=stroke_width)


def _positive_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) and value > 0 else None


def _parse_glyph(char: str, raw: Any, path: Path) -> GlyphTemplate:
    if len(char) != 1 or char.isspace():
        raise AnnotationError(path, f"glyph key {char!r} is not a single visible character")

    def fail(problem: str) -> AnnotationError:
        return AnnotationError(path, f"glyph {char!r}: {problem}")

    if not isinstance(raw, dict):
        raise fail("is not an object")
    width = _positive_number(raw.get("width"))
    if width is None:
        raise fail("'width' is not a positive number")
    raw_polygons = raw.get("polygons")
    if not isinstance(raw_polygons, list) or not raw_polygons:
        raise fail("'polygons' is not a non-empty list")
    polygons = []
    for index, raw_polygon in enumerate(raw_polygons, start=1):
        # Name the polygon only when there are several, as in "hole 2 has 2 points".
        prefix = f"polygon {index}, " if len(raw_polygons) > 1 else ""
        polygons.append(_parse_polygon(raw_polygon, prefix, fail))
    return GlyphTemplate(char=char, width=width, polygons=tuple(polygons))


def _parse_polygon(raw: Any, prefix: str, fail: Callable[[str], AnnotationError]) -> StampPolygon:
    where = prefix.removesuffix(", ") or "the polygon"
    if not isinstance(raw, dict):
        raise fail(f"{where} is not an object")
    exterior = _parse_ring(raw.get("exterior"), f"{prefix}exterior", fail)
    raw_holes = raw.get("holes", [])
    if not isinstance(raw_holes, list):
        raise fail(f"{prefix}'holes' is not a list")
    holes = [_parse_ring(hole, f"{prefix}hole {index}", fail)
             for index, hole in enumerate(raw_holes, start=1)]
    polygon = StampPolygon(exterior, holes)
    shape = polygon.to_shapely()
    if not shape.is_valid:
        raise fail(f"{where} is not a valid polygon ({shapely.is_valid_reason(shape)})")
    return polygon


def _parse_ring(raw: Any, where: str, fail: Callable[[str], AnnotationError]) -> np.ndarray:
    if not isinstance(raw, list):
        raise fail(f"{where} is not a list of points")
    if not all(_is_point(point) for point in raw):
        raise fail(f"{where} has a point that is not a pair of finite numbers")
    ring = np.array(raw, dtype=np.float64).reshape(-1, 2)
    if len(ring) > 1 and np.array_equal(ring[0], ring[-1]):
        ring = ring[:-1]  # an explicitly closed ring counts its first point once
    if len(ring) < 3:
        raise fail(f"{where} has {len(ring)} points (a ring needs at least 3)")
    return ring


def _is_point(value: Any) -> bool:
    return (
        isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2
        and all(not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v)
                for v in value)
    )
