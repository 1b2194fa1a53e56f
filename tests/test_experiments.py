"""The experiment grid end to end with the tiny budget: every cell trained, detected and
evaluated; the Table 3 layout complete; a re-run resumes instead of redoing."""

from __future__ import annotations

import csv
import json

import pytest

pytest.importorskip("torch")

from billet_studio.cli import main
from billet_studio.experiments.main_job import example_reads
from billet_studio.experiments.results import METRICS

EXPERIMENTS = ("exp1-real", "exp2-syn25", "exp3-syn50", "exp4-syn75", "exp5-syn100",
               "exp6-real635")
SUBSETS = ("all", "well", "poor_or_partial", "poor", "partial")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("grid") / "demo"
    assert main(["demo", "init", str(root), "--billets", "24", "--test", "8", "--size", "192",
                 "--workers", "1"]) == 0
    return root


def test_tiny_grid_produces_the_complete_table3_layout(demo, capsys):
    command = ["experiment", "run", str(demo), "--scale", "0.008", "--budget", "tiny",
               "--steps", "3", "--bootstrap", "20", "--workers", "1", "--size", "192",
               "--characters", "0", "--name", "tiny"]
    assert main(command) == 0
    printed = capsys.readouterr().out
    folder = demo / "experiments" / "tiny"
    rows = json.loads((folder / "results.json").read_text())["rows"]
    assert [(r["experiment"], r["subset"]) for r in rows] == [
        (e, s) for e in EXPERIMENTS for s in SUBSETS]
    for row in rows:
        for metric in METRICS:
            assert metric in row, (row["experiment"], row["subset"], metric)
            cell = row[metric]
            if cell["value"] is not None:
                assert 0.0 <= cell["value"] <= 1.0
                assert cell["low"] <= cell["value"] + 1e-9 <= cell["high"] + 2e-9
    synthetic = {r["experiment"]: r["synthetic"] for r in rows}
    assert synthetic["exp1-real"] == 0.0 and synthetic["exp5-syn100"] == 1.0
    with open(folder / "results.csv", newline="") as stream:
        assert len(list(csv.DictReader(stream))) == len(rows)
    assert sorted(p.name for p in (folder / "plots").glob("*.png")) == sorted(
        f"{m}.png" for m in METRICS)
    report = (folder / "report.html").read_text()
    assert "Poorly or partially visible" in report and report.count("<img") == len(METRICS)
    assert "a plumbing check, not a result" in report  # the tiny budget says so
    assert "exp6-real635" in printed and "report:" in printed
    # Test images never entered a training set.
    test_names = {i["file_name"].split("/")[-1]
                  for i in json.loads((folder / "test.json").read_text())["images"]}
    for experiment in EXPERIMENTS:
        for split in ("train", "val"):
            document = json.loads(
                (folder / "datasets" / experiment / f"{split}.json").read_text())
            assert not test_names & {i["file_name"].split("/")[-1]
                                     for i in document["images"]}

    # A re-run skips every finished stage: no checkpoint or prediction is rewritten.
    stamps = {p: p.stat().st_mtime_ns for p in folder.glob("cells/*/run/checkpoints/*")}
    stamps.update({p: p.stat().st_mtime_ns for p in folder.glob("cells/*/predictions.json")})
    assert main(command) == 0
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())
    # A different grid in the same folder is refused.
    assert main([*command[:-2], "--name", "tiny", "--seeds", "2"]) == 2
    assert "different grid" in capsys.readouterr().err


def test_main_job_scores_a_detector_on_a_fresh_world_and_runs_every_stage(demo, tmp_path):
    from billet_studio.annotations import Project
    from billet_studio.experiments.main_job import MainJobConfig, run_main_job
    from billet_studio.synthesis import ClassicalRenderer

    project = Project.open(demo)
    config = MainJobConfig(fresh_test=8, fresh_size=192, smoke_images=8, smoke_steps=2,
                           smoke_size=128, bootstrap=10, workers=1)
    # Stand in for the bundled detector: the smoke run of a first pass.
    out = tmp_path / "first"
    list(run_main_job(project, out, None, ClassicalRenderer, "classical", config))
    assert not (out / "bundled").exists()  # no detector: that part is skipped
    detector = out / "smoke" / "run"
    second = tmp_path / "second"
    list(run_main_job(project, second, detector, ClassicalRenderer, "classical", config))
    fresh = json.loads((second / "bundled" / "test.json").read_text())
    assert len(fresh["images"]) == 8
    ours = {i["billet"]["id"] for i in json.loads(
        (second / "smoke" / "test.json").read_text())["images"]}
    assert not ours & {i["billet"]["id"] for i in fresh["images"]}  # a new world
    for part in ("bundled", "smoke"):
        summary = json.loads((second / part / "evaluation" / "summary.json").read_text())
        assert summary["billets"] == 8 and (second / part / "evaluation" / "report.html").exists()
    assert (second / "smoke" / "preview" / "contact_sheet.png").exists()


