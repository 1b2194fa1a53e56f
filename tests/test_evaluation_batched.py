"""The batched scoring of a whole test set agrees with the per-billet rules it speeds up."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from billet_studio.annotations.id_format import IdFormat
from billet_studio.demo.reader import SimulatedReaderConfig, simulate_detections
from billet_studio.evaluation import MatchConfig, ScoringConfig
from billet_studio.evaluation.inputs import ImagePredictions, TruthImage
from billet_studio.evaluation.scoring import score_billet, score_billets
from billet_studio.glyphs.id_automaton import IdAutomaton
from billet_studio.glyphs.id_patterns import IdGenerator

CLASSES = tuple("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
LUHN = IdFormat(r"\d{6}[A-Z]\d{4}", "luhn")


def simulated_test_set(billets: int, seed: int, duplicate: float = 0.01):
    """Two-line billets with simulated detections (with class score vectors or without)."""
    rng = np.random.default_rng(seed)
    generator = IdGenerator(LUHN)
    images, annotations = [], []
    for image_id in range(1, billets + 1):
        billet_id = generator.generate(rng)
        images.append({"id": image_id, "width": 600, "height": 400})
        for k, char in enumerate(billet_id):
            line, col = divmod(k, 6)
            annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                "category_id": CLASSES.index(char) + 1,
                                "bbox": [20 + col * 80, 40 + line * 140, 60, 110],
                                "attributes": {"poor": bool(image_id % 3 == 1),
                                               "partial": bool(image_id % 3 == 2)}})
    document = {"images": images, "annotations": annotations,
                "categories": [{"id": i + 1, "name": c} for i, c in enumerate(CLASSES)]}
    config = SimulatedReaderConfig(miss=(0.05, 0.1, 0.15), misread=(0.05, 0.1, 0.15),
                                   duplicate=duplicate, background_per_image=0.3, seed=seed)
    detections = simulate_detections(document, config)
    truth, predictions = [], []
    for image in images:
        mine = [a for a in annotations if a["image_id"] == image["id"]]
        boxes = np.array([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2],
                           a["bbox"][1] + a["bbox"][3]] for a in mine])
        truth.append(TruthImage(image["id"], f"{image['id']}.png", 600, 400, boxes,
                                np.array([a["category_id"] - 1 for a in mine])))
        dets = [d for d in detections if d["image_id"] == image["id"]]
        xywh = np.array([d["bbox"] for d in dets], dtype=float).reshape(-1, 4)
        predictions.append(ImagePredictions(
            np.c_[xywh[:, :2], xywh[:, :2] + xywh[:, 2:]],
            np.array([d["category_id"] - 1 for d in dets], dtype=np.int64),
            np.array([d["score"] for d in dets], dtype=float),
            np.array([d["class_scores"] for d in dets], dtype=float).reshape(-1, 36)
            if seed % 2 else None))
    return truth, predictions


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), score=st.sampled_from([0.0, 0.5, 0.7]),
       duplicate=st.sampled_from([0.0, 0.3]))
def test_batched_scoring_equals_billet_by_billet(seed, score, duplicate):
    truth, predictions = simulated_test_set(30, seed, duplicate)
    automaton = IdAutomaton.from_format(LUHN, CLASSES)
    config = ScoringConfig(match=MatchConfig(score=score))
    batched = score_billets(truth, predictions, CLASSES, automaton, config)
    for image, pred, together in zip(truth, predictions, batched, strict=True):
        alone = score_billet(image, pred, CLASSES, automaton, config)
        for field in ("truth_kind", "truth_match", "pred_kind", "pred_fp_type", "pred_match"):
            assert list(getattr(together.match, field)) == list(getattr(alone.match, field))
        np.testing.assert_allclose(together.match.pred_iou, alone.match.pred_iou)
        assert (together.read.raw, together.read.constrained) == (
            alone.read.raw, alone.read.constrained)
        assert together.read.raw_score == alone.read.raw_score
        assert together.counts.tolist() == alone.counts.tolist()
        assert together.true_id == alone.true_id
