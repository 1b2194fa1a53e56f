"""One synthetic billet: an ID laid out on a face, each character varied from its glyph
template, rendered (GAN or classical shading), colour-jittered and blended in, and the
face warped; with labels made by transforming the geometry, never traced from pixels.

A stamp is rendered in the frame pix2pix was trained on: an axis-aligned square around
the stamp's box on the face with a 0.15 margin (``geometry.paired_crop``), scaled to the
renderer's size, then put back into that square on the face.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

import cv2
import numpy as np

from billet_studio.geometry import (
    Box,
    StampPolygon,
    bounds_of,
    clip_polygon,
    crop_window,
    rasterize_polygons,
)
from billet_studio.glyphs.layout import IdLayout, layout_id
from billet_studio.glyphs.templates import GlyphSet
from billet_studio.glyphs.variation import StampVariation, vary_glyph
from billet_studio.synthesis.warp import FaceWarp, random_face_warp, warp_face


class Renderer(Protocol):
    """Renders stamps in ``size`` x ``size`` windows: (masks (N, S, S) uint8, face patches
    (N, S, S, 3) uint8, rng) -> (N, S, S, 3) uint8."""

    size: int

    def __call__(self, masks: np.ndarray, patches: np.ndarray, rng: np.random.Generator
                 ) -> np.ndarray: ...
VISIBILITY_CLASSES = ("well", "poor", "partial")


@dataclass(frozen=True)
class VisibilityMix:
    """Shares of synthetic billets per visibility class; the paper's default is half with
    partially visible digits. A partial billet has 1 to ``max_partial`` partly imprinted
    characters; a poor billet has every character shallow and deformed (as the demo)."""

    well: float = 0.5
    poor: float = 0.0
    partial: float = 0.5
    max_partial: int = 4

    def __post_init__(self) -> None:
        shares = (self.well, self.poor, self.partial)
        if min(shares) < 0 or not math.isclose(sum(shares), 1.0, abs_tol=1e-6):
            raise ValueError(f"visibility shares must be >= 0 and sum to 1, got {shares}")
        if self.max_partial < 1:
            raise ValueError("max_partial must be at least 1")

    def draw(self, rng: np.random.Generator) -> str:
        return str(rng.choice(VISIBILITY_CLASSES, p=[self.well, self.poor, self.partial]))


@dataclass(frozen=True)
class CompositeConfig:
    """How a synthetic billet is made; the defaults follow the paper."""

    size: int = 1024
    #: Characters per synthetic image (the paper used 10); None: the whole ID.
    characters: int | None = 10
    layout: IdLayout = field(default_factory=IdLayout)
    variation: StampVariation = field(default_factory=StampVariation)
    mix: VisibilityMix = field(default_factory=VisibilityMix)
    warp: FaceWarp = field(default_factory=FaceWarp)
    #: Margin of the render window around a stamp, as in ``geometry.paired_crop``.
    window_margin: float = 0.15
    #: The blend: the stamp's alpha is its mask grown by this much, then blurred.
    alpha_grow_px: float = 1.5
    alpha_blur_px: float = 1.5
    #: Per-stamp colour jitter: hue in degrees, saturation and value as factors (+-).
    hue_jitter_deg: float = 4.0
    saturation_jitter: float = 0.15
    value_jitter: float = 0.15
    poisson: bool = False
    #: A stamp the warp pushes partly off the image keeps its label (as partial) when at
    #: least this share of it is still inside; else its label is dropped.
    min_visible: float = 0.25

    def __post_init__(self) -> None:
        if self.size < 32:
            raise ValueError("size must be at least 32 pixels")
        if self.characters is not None and self.characters < 1:
            raise ValueError("characters must be at least 1 (or None for the whole ID)")
        if not 0.0 <= self.min_visible <= 1.0:
            raise ValueError("min_visible must lie in [0, 1]")


@dataclass(frozen=True, eq=False)
class SyntheticStamp:
    """A stamp's exact label on the output image: polygons (with holes), visible box."""

    label: str
    polygons: tuple[StampPolygon, ...]
    box: Box
    visibility: str
    synthetic: bool = True


