"""Template snap: a character's glyph template fitted to a box as editable polygons (with
its holes), and "Refine", which aligns those polygons to the stamp's edges in the photo.

Refine matches edge maps, not intensities, because a stamp can be darker or brighter than
its face: the template's outline (rasterised, its morphological gradient) is aligned to the
image's gradient magnitude with OpenCV's ECC maximisation under an affine motion, and the
resulting warp moves the polygons.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from billet_studio.geometry import Box, StampPolygon, bounds_of, rasterize_polygons
from billet_studio.glyphs.templates import GlyphTemplate

#: Refine searches this fraction of the box's size around it.
SEARCH_MARGIN = 0.3
#: A refined outline may not move further than this fraction of the box, nor grow or
#: shrink by more than this factor; beyond that ECC locked onto something else.
MAX_SHIFT, MAX_SCALE = 0.5, 1.6


class RefineFailed(ValueError):
    """The stamp's edges could not be matched (the message says why)."""


def fit_template(template: GlyphTemplate, box: Box) -> tuple[StampPolygon, ...]:
    """The template's polygons scaled (each axis on its own) so their inked extent fills
    ``box``: a stamp's box is its visible extent, as labels store it."""
    inked = template.bounds()
    if box.width <= 0 or box.height <= 0:
        raise ValueError("the box needs a width and a height")
    sx, sy = box.width / inked.width, box.height / inked.height
    matrix = np.array([[sx, 0.0, box.x0 - inked.x0 * sx], [0.0, sy, box.y0 - inked.y0 * sy]])
    return template.placed(matrix)


def _edge_map(gray: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    edges = cv2.GaussianBlur(cv2.magnitude(gx, gy), (0, 0), 1.5)
    peak = float(edges.max())
    return edges / peak if peak > 0 else edges


def refine_to_edges(pixels: np.ndarray, polygons: Sequence[StampPolygon],
                    iterations: int = 200) -> tuple[StampPolygon, ...]:
    """``polygons`` moved by the affine warp that best aligns their outline with the edges
    of ``pixels`` (H, W, 3 RGB or H, W grey) around them."""
    if not polygons:
        raise RefineFailed("there is no outline to refine")
    box = bounds_of(polygons)
    height, width = pixels.shape[:2]
    margin = SEARCH_MARGIN * max(box.width, box.height)
    x0, y0 = max(0, int(box.x0 - margin)), max(0, int(box.y0 - margin))
    x1, y1 = min(width, int(np.ceil(box.x1 + margin))), min(height, int(np.ceil(box.y1 + margin)))
    if x1 - x0 < 8 or y1 - y0 < 8:
        raise RefineFailed("the stamp is too small (or outside the image) to refine")
    crop = pixels[y0:y1, x0:x1]
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if crop.ndim == 3 else crop
    image_edges = _edge_map(gray.astype(np.float32))
    shift = np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0]])
    local = [p.transformed(shift) for p in polygons]
    mask = rasterize_polygons(local, y1 - y0, x1 - x0).astype(np.float32)
    template_edges = _edge_map(cv2.GaussianBlur(mask, (0, 0), 1.0))
    warp = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, 1e-5)
    try:
        _, warp = cv2.findTransformECC(template_edges, image_edges, warp,
                                       cv2.MOTION_AFFINE, criteria, None, 5)
    except cv2.error as error:
        raise RefineFailed(f"no alignment found ({str(error).strip().splitlines()[-1]})"
                           ) from None
    linear = warp[:, :2].astype(np.float64)
    scale = float(np.sqrt(abs(np.linalg.det(linear))))
    moved = float(np.hypot(*(linear @ [box.x0 - x0, box.y0 - y0] + warp[:, 2]
                             - [box.x0 - x0, box.y0 - y0])))
    if not 1 / MAX_SCALE <= scale <= MAX_SCALE or moved > MAX_SHIFT * max(box.width,
                                                                              box.height):
        raise RefineFailed("the edges matched something else (the outline would jump); "
                           "adjust the box and try again")
    to_image = np.vstack([warp.astype(np.float64), [0, 0, 1]]) @ np.vstack([shift, [0, 0, 1]])
    back = np.linalg.inv(np.vstack([shift, [0, 0, 1]])) @ to_image
    return tuple(p.transformed(back[:2]) for p in polygons)
