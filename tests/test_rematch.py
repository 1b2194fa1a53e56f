"""Re-running the matching from the store: at the evaluation's own threshold it gives back
the store row for row; at another threshold it gives what ``evaluate run --score`` gives;
one billet re-matched live agrees with the whole store re-matched; and a billet whose label
was corrected is re-scored in place."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from billet_studio.annotations import AnnotationError, Project
from billet_studio.cli import main
from billet_studio.evaluation.browse import BilletBrowser, BilletFilter
from billet_studio.evaluation.rematch import rematch_store
from billet_studio.evaluation.rescore import relabelled, rescore_from_project
from billet_studio.evaluation.store import MATCH_COLUMNS, open_store, read_meta
from billet_studio.jobs import CancelToken

#: What the matching decides per billet (the reads stay the evaluation's).
_MATCHED = (*MATCH_COLUMNS, "errors")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict[str, Path]:
    """A demo project, stand-in predictions, and evaluations at scores 0.5, 0.3 and 0.7."""
    root = tmp_path_factory.mktemp("rematch") / "demo"
    assert main(["demo", "init", str(root), "--billets", "20", "--test", "12", "--size",
                 "256", "--workers", "1"]) == 0
    export = root.parent / "coco"
    assert main(["export", str(root), "--format", "coco", "--out", str(export)]) == 0
    predictions = root.parent / "predictions.json"
    assert main(["demo", "predictions", "--truth", str(export / "test.json"), "--out",
                 str(predictions), "--seed", "5"]) == 0
    paths = {"root": root, "truth": export / "test.json", "predictions": predictions}
    for score in ("0.5", "0.3", "0.7"):
        folder = root / "evaluations" / f"at-{score}"
        assert main(["evaluate", "run", "--truth", str(export / "test.json"), "--predictions",
                     str(predictions), "--out", str(folder), "--project", str(root),
                     "--images", str(root), "--no-report", "--score", score]) == 0
        paths[score] = folder
    return paths


def _rows(store: Path) -> tuple[list[dict], list[dict]]:
    with sqlite3.connect(store) as db:
        db.row_factory = sqlite3.Row
        billets = [dict(r) for r in db.execute("SELECT * FROM billets ORDER BY id")]
        boxes = [dict(r) for r in db.execute("SELECT * FROM boxes ORDER BY id")]
    return billets, boxes


def _box_key(box: dict) -> tuple:
    return tuple(box[k] for k in ("billet", "kind", "fp_type", "true_label", "pred_label",
                                  "score", "tx0", "px0", "py0"))


def test_rematch_at_the_evaluations_own_threshold_gives_back_the_store(demo, tmp_path):
    out = tmp_path / "same.sqlite"
    list(rematch_store(demo["0.5"], 0.5, out))
    assert _rows(out) == _rows(demo["0.5"] / "records.sqlite")


@pytest.mark.parametrize(("source", "target"), [("0.5", "0.3"), ("0.5", "0.7"),
                                                ("0.3", "0.7"), ("0.7", "0.3")])
def test_rematch_at_another_threshold_matches_evaluate_run(demo, tmp_path, source, target):
    """Counts, CB strict/lenient and every box's kind as ``evaluate run --score`` made."""
    out = tmp_path / "at.sqlite"
    progress = list(rematch_store(demo[source], float(target), out))
    assert progress[-1].step == progress[-1].total == 12
    got, got_boxes = _rows(out)
    want, want_boxes = _rows(demo[target] / "records.sqlite")
    assert [{k: b[k] for k in _MATCHED} for b in got] == \
           [{k: b[k] for k in _MATCHED} for b in want]
    assert sorted(map(_box_key, got_boxes)) == sorted(map(_box_key, want_boxes))
    # The reads are the source's (the store keeps no class-score vectors to re-read).
    source_rows, _ = _rows(demo[source] / "records.sqlite")
    assert [b["raw_read"] for b in got] == [b["raw_read"] for b in source_rows]
    db = open_store(out)
    assert read_meta(db)["summary"]["config"]["scoring"]["match"]["score"] == float(target)
    db.close()
    assert [{k: b[k] for k in _MATCHED} for b in got] != \
           [{k: b[k] for k in _MATCHED} for b in source_rows]  # the threshold mattered


def test_one_billet_live_agrees_with_the_whole_store(demo, tmp_path):
    out = tmp_path / "at.sqlite"
    list(rematch_store(demo["0.5"], 0.7, out))
    live, whole = BilletBrowser(demo["0.5"]), BilletBrowser(out)
    try:
        assert live.match_config.score == 0.5 and whole.match_config.score == 0.7
        for billet_id in whole.ids(BilletFilter()):
            row, boxes = live.at_score(billet_id, 0.7)
            assert {k: row[k] for k in _MATCHED} == \
                   {k: whole.billet(billet_id)[k] for k in _MATCHED}
            assert boxes == whole.boxes(billet_id)
        assert live.at_score(10_000, 0.7) is None
    finally:
        live.close()
        whole.close()