@dataclass(frozen=True, eq=False)
class SyntheticBillet:
    image: np.ndarray
    stamps: tuple[SyntheticStamp, ...]
    text: str
    visibility: str
    warnings: tuple[str, ...] = ()


def billet_text(billet_id: str, characters: int | None) -> str:
    """The characters put on a synthetic image: the ID's first ``characters`` (no spaces)."""
    text = billet_id.replace(" ", "")
    return text if characters is None else text[:characters]


def _variations(count: int, visibility: str, mix: VisibilityMix, base: StampVariation,
                rng: np.random.Generator) -> list[StampVariation]:
    partial: set[int] = set()
    if visibility == "partial" and count:
        how_many = int(rng.integers(1, min(mix.max_partial, count) + 1))
        partial = {int(i) for i in rng.choice(count, how_many, replace=False)}
    poor = visibility == "poor"
    return [replace(base, partial_probability=1.0 if i in partial else 0.0,
                    poor_probability=1.0 if poor else 0.0) for i in range(count)]


def _jitter_colour(patch: np.ndarray, rng: np.random.Generator, config: CompositeConfig
                   ) -> np.ndarray:
    hsv = cv2.cvtColor(patch, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-1, 1) * config.hue_jitter_deg / 2.0) % 180.0
    hsv[..., 1] *= 1.0 + rng.uniform(-1, 1) * config.saturation_jitter
    hsv[..., 2] *= 1.0 + rng.uniform(-1, 1) * config.value_jitter
    hsv[..., 1:] = np.clip(hsv[..., 1:], 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)


def _paste(face: np.ndarray, patch: np.ndarray, polygons: tuple[StampPolygon, ...],
           window_matrix: np.ndarray, config: CompositeConfig) -> None:
    """Blend the rendered window ``patch`` back into ``face`` (in place) under the stamp's
    grown, blurred mask."""
    size = face.shape[0]
    box = bounds_of(polygons)
    pad = math.ceil(config.alpha_grow_px + 3 * config.alpha_blur_px) + 2
    x0, y0 = max(int(box.x0) - pad, 0), max(int(box.y0) - pad, 0)
    x1, y1 = min(math.ceil(box.x1) + pad, size), min(math.ceil(box.y1) + pad, size)
    if x1 <= x0 or y1 <= y0:
        return
    # Window pixels -> face pixels, shifted into the region.
    to_face = np.linalg.inv(np.vstack([window_matrix, [0, 0, 1]]))[:2]
    to_region = to_face - np.array([[0, 0, x0], [0, 0, y0]])
    region = face[y0:y1, x0:x1]
    warped = cv2.warpAffine(patch, to_region, (x1 - x0, y1 - y0), flags=cv2.INTER_AREA,
                            borderMode=cv2.BORDER_REPLICATE)
    shift = np.array([[1, 0, -x0], [0, 1, -y0]], dtype=np.float64)
    mask = rasterize_polygons([p.transformed(shift) for p in polygons], y1 - y0, x1 - x0)
    if config.poisson and mask.any():
        _poisson(face, warped, mask, (x0, y0))
        return
    alpha = mask.astype(np.float32) / 255.0
    if config.alpha_grow_px > 0:
        radius = config.alpha_grow_px
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * math.ceil(radius) + 1,) * 2)
        alpha = cv2.dilate(alpha, kernel)
    if config.alpha_blur_px > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), config.alpha_blur_px)
    alpha = alpha[..., None]
    region[:] = (warped * alpha + region * (1.0 - alpha)).astype(np.uint8)


