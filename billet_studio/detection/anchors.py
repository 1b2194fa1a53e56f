"""Anchors fitted to a training set's boxes (as YOLO's autoanchor does), and how well a set
of anchors covers those boxes on the detector's real anchor grid.

torchvision's defaults (32-512 px) suit COCO objects; a stamped character at 512 px is
about 20 x 33 px, so most characters have no anchor the region proposal network counts as
a positive (IoU >= 0.7). Fitting places quantile sizes and aspect ratios of the boxes on the
pyramid level whose stride suits them and scales them by 2 per level above and below, so
every level keeps the same number of anchors per location (one RPN head serves all).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: A level's stride should be at most this share of a box's side for its anchors to reach
#: IoU >= 0.7 wherever the box's centre falls between two grid points.
STRIDE_SHARE = 0.4


@dataclass(frozen=True)
class AnchorSet:
    """Anchor sizes per pyramid level (same count on each) and the shared aspect ratios
    (height / width, torchvision's convention)."""

    sizes: tuple[tuple[float, ...], ...]
    ratios: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.sizes or len({len(s) for s in self.sizes}) != 1 or not self.sizes[0]:
            raise ValueError("anchor sizes need the same, non-zero count on every level")
        if not self.ratios or min(self.ratios) <= 0 or min(min(s) for s in self.sizes) <= 0:
            raise ValueError("anchor sizes and ratios must be positive")

    @property
    def per_location(self) -> int:
        return len(self.sizes[0]) * len(self.ratios)

    def to_json(self) -> dict[str, list]:
        return {"sizes": [list(s) for s in self.sizes], "ratios": list(self.ratios)}

    @classmethod
    def from_json(cls, document: dict) -> AnchorSet:
        return cls(tuple(tuple(float(v) for v in level) for level in document["sizes"]),
                   tuple(float(r) for r in document["ratios"]))


def box_sides(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(width, height) of (N, 4) x1 y1 x2 y2 boxes, degenerate ones left out."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    keep = (width > 0) & (height > 0)
    return width[keep], height[keep]


def _quantile_centres(values: np.ndarray, count: int) -> np.ndarray:
    """The centres of ``count`` equal-mass bins of ``values`` (log-spaced data)."""
    levels = (np.arange(count) + 0.5) / count
    return np.exp(np.quantile(np.log(values), levels))


def fit_anchors(boxes: np.ndarray, strides: Sequence[int], sizes_per_level: int = 2,
                ratios: int = 3) -> AnchorSet:
    """Anchors for the boxes (x1 y1 x2 y2 at the detector's input size) on a pyramid of
    ``strides``: ``sizes_per_level`` quantile sizes (square root of the area) and ``ratios``
    quantile aspect ratios, on the coarsest level fine enough for them."""
    width, height = box_sides(boxes)
    if len(width) == 0:
        raise ValueError("no boxes to fit anchors to")
    sizes = _quantile_centres(np.sqrt(width * height), sizes_per_level)
    aspect = _quantile_centres(height / width, ratios)
    median = float(np.median(np.minimum(width, height)))
    fitting = [i for i, s in enumerate(strides) if s <= STRIDE_SHARE * median]
    home = fitting[-1] if fitting else 0
    levels = tuple(tuple(round(float(s) * 2.0 ** (level - home), 2) for s in sizes)
                   for level in range(len(strides)))
    return AnchorSet(levels, tuple(round(float(r), 3) for r in aspect))


def default_anchors(strides: Sequence[int]) -> AnchorSet:
    """torchvision's choice for a pyramid of ``len(strides)`` maps: 32-512 px, ratios
    0.5/1/2 (one size a level on ResNet's five maps, all five on MobileNet's three)."""
    if len(strides) == 5:
        return AnchorSet(((32.0,), (64.0,), (128.0,), (256.0,), (512.0,)), (0.5, 1.0, 2.0))
    return AnchorSet(((32.0, 64.0, 128.0, 256.0, 512.0),) * len(strides), (0.5, 1.0, 2.0))


def level_anchors(anchors: AnchorSet, level: int) -> np.ndarray:
    """(A, 4) anchors of one level centred on (0, 0), in torchvision's order and rounding."""
    sizes = np.asarray(anchors.sizes[level], dtype=np.float64)
    ratios = np.asarray(anchors.ratios, dtype=np.float64)
    h_ratios = np.sqrt(ratios)
    ws = (sizes[None, :] / h_ratios[:, None]).reshape(-1)
    hs = (sizes[None, :] * h_ratios[:, None]).reshape(-1)
    return np.round(np.stack([-ws, -hs, ws, hs], axis=1) / 2)


def grid_anchors(anchors: AnchorSet, strides: Sequence[int], image_size: int) -> np.ndarray:
    """Every anchor the generator places on a square ``image_size`` input, (M, 4)."""
    placed = []
    for level, stride in enumerate(strides):
        cells = -(-image_size // stride)
        shifts = np.arange(cells, dtype=np.float64) * stride
        sy, sx = np.meshgrid(shifts, shifts, indexing="ij")
        shift = np.stack([sx.ravel(), sy.ravel(), sx.ravel(), sy.ravel()], axis=1)
        placed.append((shift[:, None, :] + level_anchors(anchors, level)[None]).reshape(-1, 4))
    return np.concatenate(placed)


def best_anchor_iou(boxes: np.ndarray, anchors: AnchorSet, strides: Sequence[int],
                    image_size: int) -> np.ndarray:
    """For each box, its highest IoU with any anchor on the grid. The overlap along each
    axis only shrinks as the centres move apart, so for every anchor shape the best place
    is the grid point nearest the box's centre along x and along y: two candidates an
    axis, exact and vectorised over boxes and shapes."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    best = np.zeros(len(boxes))
    if not len(boxes):
        return best
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    for level, stride in enumerate(strides):
        cells = -(-image_size // stride)
        shapes = level_anchors(anchors, level)  # (A, 4) around (0, 0)
        overlap = []
        for axis in (0, 1):
            lo, hi = boxes[:, axis], boxes[:, axis + 2]
            a_lo, a_hi = shapes[:, axis], shapes[:, axis + 2]
            offset = (a_lo + a_hi) / 2
            ideal = ((lo + hi) / 2)[:, None] - offset[None, :]  # (N, A) grid shift wanted
            cell = np.floor(ideal / stride)
            pairs = []
            for candidate in (cell, cell + 1):
                shift = np.clip(candidate, 0, cells - 1) * stride
                inter = (np.minimum(hi[:, None], shift + a_hi) -
                         np.maximum(lo[:, None], shift + a_lo))
                pairs.append(np.clip(inter, 0, None))
            overlap.append(np.maximum(*pairs))
        inter = overlap[0] * overlap[1]
        shape_area = (shapes[:, 2] - shapes[:, 0]) * (shapes[:, 3] - shapes[:, 1])
        iou = inter / (area[:, None] + shape_area[None, :] - inter)
        best = np.maximum(best, iou.max(axis=1))
    return best


@dataclass(frozen=True)
class AnchorCoverage:
    """Share of boxes whose best anchor reaches the RPN's positive (0.7) and a looser 0.5 IoU."""

    boxes: int
    at_07: float
    at_05: float

    def describe(self) -> str:
        return (f"{self.at_07:.0%} of {self.boxes} boxes have an anchor at IoU >= 0.7, "
                f"{self.at_05:.0%} at >= 0.5")


def anchor_coverage(boxes: np.ndarray, anchors: AnchorSet, strides: Sequence[int],
                    image_size: int) -> AnchorCoverage:
    """How well ``anchors`` on the real grid cover ``boxes`` (at the input size)."""
    best = best_anchor_iou(boxes, anchors, strides, image_size)
    if not len(best):
        return AnchorCoverage(0, 0.0, 0.0)
    return AnchorCoverage(len(best), float((best >= 0.7).mean()), float((best >= 0.5).mean()))
