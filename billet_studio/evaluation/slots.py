"""From detections to character slots in reading order (lines top to bottom, left to right)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from billet_studio.evaluation.matching import box_iou


@dataclass(frozen=True)
class SlotConfig:
    """Detections overlapping at class-agnostic IoU >= ``iou`` are one character slot; a new
    line starts where the vertical gap between slot centres exceeds ``line_gap`` times the
    median character height."""

    iou: float = 0.5
    line_gap: float = 0.4
    #: A missed character may sit where neighbours on a line are this many median
    #: pitches apart (and at the ends of every line).
    missing_gap: float = 1.5


@dataclass(frozen=True, eq=False)
class Slots:
    """Character slots in reading order: the box of each slot's best detection, its class
    score vector (one probability per class), its line, and which detections it holds."""

    boxes: np.ndarray
    scores: np.ndarray
    lines: np.ndarray
    members: tuple[tuple[int, ...], ...]

    def __len__(self) -> int:
        return len(self.boxes)

    def gaps(self, missing_gap: float = SlotConfig.missing_gap) -> np.ndarray:
        """Where a missed character may sit: ``gaps[i]`` before slot i, ``gaps[n]`` after
        the last. Line ends always; inside a line where the centre spacing exceeds
        ``missing_gap`` times the median spacing (anywhere when there is no spacing)."""
        n = len(self)
        gaps = np.ones(n + 1, dtype=bool)
        if n < 2:
            return gaps
        centres = (self.boxes[:, 0] + self.boxes[:, 2]) / 2
        same_line = self.lines[1:] == self.lines[:-1]
        spacing = np.diff(centres)
        if not same_line.any():
            return gaps
        pitch = float(np.median(spacing[same_line]))
        gaps[1:n] = ~same_line | (spacing > missing_gap * pitch)
        return gaps


def reading_order(boxes: np.ndarray, line_gap: float = SlotConfig.line_gap
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(order, line of each box in that order): lines by centre height, left to right."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if not len(boxes):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    height = float(np.median(boxes[:, 3] - boxes[:, 1]))
    by_height = np.argsort(cy, kind="stable")
    gaps = np.diff(cy[by_height]) > line_gap * height
    line_of = np.empty(len(boxes), dtype=np.int64)
    line_of[by_height] = np.concatenate([[0], np.cumsum(gaps)])
    order = np.lexsort((cx, line_of))
    return order, line_of[order]


def group_slots(boxes: np.ndarray, labels: np.ndarray, scores: np.ndarray, n_classes: int,
                class_scores: np.ndarray | None = None,
                config: SlotConfig = SlotConfig()) -> Slots:
    """Group one image's detections (labels are class indices) into slots.

    Greedy in score order: the best unassigned detection opens a slot and takes every
    unassigned detection with IoU >= ``config.iou``. A slot's score vector is its best
    detection's ``class_scores`` row when given, else, per class, the highest score of the
    slot's detections of that class (0 for classes none of them predicts).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    labels = np.asarray(labels, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    iou = box_iou(boxes, boxes)
    np.fill_diagonal(iou, 1.0)  # a detection is in its own slot, even a zero-area one
    if int(np.count_nonzero(iou >= config.iou)) == len(boxes):  # no overlaps: one per slot
        if class_scores is not None:
            vectors_all = np.asarray(class_scores, dtype=np.float64).reshape(-1, n_classes)
        else:
            vectors_all = np.zeros((len(boxes), n_classes))
            vectors_all[np.arange(len(boxes)), labels] = scores
        slot_order, lines = reading_order(boxes, config.line_gap)
        return Slots(boxes[slot_order], vectors_all[slot_order], lines,
                     tuple((int(i),) for i in slot_order))
    assigned = np.zeros(len(boxes), dtype=bool)
    seeds: list[int] = []
    members: list[tuple[int, ...]] = []
    vectors: list[np.ndarray] = []
    for seed in order:
        if assigned[seed]:
            continue
        group = np.flatnonzero(~assigned & (iou[seed] >= config.iou))
        group = group[np.argsort(-scores[group], kind="stable")]
        assigned[group] = True
        if class_scores is not None:
            vector = np.asarray(class_scores[seed], dtype=np.float64)
        else:
            vector = np.zeros(n_classes)
            np.maximum.at(vector, labels[group], scores[group])
        seeds.append(int(seed))
        members.append(tuple(int(m) for m in group))
        vectors.append(vector)
    seed_boxes = boxes[seeds] if seeds else np.zeros((0, 4))
    slot_order, lines = reading_order(seed_boxes, config.line_gap)
    return Slots(
        boxes=seed_boxes[slot_order],
        scores=(np.array(vectors)[slot_order] if vectors else np.zeros((0, n_classes))),
        lines=lines,
        members=tuple(members[i] for i in slot_order),
    )
