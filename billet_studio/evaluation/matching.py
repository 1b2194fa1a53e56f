"""Matching predicted boxes to ground-truth digits: TP, MC, FN and FP with TIDE's subtypes.

The rule (docs/adr/0007-matching-rule.md), per image, with IoU threshold t, background
threshold b and score threshold s:
0. keep predictions with score >= s, sorted by score (ties by input order); IoU on xyxy
   boxes without +1, and IoU exactly t counts;
1. same-label pass: each prediction takes the unmatched digit of its label with the
   highest IoU >= t (both TP);
2. wrong-label pass: each remaining prediction takes the unmatched digit of another label
   with the highest IoU >= t (that digit is MC);
3. every other prediction is FP: Loc, Cls, Dupe, Bkg or Both, the first that applies;
4. every digit neither TP nor MC is FN.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

FP_TYPES = ("Loc", "Cls", "Dupe", "Bkg", "Both")


#: The score threshold reports use unless told otherwise (``evaluate run --score``, the
#: experiment grid, the main job, ``detector report``): a detector's operating point.
REPORT_SCORE = 0.5


@dataclass(frozen=True)
class MatchConfig:
    """The paper counts a digit as detected at IoU >= 0.5; TIDE's background is 0.1."""

    iou: float = 0.5
    background_iou: float = 0.1
    score: float = 0.0


@dataclass(frozen=True, eq=False)
class MatchResult:
    """Per digit: "TP", "MC" or "FN". Per prediction: "TP", "MC", "FP" or "ignored" (below
    the score threshold), the FP subtype, and the digit each one matched (-1 for none)."""

    truth_kind: np.ndarray
    truth_match: np.ndarray
    pred_kind: np.ndarray
    pred_fp_type: np.ndarray
    pred_match: np.ndarray
    pred_iou: np.ndarray

    def counts(self) -> Counter[str]:
        counts = Counter({"TP": 0, "MC": 0, "FN": 0, "FP": 0})
        counts.update(str(k) for k in self.truth_kind)
        counts["FP"] = int(np.sum(self.pred_kind == "FP"))
        for fp_type in FP_TYPES:
            counts[f"FP_{fp_type}"] = int(np.sum(self.pred_fp_type == fp_type))
        return counts


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (N, 4) with every box in ``b`` (M, 4), xyxy, no +1."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def match_detections(truth_boxes: np.ndarray, truth_labels: np.ndarray,
                     pred_boxes: np.ndarray, pred_labels: np.ndarray,
                     pred_scores: np.ndarray, config: MatchConfig = MatchConfig()
                     ) -> MatchResult:
    """Match one image's predictions to its digits by the rule in the module docstring."""
    truth_labels = np.asarray(truth_labels)
    pred_labels = np.asarray(pred_labels)
    scores = np.asarray(pred_scores, dtype=np.float64)
    n_truth, n_pred = len(truth_labels), len(pred_labels)
    iou = box_iou(pred_boxes, truth_boxes)
    same = pred_labels[:, None] == truth_labels[None, :]
    kept = scores >= config.score
    order = np.flatnonzero(kept)
    order = order[np.argsort(-scores[order], kind="stable")]
    truth_kind = np.full(n_truth, "FN", dtype=object)
    truth_match = np.full(n_truth, -1)
    pred_kind = np.where(kept, "FP", "ignored").astype(object)
    pred_fp_type = np.full(n_pred, "", dtype=object)
    pred_match = np.full(n_pred, -1)
    pred_iou = iou.max(axis=1) if n_truth else np.zeros(n_pred)
    overlapping = (iou >= config.iou) & kept[:, None]
    for kind, candidates in (("TP", overlapping & same), ("MC", overlapping & ~same)):
        candidates &= (truth_match < 0)[None, :] & (pred_match < 0)[:, None]
        for p, g in _greedy_pairs(candidates, iou, order):
            truth_kind[g], truth_match[g] = kind, p
            pred_kind[p], pred_match[p], pred_iou[p] = kind, g, iou[p, g]
    matched = truth_match >= 0
    for p in np.flatnonzero(pred_kind == "FP"):
        pred_fp_type[p] = _fp_type(iou[p], same[p], matched, config)
    return MatchResult(truth_kind, truth_match, pred_kind, pred_fp_type, pred_match, pred_iou)


def _greedy_pairs(candidates: np.ndarray, iou: np.ndarray, order: np.ndarray
                  ) -> list[tuple[int, int]]:
    """Predictions in ``order`` each take their highest-IoU candidate digit still free
    (ties to the first digit). Without contention (no prediction with two candidates, no
    digit wanted twice) that is every candidate pair at once."""
    if not candidates.any():
        return []
    if candidates.sum(axis=1).max() <= 1 and candidates.sum(axis=0).max() <= 1:
        rows, cols = np.nonzero(candidates)
        return list(zip(rows.tolist(), cols.tolist(), strict=True))
    taken = np.zeros(candidates.shape[1], dtype=bool)
    pairs = []
    for p in order:
        free = candidates[p] & ~taken
        if free.any():
            g = int(np.flatnonzero(free)[np.argmax(iou[p][free])])
            taken[g] = True
            pairs.append((int(p), g))
    return pairs


def _fp_type(iou: np.ndarray, same: np.ndarray, matched: np.ndarray,
             config: MatchConfig) -> str:
    t, b = config.iou, config.background_iou
    if np.any(same & (iou >= b) & (iou < t)):
        return "Loc"
    if np.any(~same & (iou >= t)):
        return "Cls"
    if np.any(same & matched & (iou >= t)):
        return "Dupe"
    if np.all(iou <= b):
        return "Bkg"
    return "Both"