def _poisson(face: np.ndarray, warped: np.ndarray, mask: np.ndarray,
             origin: tuple[int, int]) -> None:
    """cv2.seamlessClone fails when the clone touches the image border: pad everything."""
    pad = 4
    big_face = cv2.copyMakeBorder(face, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
    source = cv2.copyMakeBorder(warped, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    clone_mask = cv2.copyMakeBorder(mask, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    clone_mask = cv2.dilate(clone_mask, kernel)
    clone_mask[:2], clone_mask[-2:], clone_mask[:, :2], clone_mask[:, -2:] = 0, 0, 0, 0
    ys, xs = np.nonzero(clone_mask)
    if not len(xs):
        return
    # seamlessClone centres the mask's bounding box on ``centre``.
    cx = origin[0] + pad + (xs.min() + xs.max()) // 2
    cy = origin[1] + pad + (ys.min() + ys.max()) // 2
    blended = cv2.seamlessClone(source, big_face, clone_mask, (int(cx), int(cy)),
                                cv2.NORMAL_CLONE)
    face[:] = blended[pad:pad + face.shape[0], pad:pad + face.shape[1]]


def compose_billet(face: np.ndarray, glyphs: GlyphSet, text: str,
                   renderer: Callable[[np.ndarray, np.ndarray, np.random.Generator],
                                      np.ndarray],
                   render_size: int, rng: np.random.Generator,
                   config: CompositeConfig = CompositeConfig(),
                   region: Box | None = None) -> SyntheticBillet:
    """Composite ``text`` onto ``face`` (size x size RGB) with exact labels; the ID is laid
    out inside ``region`` (the billet face in the photograph; default: all of it)."""
    size = config.size
    if face.shape[:2] != (size, size):
        raise ValueError(f"the face must be {size}x{size}, got {face.shape[:2]}")
    canvas = np.array(face, dtype=np.uint8, copy=True)
    region = region or Box(0.0, 0.0, float(size), float(size))
    widths = {char: glyphs[char].width for char in set(text)}
    local = layout_id(text, (max(round(region.height), 1), max(round(region.width), 1)),
                      widths, rng, config.layout)
    shift = np.array([[1.0, 0.0, region.x0], [0.0, 1.0, region.y0], [0.0, 0.0, 1.0]])
    placements = [replace(p, matrix=shift @ p.matrix) for p in local]
    visibility = config.mix.draw(rng)
    variations = _variations(len(placements), visibility, config.mix, config.variation, rng)
    stamps: list[tuple[str, tuple[StampPolygon, ...], str]] = []
    masks, patches, windows = [], [], []
    for placement, variation in zip(placements, variations, strict=True):
        varied = vary_glyph(glyphs[placement.char], rng, variation, glyphs.stroke_width)
        polygons = tuple(p.transformed(placement.matrix) for p in varied.polygons)
        if not polygons:
            continue
        window = crop_window(bounds_of(polygons), config.window_margin, min_side=4.0)
        matrix = window.to_crop_matrix(render_size)
        masks.append(rasterize_polygons([p.transformed(matrix) for p in polygons],
                                        render_size, render_size))
        patches.append(cv2.warpAffine(canvas, matrix, (render_size, render_size),
                                      flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT_101))
        windows.append(matrix)
        stamps.append((placement.char, polygons, varied.visibility))
    if stamps:
        rendered = renderer(np.stack(masks), np.stack(patches), rng)
        for (_, polygons, _), patch, matrix in zip(stamps, rendered, windows, strict=True):
            patch = _jitter_colour(np.ascontiguousarray(patch), rng, config)
            _paste(canvas, patch, polygons, matrix, config)
    warp = random_face_warp(rng, size, config.warp)
    image = warp_face(canvas, warp, size)
    labels, warnings = [], []
    for char, polygons, stamp_visibility in stamps:
        moved = [p.transformed(warp) for p in polygons]
        area = sum(p.area for p in moved)
        kept: list[StampPolygon] = []
        for polygon in moved:
            kept.extend(clip_polygon(polygon, size, size, f"stamp {char!r}").polygons)
        inside = sum(p.area for p in kept)
        if not kept or inside < config.min_visible * area:
            warnings.append(f"stamp {char!r} left the image; its label was dropped")
            continue
        if inside < area * (1 - 1e-6):
            stamp_visibility = "partial"
        labels.append(SyntheticStamp(char, tuple(kept), bounds_of(kept), stamp_visibility))
    return SyntheticBillet(image, tuple(labels), text, visibility, tuple(warnings))
