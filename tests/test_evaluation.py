"""Evaluation end to end: inputs and their errors, metrics, store, CLI, compare."""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billet_studio.annotations.errors import AnnotationError
from billet_studio.cli import main
from billet_studio.evaluation import (
    BootstrapConfig,
    EvaluationConfig,
    EvaluationInputs,
    MatchConfig,
    box_iou,
    load_predictions,
    load_truth,
    match_detections,
    run_evaluation,
)
from billet_studio.evaluation.metrics import average_precision, group_rates

CLASSES = ["0", "1", "2", "3", "5", "8", "A", "B"]


def truth_document(billets: list[tuple[str, str, str]]) -> dict:
    """(true ID, site, visibility) per billet; characters side by side on one line."""
    images, annotations = [], []
    for image_id, (billet_id, site, visibility) in enumerate(billets, start=1):
        images.append({"id": image_id, "file_name": f"images/b{image_id}.png", "width": 400,
                       "height": 100, "billet": {"site": site, "visibility": visibility,
                                                 "id": billet_id}})
        for k, char in enumerate(billet_id):
            annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                "category_id": CLASSES.index(char) + 1, "area": 600.0,
                                "bbox": [10 + 30 * k, 20, 20, 30], "iscrowd": 0})
    return {"images": images, "annotations": annotations,
            "categories": [{"id": i + 1, "name": c} for i, c in enumerate(CLASSES)]}


def detection(image_id: int, k: int, char: str, score: float = 0.9) -> dict:
    return {"image_id": image_id, "category_id": CLASSES.index(char) + 1,
            "bbox": [10 + 30 * k, 20, 20, 30], "score": score}


BILLETS = [("0123", "A", "well"), ("5585", "B", "poor"), ("1230", "A", "partial"),
           ("8888", "B", "well")]


def perfect_predictions() -> list[dict]:
    return [detection(i, k, c) for i, (b, _, _) in enumerate(BILLETS, start=1)
            for k, c in enumerate(b)]


@pytest.fixture
def files(tmp_path):
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps(truth_document(BILLETS)))
    return tmp_path, truth


def evaluate(tmp_path, truth, predictions, out_name="eval", **inputs):
    preds = tmp_path / f"{out_name}.preds.json"
    preds.write_text(json.dumps(predictions))
    out = tmp_path / out_name
    config = EvaluationConfig(bootstrap=BootstrapConfig(resamples=200), report=False)
    list(run_evaluation(EvaluationInputs(truth, preds, **inputs), out, config))
    return out, json.loads((out / "summary.json").read_text())


def rates(summary, name="all"):
    group = next(g for g in summary["groups"] if g["name"] == name)
    return {k: v["value"] for k, v in group["rates"].items()}


def test_perfect_reader_scores_everything_right(files):
    tmp_path, truth = files
    _, summary = evaluate(tmp_path, truth, perfect_predictions())
    all_rates = rates(summary)
    assert (all_rates["TP"], all_rates["MC"], all_rates["FN"], all_rates["FP"]) == (1, 0, 0, 0)
    assert all_rates["CB"] == all_rates["CB_raw"] == all_rates["CB_prior"] == 1.0
    assert summary["map50"] == pytest.approx(1.0)
    subsets = {g["name"]: g["billets"] for g in summary["groups"]}
    assert subsets["all"] == 4 and subsets["well"] == 2 and subsets["poor_or_partial"] == 2
    assert subsets["poor"] == 1 and subsets["partial@A"] == 1 and subsets["well@B"] == 1