def test_run_report_scores_the_untrained_model_and_each_checkpoint(demo, tmp_path, capsys):
    from billet_studio.experiments.run_report import read_learning_curve

    assert main(["dataset", "build", str(demo), "--out", "report-data", "-n", "8",
                 "--synthetic", "0.5", "--renderer", "classical", "--size", "128",
                 "--characters", "0", "--workers", "1"]) == 0
    assert main(["detector", "train", str(demo), "--dataset", "report-data", "--preset",
                 "tiny", "--steps", "4", "--eval-every", "2", "--run-name", "r"]) == 0
    run = demo / "runs" / "detector" / "r"
    from billet_studio.training.run_lock import lock_holder
    from billet_studio.training.run_status import run_status

    assert (run / "run.lock").exists() and lock_holder(run) is None  # held while it ran
    assert run_status(run).state == "finished" and run_status(run).step == 4
    out = tmp_path / "report"
    command = ["detector", "report", str(run), "--project", str(demo), "--out", str(out),
               "--bootstrap", "10"]
    assert main(command) == 0
    printed = capsys.readouterr().out
    assert "step 0 (untrained)" in printed and "report:" in printed
    results = json.loads((out / "results.json").read_text())
    assert [(r["step"], r["subset"]) for r in results["rows"]] == [
        (step, s) for step in (0, 2, 4) for s in SUBSETS]
    assert [t["step"] for t in results["test_by_step"]] == [0, 2, 4]
    markdown = (out / "report.md").read_text()
    assert "| step 0 (untrained) | All |" in markdown and "learning_curve.png" in markdown
    assert (out / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert markdown.count("| step ") == 3 * len(SUBSETS)
    assert [c["step"] for c in read_learning_curve(run / "log.jsonl")][-1] == 4
    # A re-run keeps finished scores; an unknown step is refused with the ones there are.
    stamp = (out / "steps" / "step_0000002" / "predictions.json").stat().st_mtime_ns
    assert main([*command, "--steps", "0,2"]) == 0
    assert (out / "steps" / "step_0000002" / "predictions.json").stat().st_mtime_ns == stamp
    # Another score threshold re-scores the same detections.
    assert main([*command, "--steps", "0,2", "--score", "0.2"]) == 0
    assert (out / "steps" / "step_0000002" / "predictions.json").stat().st_mtime_ns == stamp
    summary = json.loads((out / "steps" / "step_0000002" / "evaluation" / "summary.json")
                         .read_text())
    assert summary["config"]["scoring"]["match"]["score"] == 0.2
    assert "below 0.2 are ignored" in (out / "report.md").read_text()
    assert main([*command, "--steps", "3"]) == 2
    assert "no checkpoint for step(s) 3; it has 2, 4" in capsys.readouterr().err


def test_a_resumed_run_s_log_keeps_the_later_entry_and_a_torn_last_line(tmp_path):
    from billet_studio.annotations import AnnotationError
    from billet_studio.experiments.run_report import read_learning_curve

    log = tmp_path / "log.jsonl"
    entries = [{"step": 2, "metrics": {"loss": 3.0}}, {"step": 4, "metrics": {"loss": 2.0}},
               {"step": 4, "metrics": {"loss": 1.5}}, {"step": 6, "metrics": {"lr": 0.1}}]
    log.write_text("".join(json.dumps(e) + "\n" for e in entries) + '{"step": 8, "met')
    assert [(c["step"], c["loss"]) for c in read_learning_curve(log)] == [(2, 3.0), (4, 1.5)]
    log.write_text("not json\n" + json.dumps(entries[0]) + "\n")
    with pytest.raises(AnnotationError, match="line 1 is not a progress record"):
        read_learning_curve(log)


def test_demo_run_prints_the_plumbing_check(demo, capsys, monkeypatch):
    from billet_studio.experiments import main_job

    full_size = main_job.MainJobConfig  # shrunk to the test demo's size
    monkeypatch.setattr(main_job, "MainJobConfig", lambda workers: full_size(
        fresh_test=4, fresh_size=192, smoke_images=8, smoke_steps=2, smoke_size=128,
        bootstrap=10, workers=1))
    assert main(["demo", "run", str(demo), "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "plumbing check, not a result" in printed
    assert "report:" in printed and "main job finished" in printed
    # It leads with the bundled reader: billets read right, the subsets, example reads.
    headline = printed[printed.index("The bundled reader on 4 fresh demo test billets"):
                       printed.index("Every stage once")]
    assert "IDs read right:" in headline and "with the ID format prior" in headline
    assert "CB prior" in headline and "well" in headline.lower()
    examples = headline[headline.index("Example reads"):].splitlines()[1:4]
    store = demo / "runs" / "main-job" / "bundled" / "evaluation" / "records.sqlite"
    reads = example_reads(store)
    assert len(examples) == len(reads) == 3
    for line, read in zip(examples, reads, strict=True):
        assert line.split()[0] == read.true_id and read.file_name in line
        assert ("right" in line.split()) == read.right


def test_example_reads_show_a_right_and_a_wrong_read_first(tmp_path):
    import sqlite3

    from billet_studio.evaluation.store import READABLE_SCHEMAS

    path = tmp_path / "records.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('schema', ?)", (json.dumps(READABLE_SCHEMAS[-1]),))
    db.execute("CREATE TABLE billets (id INTEGER PRIMARY KEY, file_name TEXT, visibility "
               "TEXT, true_id TEXT, raw_read TEXT, prior_read TEXT)")
    rows = [(1, "a.jpg", "well", "AB1", "AB7", "AB7"), (2, "b.jpg", "well", "AB2", "AB", "AB2"),
            (3, "c.jpg", "poor", "AB3", "A83", None), (4, "d.jpg", "partial", "AB4", "", None)]
    db.executemany("INSERT INTO billets VALUES (?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    db.close()
    reads = example_reads(path)
    assert [r.file_name for r in reads] == ["b.jpg", "a.jpg", "d.jpg"]
    assert [r.right for r in reads] == [True, False, False]
