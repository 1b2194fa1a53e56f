"""The matching rule: the issue's cases, invariants, and agreement with pycocotools."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billet_studio.evaluation import MatchConfig, box_iou, match_detections

DIGIT = [0.0, 0.0, 10.0, 10.0]


def box_with_iou(target: float) -> list[float]:
    """A box to the right of DIGIT whose IoU with it is ``target`` (same height)."""
    # Overlap w of two 10-wide boxes: w / (20 - w) = target.
    overlap = 20 * target / (1 + target)
    return [10 - overlap, 0.0, 20 - overlap, 10.0]


def run(truth_labels, preds, truth_boxes=None, **config):
    truth_boxes = truth_boxes or [DIGIT] * len(truth_labels)
    boxes = [p[0] for p in preds]
    labels = [p[1] for p in preds]
    scores = [p[2] for p in preds]
    result = match_detections(np.array(truth_boxes).reshape(-1, 4), np.array(truth_labels),
                              np.array(boxes).reshape(-1, 4), np.array(labels),
                              np.array(scores), MatchConfig(**config))
    return result.counts(), result


def test_box_with_iou_helper_and_iou_without_plus_one():
    assert box_iou([DIGIT], [box_with_iou(0.8)])[0, 0] == pytest.approx(0.8)
    assert box_iou([[0, 0, 2, 2]], [[1, 1, 3, 3]])[0, 0] == pytest.approx(1 / 7)


def test_wrong_label_on_a_digit_is_mc():
    counts, _ = run(["3"], [(box_with_iou(0.8), "5", 0.9)])
    assert (counts["MC"], counts["TP"], counts["FN"], counts["FP"]) == (1, 0, 0, 0)


def test_right_label_wins_and_the_other_is_fp_cls():
    counts, result = run(["5"], [(DIGIT, "5", 0.9), (box_with_iou(0.7), "3", 0.6)])
    assert (counts["TP"], counts["FP"], counts["FP_Cls"], counts["MC"]) == (1, 1, 1, 0)
    assert list(result.pred_kind) == ["TP", "FP"]


def test_two_wrong_labels_give_one_mc_and_one_fp_cls():
    counts, result = run(["5"], [(DIGIT, "3", 0.6), (box_with_iou(0.9), "8", 0.8)])
    assert (counts["MC"], counts["FP_Cls"]) == (1, 1)
    assert list(result.pred_kind) == ["FP", "MC"]  # the higher score wins


def test_same_label_with_poor_overlap_is_fn_and_fp_loc():
    counts, _ = run(["5"], [(box_with_iou(0.33), "5", 0.9)])
    assert (counts["FN"], counts["FP_Loc"], counts["TP"]) == (1, 1, 0)


def test_iou_exactly_at_the_threshold_counts():
    assert box_iou([DIGIT], [[0.0, 0.0, 20.0, 10.0]])[0, 0] == 0.5
    counts, _ = run(["5"], [([0.0, 0.0, 20.0, 10.0], "5", 0.9)])
    assert counts["TP"] == 1


def test_no_predictions_all_fn_and_no_digits_all_fp_bkg():
    counts, _ = run(["1", "2"], [], truth_boxes=[DIGIT, [20, 0, 30, 10]])
    assert (counts["FN"], counts["TP"]) == (2, 0)
    counts, result = run([], [(DIGIT, "5", 0.9), ([50, 50, 60, 60], "1", 0.2)])
    assert (counts["FP"], counts["FP_Bkg"]) == (2, 2)
    assert list(result.pred_fp_type) == ["Bkg", "Bkg"]


def test_same_label_duplicate_is_tp_and_fp_dupe():
    counts, _ = run(["5"], [(DIGIT, "5", 0.9), (box_with_iou(0.8), "5", 0.7)])
    assert (counts["TP"], counts["FP_Dupe"], counts["FP"]) == (1, 1, 1)


def test_score_threshold_ignores_weak_predictions_and_both_is_the_rest():
    counts, result = run(["5"], [(DIGIT, "5", 0.2)], score=0.5)
    assert counts["FN"] == 1 and list(result.pred_kind) == ["ignored"]
    # Another label at IoU 0.3: neither Loc (other label), Cls (< t) nor Bkg (> b).
    counts, _ = run(["5"], [(box_with_iou(0.3), "3", 0.9)])
    assert (counts["FN"], counts["FP_Both"]) == (1, 1)


boxes = st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(2, 20),
                  st.integers(2, 20)).map(lambda t: [t[0], t[1], t[0] + t[2], t[1] + t[3]])


@settings(max_examples=200, deadline=None)
@given(truth=st.lists(st.tuples(boxes, st.sampled_from("123")), max_size=6),
       preds=st.lists(st.tuples(boxes, st.sampled_from("123")), max_size=8),
       seed=st.integers(0, 1000))
def test_counts_add_up_and_input_order_does_not_matter(truth, preds, seed):
    rng = np.random.default_rng(seed)
    scores = rng.permutation(len(preds)) / max(1, len(preds)) + 0.01  # distinct
    entries = [(b, label, s) for (b, label), s in zip(preds, scores, strict=True)]
    counts, _ = run([t[1] for t in truth], entries, truth_boxes=[t[0] for t in truth])
    assert counts["TP"] + counts["MC"] + counts["FN"] == len(truth)
    assert counts["TP"] + counts["MC"] + counts["FP"] == len(preds)
    assert counts["FP"] == sum(counts[f"FP_{t}"] for t in ("Loc", "Cls", "Dupe", "Bkg",
                                                           "Both"))
    shuffled = [entries[i] for i in rng.permutation(len(entries))]
    again, _ = run([t[1] for t in truth], shuffled, truth_boxes=[t[0] for t in truth])
    assert again == counts


def test_same_label_matches_agree_with_coco_eval():
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    rng = np.random.default_rng(3)
    images, annotations, detections, ours = [], [], [], 0
    for image_id in range(1, 31):
        images.append({"id": image_id, "width": 200, "height": 200})
        truth = []
        for _ in range(rng.integers(1, 8)):
            x, y = rng.uniform(0, 150, 2)
            w, h = rng.uniform(10, 40, 2)
            label = int(rng.integers(1, 4))
            truth.append(([x, y, x + w, y + h], label))
            annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                "category_id": label, "bbox": [x, y, w, h], "area": w * h,
                                "iscrowd": 0})
        preds = []
        for box, label in truth:
            for _ in range(rng.integers(0, 3)):
                jitter = rng.normal(0, 4, 4)
                b = np.array(box) + jitter
                b[2:] = np.maximum(b[2:], b[:2] + 2)
                p_label = label if rng.random() < 0.7 else int(rng.integers(1, 4))
                preds.append((b.tolist(), p_label, float(rng.random())))
        for b, label, score in preds:
            detections.append({"image_id": image_id, "category_id": label, "score": score,
                               "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]]})
        counts, _ = run([t[1] for t in truth], preds, truth_boxes=[t[0] for t in truth])
        ours += counts["TP"]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": images, "annotations": annotations,
                      "categories": [{"id": i, "name": str(i)} for i in (1, 2, 3)]}
        gt.createIndex()
        dt = gt.loadRes(detections)
        evaluation = COCOeval(gt, dt, "bbox")
        evaluation.params.iouThrs = np.array([0.5])
        evaluation.params.maxDets = [1000]
        evaluation.params.areaRng = [[0, 1e10]]
        evaluation.params.areaRngLbl = ["all"]
        evaluation.evaluate()
    coco_matches = sum(int(np.sum(e["dtMatches"][0] > 0)) for e in evaluation.evalImgs if e)
    assert ours == coco_matches > 0


@settings(max_examples=150, deadline=None)
@given(labels=st.lists(st.sampled_from("123"), min_size=1, max_size=6),
       preds=st.lists(st.tuples(boxes, st.sampled_from("123")), max_size=10),
       seed=st.integers(0, 1000))
def test_tied_scores_in_any_order_give_the_same_counts_on_separate_digits(labels, preds, seed):
    # Digits on a billet do not overlap: a prediction then reaches at most one digit at
    # IoU >= 0.5, and the order of predictions with equal scores cannot change any count.
    truth_boxes = [[12 * i, 10, 12 * i + 9, 25] for i in range(len(labels))]
    entries = [(b, label, 0.7) for b, label in preds]
    counts, _ = run(labels, entries, truth_boxes=truth_boxes)
    rng = np.random.default_rng(seed)
    shuffled = [entries[i] for i in rng.permutation(len(entries))]
    again, _ = run(labels, shuffled, truth_boxes=truth_boxes)
    assert again == counts
    assert counts["TP"] + counts["MC"] + counts["FN"] == len(labels)


def reference_match(truth_boxes, truth_labels, pred_boxes, pred_labels, scores, t=0.5):
    """The rule written as plainly as possible: two greedy passes in score order."""
    order = sorted(range(len(pred_labels)), key=lambda p: -scores[p])
    iou = box_iou(pred_boxes, truth_boxes)
    truth_kind = ["FN"] * len(truth_labels)
    pred_kind = ["FP"] * len(pred_labels)
    for kind, wanted in (("TP", True), ("MC", False)):
        for p in order:
            if pred_kind[p] != "FP":
                continue
            best, best_iou = None, -1.0
            for g in range(len(truth_labels)):
                same = pred_labels[p] == truth_labels[g]
                if truth_kind[g] == "FN" and same == wanted and iou[p, g] >= t and (
                        iou[p, g] > best_iou):
                    best, best_iou = g, iou[p, g]
            if best is not None:
                truth_kind[best], pred_kind[p] = kind, kind
    return truth_kind, pred_kind


@settings(max_examples=200, deadline=None)
@given(truth=st.lists(st.tuples(boxes, st.sampled_from("12")), max_size=6),
       preds=st.lists(st.tuples(boxes, st.sampled_from("12")), max_size=8),
       seed=st.integers(0, 1000))
def test_matching_agrees_with_a_plain_reference_on_crowded_boxes(truth, preds, seed):
    scores = np.random.default_rng(seed).permutation(len(preds)) + 1.0
    truth_boxes = np.array([b for b, _ in truth], dtype=float).reshape(-1, 4)
    pred_boxes = np.array([b for b, _ in preds], dtype=float).reshape(-1, 4)
    truth_labels = np.array([label for _, label in truth])
    pred_labels = np.array([label for _, label in preds])
    result = match_detections(truth_boxes, truth_labels, pred_boxes, pred_labels, scores)
    expected = reference_match(truth_boxes, truth_labels, pred_boxes, pred_labels, scores)
    assert list(result.truth_kind) == expected[0]
    assert list(result.pred_kind) == expected[1]