def test_a_cancelled_rematch_writes_nothing(demo, tmp_path):
    out = tmp_path / "cancelled.sqlite"
    token = CancelToken()
    job = rematch_store(demo["0.5"], 0.7, out, token)
    next(job)
    token.cancel()
    list(job)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_a_store_of_schema_1_still_rematches(demo, tmp_path):
    """Stores written before ``pred_index`` take predictions in the order listed."""
    old = tmp_path / "records.sqlite"
    old.write_bytes((demo["0.5"] / "records.sqlite").read_bytes())
    with sqlite3.connect(old) as db:
        db.execute("ALTER TABLE boxes DROP COLUMN pred_index")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    out = tmp_path / "at.sqlite"
    list(rematch_store(old, 0.7, out))
    got, _ = _rows(out)
    want, _ = _rows(demo["0.7"] / "records.sqlite")
    assert [{k: b[k] for k in _MATCHED} for b in got] == \
           [{k: b[k] for k in _MATCHED} for b in want]


def test_a_store_of_schema_1_is_rescored_and_gains_pred_index(demo, tmp_path):
    project = Project.open(demo["root"])
    evaluation = _copy_evaluation(demo["0.5"], tmp_path)
    with sqlite3.connect(evaluation / "records.sqlite") as db:
        db.execute("ALTER TABLE boxes DROP COLUMN pred_index")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    billets, _ = _rows(evaluation / "records.sqlite")
    image = demo["root"] / billets[0]["file_name"]
    sidecar = image.with_suffix(".json")
    original = sidecar.read_text()
    document = json.loads(original)
    document["shapes"] = document["shapes"][1:]  # a digit's label removed: one digit less
    sidecar.write_text(json.dumps(document))
    try:
        report = rescore_from_project(evaluation, project, [image])
    finally:
        sidecar.write_text(original)
    assert report.changed == (billets[0]["file_name"],)
    after, _ = _rows(evaluation / "records.sqlite")
    assert after[0]["digits"] < billets[0]["digits"] and after[1:] == billets[1:]
    db = open_store(evaluation)
    assert read_meta(db)["schema"] == 2
    db.close()


def test_evaluate_billets_at_a_score_lists_the_rematched_counts(demo, tmp_path, capsys):
    csv_path = tmp_path / "at.csv"
    assert main(["evaluate", "billets", str(demo["0.5"]), "--score", "0.7", "--sort", "file",
                 "--ascending", "--csv", str(csv_path)]) == 0
    import csv

    with csv_path.open() as stream:
        listed = [(r["file_name"], int(r["tp"]), int(r["fp"])) for r in csv.DictReader(stream)]
    want, _ = _rows(demo["0.7"] / "records.sqlite")
    assert listed == sorted((b["file_name"], b["tp"], b["fp"]) for b in want)
    assert main(["evaluate", "billets", str(demo["0.5"]), "--score", "0.7"]) == 0
    assert "matched at score 0.7" in capsys.readouterr().out


