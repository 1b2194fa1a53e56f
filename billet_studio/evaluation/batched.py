"""Scoring a whole test set at once: the per-billet rules of ``matching``, ``slots`` and
``id_decoding`` computed with flat arrays over every billet, so the cost per billet is a few
array elements rather than a few dozen numpy calls.

Each step does the common case for all billets together and hands the rare billets that
need the sequential rule (a prediction that could take two digits, overlapping detections
that form one slot, a raw read the ID format refuses) to the per-billet functions, which
define the result. Tests check that both paths agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from billet_studio.evaluation.id_decoding import (
    DecodeConfig,
    IdRead,
    read_slots,
    slot_log_scores,
)
from billet_studio.evaluation.inputs import ImagePredictions, TruthImage
from billet_studio.evaluation.matching import MatchConfig, MatchResult, match_detections
from billet_studio.evaluation.slots import SlotConfig, Slots, group_slots
from billet_studio.glyphs.id_automaton import IdAutomaton


@dataclass(frozen=True, eq=False)
class Flat:
    """Items of many billets in one array each: ``owner[i]`` is item i's billet, items are
    grouped by billet in order, and billet b's items are ``start[b]:start[b + 1]``."""

    owner: np.ndarray
    start: np.ndarray

    @classmethod
    def from_counts(cls, counts: np.ndarray) -> Flat:
        counts = np.asarray(counts, dtype=np.int64)
        start = np.concatenate([[0], np.cumsum(counts)])
        return cls(np.repeat(np.arange(len(counts)), counts), start)

    def segment(self, billet: int) -> slice:
        return slice(int(self.start[billet]), int(self.start[billet + 1]))


def _pairs(rows: Flat, cols: Flat) -> tuple[np.ndarray, np.ndarray]:
    """Every (row item, column item) pair of the same billet."""
    per_row = np.diff(cols.start)[rows.owner]
    first = np.repeat(np.cumsum(per_row) - per_row, per_row)
    row = np.repeat(np.arange(len(rows.owner)), per_row)
    col = np.repeat(cols.start[rows.owner], per_row) + np.arange(int(per_row.sum())) - first
    return row, col


