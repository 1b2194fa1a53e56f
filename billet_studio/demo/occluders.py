"""Things that cover stamps on a real billet: stick-on paper labels and flakes of scale.

Each occluder has its exact outline (a shapely polygon in face pixels, so the stamps it
covers can be cut exactly) and paints itself onto the face.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from billet_studio.geometry import StampPolygon, rasterize_polygons


@dataclass(frozen=True, eq=False)
class Occluder:
    """An outline in face pixels and the colours that fill it."""

    outline: Polygon
    texture: np.ndarray  # (h, w, 3) float RGB over the outline's integer bounding box
    origin: tuple[int, int]  # (x, y) of the texture's top-left pixel on the face

    def paint(self, face: np.ndarray) -> None:
        """Cover the face with this occluder, in place (soft, anti-aliased edge)."""
        x, y = self.origin
        h, w = self.texture.shape[:2]
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + w, face.shape[1]), min(y + h, face.shape[0])
        if x1 <= x0 or y1 <= y0:
            return
        shifted = affinity.translate(self.outline, -x, -y)
        alpha = rasterize_polygons([StampPolygon.from_shapely(shifted)], h, w, 255)
        alpha = cv2.GaussianBlur(alpha.astype(np.float32) / 255.0, (0, 0), 0.7)[..., None]
        crop = face[y0:y1, x0:x1]
        patch = self.texture[y0 - y:y1 - y, x0 - x:x1 - x]
        a = alpha[y0 - y:y1 - y, x0 - x:x1 - x]
        crop[...] = crop * (1.0 - a) + patch * a


def stick_on_label(face_px: int, rng: np.random.Generator, centre: np.ndarray) -> Occluder:
    """A paper label with a printed ID and a barcode, roughly centred at ``centre``."""
    width = face_px * rng.uniform(0.22, 0.32)
    height = width * rng.uniform(0.4, 0.55)
    angle = rng.uniform(-12, 12)
    box = Polygon([(-width / 2, -height / 2), (width / 2, -height / 2),
                   (width / 2, height / 2), (-width / 2, height / 2)])
    outline = affinity.translate(affinity.rotate(box, angle, origin=(0, 0)), *centre)
    x0, y0, x1, y1 = (math.floor(v) for v in outline.bounds)
    w, h = x1 - x0 + 2, y1 - y0 + 2
    paper = np.array([236.0, 232.0, 214.0]) * rng.uniform(0.85, 1.0)
    flat = np.ones((math.ceil(height), math.ceil(width), 3), np.float32) * paper
    ink = np.array([30.0, 30.0, 35.0], np.float32)
    lines = int(rng.integers(2, 4))
    for line in range(lines):  # printed text: a row of dark dashes
        top = int(height * (0.12 + 0.16 * line))
        for start in np.arange(width * 0.08, width * 0.6, width * 0.06):
            flat[top:top + max(2, int(height * 0.08)), int(start):int(start + width * 0.04)] = ink
    bars = rng.integers(0, 2, 40)  # a barcode along the bottom
    bar_w = width * 0.8 / len(bars)
    for index, bar in enumerate(bars):
        if bar:
            left = int(width * 0.1 + index * bar_w)
            flat[int(height * 0.62):int(height * 0.9), left:left + max(1, int(bar_w))] = ink
    flat *= (1.0 + 0.04 * rng.standard_normal(flat.shape[:2]).astype(np.float32))[..., None]
    # Place the flat label: rotate about its centre into the face's bounding box.
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), -angle, 1.0)
    matrix[:, 2] += np.array(centre) - np.array([x0, y0]) - np.array([width / 2, height / 2])
    texture = cv2.warpAffine(flat, matrix, (w, h), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)
    return Occluder(outline, texture, (x0, y0))


def scale_flake(face_px: int, rng: np.random.Generator, centre: np.ndarray,
                size_px: float) -> Occluder:
    """An irregular flake of dark oxide scale lying on the face."""
    angles = np.sort(rng.uniform(0, 2 * math.pi, 14))
    radii = size_px * rng.uniform(0.5, 1.0, len(angles))
    points = np.c_[centre[0] + radii * np.cos(angles), centre[1] + radii * np.sin(angles)]
    outline = Polygon(points).buffer(0)
    if outline.geom_type != "Polygon":
        outline = max(outline.geoms, key=lambda g: g.area)
    x0, y0, x1, y1 = (math.floor(v) for v in outline.bounds)
    w, h = x1 - x0 + 2, y1 - y0 + 2
    colour = np.array([58.0, 58.0, 62.0]) * rng.uniform(0.8, 1.2)
    grain = 1.0 + 0.15 * cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32),
                                          (0, 0), 1.0)
    return Occluder(outline, colour[None, None, :] * grain[..., None], (x0, y0))


def covered(occluders: list[Occluder]) -> BaseGeometry | None:
    """The union of the occluders' outlines, or None when there are none."""
    if not occluders:
        return None
    return shapely.union_all([o.outline for o in occluders])
