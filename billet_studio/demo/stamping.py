"""Striking an ID into a demo face: varied stamps placed by the layout, their exact
outlines in face pixels, and the height map the shading lights."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from billet_studio.demo.noise import smooth_noise
from billet_studio.geometry import (
    StampPolygon,
    polygonal_parts,
    rasterize_polygons,
    transform_points,
)
from billet_studio.glyphs.layout import IdLayout, layout_id
from billet_studio.glyphs.shading import StampShading, stamp_height_map
from billet_studio.glyphs.templates import GlyphSet
from billet_studio.glyphs.variation import StampVariation, vary_glyph

#: Vertices closer than this to the straight line between their neighbours are dropped
#: (glyph units: a tenth of a pixel or so at the demo's character size).
SIMPLIFY_TOLERANCE = 0.002


@dataclass(frozen=True, eq=False)
class StruckStamp:
    """One stamp on the face: its outline in face pixels and how it was struck."""

    char: str
    geometry: BaseGeometry
    partial: bool
    poor: bool
    depth: float
    softness_px: float


def strike_id(billet_id: str, visibility: str, glyphs: GlyphSet, face_px: int,
              layout: IdLayout, rng: np.random.Generator) -> list[StruckStamp]:
    """The stamps of ``billet_id`` for a billet of the given visibility class.

    A partial billet has one to four partly imprinted characters; a poor billet has every
    character shallow, soft and deformed; a well visible billet has none of either.
    """
    widths = {char: glyphs[char].width for char in set(billet_id) if char != " "}
    placements = layout_id(billet_id, (face_px, face_px), widths, rng, layout)
    partial_indices: set[int] = set()
    if visibility == "partial":
        count = int(rng.integers(1, min(4, len(placements)) + 1))
        partial_indices = {int(i) for i in rng.choice(len(placements), count, replace=False)}
    stamps = []
    for number, placement in enumerate(placements):
        partial = number in partial_indices
        poor = visibility == "poor"
        variation = StampVariation(partial_probability=1.0 if partial else 0.0,
                                   poor_probability=1.0 if poor else 0.0)
        varied = vary_glyph(glyphs[placement.char], rng, variation, glyphs.stroke_width)
        geometry = shapely.union_all([p.to_shapely() for p in varied.polygons])
        geometry = shapely.simplify(geometry, SIMPLIFY_TOLERANCE)
        matrix = placement.matrix
        geometry = shapely.transform(geometry, lambda xy, m=matrix: transform_points(xy, m))
        depth = rng.uniform(0.3, 0.5) if poor else rng.uniform(0.8, 1.2)
        softness = rng.uniform(1.4, 2.4) if poor else rng.uniform(0.5, 1.0)
        stamps.append(StruckStamp(placement.char, geometry, partial, poor, depth, softness))
    return stamps


def height_map(stamps: list[StruckStamp], face_px: int, char_px: float) -> np.ndarray:
    """Depth below the face's surface (0 flat, negative in stamps), float32; each stamp is
    bevelled in its own window with its own depth and softness."""
    height = np.zeros((face_px, face_px), np.float32)
    bevel = max(1.5, 0.035 * char_px)
    for stamp in stamps:
        if stamp.geometry.is_empty:
            continue
        pad = math.ceil(bevel + 4 * stamp.softness_px) + 2
        x0, y0, x1, y1 = stamp.geometry.bounds
        c0, r0 = max(0, math.floor(x0) - pad), max(0, math.floor(y0) - pad)
        c1, r1 = min(face_px, math.ceil(x1) + pad), min(face_px, math.ceil(y1) + pad)
        if c1 <= c0 or r1 <= r0:
            continue
        local = [StampPolygon.from_shapely(part).transformed(
            np.array([[1.0, 0, -c0], [0, 1.0, -r0]])) for part in polygonal_parts(stamp.geometry)]
        mask = rasterize_polygons(local, r1 - r0, c1 - c0)
        shading = StampShading(depth=stamp.depth, bevel_px=bevel, softness_px=stamp.softness_px)
        window = height[r0:r1, c0:c1]
        np.minimum(window, stamp_height_map(mask, shading), out=window)
    return height


def surface_relief(face_px: int, char_px: float, rng: np.random.Generator) -> np.ndarray:
    """Gentle undulation of a deformed billet's surface, as a height map (float32)."""
    return 0.35 * smooth_noise((face_px, face_px), char_px * 1.5, rng)
