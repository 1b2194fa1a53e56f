"""Where a closed ring crosses itself: the points the labelling canvas marks live while a
polygon is drawn or edited (shapely's validity check names only the first)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def ring_crossings(points: Sequence[Sequence[float]] | np.ndarray,
                   closed: bool = True) -> list[tuple[float, float]]:
    """The points where non-adjacent edges of the ring (or open path) intersect.

    Edges that share a vertex never count; collinear overlaps count once at the first
    edge's end that lies on the other. All pairs are tested at once with numpy, which keeps
    a 500-vertex outline well under a millisecond.
    """
    ring = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(ring) < 4:  # three edges cannot cross each other
        return []
    ends = np.roll(ring, -1, axis=0) if closed else ring[1:]
    starts = ring[: len(ends)]
    edges = len(starts)
    first, second = np.triu_indices(edges, k=2)
    if closed:  # the last edge and the first share vertex 0
        keep = ~((first == 0) & (second == edges - 1))
        first, second = first[keep], second[keep]
    if first.size == 0:
        return []
    p, r = starts[first], ends[first] - starts[first]
    q, s = starts[second], ends[second] - starts[second]
    denominator = r[:, 0] * s[:, 1] - r[:, 1] * s[:, 0]
    qp = q - p
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (qp[:, 0] * s[:, 1] - qp[:, 1] * s[:, 0]) / denominator
        u = (qp[:, 0] * r[:, 1] - qp[:, 1] * r[:, 0]) / denominator
    proper = (denominator != 0) & (t >= 0) & (t <= 1) & (u >= 0) & (u <= 1)
    hits = p[proper] + t[proper, None] * r[proper]
    crossings = [(float(x), float(y)) for x, y in hits]
    parallel = np.flatnonzero(denominator == 0)
    for index in parallel:  # rare: only collinear, overlapping edges matter
        point = _overlap_point(p[index], r[index], q[index], s[index])
        if point is not None:
            crossings.append(point)
    return crossings


def _overlap_point(p: np.ndarray, r: np.ndarray, q: np.ndarray, s: np.ndarray
                   ) -> tuple[float, float] | None:
    qp = q - p
    if abs(qp[0] * r[1] - qp[1] * r[0]) > 1e-12:
        return None  # parallel but not on one line
    length = float(r @ r)
    if length == 0:
        return None
    t0 = float(qp @ r) / length
    t1 = t0 + float(s @ r) / length
    low, high = max(0.0, min(t0, t1)), min(1.0, max(t0, t1))
    if low > high:
        return None
    point = p + low * r
    return float(point[0]), float(point[1])
