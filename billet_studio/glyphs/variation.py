"""Stamp variations: one glyph template made into a unique stamp outline and mask.

The paper degrades its glyph masks "by erasing individual parts and deformed in order to
gain individual and unique input masks", so the detector does not learn the ideal contour.
Every step works on the polygon (never on pixels), so the outline of what remains is exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry

from billet_studio.geometry import (
    Box,
    StampPolygon,
    bounds_of,
    crop_window,
    polygonal_parts,
    rasterize_polygons,
)

if TYPE_CHECKING:
    from billet_studio.glyphs.templates import GlyphTemplate

ERASE_MODES = ("cut", "blob", "stroke_end")


@dataclass(frozen=True)
class StampVariation:
    """How much a stamp may differ from its template (lengths in glyph heights)."""

    #: Chance that part of the stamp is missing (a partially imprinted stamp).
    partial_probability: float = 0.3
    #: Chance that a complete stamp is poorly stamped (shallow, deformed).
    poor_probability: float = 0.15
    #: Share of the stamp's area an erasure removes, drawn uniformly in this range.
    erase_fraction: tuple[float, float] = (0.10, 0.60)
    erase_modes: tuple[str, ...] = ERASE_MODES
    scale_jitter: float = 0.06
    aspect_jitter: float = 0.06
    shear_jitter: float = 0.08
    rotation_deg: float = 3.0
    #: Largest displacement of the smooth elastic warp, and its wavelength.
    elastic_amplitude: float = 0.02
    elastic_wavelength: float = 0.6
    #: A poor stamp's warp is this many times stronger (a deformed surface).
    poor_warp_factor: float = 2.0
    #: Stroke width changes by up to this fraction of the font's stroke width.
    stroke_change: float = 0.25
    #: Height in pixels of the returned mask.
    mask_height: int = 96

    def __post_init__(self) -> None:
        low, high = self.erase_fraction
        if not 0.0 < low <= high < 1.0:
            raise ValueError(f"erase_fraction must satisfy 0 < low <= high < 1, got "
                             f"{self.erase_fraction}")
        unknown = set(self.erase_modes) - set(ERASE_MODES)
        if unknown or not self.erase_modes:
            raise ValueError(f"erase_modes must be some of {ERASE_MODES}, got "
                             f"{self.erase_modes}")
        if self.mask_height < 8:
            raise ValueError("mask_height must be at least 8 pixels")


@dataclass(frozen=True, eq=False)
class VariedGlyph:
    """A varied stamp in glyph units (height ~1, y down) and its mask.

    ``box`` is the visible extent of what remains; ``mask`` shows the polygons at
    ``mask_scale`` pixels per glyph unit, shifted by ``mask_origin`` (glyph units).
    """

    char: str
    polygons: tuple[StampPolygon, ...]
    box: Box
    visibility: str
    erased_fraction: float
    erase_mode: str | None
    mask: np.ndarray
    mask_scale: float
    mask_origin: tuple[float, float]


def vary_glyph(
    template: GlyphTemplate,
    rng: np.random.Generator,
    config: StampVariation = StampVariation(),
    stroke_width: float = 0.14,
) -> VariedGlyph:
    """A new, unique stamp from ``template``; deterministic for the generator's state."""
    geometry = shapely.union_all([p.to_shapely() for p in template.polygons])
    centre = ((geometry.bounds[0] + geometry.bounds[2]) / 2,
              (geometry.bounds[1] + geometry.bounds[3]) / 2)
    poor = False
    partial = rng.random() < config.partial_probability
    if not partial:
        poor = rng.random() < config.poor_probability
    geometry = _change_stroke(geometry, rng, config, stroke_width)
    warp = config.elastic_amplitude * (config.poor_warp_factor if poor else 1.0)
    geometry = _elastic_warp(geometry, rng, warp, config.elastic_wavelength)
    geometry = _affine_jitter(geometry, rng, config, centre)
    geometry = _clean(geometry)
    intact_area = geometry.area
    mode = None
    if partial:
        mode = str(rng.choice(config.erase_modes))
        fraction = rng.uniform(*config.erase_fraction)
        geometry = _clean(_erase(geometry, rng, mode, fraction))
    polygons = tuple(StampPolygon.from_shapely(p) for p in polygonal_parts(geometry))
    erased = 1.0 - geometry.area / intact_area if intact_area > 0 else 0.0
    visibility = "partial" if partial else "poor" if poor else "well"
    mask, scale, origin = _mask(polygons, config.mask_height)
    return VariedGlyph(template.char, polygons, bounds_of(polygons), visibility, erased, mode,
                       mask, scale, origin)


