"""Aggregates over billets: the paper's fractions with bootstrap intervals, the confusion
matrix, per-class precision and recall, and COCO's AP at IoU 0.5."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from billet_studio.evaluation.matching import MatchConfig, match_detections
from billet_studio.evaluation.scoring import COUNT_NAMES, BilletScore

#: Reported rate -> (numerator count, denominator): digits for TP/MC/FN/FP, billets for CB.
RATES: dict[str, tuple[str, str]] = {
    "TP": ("TP", "digits"),
    "MC": ("MC", "digits"),
    "FN": ("FN", "digits"),
    "FP": ("FP", "digits"),
    "FP_Bkg": ("FP_Bkg", "digits"),
    "CB": ("cb_strict", "billets"),
    "CB_lenient": ("cb_lenient", "billets"),
    "CB_raw": ("cb_raw", "billets"),
    "CB_prior": ("cb_prior", "billets"),
    "review": ("needs_review", "billets"),
}
#: Resample at most this many billets x resamples at once (bounds the memory used).
_BOOTSTRAP_CHUNK = 4_000_000


@dataclass(frozen=True)
class BootstrapConfig:
    """Percentile intervals from resampling billets with replacement within each group."""

    resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0


def _rate_table(totals: np.ndarray) -> np.ndarray:
    """Rates (..., len(RATES)) from count totals (..., len(COUNT_NAMES) + 1 billets)."""
    index = {name: i for i, name in enumerate((*COUNT_NAMES, "billets"))}
    numer = np.stack([totals[..., index[n]] for n, _ in RATES.values()], axis=-1)
    denom = np.stack([totals[..., index[d]] for _, d in RATES.values()], axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, numer / np.maximum(denom, 1), np.nan)


def group_rates(counts: np.ndarray, config: BootstrapConfig = BootstrapConfig(),
                rng: np.random.Generator | None = None) -> dict[str, dict[str, float]]:
    """Each rate of one group of billets with its bootstrap interval (NaN when empty)."""
    counts = np.asarray(counts).reshape(-1, len(COUNT_NAMES))
    mask = np.ones(len(counts), dtype=bool)
    return grouped_rates(counts, {"group": mask}, config, rng)["group"]


def grouped_rates(counts: np.ndarray, masks: Mapping[str, np.ndarray],
                  config: BootstrapConfig = BootstrapConfig(),
                  rng: np.random.Generator | None = None
                  ) -> dict[str, dict[str, dict[str, float]]]:
    """Every rate of every group (a boolean mask over the billets) with its interval.

    The bootstrap is stratified by the cells the groups are made of (billets in the same
    groups, e.g. one visibility at one site): each resample redraws every cell's billets
    with replacement, keeping its size, so every group keeps the balance the test set was
    built with. One resample serves all groups, so intervals of nested groups agree.
    """
    rng = rng or np.random.default_rng(config.seed)
    counts = np.asarray(counts, dtype=np.float64).reshape(-1, len(COUNT_NAMES))
    n = len(counts)
    with_billets = np.concatenate([counts, np.ones((n, 1))], axis=1)
    names = list(masks)
    member = np.stack([np.asarray(masks[name], dtype=bool) for name in names], axis=1)
    cells, cell_of = np.unique(member, axis=0, return_inverse=True)
    cell_of = cell_of.reshape(-1)
    resamples = config.resamples if n else 0
    totals = np.zeros((resamples, len(cells), with_billets.shape[1]))
    for cell in range(len(cells)):
        rows = np.flatnonzero(cell_of == cell)
        size = len(rows)
        chunk = max(1, _BOOTSTRAP_CHUNK // size)
        for start in range(0, resamples, chunk):
            count = min(chunk, resamples - start)
            draws = rng.integers(0, size, size=(count, size))
            draws += np.arange(count)[:, None] * size
            weights = np.bincount(draws.ravel(), minlength=count * size).reshape(count, size)
            totals[start:start + count, cell] = weights.astype(np.float64) @ with_billets[rows]
    tail = (1 - config.confidence) / 2 * 100
    result = {}
    for g, name in enumerate(names):
        point = _rate_table(with_billets[member[:, g]].sum(axis=0))
        low = high = np.full(len(RATES), np.nan)
        if resamples and member[:, g].any():
            samples = _rate_table(totals[:, cells[:, g], :].sum(axis=1))
            with np.errstate(all="ignore"):
                low, high = np.nanpercentile(samples, [tail, 100 - tail], axis=0)
        result[name] = {rate: {"value": float(point[i]), "low": float(low[i]),
                               "high": float(high[i])} for i, rate in enumerate(RATES)}
    return result


def confusion_matrix(billets: Sequence[BilletScore], n_classes: int) -> np.ndarray:
    """Rows: true class, then background; columns: predicted class, then missed.

    TP and MC digits land on (true, predicted), FN digits on (true, missed), FP
    predictions on (background, predicted). Predictions under the score threshold are out.
    """
    rows, cols = [], []
    for billet in billets:
        match, labels = billet.match, billet.image.labels
        found = match.truth_match >= 0
        rows.append(labels)
        cols.append(np.where(found, billet.predictions.labels[np.maximum(match.truth_match, 0)]
                             if len(billet.predictions.labels) else n_classes, n_classes))
        fp = match.pred_kind == "FP"
        rows.append(np.full(int(fp.sum()), n_classes))
        cols.append(billet.predictions.labels[fp])
    size = n_classes + 1
    if not rows:
        return np.zeros((size, size), dtype=np.int64)
    flat = np.concatenate(rows).astype(np.int64) * size + np.concatenate(cols).astype(np.int64)
    return np.bincount(flat, minlength=size * size).reshape(size, size)


def per_class(matrix: np.ndarray, classes: Sequence[str]) -> list[dict[str, Any]]:
    """Precision (TP / predictions of the class) and recall (TP / digits of the class)."""
    n = len(classes)
    table = []
    for c, name in enumerate(classes):
        tp = int(matrix[c, c])
        digits = int(matrix[c, :].sum())
        predicted = int(matrix[:, c].sum())
        table.append({
            "class": name, "digits": digits, "predicted": predicted, "TP": tp,
            "precision": tp / predicted if predicted else None,
            "recall": tp / digits if digits else None,
        })
    assert matrix.shape == (n + 1, n + 1)
    return table


def average_precision(scores: np.ndarray, is_tp: np.ndarray, n_truth: int) -> float | None:
    """COCO's AP: precision made monotone, read at 101 recall points (None: no digits)."""
    if n_truth == 0:
        return None
    order = np.argsort(-np.asarray(scores), kind="mergesort")
    tp = np.cumsum(np.asarray(is_tp, dtype=np.float64)[order])
    fp = np.cumsum(~np.asarray(is_tp, dtype=bool)[order])
    recall = tp / n_truth
    precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    precision = np.maximum.accumulate(precision[::-1])[::-1] if len(precision) else precision
    points = np.linspace(0.0, 1.0, 101)
    where = np.searchsorted(recall, points, side="left")
    values = np.zeros(len(points))
    inside = where < len(precision)
    values[inside] = precision[where[inside]]
    return float(values.mean())