def _copy_evaluation(folder: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "evaluation"
    copy.mkdir()
    (copy / "records.sqlite").write_bytes((folder / "records.sqlite").read_bytes())
    return copy


def test_a_corrected_label_rescores_its_billet_in_place(demo, tmp_path, capsys):
    project = Project.open(demo["root"])
    evaluation = _copy_evaluation(demo["0.5"], tmp_path)
    before, before_boxes = _rows(evaluation / "records.sqlite")
    # Nothing changed yet: nothing is re-scored.
    report = rescore_from_project(evaluation, project)
    assert report.changed == () and report.unchanged == 12 and report.problems == ()
    # Relabel one digit of a billet with at least one TP (a wrong label: FN + FP appear).
    target = next(b for b in before if b["tp"] > 0)
    image = demo["root"] / target["file_name"]
    sidecar = image.with_suffix(".json")
    original = sidecar.read_text()
    document = json.loads(original)
    truth_box = next(x for x in before_boxes if x["billet"] == target["id"] and x["kind"] == "TP")
    shape = next(s for s in document["shapes"] if s["label"] == truth_box["true_label"]
                 and min(p[0] for p in s["points"]) >= truth_box["tx0"] - 1
                 and max(p[0] for p in s["points"]) <= truth_box["tx1"] + 1)
    new_label = "7" if truth_box["true_label"] != "7" else "3"
    shape["label"] = new_label
    sidecar.write_text(json.dumps(document))
    try:
        assert main(["evaluate", "rescore", str(evaluation), "--project",
                     str(demo["root"])]) == 0
        assert f"re-scored {target['file_name']}" in capsys.readouterr().out
        after, after_boxes = _rows(evaluation / "records.sqlite")
        changed = [a for a, b in zip(after, before, strict=True) if a != b]
        assert [c["id"] for c in changed] == [target["id"]]
        row = changed[0]
        assert row["tp"] == target["tp"] - 1 and row["mc"] == target["mc"] + 1
        assert row["errors"] == target["errors"] + 1
        if (document.get("billet") or {}).get("id"):  # the ID the sidecar states stays
            assert row["true_id"] == target["true_id"]
        else:  # the ID is the digits in reading order: one of them changed
            assert row["true_id"] != target["true_id"]
        assert row["cb_prior"] == int(row["prior_read"] == row["true_id"])
        mine = [x for x in after_boxes if x["billet"] == target["id"]]
        assert any(x["kind"] == "MC" and x["true_label"] == new_label
                   and x["pred_label"] == truth_box["true_label"] for x in mine)
        others = [x for x in after_boxes if x["billet"] != target["id"]]
        assert [_box_key(x) for x in others] == \
               [_box_key(x) for x in before_boxes if x["billet"] != target["id"]]
        db = open_store(evaluation)
        assert set(relabelled(read_meta(db))) == {target["file_name"]}
        db.close()
        # Only the images asked for are checked.
        again = rescore_from_project(evaluation, project, [image])
        assert again.changed == () and again.unchanged == 1
    finally:
        sidecar.write_text(original)


def test_rescore_reports_a_broken_sidecar_by_name(demo, tmp_path):
    project = Project.open(demo["root"])
    evaluation = _copy_evaluation(demo["0.5"], tmp_path)
    before = _rows(evaluation / "records.sqlite")
    image = demo["root"] / before[0][0]["file_name"]
    sidecar = image.with_suffix(".json")
    original = sidecar.read_text()
    sidecar.write_text("{ not json")
    try:
        report = rescore_from_project(evaluation, project, [image])
    finally:
        sidecar.write_text(original)
    assert report.changed == () and len(report.problems) == 1
    assert sidecar.name in report.problems[0]
    assert _rows(evaluation / "records.sqlite") == before
    with pytest.raises(AnnotationError, match="not found"):
        rescore_from_project(tmp_path / "nowhere", project)


def test_box_rows_lay_out_each_billets_digits_then_its_other_predictions():
    """One billet worked by hand: a TP, an MC, an FN, an FP and an ignored prediction."""
    import numpy as np

    from billet_studio.evaluation.inputs import ImagePredictions, TruthImage
    from billet_studio.evaluation.matching import MatchConfig, match_detections
    from billet_studio.evaluation.store import box_rows

    classes = ("0", "1", "2")
    truth = TruthImage(1, "a.png", 100, 100,
                       np.array([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10.0]]),
                       np.array([0, 1, 2]))
    # Reader order: an FP far away, the MC on digit 1, the TP on digit 0, an ignored one.
    predictions = ImagePredictions(
        np.array([[80, 80, 90, 90], [20, 0, 30, 10], [0, 0, 10, 10], [40, 0, 50, 10.0]]),
        np.array([2, 0, 0, 2]), np.array([0.9, 0.8, 0.7, 0.2]))
    match = match_detections(truth.boxes, truth.labels, predictions.boxes,
                             predictions.labels, predictions.scores, MatchConfig(score=0.5))
    rows = box_rows([7], [truth], [predictions], [("t0", None, "t2", "t3")], [match], classes)
    assert rows == [
        (7, "TP", None, "0", "0", 0.7, 1.0, 0.0, 0.0, 10.0, 10.0, 0.0, 0.0, 10.0, 10.0,
         "t2", 2),
        (7, "MC", None, "1", "0", 0.8, 1.0, 20.0, 0.0, 30.0, 10.0, 20.0, 0.0, 30.0, 10.0,
         None, 1),
        (7, "FN", None, "2", None, None, None, 40.0, 0.0, 50.0, 10.0, None, None, None,
         None, None, None),
        (7, "FP", "Bkg", None, "2", 0.9, 0.0, None, None, None, None, 80.0, 80.0, 90.0,
         90.0, "t0", 0),
        (7, "ignored", None, None, "2", 0.2, 1.0, None, None, None, None, 40.0, 0.0, 50.0,
         10.0, "t3", 3),
    ]
    assert all(type(v) in (int, float, str, type(None)) for row in rows for v in row)