def _pair_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of ``a[i]`` with ``b[i]`` (xyxy, no +1)."""
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = w * h
    union = ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0])
             * (b[:, 3] - b[:, 1]) - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def _any_per(index: np.ndarray, flags: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(index[flags], minlength=size) > 0


def match_all(images: Sequence[TruthImage], predictions: Sequence[ImagePredictions],
              config: MatchConfig = MatchConfig()) -> list[MatchResult]:
    """:func:`match_detections` for every billet (``predictions[b]`` is billet b's)."""
    n = len(images)
    truth = Flat.from_counts([len(i.labels) for i in images])
    preds = Flat.from_counts([len(p.labels) for p in predictions])
    t_boxes = np.concatenate([i.boxes for i in images]) if n else np.zeros((0, 4))
    t_labels = np.concatenate([i.labels for i in images]) if n else np.zeros(0, np.int64)
    p_boxes = np.concatenate([p.boxes for p in predictions]) if n else np.zeros((0, 4))
    p_labels = np.concatenate([p.labels for p in predictions]) if n else np.zeros(0, np.int64)
    scores = np.concatenate([p.scores for p in predictions]) if n else np.zeros(0)
    n_truth, n_pred = len(t_labels), len(p_labels)
    p, g = _pairs(preds, truth)
    iou = _pair_iou(p_boxes[p], t_boxes[g])
    same = p_labels[p] == t_labels[g]
    kept = scores >= config.score
    overlapping = (iou >= config.iou) & kept[p]
    truth_match = np.full(n_truth, -1)
    pred_match = np.full(n_pred, -1)
    contended = np.zeros(n, dtype=bool)
    for wanted_same in (True, False):
        free = (truth_match[g] < 0) & (pred_match[p] < 0) & ~contended[preds.owner[p]]
        candidates = overlapping & (same == wanted_same) & free
        # Greedy order matters only where a prediction has two candidates or a digit is
        # wanted twice; those billets take the sequential rule below.
        busy = (np.bincount(p[candidates], minlength=n_pred) > 1)[p] | (
            np.bincount(g[candidates], minlength=n_truth) > 1)[g]
        contended[preds.owner[p[candidates & busy]]] = True
        take = candidates & ~contended[preds.owner[p]]
        truth_match[g[take]] = p[take]
        pred_match[p[take]] = g[take]
    # Each prediction's IoU: with its digit when matched, else the best with any digit.
    pred_iou = np.zeros(n_pred)
    np.maximum.at(pred_iou, p, iou)
    matched_pair = pred_match[p] == g
    pred_iou[p[matched_pair]] = iou[matched_pair]
    matched_truth = truth_match >= 0
    t, b = config.iou, config.background_iou
    loc = _any_per(p, same & (iou >= b) & (iou < t), n_pred)
    cls = _any_per(p, ~same & (iou >= t), n_pred)
    dupe = _any_per(p, same & matched_truth[g] & (iou >= t), n_pred)
    near = _any_per(p, iou > b, n_pred)
    fp_type = np.select([loc, cls, dupe, ~near], ["Loc", "Cls", "Dupe", "Bkg"], "Both")
    hit = pred_match >= 0
    truth_is_tp = np.zeros(n_truth, dtype=bool)
    truth_is_tp[pred_match[hit]] = p_labels[hit] == t_labels[pred_match[hit]]
    truth_kind = np.where(truth_match < 0, "FN", np.where(truth_is_tp, "TP", "MC")).astype(
        object)
    pred_is_tp = np.zeros(n_pred, dtype=bool)
    pred_is_tp[hit] = truth_is_tp[pred_match[hit]]
    pred_kind = np.where(~kept, "ignored", np.where(~hit, "FP", np.where(
        pred_is_tp, "TP", "MC"))).astype(object)
    fp_type = np.where(pred_kind == "FP", fp_type, "").astype(object)
    local_truth_match = np.where(truth_match >= 0, truth_match - preds.start[
        truth.owner], -1)
    local_pred_match = np.where(hit, pred_match - truth.start[preds.owner], -1)
    results = []
    for billet in range(n):
        if contended[billet]:
            image, pred = images[billet], predictions[billet]
            results.append(match_detections(image.boxes, image.labels, pred.boxes,
                                            pred.labels, pred.scores, config))
            continue
        ts, ps = truth.segment(billet), preds.segment(billet)
        results.append(MatchResult(truth_kind[ts], local_truth_match[ts], pred_kind[ps],
                                   fp_type[ps], local_pred_match[ps], pred_iou[ps]))
    return results


def _segment_median(values: np.ndarray, owner: np.ndarray, size: int,
                    default: float = np.nan) -> np.ndarray:
    """np.median of ``values`` per owner (``default`` for owners without values)."""
    order = np.lexsort((values, owner))
    counts = np.bincount(owner, minlength=size)
    start = np.concatenate([[0], np.cumsum(counts)])[:-1]
    median = np.full(size, default)
    has = counts > 0
    low = values[order][start[has] + (counts[has] - 1) // 2]
    high = values[order][start[has] + counts[has] // 2]
    median[has] = (low + high) / 2
    return median


def slots_all(predictions: Sequence[ImagePredictions], n_classes: int, score: float,
              config: SlotConfig = SlotConfig()) -> list[tuple[Slots, np.ndarray]]:
    """(:func:`group_slots` of the predictions kept at ``score``, their insertion gaps)
    for every billet."""
    kept = [p.scores >= score for p in predictions]
    boxes_each = [p.boxes[k] for p, k in zip(predictions, kept, strict=True)]
    flat = Flat.from_counts([len(b) for b in boxes_each])
    n = len(predictions)
    boxes = np.concatenate(boxes_each) if n else np.zeros((0, 4))
    a, b = _pairs(flat, flat)
    pair = a < b
    overlapping = np.zeros(n, dtype=bool)
    overlapping[flat.owner[a[pair][_pair_iou(boxes[a[pair]], boxes[b[pair]]) >= config.iou]]] = True
    # Reading order for all billets at once (a billet's own order when no slots merge).
    owner = flat.owner
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    height = _segment_median(boxes[:, 3] - boxes[:, 1], owner, n)
    by_height = np.lexsort((cy, owner))
    step = np.diff(cy[by_height])
    new_line = np.zeros(len(by_height), dtype=bool)
    same_owner = owner[by_height][1:] == owner[by_height][:-1]
    new_line[1:] = same_owner & (step > config.line_gap * height[owner[by_height]][1:])
    count = np.cumsum(new_line)
    line = np.empty(len(owner), dtype=np.int64)
    # A billet's block starts at flat.start in this order too; lines count from there.
    line[by_height] = count - count[flat.start[owner[by_height]]]
    order = np.lexsort((cx, line, owner))
    # Gaps: line ends, and where neighbours on a line sit far apart.
    o_owner, o_line, o_cx = owner[order], line[order], cx[order]
    neighbour = np.zeros(len(order), dtype=bool)
    neighbour[1:] = (o_owner[1:] == o_owner[:-1]) & (o_line[1:] == o_line[:-1])
    spacing = np.zeros(len(order))
    spacing[1:] = np.diff(o_cx)
    pitch = _segment_median(spacing[neighbour], o_owner[neighbour], n)
    wide = ~neighbour | ~(spacing <= config.missing_gap * pitch[o_owner])
    results = []
    for billet in range(n):
        pred = predictions[billet]
        if overlapping[billet]:
            mine = kept[billet]
            slots = group_slots(pred.boxes[mine], pred.labels[mine], pred.scores[mine],
                                n_classes, None if pred.class_scores is None
                                else pred.class_scores[mine], config)
            results.append((slots, slots.gaps(config.missing_gap)))
            continue
        segment = flat.segment(billet)
        local = order[segment] - flat.start[billet]
        mine = np.flatnonzero(kept[billet])[local]
        if pred.class_scores is not None:
            vectors = pred.class_scores[mine]
        else:
            vectors = np.zeros((len(mine), n_classes))
            vectors[np.arange(len(mine)), pred.labels[mine]] = pred.scores[mine]
        gaps = np.ones(len(mine) + 1, dtype=bool)
        gaps[1:len(mine)] = wide[segment][1:]
        slots = Slots(boxes_each[billet][local], vectors, o_line[segment],
                      tuple((int(i),) for i in local))
        results.append((slots, gaps))
    return results


def read_all(slots: Sequence[tuple[Slots, np.ndarray]], automaton: IdAutomaton,
             config: DecodeConfig = DecodeConfig()) -> list[IdRead]:
    """:func:`read_slots` for every billet; raw reads the format accepts are settled
    together, the rest one by one."""
    alphabet = automaton.alphabet
    n = len(slots)
    flat = Flat.from_counts([len(s) for s, _ in slots])
    scores = (np.concatenate([s.scores for s, _ in slots]) if n
              else np.zeros((0, len(alphabet))))
    _, best, best_emit, skip = slot_log_scores(scores, len(alphabet), config)
    weak = np.bincount(flat.owner[best_emit < skip], minlength=n) > 0
    # Run every raw read through the automaton at once; past its end a read stays put.
    table, accepting = automaton.padded
    stay = np.hstack([table, np.arange(len(table))[:, None]])
    lengths = np.diff(flat.start)
    width = int(lengths.max(initial=0))
    codes = np.full((n, width), len(alphabet), dtype=np.int64)
    column = np.arange(len(flat.owner)) - flat.start[flat.owner]
    codes[flat.owner, column] = best
    state = np.full(n, automaton.start, dtype=np.int64)
    for position in range(width):
        state = stay[state, codes[:, position]]
    accepted = accepting[state] & ~weak
    reads = []
    for billet in range(n):
        if accepted[billet]:
            segment = flat.segment(billet)
            raw = "".join(alphabet[c] for c in best[segment])
            raw_score = float(best_emit[segment].sum())  # summed as read_slots does
            reads.append(IdRead(raw, raw, raw_score, raw_score))
        else:
            billet_slots, gaps = slots[billet]
            reads.append(read_slots(billet_slots.scores, automaton, config, gaps))
    return reads