def map50(billets: Sequence[BilletScore], n_classes: int, matched_at: float = 0.5
          ) -> dict[str, Any]:
    """COCO mAP at IoU 0.5 over every prediction (no score threshold, no detection cap).
    ``matched_at`` is the IoU the billets were matched at (their matches are reused when
    it is 0.5 and no prediction was left out)."""
    iou = 0.5
    labels, scores, hits = [], [], []
    digits = np.zeros(n_classes, dtype=np.int64)
    everything = MatchConfig(iou=iou, score=-np.inf)
    for billet in billets:
        preds, image = billet.predictions, billet.image
        digits += np.bincount(image.labels, minlength=n_classes)
        if not len(preds.scores):
            continue
        # TP flags come from the same-label pass alone, so the billet's own match serves
        # unless it used another IoU or the score threshold left predictions out.
        match = billet.match
        if matched_at != iou or np.any(match.pred_kind == "ignored"):
            match = match_detections(image.boxes, image.labels, preds.boxes, preds.labels,
                                     preds.scores, everything)
        labels.append(preds.labels)
        scores.append(preds.scores)
        hits.append(match.pred_kind == "TP")
    mean, per = mean_average_precision(labels, scores, hits, digits)
    return {"mAP50": mean, "per_class": per}


def mean_average_precision(labels: Sequence[np.ndarray], scores: Sequence[np.ndarray],
                           hits: Sequence[np.ndarray], digits: np.ndarray
                           ) -> tuple[float | None, dict[int, float | None]]:
    """(mean AP over classes with digits, AP per class) from per-image prediction labels
    (0-based), scores and TP flags, and the digit count of each class."""
    all_labels = np.concatenate(labels) if len(labels) else np.zeros(0, dtype=np.int64)
    all_scores = np.concatenate(scores) if len(scores) else np.zeros(0)
    all_hits = np.concatenate(hits) if len(hits) else np.zeros(0, dtype=bool)
    per: dict[int, float | None] = {}
    for c in range(len(digits)):
        mine = all_labels == c
        per[c] = average_precision(all_scores[mine], all_hits[mine], int(digits[c]))
    known = [v for v in per.values() if v is not None]
    return (float(np.mean(known)) if known else None), per
