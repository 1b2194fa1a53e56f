"""Scoring billets: the matching, the ID read and the CB flags of every test image."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from billet_studio.evaluation.batched import match_all, read_all, slots_all
from billet_studio.evaluation.id_decoding import DecodeConfig, IdRead, read_slots
from billet_studio.evaluation.inputs import ImagePredictions, TruthImage
from billet_studio.evaluation.matching import FP_TYPES, MatchConfig, MatchResult, match_detections
from billet_studio.evaluation.slots import SlotConfig, group_slots, reading_order
from billet_studio.glyphs.id_automaton import IdAutomaton, reading_key

#: The paper's test subsets (its Table 2), by the image's visibility class.
SUBSETS = ("all", "well", "poor_or_partial", "poor", "partial")
SUBSET_TITLES = {
    "all": "All",
    "well": "Well visible",
    "poor_or_partial": "Poorly or partially visible",
    "poor": "Poorly visible",
    "partial": "Partially visible",
}
#: Per-billet counts, in the order of :attr:`BilletScore.counts`.
COUNT_NAMES = ("digits", "TP", "MC", "FN", "FP", *(f"FP_{t}" for t in FP_TYPES),
               "cb_strict", "cb_lenient", "cb_raw", "cb_prior", "needs_review")


def in_subset(visibility: str | None, subset: str) -> bool:
    if subset == "all":
        return True
    if subset == "poor_or_partial":
        return visibility in ("poor", "partial")
    return visibility == subset


@dataclass(frozen=True)
class ScoringConfig:
    """How billets are scored; the defaults are the paper's (IoU 0.5) and TIDE's."""

    match: MatchConfig = field(default_factory=MatchConfig)
    slots: SlotConfig = field(default_factory=SlotConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)


@dataclass(frozen=True, eq=False)
class BilletScore:
    """One billet's result: matching, read, and ``counts`` (the values of
    :data:`COUNT_NAMES`) that make its rates and CB flags."""

    image: TruthImage
    predictions: ImagePredictions
    match: MatchResult
    true_id: str
    read: IdRead
    counts: np.ndarray


def count_rows(matches: Sequence[MatchResult], reads: Sequence[IdRead],
               true_ids: Sequence[str]) -> np.ndarray:
    """The :data:`COUNT_NAMES` row of every billet, computed together."""
    rows = match_count_rows(matches)
    if not len(rows):
        return rows
    index = {name: i for i, name in enumerate(COUNT_NAMES)}
    rows[:, index["cb_raw"]] = [r.raw == t for r, t in zip(reads, true_ids, strict=True)]
    rows[:, index["cb_prior"]] = [r.constrained == t
                                  for r, t in zip(reads, true_ids, strict=True)]
    rows[:, index["needs_review"]] = [r.needs_review for r in reads]
    return rows


def match_count_rows(matches: Sequence[MatchResult]) -> np.ndarray:
    """The :data:`COUNT_NAMES` rows the matching decides (digits, TP, MC, FN, FP and its
    subtypes, CB strict and lenient); the read columns are left 0."""
    n = len(matches)
    rows = np.zeros((n, len(COUNT_NAMES)), dtype=np.int64)
    if not n:
        return rows
    truth_kind = np.concatenate([m.truth_kind for m in matches]).astype(str)
    truth_owner = np.repeat(np.arange(n), [len(m.truth_kind) for m in matches])
    pred_kind = np.concatenate([m.pred_kind for m in matches]).astype(str)
    fp_type = np.concatenate([m.pred_fp_type for m in matches]).astype(str)
    pred_owner = np.repeat(np.arange(n), [len(m.pred_kind) for m in matches])
    index = {name: i for i, name in enumerate(COUNT_NAMES)}
    rows[:, index["digits"]] = np.bincount(truth_owner, minlength=n)
    for kind in ("TP", "MC", "FN"):
        rows[:, index[kind]] = np.bincount(truth_owner[truth_kind == kind], minlength=n)
    rows[:, index["FP"]] = np.bincount(pred_owner[pred_kind == "FP"], minlength=n)
    for fp in FP_TYPES:
        rows[:, index[f"FP_{fp}"]] = np.bincount(pred_owner[fp_type == fp], minlength=n)
    lenient = rows[:, index["TP"]] == rows[:, index["digits"]]
    rows[:, index["cb_lenient"]] = lenient
    rows[:, index["cb_strict"]] = lenient & (rows[:, index["FP"]] == 0)
    return rows


def true_id_of(image: TruthImage, classes: Sequence[str], line_gap: float) -> str:
    """The sidecar's ID when known (without characters the reader has no class for), else
    the ground-truth digits in reading order."""
    if image.billet_id:
        return reading_key(image.billet_id, classes)
    order, _ = reading_order(image.boxes, line_gap)
    return "".join(classes[image.labels[i]] for i in order)


def read_billet(predictions: ImagePredictions, n_classes: int, automaton: IdAutomaton,
                config: ScoringConfig = ScoringConfig()) -> IdRead:
    """The ID one image's detections spell (those above the score threshold)."""
    kept = predictions.scores >= config.match.score
    vectors = None if predictions.class_scores is None else predictions.class_scores[kept]
    slots = group_slots(predictions.boxes[kept], predictions.labels[kept],
                        predictions.scores[kept], n_classes, vectors, config.slots)
    return read_slots(slots.scores, automaton, config.decode,
                      slots.gaps(config.slots.missing_gap))


def score_billet(image: TruthImage, predictions: ImagePredictions, classes: Sequence[str],
                 automaton: IdAutomaton, config: ScoringConfig = ScoringConfig()
                 ) -> BilletScore:
    """Match, read and flag one billet (:func:`score_billets` does many at once)."""
    match = match_detections(image.boxes, image.labels, predictions.boxes,
                             predictions.labels, predictions.scores, config.match)
    read = read_billet(predictions, len(classes), automaton, config)
    true_id = true_id_of(image, classes, config.slots.line_gap)
    return BilletScore(image, predictions, match, true_id, read,
                       count_rows([match], [read], [true_id])[0])


def score_billets(images: Sequence[TruthImage], predictions: Sequence[ImagePredictions],
                  classes: Sequence[str], automaton: IdAutomaton,
                  config: ScoringConfig = ScoringConfig()) -> list[BilletScore]:
    """:func:`score_billet` for every billet, computed together (the same results)."""
    matches = match_all(images, predictions, config.match)
    slots = slots_all(predictions, len(classes), config.match.score, config.slots)
    reads = read_all(slots, automaton, config.decode)
    true_ids = [true_id_of(image, classes, config.slots.line_gap) for image in images]
    counts = count_rows(matches, reads, true_ids)
    return [BilletScore(image, pred, match, true_id, read, row)
            for image, pred, match, true_id, read, row
            in zip(images, predictions, matches, true_ids, reads, counts, strict=True)]