def test_box_rows_of_billets_without_predictions_or_without_digits():
    import numpy as np

    from billet_studio.evaluation.inputs import ImagePredictions, TruthImage
    from billet_studio.evaluation.matching import match_detections
    from billet_studio.evaluation.store import box_rows

    digits = TruthImage(1, "a.png", 50, 50, np.array([[0, 0, 10, 10.0]]), np.array([1]))
    blank = TruthImage(2, "b.png", 50, 50, np.zeros((0, 4)), np.zeros(0, np.int64))
    found = ImagePredictions(np.array([[5, 5, 9, 9.0]]), np.array([0]), np.array([0.9]))
    billets = [(digits, ImagePredictions.empty()), (blank, found)]
    matches = [match_detections(t.boxes, t.labels, p.boxes, p.labels, p.scores)
               for t, p in billets]
    rows = box_rows([3, 4], [t for t, _ in billets], [p for _, p in billets],
                    [(), (None,)], matches, ("0", "1"))
    assert rows == [
        (3, "FN", None, "1", None, None, None, 0.0, 0.0, 10.0, 10.0, None, None, None, None,
         None, None),
        (4, "FP", "Bkg", None, "0", 0.9, 0.0, None, None, None, None, 5.0, 5.0, 9.0, 9.0,
         None, 0),
    ]
    assert box_rows([], [], [], [], [], ("0",)) == []


def test_a_rematch_cancelled_after_its_last_chunk_writes_nothing(demo, tmp_path):
    out = tmp_path / "late.sqlite"
    token = CancelToken()
    job = rematch_store(demo["0.5"], 0.7, out, token)
    steps = [next(job), next(job)]  # the start, then the one chunk done
    assert steps[-1].step == steps[-1].total == 12
    token.cancel()
    assert list(job) == []
    assert not out.exists() and not list(tmp_path.iterdir())


def test_billets_are_loaded_in_batches_of_ids(demo, monkeypatch):
    from billet_studio.evaluation import rematch
    from billet_studio.evaluation.rematch import load_billets

    db = open_store(demo["0.5"])
    classes = tuple(read_meta(db)["classes"])
    whole = load_billets(db, demo["0.5"], classes, list(range(12, 0, -1)))
    monkeypatch.setattr(rematch, "ID_BATCH", 5)
    batched = load_billets(db, demo["0.5"], classes, list(range(1, 13)))
    db.close()
    assert [b.row["id"] for b in batched] == [b.row["id"] for b in whole] == list(range(1, 13))
    for a, b in zip(whole, batched, strict=True):
        assert a.truth.boxes.tolist() == b.truth.boxes.tolist()
        assert a.predictions.scores.tolist() == b.predictions.scores.tolist()


def test_an_image_is_matched_to_its_billet_by_its_whole_path(demo, tmp_path):
    """A store made elsewhere names images by a longer path ending with the project's; a
    different image with the same file name is never taken for it."""
    import shutil

    project = Project.open(demo["root"])
    evaluation = _copy_evaluation(demo["0.5"], tmp_path)
    with sqlite3.connect(evaluation / "records.sqlite") as db:
        db.execute("UPDATE billets SET file_name = '../elsewhere/demo/' || file_name")
    billets, _ = _rows(evaluation / "records.sqlite")
    name = billets[0]["file_name"].removeprefix("../elsewhere/demo/")
    image = demo["root"] / name
    twin = demo["root"] / "other" / Path(name).name  # same file name, another image
    twin.parent.mkdir()
    shutil.copy2(image, twin)
    try:
        found = rescore_from_project(evaluation, project, [image])
        assert (found.changed, found.unchanged, found.problems) == ((), 1, ())
        other = rescore_from_project(evaluation, project, [twin])
        assert (other.changed, other.unchanged, other.problems) == ((), 0, ())
        outside = rescore_from_project(evaluation, project, [tmp_path / "x.jpg"])
        assert outside.unchanged == 0 and "not inside the project" in outside.problems[0]
    finally:
        shutil.rmtree(twin.parent)
    assert _rows(evaluation / "records.sqlite")[0] == billets


def test_compare_never_pairs_two_billets_that_only_share_a_file_name(demo, tmp_path):
    """Two test worlds can both hold an images/billet_00001.jpg: a name whose true ID
    differs between the evaluations is listed apart, not compared."""
    from billet_studio.evaluation.compare import compare_evaluations

    other = _copy_evaluation(demo["0.5"], tmp_path)
    with sqlite3.connect(other / "records.sqlite") as db:
        name = db.execute("SELECT file_name FROM billets WHERE id = 1").fetchone()[0]
        db.execute("UPDATE billets SET true_id = 'X' || true_id, errors = errors + 5 "
                   "WHERE id = 1")
    result = compare_evaluations(demo["0.5"], other)
    assert result.different_truth == (name,)
    compared = {c.file_name for c in (*result.better, *result.worse)}
    assert name not in compared and result.unchanged == 11