def _change_stroke(geometry: BaseGeometry, rng: np.random.Generator,
                   config: StampVariation, stroke_width: float) -> BaseGeometry:
    change = rng.uniform(-config.stroke_change, config.stroke_change) * stroke_width / 2
    grown = geometry.buffer(change, join_style="mitre", mitre_limit=2.0)
    # Thinning can make a thin part vanish; a stamp keeps its strokes.
    return grown if grown.area > 0.5 * geometry.area else geometry


def _elastic_warp(geometry: BaseGeometry, rng: np.random.Generator, amplitude: float,
                  wavelength: float) -> BaseGeometry:
    """Displace every vertex by a smooth random field (a sum of a few plane waves)."""
    if amplitude <= 0:
        return geometry
    dense = shapely.segmentize(geometry, max_segment_length=0.02)
    waves = []
    for _ in range(3):
        angle = rng.uniform(0, 2 * math.pi)
        frequency = 2 * math.pi / (wavelength * rng.uniform(0.7, 1.4))
        waves.append((frequency * math.cos(angle), frequency * math.sin(angle),
                      rng.uniform(0, 2 * math.pi), rng.normal(0, 1, 2)))
    norm = amplitude / math.sqrt(len(waves))

    def displace(coords: np.ndarray) -> np.ndarray:
        out = coords.copy()
        for kx, ky, phase, direction in waves:
            wave = np.sin(coords[:, 0] * kx + coords[:, 1] * ky + phase)
            out += norm * wave[:, None] * direction[None, :]
        return out

    return shapely.transform(dense, displace)


def _affine_jitter(geometry: BaseGeometry, rng: np.random.Generator, config: StampVariation,
                   centre: tuple[float, float]) -> BaseGeometry:
    scale = 1 + rng.uniform(-config.scale_jitter, config.scale_jitter)
    aspect = 1 + rng.uniform(-config.aspect_jitter, config.aspect_jitter)
    geometry = affinity.scale(geometry, scale * aspect, scale / aspect, origin=centre)
    shear = math.degrees(math.atan(rng.uniform(-config.shear_jitter, config.shear_jitter)))
    geometry = affinity.skew(geometry, xs=shear, origin=centre)
    return affinity.rotate(geometry, rng.uniform(-config.rotation_deg, config.rotation_deg),
                           origin=centre)


def _clean(geometry: BaseGeometry, min_area: float = 1e-4) -> BaseGeometry:
    if not geometry.is_valid:
        geometry = shapely.make_valid(geometry)
    parts = [p for p in polygonal_parts(geometry) if p.area >= min_area]
    return shapely.union_all(parts) if parts else Polygon()