def test_errors_are_counted_per_digit_and_stored_per_box(files):
    tmp_path, truth = files
    preds = perfect_predictions()
    preds[4]["category_id"] = CLASSES.index("3") + 1  # billet 2, first digit: 5 read as 3
    del preds[9]  # billet 3 loses its '2'
    preds.append(detection(4, 6, "1", 0.8))  # billet 4: a hit on bare metal
    out, summary = evaluate(tmp_path, truth, preds)
    all_rates = rates(summary)
    assert all_rates["TP"] == pytest.approx(14 / 16)
    assert all_rates["MC"] == pytest.approx(1 / 16) and all_rates["FN"] == pytest.approx(1 / 16)
    assert all_rates["TP"] + all_rates["MC"] + all_rates["FN"] == pytest.approx(1.0)
    assert all_rates["FP"] == pytest.approx(1 / 16) and all_rates["FP_Bkg"] == pytest.approx(
        1 / 16)
    assert all_rates["CB"] == pytest.approx(1 / 4)  # only billet 1 is clean
    assert all_rates["CB_lenient"] == pytest.approx(2 / 4)  # billet 4 has every digit
    db = sqlite3.connect(out / "records.sqlite")
    kinds = dict(db.execute("SELECT kind, COUNT(*) FROM boxes GROUP BY kind").fetchall())
    assert kinds == {"TP": 14, "MC": 1, "FN": 1, "FP": 1}
    mc = db.execute("SELECT true_label, pred_label FROM boxes WHERE kind = 'MC'").fetchone()
    assert mc == ("5", "3")
    row = db.execute("SELECT raw_read, errors, cb_strict FROM billets WHERE image_id = 2"
                     ).fetchone()
    assert row == ("3585", 1, 0)
    confusion = np.array(summary["confusion"])
    assert confusion[CLASSES.index("5"), CLASSES.index("3")] == 1
    assert confusion[CLASSES.index("2"), len(CLASSES)] == 1  # missed
    assert confusion[len(CLASSES), CLASSES.index("1")] == 1  # background hit
    assert confusion.sum() == 16 + 1


def test_expected_ids_correct_a_misread(files):
    tmp_path, truth = files
    preds = perfect_predictions()
    preds[0]["category_id"] = CLASSES.index("8") + 1  # 0123 read as 8123 (0.9)
    preds.append({**detection(1, 0, "0", 0.5)})  # the reader's weaker second guess
    _, plain = evaluate(tmp_path, truth, preds, "plain")
    _, listed = evaluate(tmp_path, truth, preds, "listed",
                         expected_ids=("0123", "5585", "1230", "8888"))
    assert rates(plain)["CB_prior"] == pytest.approx(3 / 4)
    assert rates(listed)["CB_prior"] == pytest.approx(1.0)
    assert rates(listed)["CB_raw"] == pytest.approx(3 / 4)


def test_compare_lists_billets_that_changed(files, capsys):
    tmp_path, truth = files
    before, _ = evaluate(tmp_path, truth, perfect_predictions(), "before")
    preds = perfect_predictions()
    del preds[0]
    after, _ = evaluate(tmp_path, truth, preds, "after")
    assert main(["evaluate", "compare", str(before), str(after), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["worse"] == ["images/b1.png"] and result["better"] == []
    assert result["unchanged"] == 3


@pytest.mark.parametrize(("content", "message"), [
    ("", "is empty"),
    ("{not json", "is not valid JSON"),
    ('{"a": 1}', "is not a COCO results file"),
    (json.dumps([{**detection(99, 0, "0")}]), "images the ground truth"),
    (json.dumps([{**detection(1, 0, "0"), "category_id": 77}]), "category 77"),
    (json.dumps([{**detection(1, 0, "0"), "bbox": [float("nan"), 0, 1, 1]}]), "not finite"),
    (json.dumps([{**detection(1, 0, "0"), "bbox": [0, 0, -1, 1]}]), "negative width"),
    (json.dumps([{**detection(1, 0, "0"), "score": 3.5}]), "scores must be numbers"),
    (json.dumps([{**detection(1, 0, "0"), "class_scores": [0.5]}]), "must list 8"),
    (json.dumps([{**detection(1, 0, "0"), "class_scores": [3.0] * 8}]), "not logits"),
    (json.dumps([{**detection(1, 0, "0"), "bbox": [0, 0, 1, 1, 5, 5, 6, 6]},
                 detection(1, 1, "1")]), "'bbox' must be"),
    (json.dumps([{**detection(1, 0, "0"), "bbox": [0, 0]}, {**detection(1, 1, "1"),
                                                           "bbox": [1, 1]}]), "'bbox' must"),
])
def test_bad_predictions_are_refused_with_the_file_named(files, content, message):
    tmp_path, truth = files
    path = tmp_path / "preds.json"
    path.write_text(content)
    with pytest.raises(AnnotationError) as error:
        load_predictions(path, load_truth(truth))
    assert message in str(error.value) and "preds.json" in str(error.value)


def test_empty_predictions_warn_and_count_every_digit_missed(files):
    tmp_path, truth = files
    _, summary = evaluate(tmp_path, truth, [])
    assert rates(summary)["FN"] == 1.0
    assert any("no detections" in w for w in summary["warnings"])


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["annotations"][0].update(image_id=42), "refers to image 42"),
    (lambda d: d["annotations"].append("x"), "'annotations' must be a list of objects"),
    (lambda d: d["images"].append(7), "'images' must be a list of objects"),
    (lambda d: d["categories"].append({"id": "x", "name": "9"}), "integer 'id'"),
    (lambda d: d["images"][1].update(file_name="images/b1.png"), "appears twice"),
])
def test_bad_truth_is_refused(tmp_path, change, message):
    path = tmp_path / "truth.json"
    document = truth_document(BILLETS)
    change(document)
    path.write_text(json.dumps(document))
    with pytest.raises(AnnotationError, match=message):
        load_truth(path)


