"""The results page on real evaluations of the demo: each evaluation's rows are its
summary's rates, the seeds of a grid experiment are averaged, the synthetic share is read
from the training run's dataset, unreadable files are named, the CLI prints and writes
the Table 3 layout, a comparison lists exactly the billets that changed, and the studio
page shows all of it (bars, plot, side-by-side billet)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from billet_studio.annotations import Project
from billet_studio.cli import main
from billet_studio.evaluation.compare import compare_evaluations
from billet_studio.evaluation.scoring import SUBSETS
from billet_studio.experiments.project_results import (
    find_sources,
    plot_series,
    project_rows,
)
from billet_studio.experiments.results import (
    METRICS,
    format_markdown,
    format_table,
    results_csv,
)

GRID = "experiments/grid/exp2-syn25"
SEED0 = "experiments/grid/cells/exp2-syn25-seed0"
SEED1 = "experiments/grid/cells/exp2-syn25-seed1"
MIXED = "runs/detector/mixed/report/steps/step_0000{}00"


def _write(path: Path, document) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document if isinstance(document, str) else json.dumps(document))


def _manifest(images: int, synthetic: int) -> dict:
    return {"counts": {"train": {"images": images, "synthetic": synthetic},
                       "val": {"images": 4, "synthetic": 1}}}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    """A demo project with two evaluations (stand-in reads of seeds 3 and 4) laid out as
    the two seeds of a grid experiment at 25 % synthetic, copies of them as a detector
    report's checkpoints (50 %), one without provenance, one whose dataset manifest is
    corrupt, and one whose summary.json is corrupt."""
    root = tmp_path_factory.mktemp("results") / "demo"
    assert main(["demo", "init", str(root), "--billets", "24", "--test", "16", "--size", "256",
                 "--workers", "1"]) == 0
    export = root.parent / "coco"
    assert main(["export", str(root), "--format", "coco", "--out", str(export)]) == 0
    grid = root / "experiments" / "grid"
    _write(grid / "experiment.json", {"config": {"preset": "paper-table1"}})
    _write(grid / "datasets" / "exp2-syn25" / "manifest.json", _manifest(40, 10))
    for seed, cell in ((3, SEED0), (4, SEED1)):
        predictions = root.parent / f"predictions-{seed}.json"
        assert main(["demo", "predictions", "--truth", str(export / "test.json"), "--out",
                     str(predictions), "--seed", str(seed)]) == 0
        _write(root / cell / "run" / "config.json",
               {"model": {}, "sources": {"experiment": "exp2-syn25", "seed": seed - 3}})
        assert main(["evaluate", "run", "--truth", str(export / "test.json"), "--predictions",
                     str(predictions), "--out", str(root / cell / "evaluation"), "--project",
                     str(root), "--images", str(root), "--no-report", "--bootstrap",
                     "200"]) == 0
    _write(root / "runs/detector/mixed/config.json",
           {"model": {}, "sources": {"dataset": str(root / "datasets" / "mixed")}})
    _write(root / "datasets/mixed/manifest.json", _manifest(30, 15))
    _write(root / "runs/detector/bad-manifest/config.json",
           {"model": {}, "sources": {"dataset": "datasets/bad"}})
    _write(root / "datasets/bad/manifest.json", "{oops")
    for source, target in ((SEED0, MIXED.format(1)), (SEED1, MIXED.format(2)),
                           (SEED0, "evaluations/stand-in"),
                           (SEED1, "runs/detector/bad-manifest/evaluation"),
                           (SEED0, "evaluations/broken")):
        shutil.copytree(root / source / "evaluation", root / target)
    _write(root / "evaluations/broken/summary.json", "{not json")
    return Project.open(root)


def _summary(root: Path, label: str) -> dict:
    folder = root / label
    if not (folder / "records.sqlite").exists():
        folder = folder / "evaluation"
    return json.loads((folder / "summary.json").read_text())


def _groups(root: Path, label: str) -> dict[str, dict]:
    return {g["name"]: g for g in _summary(root, label)["groups"]}


# -- provenance and rows --------------------------------------------------------------------

def test_sources_know_where_each_evaluation_came_from(project):
    sources, warnings = find_sources(project.root)
    by_label = {s.label: s for s in sources}
    assert set(by_label) == {SEED0, SEED1, MIXED.format(1), MIXED.format(2),
                             "evaluations/stand-in", "runs/detector/bad-manifest"}
    assert by_label[SEED0].synthetic == by_label[SEED1].synthetic == 0.25
    assert by_label[SEED0].images == 40 and by_label[SEED0].group == GRID
    assert (by_label[SEED0].seed, by_label[SEED1].seed) == (0, 1)
    assert by_label[SEED0].run == project.root / SEED0 / "run"
    assert by_label[MIXED.format(2)].synthetic == 0.5
    assert (by_label[MIXED.format(1)].step, by_label[MIXED.format(2)].step) == (100, 200)
    assert by_label[MIXED.format(1)].run == project.root / "runs/detector/mixed"
    assert by_label["evaluations/stand-in"].synthetic is None
    assert by_label["evaluations/stand-in"].run is None
    assert by_label["runs/detector/bad-manifest"].synthetic is None
    # The corrupt summary is left out and named; the corrupt manifest named once.
    assert len(warnings) == 2
    assert "evaluations/broken/summary.json" in warnings[0] and "left out" in warnings[0]
    assert "datasets/bad/manifest.json cannot be read" in warnings[1]


def test_a_report_on_a_grid_cells_checkpoints_is_not_one_of_its_seeds(project, tmp_path):
    """Only <grid>/cells/<exp>-seed<k>/evaluation is a seed of the grid experiment; a
    detector report on the cell's run (…/run/report/steps/step_N/evaluation) stands alone,
    so its checkpoints are not averaged in with the seeds."""
    root = tmp_path / "p"
    cell = root / "experiments/grid/cells/exp2-syn25-seed0"
    _write(root / "experiments/grid/experiment.json", {"config": {}})
    _write(cell / "run/config.json", {"model": {}, "sources": {"experiment": "exp2-syn25"}})
    shutil.copytree(project.root / SEED0 / "evaluation", cell / "evaluation")
    report = cell / "run/report/steps/step_0000100/evaluation"
    shutil.copytree(project.root / SEED0 / "evaluation", report)
    sources, _ = find_sources(root)
    by_label = {s.label: s for s in sources}
    seed = by_label[SEED0]
    checkpoint = by_label[f"{SEED0}/run/report/steps/step_0000100"]
    assert (seed.group, seed.seed, seed.grid) == (GRID, 0, "experiments/grid")
    assert (checkpoint.group, checkpoint.seed, checkpoint.grid) == (checkpoint.label, None,
                                                                    None)
    assert checkpoint.step == 100 and checkpoint.run == cell / "run"
    rows = project_rows(sources)
    assert {r["experiment"] for r in rows} == {GRID, checkpoint.label}
    assert all(r["seeds"] == 1 for r in rows)


def test_each_row_holds_its_summarys_rates(project):
    sources, _ = find_sources(project.root)
    rows = project_rows(sources, group_seeds=False)
    assert len(rows) == len(sources) * len(SUBSETS)
    for row in rows:
        group = _groups(project.root, row["experiment"])[row["subset"]]
        assert (row["billets"], row["digits"], row["seeds"]) == (
            group["billets"], group["digits"], 1)
        for metric in METRICS:
            rate = group["rates"][metric]
            assert row[metric]["value"] == pytest.approx(rate["value"])
            assert row[metric]["low"] == pytest.approx(rate["low"])
            assert row[metric]["high"] == pytest.approx(rate["high"])
            assert row[metric]["seed_sd"] is None


def test_the_seeds_of_a_grid_experiment_are_averaged(project):
    sources, _ = find_sources(project.root)
    rows = project_rows(sources, group_seeds=True)
    grouped = [r for r in rows if r["experiment"] == GRID]
    assert [r["subset"] for r in grouped] == list(SUBSETS)
    assert not any(r["experiment"] in (SEED0, SEED1) for r in rows)
    seeds = [_groups(project.root, SEED0), _groups(project.root, SEED1)]
    differ = 0
    for row in grouped:
        assert row["seeds"] == 2 and row["synthetic"] == 0.25 and row["images"] == 40
        assert len(row["folders"]) == 2
        for metric in METRICS:
            a, b = (s[row["subset"]]["rates"][metric] for s in seeds)
            assert row[metric]["value"] == pytest.approx((a["value"] + b["value"]) / 2)
            assert row[metric]["low"] == pytest.approx((a["low"] + b["low"]) / 2)
            assert row[metric]["seed_sd"] == pytest.approx(
                np.std([a["value"], b["value"]], ddof=1))
            differ += a["value"] != b["value"]
    assert differ, "the two seeds read differently"
    # Everything else is one row per evaluation, as without grouping.
    alone = [r for r in rows if r["experiment"] != GRID]
    ungrouped = [r for r in project_rows(sources, group_seeds=False)
                 if r["experiment"] not in (SEED0, SEED1)]
    assert alone == ungrouped


def test_the_plot_takes_known_shares_and_a_reports_last_step(project):
    sources, _ = find_sources(project.root)
    rows = project_rows(sources)
    series = plot_series(rows, "TP")
    assert [s.subset for s in series] == list(SUBSETS)
    for one in series:
        assert [p.label for p in one.points] == [GRID, MIXED.format(2)]
        assert [p.synthetic for p in one.points] == [0.25, 0.5]
        expected = {r["experiment"]: r["TP"]["value"] for r in rows
                    if r["subset"] == one.subset}
        assert [p.value for p in one.points] == [expected[GRID], expected[MIXED.format(2)]]
        # Only the grid's experiments are joined; the detector report stands alone.
        assert [p.grid for p in one.points] == ["experiments/grid", None]
        assert one.lines == (("experiments/grid", ((0.25, expected[GRID]),)),)


# -- the command line -------------------------------------------------------------------

def test_the_cli_prints_and_writes_the_table(project, tmp_path, capsys):
    sources, _ = find_sources(project.root)
    rows = project_rows(sources)
    csv_path, markdown, plots = tmp_path / "r.csv", tmp_path / "r.md", tmp_path / "plots"
    assert main(["evaluate", "results", "--project", str(project.root), "--csv", str(csv_path),
                 "--markdown", str(markdown), "--plots", str(plots)]) == 0
    out = capsys.readouterr().out
    assert format_table(rows) in out
    assert "warning: evaluations/broken/summary.json" in out
    assert "25.0 % of 40 images" in out and "– (provenance unknown)" in out
    assert csv_path.read_bytes() == results_csv(rows)
    assert markdown.read_text() == format_markdown(rows)
    assert sorted(p.name for p in plots.iterdir()) == sorted(f"{m}.png" for m in METRICS)
    # One subset, seeds apart.
    assert main(["evaluate", "results", "--project", str(project.root), "--subset", "well",
                 "--no-group-seeds"]) == 0
    well = [r for r in project_rows(sources, group_seeds=False) if r["subset"] == "well"]
    assert format_table(well) in capsys.readouterr().out
    # Errors: a clear message and a non-zero exit.
    assert main(["evaluate", "results", "--project", str(project.root), "--subset",
                 "worst"]) == 2
    assert "--subset must be one of" in capsys.readouterr().err
    assert main(["evaluate", "results", "--project", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err


# -- comparing two evaluations --------------------------------------------------------------

def _store(folder: Path) -> dict[str, dict]:
    with sqlite3.connect(folder / "records.sqlite") as db:
        db.row_factory = sqlite3.Row
        return {r["file_name"]: dict(r) for r in db.execute("SELECT * FROM billets")}


def _expected_changes(before: Path, after: Path) -> tuple[set[str], set[str]]:
    """Better and worse billets worked out from both stores: CB with the prior decides,
    else the error count."""
    a, b = _store(before), _store(after)
    better, worse = set(), set()
    for name in set(a) & set(b):
        key = (b[name]["cb_prior"] - a[name]["cb_prior"], a[name]["errors"] - b[name]["errors"])
        if key > (0, 0):
            better.add(name)
        elif key < (0, 0):
            worse.add(name)
    return better, worse


def test_compare_lists_exactly_the_billets_that_changed(project):
    before, after = project.root / SEED0 / "evaluation", project.root / SEED1 / "evaluation"
    result = compare_evaluations(before, after)
    better, worse = _expected_changes(before, after)
    assert {c.file_name for c in result.better} == better and better
    assert {c.file_name for c in result.worse} == worse and worse
    a, b = _store(before), _store(after)
    assert any(a[n]["cb_prior"] != b[n]["cb_prior"] for n in a), "a read became right/wrong"
    assert result.unchanged == len(a) - len(better) - len(worse)
    for change in (*result.better, *result.worse):
        assert change.before_id == a[change.file_name]["id"]
        assert change.after_id == b[change.file_name]["id"]
        assert change.cb_changed == (a[change.file_name]["cb_prior"]
                                     != b[change.file_name]["cb_prior"])
    digits = sum(r["digits"] for r in a.values())
    assert result.rates_after["FN"] == pytest.approx(sum(r["fn"] for r in b.values()) / digits)


# -- the studio page ------------------------------------------------------------------------

def test_the_page_shows_the_table_plot_warnings_and_a_comparison(request, project):
    pytest.importorskip("PySide6")  # the core's own suite runs without Qt
    pytest.importorskip("pytestqt")
    qtbot = request.getfixturevalue("qtbot")
    from billet_studio.evaluation.browse import BilletBrowser
    from billet_studio.gui.results_page import ResultsPage
    from billet_studio.gui.results_table import CELL_ROLE, FIRST_METRIC, percent

    page = ResultsPage()
    qtbot.addWidget(page)
    page.resize(1400, 850)
    page.set_project(project)
    assert page.model.rowCount() == 0  # listed when first shown
    page.show()
    qtbot.waitExposed(page)
    sources, _ = find_sources(project.root)
    rows = project_rows(sources)
    assert page.model.rows == rows
    # Each metric cell holds the row's rate for the bar and shows it as text.
    column = FIRST_METRIC + METRICS.index("CB_prior")
    index = page.model.index(0, column)
    assert index.data(CELL_ROLE) == rows[0]["CB_prior"]
    assert index.data() == percent(rows[0]["CB_prior"])
    assert page.model.index(0, 1).data() == ("–" if rows[0]["synthetic"] is None else
                                             f"{100 * rows[0]['synthetic']:.0f} %")
    assert not page.grab().isNull()  # the bars and whiskers paint
    # The warnings name the files.
    listed = [page.warning_list.item(i).text() for i in range(page.warning_list.count())]
    assert len(listed) == 2 and "evaluations/broken/summary.json" in listed[0]
    # Per subset, one line per experiment grid through its shares.
    assert list(page.curves) == list(SUBSETS)
    for subset, curves in page.curves.items():
        (curve,) = curves
        x, y = curve.getData()
        series = next(s for s in plot_series(rows, "TP") if s.subset == subset)
        assert list(x) == pytest.approx([25.0])
        assert list(y) == pytest.approx([100 * v for _, v in series.lines[0][1]])
    page.metric_choice.setCurrentIndex(METRICS.index("FN"))
    assert page.plot.getPlotItem().getAxis("left").labelText.startswith("FN")
    # A subset filter keeps that subset's rows and line.
    page.subset.setCurrentIndex(1 + SUBSETS.index("poor"))
    assert page.model.rows == [r for r in rows if r["subset"] == "poor"]
    assert list(page.curves) == ["poor"]
    page.subset.setCurrentIndex(0)
    # Two selected rows of a grouped experiment cannot be compared billet by billet.
    grid_row = next(i for i, r in enumerate(page.rows) if r["experiment"] == GRID)
    stand_in = next(i for i, r in enumerate(page.rows)
                    if r["experiment"] == "evaluations/stand-in")
    _select_rows(page, [grid_row, stand_in])
    with qtbot.waitSignal(page.message) as refused:
        assert not page.compare_selected()
    assert "Group seeds" in refused.args[0]
    # Seeds apart: select the two seeds' rows and compare them on the worker.
    page.group_seeds.setChecked(False)
    assert page.model.rows == project_rows(sources, group_seeds=False)
    first = next(i for i, r in enumerate(page.rows) if r["experiment"] == SEED0)
    second = next(i for i, r in enumerate(page.rows) if r["experiment"] == SEED1)
    _select_rows(page, [first, first + 1, second])  # two subsets of one evaluation count once
    compare = page.compare
    with qtbot.waitSignal(compare.compared, timeout=20_000):
        assert page.compare_selected()
    assert page.tabs.currentWidget() is compare
    before, after = project.root / SEED0 / "evaluation", project.root / SEED1 / "evaluation"
    better, worse = _expected_changes(before, after)
    shown = [compare.model.rows[r] for r in range(compare.model.rowCount())]
    assert {c.file_name for c in shown if c.change > 0} == better
    assert {c.file_name for c in shown if c.change < 0} == worse
    assert f"{len(better)} better" in compare.headline.text()
    # The first billet is shown side by side, each view with its evaluation's boxes.
    qtbot.waitUntil(lambda: compare.shown_request == compare._photo_request > 0,
                    timeout=20_000)
    change = compare.current
    assert change is shown[0]
    for view, folder, billet in ((compare.views[0], before, change.before_id),
                                 (compare.views[1], after, change.after_id)):
        browser = BilletBrowser(folder)
        drawn = [b for b in browser.boxes(billet) if b.kind != "ignored"]
        browser.close()
        assert len(view.overlay_items()) == len(drawn) > 0
        assert view.image_rect.width() > 8
    # Another billet: both views follow.
    compare.table.selectRow(1)
    qtbot.waitUntil(lambda: compare.shown_request == compare._photo_request
                    and compare.current is shown[1], timeout=20_000)
    page.shutdown()


def _select_rows(page, rows: list[int]) -> None:
    from PySide6.QtCore import QItemSelectionModel

    selection = page.table.selectionModel()
    selection.clearSelection()
    for row in rows:
        selection.select(page.model.index(row, 0), QItemSelectionModel.SelectionFlag.Select
                         | QItemSelectionModel.SelectionFlag.Rows)


def test_an_unreadable_summary_is_named_and_left_out(tmp_path):
    """Without a project around it too: the page's core never raises on a bad file."""
    root = tmp_path / "p"
    folder = root / "evaluations" / "x"
    folder.mkdir(parents=True)
    (folder / "records.sqlite").write_bytes(b"")
    (folder / "summary.json").write_text(json.dumps({"groups": "none"}))
    sources, warnings = find_sources(root)
    assert sources == [] and len(warnings) == 1
    assert warnings[0].startswith("evaluations/x/summary.json is not an evaluation summary")
    (folder / "summary.json").unlink()
    assert find_sources(root)[1] == ["evaluations/x/summary.json is missing; this "
                                     "evaluation is left out"]