def _erase(geometry: BaseGeometry, rng: np.random.Generator, mode: str, fraction: float
           ) -> BaseGeometry:
    """Remove about ``fraction`` of the area with a straight cut, a blob, or at a stroke end."""
    target = geometry.area * (1 - fraction)
    x0, y0, x1, y1 = geometry.bounds
    size = max(x1 - x0, y1 - y0)
    if mode == "cut":
        # The punch missed one side: everything beyond a line at a random angle goes.
        angle = rng.uniform(0, 2 * math.pi)
        direction = np.array([math.cos(angle), math.sin(angle)])

        def eraser(t: float) -> BaseGeometry:
            # t = 0 puts the line beyond the stamp, t = 1 beyond its other side.
            offset = (0.5 - t) * 2 * size
            centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2]) + direction * offset
            normal = np.array([-direction[1], direction[0]]) * 2 * size
            far = direction * 2 * size
            return Polygon([centre + normal, centre + normal + far, centre - normal + far,
                            centre - normal])
        return _fit(geometry, eraser, target)
    if mode == "blob":
        # Scale or a flaw filled part of the punch: an irregular blob on the stroke.
        seed_point = _random_point_in(geometry, rng)
        angles = np.linspace(0, 2 * math.pi, 16, endpoint=False)
        radii = rng.uniform(0.7, 1.3, len(angles))
        aspect = rng.uniform(0.6, 1.0)

        def eraser(t: float) -> BaseGeometry:
            r = t * size * radii
            return Polygon(np.c_[seed_point[0] + r * np.cos(angles),
                                 seed_point[1] + aspect * r * np.sin(angles)])
        return _fit(geometry, eraser, target)
    # A stroke end did not print: a disc grows from the extreme point in some direction.
    angle = rng.uniform(0, 2 * math.pi)
    coords = np.asarray(geometry.exterior.coords if isinstance(geometry, Polygon)
                        else shapely.get_coordinates(geometry))
    end = coords[np.argmax(coords @ np.array([math.cos(angle), math.sin(angle)]))]

    def eraser(t: float) -> BaseGeometry:
        return Point(end).buffer(max(t, 1e-6) * 2 * size, quad_segs=8)
    return _fit(geometry, eraser, target)


def _fit(geometry: BaseGeometry, eraser: Callable[[float], BaseGeometry],
         target_area: float) -> BaseGeometry:
    """Bisect the eraser's parameter t in [0, 1] (it erases more as t grows) until about
    ``target_area`` of the stamp remains."""
    low, high = 0.0, 1.0
    remaining = geometry
    for _ in range(20):
        middle = (low + high) / 2
        remaining = geometry.difference(eraser(middle))
        if abs(remaining.area - target_area) < 0.005 * geometry.area:
            break
        if remaining.area < target_area:
            high = middle
        else:
            low = middle
    return remaining


def _random_point_in(geometry: BaseGeometry, rng: np.random.Generator) -> np.ndarray:
    x0, y0, x1, y1 = geometry.bounds
    for _ in range(100):
        point = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
        if geometry.contains(Point(point)):
            return point
    return np.array(geometry.representative_point().coords[0])


def framed_mask(polygons: tuple[StampPolygon, ...], size: int, margin: float = 0.15
                ) -> np.ndarray:
    """A ``size`` x ``size`` mask of a stamp framed exactly as ``geometry.paired_crop``
    frames a labelled stamp, so template masks look like the GAN's training masks."""
    # No minimum side: these polygons are in glyph units, not pixels.
    window = crop_window(bounds_of(polygons), margin, min_side=0.0)
    matrix = window.to_crop_matrix(size)
    return rasterize_polygons([p.transformed(matrix) for p in polygons], size, size)


def _mask(polygons: tuple[StampPolygon, ...], height: int
          ) -> tuple[np.ndarray, float, tuple[float, float]]:
    box = bounds_of(polygons) if polygons else Box(0, 0, 1, 1)
    scale = height / max(box.height, 1e-6) * 0.85
    margin = 0.075 * height / scale
    origin = (box.x0 - margin, box.y0 - margin)
    width = math.ceil((box.width + 2 * margin) * scale)
    matrix = np.array([[scale, 0, -origin[0] * scale], [0, scale, -origin[1] * scale]])
    mask = rasterize_polygons([p.transformed(matrix) for p in polygons], height, max(width, 1))
    return mask, scale, origin