def test_an_output_folder_of_the_users_is_never_replaced(files):
    tmp_path, truth = files
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine")
    with pytest.raises(AnnotationError, match="not written by Billet Studio"):
        evaluate(tmp_path, truth, perfect_predictions(), "mine")
    assert (keep / "notes.txt").read_text() == "mine"


def test_summary_is_strict_json_and_a_format_the_ids_cannot_fit_is_reported(files, capsys):
    tmp_path, truth = files
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps(perfect_predictions()))
    out = tmp_path / "strict"
    assert main(["evaluate", "run", "--truth", str(truth), "--predictions", str(preds),
                 "--out", str(out), "--bootstrap", "0", "--no-report",
                 "--id-format", r"\d{5}"]) == 0
    printed = capsys.readouterr().out
    assert "4 of 4 true IDs do not fit the ID format" in printed
    text = (out / "summary.json").read_text()
    summary = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert rates(summary)["CB_prior"] == 0.0 and rates(summary)["CB_raw"] == 1.0
    assert main(["evaluate", "run", "--truth", str(truth), "--predictions", str(preds),
                 "--out", str(out), "--check-digit", "luhn"]) == 2
    assert "--check-digit needs an ID format" in capsys.readouterr().err


def test_cli_run_prints_the_paper_table(files, capsys):
    tmp_path, truth = files
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps(perfect_predictions()))
    code = main(["evaluate", "run", "--truth", str(truth), "--predictions", str(preds),
                 "--out", str(tmp_path / "cli"), "--bootstrap", "50", "--no-report",
                 "--id-format", r"[0-9AB]{4}"])
    assert code == 0
    out = capsys.readouterr().out
    assert "Partially visible" in out and "mAP@0.5 100.0" in out
    assert (tmp_path / "cli" / "records.sqlite").is_file()
    code = main(["evaluate", "run", "--truth", str(truth), "--predictions",
                 str(tmp_path / "missing.json"), "--out", str(tmp_path / "cli2")])
    assert code == 2 and "predictions file not found" in capsys.readouterr().err


