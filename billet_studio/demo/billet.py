"""One simulated billet photograph with exact labels: face, stamps, occluders, camera."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from billet_studio.annotations import IdFormat
from billet_studio.demo.camera import develop, draw_shot
from billet_studio.demo.occluders import Occluder, covered, scale_flake, stick_on_label
from billet_studio.demo.sites import SITES
from billet_studio.demo.stamping import StruckStamp, height_map, strike_id, surface_relief
from billet_studio.demo.surface import billet_face
from billet_studio.geometry import StampPolygon, polygonal_parts, transform_points
from billet_studio.glyphs.id_patterns import IdGenerator
from billet_studio.glyphs.layout import IdLayout
from billet_studio.glyphs.shading import StampShading, apply_shading
from billet_studio.glyphs.templates import GlyphSet

#: The demo plants stamp 11 characters; now and then a 12th digit.
DEMO_ID_FORMAT = IdFormat(r"\d{6}[A-Z]\d{4}")
DEMO_PROJECT_REGEX = r"\d{6}[A-Z]\d{4,5}"
#: A stamp with less than this share of its area visible is not labelled at all.
MIN_VISIBLE_SHARE = 0.08
#: A stamp that loses more than this share to an occluder is partially visible.
PARTIAL_OCCLUSION = 0.04


@dataclass(frozen=True)
class BilletPlan:
    """What one demo billet must show."""

    index: int
    site: str
    visibility: str  # well, partial or poor
    split: str


@dataclass(frozen=True)
class DemoLook:
    """The demo world's settings that are not per site."""

    size: int = 1024
    layout: IdLayout = field(default_factory=IdLayout)
    twelve_probability: float = 0.06
    #: Poorly stamped billets usually get a paper label with the ID (as the paper says).
    label_probability_poor: float = 0.7
    label_probability: float = 0.12
    flake_probability: float = 0.25


@dataclass(frozen=True, eq=False)
class DemoStamp:
    """A labelled stamp in image pixels: what remains visible of it."""

    char: str
    polygons: tuple[StampPolygon, ...]
    partial: bool
    poor: bool


@dataclass(frozen=True, eq=False)
class RenderedBillet:
    image: np.ndarray
    jpeg_quality: int
    billet_id: str
    stamps: tuple[DemoStamp, ...]
    unstamped: np.ndarray | None = None


def billet_rng(seed: int, index: int, stream: int = 0) -> np.random.Generator:
    """Each billet draws from its own stream, so the result does not depend on the order
    (or the process) in which billets are rendered."""
    return np.random.default_rng(np.random.SeedSequence([seed, stream, index]))


def render_billet(plan: BilletPlan, seed: int, glyphs: GlyphSet, look: DemoLook = DemoLook(),
                  with_unstamped: bool = False) -> RenderedBillet:
    """Render one billet photograph and the exact outline of every visible stamp."""
    rng = billet_rng(seed, plan.index)
    site = SITES[plan.site]
    face_px = look.size
    billet_id = IdGenerator(DEMO_ID_FORMAT).generate(rng)
    if rng.random() < look.twelve_probability:
        billet_id += str(rng.integers(0, 10))
    shot = draw_shot(site, face_px, look.size, rng)
    face = billet_face(face_px, rng)
    stamps = strike_id(billet_id, plan.visibility, glyphs, face_px, look.layout, rng)
    char_px = look.layout.char_height * face_px
    shading = StampShading(light_azimuth_deg=shot.light_azimuth_deg,
                           light_elevation_deg=shot.light_elevation_deg)
    if plan.visibility == "poor":  # a deformed surface: part of the face, not of the stamps
        face = apply_shading(face, surface_relief(face_px, char_px, rng), shading)
    heights = height_map(stamps, face_px, char_px)
    occluders = _occluders(plan, stamps, face_px, char_px, look, rng)
    stamped = apply_shading(face, heights, shading)
    for occluder in occluders:
        occluder.paint(stamped)
    image = develop(stamped, shot)
    unstamped = None
    if with_unstamped:
        for occluder in occluders:
            occluder.paint(face)
        unstamped = develop(face, shot)
    labelled = _visible_stamps(stamps, covered(occluders), shot.homography, look.size)
    return RenderedBillet(image, shot.jpeg_quality, billet_id, labelled, unstamped)


def render_surface(index: int, seed: int, site_name: str, look: DemoLook = DemoLook()
                   ) -> tuple[np.ndarray, int]:
    """A stamp-free billet photograph for the project's ``surfaces/`` folder."""
    rng = billet_rng(seed, index, stream=1)
    shot = draw_shot(SITES[site_name], look.size, look.size, rng)
    face = billet_face(look.size, rng)
    return develop(face, shot), shot.jpeg_quality


def _occluders(plan: BilletPlan, stamps: list[StruckStamp], face_px: int, char_px: float,
               look: DemoLook, rng: np.random.Generator) -> list[Occluder]:
    """Labels and flakes; on a well visible billet they stay clear of the stamps."""
    block = shapely.union_all([s.geometry for s in stamps]).buffer(char_px * 0.1)
    found: list[Occluder] = []
    chance = look.label_probability_poor if plan.visibility == "poor" else look.label_probability
    may_cover = plan.visibility == "partial"
    if rng.random() < chance:
        found += _placed(lambda centre: stick_on_label(face_px, rng, centre), block,
                         face_px, rng, may_cover)
    if rng.random() < look.flake_probability:
        for _ in range(int(rng.integers(1, 4))):
            size = char_px * rng.uniform(0.15, 0.4)
            found += _placed(lambda centre, s=size: scale_flake(face_px, rng, centre, s),
                             block, face_px, rng, may_cover)
    return found


def _placed(make, block: BaseGeometry, face_px: int, rng: np.random.Generator,
            may_cover: bool) -> list[Occluder]:
    """An occluder at a random spot: near the ID when it may cover stamps, else clear of it."""
    for _ in range(12):
        if may_cover:
            x0, y0, x1, y1 = block.bounds
            centre = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
        else:
            centre = rng.uniform(0.15, 0.85, 2) * face_px
        occluder = make(centre)
        inside_face = all(0 <= v <= face_px for v in occluder.outline.bounds)
        if inside_face and (may_cover or not occluder.outline.intersects(block)):
            return [occluder]
    return []


def _visible_stamps(stamps: list[StruckStamp], cover: BaseGeometry | None,
                    homography: np.ndarray, size: int) -> tuple[DemoStamp, ...]:
    """What the camera sees of each stamp, in image pixels, flagged by the paper's classes."""
    frame = shapely.box(0, 0, size, size)
    visible = []
    for stamp in stamps:
        whole = stamp.geometry.area
        remaining = stamp.geometry.difference(cover) if cover is not None else stamp.geometry
        if whole <= 0 or remaining.area < MIN_VISIBLE_SHARE * whole:
            continue
        occluded = 1.0 - remaining.area / whole > PARTIAL_OCCLUSION
        in_image = shapely.transform(remaining, lambda xy: transform_points(xy, homography))
        in_image = in_image.intersection(frame)
        pieces = tuple(StampPolygon.from_shapely(p) for p in polygonal_parts(in_image)
                       if p.area >= 1.0)
        if pieces:
            visible.append(DemoStamp(stamp.char, pieces, stamp.partial or occluded, stamp.poor))
    return tuple(visible)