def test_bootstrap_interval_brackets_the_value_and_fractions_sum_to_one():
    rng = np.random.default_rng(0)
    counts = np.zeros((300, 15), dtype=np.int64)
    counts[:, 0] = 11
    counts[:, 1] = rng.integers(8, 12, 300)
    counts[:, 3] = 11 - counts[:, 1]  # the rest missed
    counts[:, 10] = counts[:, 1] == 11
    result = group_rates(counts, BootstrapConfig(resamples=300))
    tp = result["TP"]
    assert tp["low"] < tp["value"] < tp["high"]
    assert tp["value"] + result["MC"]["value"] + result["FN"]["value"] == pytest.approx(1.0)
    assert np.isnan(group_rates(counts[:0])["TP"]["value"])


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_average_precision_agrees_with_coco_eval(seed):
    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    rng = np.random.default_rng(seed)
    images, annotations, results = [], [], []
    hits, scores, n_truth = [], [], 0
    for image_id in range(1, 6):
        images.append({"id": image_id, "width": 200, "height": 200})
        truth = rng.uniform(0, 150, (int(rng.integers(0, 5)), 2))
        truth = np.c_[truth, truth + rng.uniform(10, 40, (len(truth), 2))]
        preds = np.r_[truth + rng.normal(0, 4, truth.shape), rng.uniform(0, 150, (2, 4))]
        preds[:, 2:] = np.maximum(preds[:, 2:], preds[:, :2] + 2)
        pred_scores = rng.uniform(0.05, 1, len(preds))
        for box in truth:
            annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                "category_id": 1, "iscrowd": 0,
                                "bbox": [*box[:2], *(box[2:] - box[:2])],
                                "area": float(np.prod(box[2:] - box[:2]))})
        for box, score in zip(preds, pred_scores, strict=True):
            results.append({"image_id": image_id, "category_id": 1, "score": float(score),
                            "bbox": [*box[:2], *(box[2:] - box[:2])]})
        match = match_detections(truth, np.zeros(len(truth)), preds, np.zeros(len(preds)),
                                 pred_scores, MatchConfig(score=0.0))
        hits.append(match.pred_kind == "TP")
        scores.append(pred_scores)
        n_truth += len(truth)
    ours = average_precision(np.concatenate(scores), np.concatenate(hits), n_truth)
    gt = COCO()
    gt.dataset = {"images": images, "annotations": annotations,
                  "categories": [{"id": 1, "name": "0"}]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes(results) if results else COCO()
        evaluator = COCOeval(gt, dt, "bbox")
        evaluator.params.iouThrs = np.array([0.5])
        evaluator.params.maxDets = [1000]
        evaluator.params.areaRng = [[0, 1e10]]
        evaluator.params.areaRngLbl = ["all"]
        evaluator.evaluate()
        evaluator.accumulate()
    coco = float(evaluator.eval["precision"][0, :, 0, 0, 0].mean())
    if n_truth == 0:
        assert ours is None
    else:
        assert ours == pytest.approx(coco, abs=1e-9)
    assert box_iou(np.zeros((0, 4)), np.zeros((2, 4))).shape == (0, 2)


def test_project_export_then_evaluate_with_the_project_facts(tmp_path, capsys):
    from project_builder import add_image, make_project

    from billet_studio.annotations import BilletInfo, IdFormat, ProjectConfig, Shape

    project = make_project(tmp_path / "proj", ProjectConfig(
        classes=tuple("0123456789"), id_format=IdFormat(r"\d{3}", "luhn")))
    billets = [("A", "125", "well"), ("B", "349", "poor"), ("A", "000", "partial")]
    for n, (site, billet_id, visibility) in enumerate(billets):
        shapes = tuple(
            Shape(char, ((10.0 + 30 * k, 20.0), (35.0 + 30 * k, 60.0)), "rectangle",
                  flags={"poor": visibility == "poor", "partial": visibility == "partial"})
            for k, char in enumerate(billet_id))
        add_image(project, f"b{n}.png", shapes,
                  BilletInfo(site=site, split="test", id=billet_id))
    assert main(["export", str(project.root), "--format", "coco",
                 "--out", str(project.root / "datasets" / "coco")]) == 0
    test_json = project.root / "datasets" / "coco" / "test.json"
    preds = tmp_path / "preds.json"
    assert main(["demo", "predictions", "--truth", str(test_json), "--out", str(preds)]) == 0
    out = project.root / "evaluations" / "demo"
    assert main(["evaluate", "run", "--truth", str(test_json), "--predictions", str(preds),
                 "--out", str(out), "--project", str(project.root), "--bootstrap", "20"]) == 0
    capsys.readouterr()
    summary = json.loads((out / "summary.json").read_text())
    groups = {g["name"]: g["billets"] for g in summary["groups"]}
    assert groups["well@A"] == 1 and groups["poor@B"] == 1 and groups["partial@A"] == 1
    assert summary["inputs"]["id_format"] == {"regex": r"\d{3}", "check_digit": "luhn"}
    db = sqlite3.connect(out / "records.sqlite")
    ids = {row[0] for row in db.execute("SELECT true_id FROM billets")}
    assert ids == {"125", "349", "000"}
    assert (out / "report.html").is_file()
