"""The error browser on a real evaluation of the demo: filters and sorting return exactly
the billets a plain reading of the store says, the page's table follows them, J/K walk the
filtered list, the billet view draws every evaluated box, and "Open in labelling" opens
the right photograph."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from billet_studio.annotations import Project
from billet_studio.cli import main
from billet_studio.evaluation.browse import (
    ERROR_KINDS,
    BilletBrowser,
    BilletFilter,
    resolve_image,
    wrong_characters,
)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory) -> tuple[Project, Path]:
    """A demo project, its test split exported as COCO, stand-in predictions, evaluated."""
    root = tmp_path_factory.mktemp("errors") / "demo"
    assert main(["demo", "init", str(root), "--billets", "24", "--test", "16", "--size", "256",
                 "--workers", "1"]) == 0
    export = root.parent / "coco"
    assert main(["export", str(root), "--format", "coco", "--out", str(export)]) == 0
    predictions = root.parent / "predictions.json"
    assert main(["demo", "predictions", "--truth", str(export / "test.json"), "--out",
                 str(predictions), "--seed", "3"]) == 0
    folder = root / "evaluations" / "stand-in"
    assert main(["evaluate", "run", "--truth", str(export / "test.json"), "--predictions",
                 str(predictions), "--out", str(folder), "--project", str(root),
                 "--images", str(root), "--no-report"]) == 0
    return Project.open(root), folder


def _all_billets(folder: Path) -> tuple[list[dict], list[dict]]:
    with sqlite3.connect(folder / "records.sqlite") as db:
        db.row_factory = sqlite3.Row
        billets = [dict(r) for r in db.execute("SELECT * FROM billets")]
        boxes = [dict(r) for r in db.execute("SELECT * FROM boxes")]
    return billets, boxes


def _has_fp_type(fp_type: str):
    return lambda billet: billet[f"fp_{fp_type}"] > 0


def _expected(billets: list[dict], boxes: list[dict], f: BilletFilter) -> list[int]:
    """The filter worked out in Python over every row (no SQL WHERE)."""
    subset = {"all": lambda v: True, "well": lambda v: v == "well",
              "poor_or_partial": lambda v: v in ("poor", "partial"),
              "poor": lambda v: v == "poor", "partial": lambda v: v == "partial"}[f.subset]
    has = {"MC": lambda b: b["mc"] > 0, "FN": lambda b: b["fn"] > 0,
           "FP": lambda b: b["fp"] > 0, "CB wrong": lambda b: b["cb_prior"] == 0,
           "needs review": lambda b: b["needs_review"] > 0,
           **{k: _has_fp_type(k[3:].lower()) for k in ERROR_KINDS if k.startswith("FP ")}}
    chars = {x["billet"] for x in boxes if f.character is not None and (
        (x["kind"] in ("MC", "FN") and x["true_label"] == f.character)
        or (x["kind"] in ("MC", "FP") and x["pred_label"] == f.character))}
    text = f.text.strip().lower()
    kept = [b for b in billets if subset(b["visibility"])
            and all(has[k](b) for k in f.kinds)
            and (f.site is None or b["site"] == f.site)
            and (f.character is None or b["id"] in chars)
            and (not text or any(text in (b[k] or "").lower()
                                 for k in ("true_id", "raw_read", "prior_read", "file_name")))]
    column = {"errors": "errors", "file": "file_name", "MC": "mc", "FN": "fn",
              "raw score": "raw_score", "prior score": "prior_score"}[f.sort]
    kept.sort(key=lambda b: b["id"])
    # SQLite orders NULL before every value.
    kept.sort(key=lambda b: (b[column] is not None, b[column] if b[column] is not None else 0),
              reverse=f.descending)
    return [b["id"] for b in kept]


FILTERS = [
    BilletFilter(),
    BilletFilter(kinds=frozenset({"MC"})),
    BilletFilter(kinds=frozenset({"FN", "FP"}), subset="poor_or_partial"),
    BilletFilter(kinds=frozenset({"FP Bkg"}), sort="file", descending=False),
    BilletFilter(subset="well", site="A", sort="MC"),
    BilletFilter(character="7", sort="FN"),
    BilletFilter(kinds=frozenset({"CB wrong", "needs review"}), text="b"),
    BilletFilter(sort="raw score", descending=False),
    BilletFilter(subset="poor", sort="prior score"),
]


@pytest.mark.parametrize("billet_filter", FILTERS, ids=range(len(FILTERS)))
def test_filters_and_sorting_return_exactly_the_billets_the_store_holds(evaluated,
                                                                        billet_filter):
    _, folder = evaluated
    billets, boxes = _all_billets(folder)
    browser = BilletBrowser(folder)
    expected = _expected(billets, boxes, billet_filter)
    assert browser.ids(billet_filter) == expected
    assert browser.count(billet_filter) == len(expected)
    pages = browser.page(billet_filter, 0, 5) + browser.page(billet_filter, 5, 1000)
    assert [row["id"] for row in pages] == expected
    browser.close()


def test_the_filters_are_not_vacuous(evaluated):
    """The demo evaluation has billets on both sides of the filters tested above."""
    _, folder = evaluated
    billets, boxes = _all_billets(folder)
    for billet_filter in FILTERS[1:]:
        if billet_filter.kinds or billet_filter.character or billet_filter.text or \
                billet_filter.subset != "all" or billet_filter.site:
            assert 0 < len(_expected(billets, boxes, billet_filter)) < len(billets), \
                billet_filter
    # Scores with NULLs (billets with no read) are among what the score sorts order.
    assert any(b["prior_score"] is None for b in billets)


def test_a_confusion_cell_on_either_side_of_the_background(evaluated):
    _, folder = evaluated
    _, boxes = _all_billets(folder)
    browser = BilletBrowser(folder)
    missed = next(x["true_label"] for x in boxes if x["kind"] == "FN")
    found = next(x["pred_label"] for x in boxes if x["kind"] == "FP")
    for cell, kind in (((missed, None), "FN"), ((None, found), "FP")):
        wanted = sorted({x["billet"] for x in boxes if x["kind"] == kind and (
            x["true_label"] == cell[0] if kind == "FN" else x["pred_label"] == cell[1])})
        assert wanted, cell
        assert sorted(browser.ids(BilletFilter(confusion=cell))) == wanted
        crops = browser.cell_boxes(BilletFilter(), *cell)
        assert len(crops) == min(48, sum(1 for x in boxes if x["kind"] == kind and (
            x["true_label"] == cell[0] if kind == "FN" else x["pred_label"] == cell[1])))
    browser.close()


def test_wrong_characters_align_a_read_with_the_true_id():
    assert wrong_characters("123456", "123456") == [False] * 6
    assert wrong_characters("123456", "129456") == [False, False, True, False, False, False]
    # One digit missed: the rest still line up.
    assert wrong_characters("123456", "12456") == [False] * 5
    assert wrong_characters("123456", "1234567") == [False] * 6 + [True]
    assert wrong_characters("123", None) == []


def test_the_confusion_matrix_from_the_store_is_the_evaluations(evaluated):
    import json

    import numpy as np

    _, folder = evaluated
    browser = BilletBrowser(folder)
    summary = json.loads((folder / "summary.json").read_text())
    assert np.array_equal(browser.confusion(BilletFilter()), np.array(summary["confusion"]))
    # Filtered to a subset, it counts only that subset's boxes.
    billets, boxes = _all_billets(folder)
    poor = {b["id"] for b in billets if b["visibility"] == "poor"}
    expected = sum(1 for x in boxes if x["billet"] in poor and x["kind"] in ("TP", "MC", "FN"))
    matrix = browser.confusion(BilletFilter(subset="poor"))
    assert matrix[:-1].sum() == expected  # every digit of the subset, found or missed
    browser.close()


def test_text_is_matched_as_typed_not_as_a_pattern(evaluated):
    _, folder = evaluated
    billets, _ = _all_billets(folder)
    browser = BilletBrowser(folder)
    true_id = billets[0]["true_id"]
    pattern = true_id[0] + "_" + true_id[2]  # as LIKE wildcards this would match it
    literal = [b for b in billets if any(pattern in (b[k] or "") for k in (
        "true_id", "raw_read", "prior_read", "file_name"))]
    assert browser.count(BilletFilter(text=pattern)) == len(literal) == 0
    assert browser.count(BilletFilter(text="%")) == 0
    browser.close()


def test_the_cli_lists_and_exports_the_same_billets(evaluated, tmp_path, capsys):
    _, folder = evaluated
    billets, boxes = _all_billets(folder)
    expected = _expected(billets, boxes, BilletFilter(kinds=frozenset({"FN"}),
                                                      subset="poor_or_partial"))
    assert main(["evaluate", "billets", str(folder), "--kind", "FN", "--subset",
                 "poor_or_partial", "--show", "3"]) == 0
    assert capsys.readouterr().out.startswith(f"{len(expected)} billets")
    out = tmp_path / "fn.csv"
    assert main(["evaluate", "billets", str(folder), "--kind", "FN", "--subset",
                 "poor_or_partial", "--csv", str(out)]) == 0
    by_id = {b["id"]: b["file_name"] for b in billets}
    assert [line.split(",")[0] for line in out.read_text().splitlines()[1:]] == [
        by_id[i] for i in expected]
    assert main(["evaluate", "billets", str(folder), "--kind", "XX"]) == 2


def test_a_billets_photograph_is_found_and_its_boxes_read(evaluated):
    project, folder = evaluated
    browser = BilletBrowser(folder)
    row = browser.page(BilletFilter(), 0, 1)[0]
    path = resolve_image(row["file_name"], browser.summary_inputs(), browser.path)
    assert path is not None and path.is_file() and project.contains(path)
    boxes = browser.boxes(row["id"])
    assert sum(b.kind in ("TP", "MC", "FN") for b in boxes) == browser.billet(row["id"])[
        "digits"]
    browser.close()


# -- the studio page ----------------------------------------------------------------------

def test_the_page_filters_walks_and_opens_a_billet_in_labelling(request, evaluated,
                                                                monkeypatch):
    pytest.importorskip("PySide6")  # the core's own suite runs without Qt
    pytest.importorskip("pytestqt")
    qtbot = request.getfixturevalue("qtbot")
    from PySide6.QtCore import Qt
    from studio_driver import open_studio, wait_idle

    from billet_studio.gui.main_window import MainWindow

    project, folder = evaluated
    monkeypatch.setattr(MainWindow, "ask_unsaved_changes", lambda self: None)
    window = open_studio(qtbot, project.root)
    page = window.errors_page
    window.pages.setCurrentWidget(page)
    assert page.evaluation.currentData() == str(folder)
    billets, boxes = _all_billets(folder)
    assert page.model.total == len(billets)
    # Ticking MC lists exactly the billets with a misclassified digit.
    mc = next(page.kinds.item(i) for i in range(page.kinds.count())
              if page.kinds.item(i).text() == "MC")
    mc.setCheckState(Qt.CheckState.Checked)
    expected = _expected(billets, boxes, BilletFilter(kinds=frozenset({"MC"})))
    assert [page.model.billet_id(r) for r in range(page.model.rowCount())] == expected
    assert page.count.text() == f"{len(expected)} billets"
    # The first billet is shown with every box the store holds for it (ignored ones aside).
    qtbot.waitUntil(lambda: page.current_billet == expected[0]
                    and page.panel.shown_request == page.panel.request, timeout=20_000)
    shown = [b for b in BilletBrowser(folder).boxes(expected[0]) if b.kind != "ignored"]
    assert len(page.view.overlay_items()) == len(shown)
    # A photograph that arrives for an older request (another billet, or the same billet
    # id of another evaluation) is not shown.
    stale = page.panel.request - 1
    page.panel._photo_loaded(stale, np.zeros((8, 8, 3), np.uint8), None, "")
    assert page.panel.shown_request == page.panel.request and page.view.image_rect.width() > 8
    # J and K walk the filtered list.
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_J)
    assert page.current_billet == expected[1]
    qtbot.keyClick(page.table, Qt.Key.Key_K)
    assert page.current_billet == expected[0]
    # Sorting by a column re-queries in that order.
    page.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)  # by file name
    names = [page.model.rows[r]["file_name"] for r in range(page.model.rowCount())]
    assert names == sorted(names)
    # The filtered list exports as CSV (in the table's order), the view as a PNG.
    csv_path = project.root.parent / "mc.csv"
    with qtbot.waitSignal(page.csv_written, timeout=20_000) as written:
        page.export_csv(csv_path)  # on a worker thread
    assert written.args[1:] == [len(expected), ""]
    lines = csv_path.read_text().splitlines()
    assert len(lines) == len(expected) + 1 and lines[0].startswith("file_name,")
    assert [line.split(",")[0] for line in lines[1:]] == names
    png = project.root.parent / "view.png"
    assert page.save_view_png(png) and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The confusion tab: clicking a cell lists exactly the billets with such a digit, and
    # the gallery shows a crop of each of those digits.
    mc.setCheckState(Qt.CheckState.Unchecked)
    page.right.setCurrentIndex(1)  # the matrix is counted on a worker thread
    qtbot.waitUntil(lambda: page.confusion.view.confusion.matrix.size > 0, timeout=20_000)
    matrix = page.confusion.view.confusion.matrix
    n = len(page.browser.classes)
    off = [(r, c) for r in range(n) for c in range(n) if r != c and matrix[r, c]]
    assert off, "the stand-in reader misreads some digits"
    row, column = off[0]
    true, predicted = page.browser.classes[row], page.browser.classes[column]
    page.confusion.view.clicked.emit(page.confusion.view.confusion.index(row, column))
    wanted = {x["billet"] for x in boxes if x["kind"] == "MC" and x["true_label"] == true
              and x["pred_label"] == predicted}
    listed = [page.model.billet_id(r) for r in range(page.model.rowCount())]
    assert sorted(listed) == sorted(wanted)
    gallery = page.confusion.gallery
    qtbot.waitUntil(lambda: gallery.count() == min(48, int(matrix[row, column])),
                    timeout=20_000)
    assert all(not gallery.item(i).icon().isNull() for i in range(gallery.count()))
    assert f"true {true} → {predicted}" in page.confusion.state.text()
    page.filter_by_confusion(None, None)
    assert page.model.total == len(billets)
    page.right.setCurrentIndex(0)
    page.table.selectRow(1)
    # Open in labelling: the labelling page shows that very photograph.
    page.table.selectRow(1)
    target = page.current_path
    assert target is not None
    page.open_button.click()
    wait_idle(window)
    assert window.pages.currentWidget() is window.label_page
    assert window.label_page.session is not None
    assert window.label_page.session.image_path.resolve() == target.resolve()


def _open_page(qtbot, project: Project, folder: Path):
    """An error browser page, shown, on the evaluation in ``folder``."""
    from billet_studio.gui.errors_page import ErrorsPage

    page = ErrorsPage()
    qtbot.addWidget(page)
    page.set_project(project)
    page.show()
    assert page.open_evaluation(folder)
    return page


def _page_counts(page) -> dict[str, tuple[int, int, int, int]]:
    while page.model.canFetchMore():
        page.model.fetchMore()
    return {r["file_name"]: (r["tp"], r["mc"], r["fn"], r["fp"]) for r in page.model.rows}


def test_the_score_slider_rematches_the_billet_live_and_the_table_when_it_rests(
        request, evaluated, tmp_path):
    """The billet re-matches on every move; once the slider rests the table's counts are
    those ``evaluate run --score`` gives at that threshold."""
    pytest.importorskip("PySide6")
    pytest.importorskip("pytestqt")
    qtbot = request.getfixturevalue("qtbot")
    project, folder = evaluated
    at_07 = tmp_path / "at-0.7"
    summary = BilletBrowser(folder).summary_inputs()
    assert main(["evaluate", "run", "--truth", summary["truth"], "--predictions",
                 summary["predictions"], "--out", str(at_07), "--project", str(project.root),
                 "--images", str(project.root), "--no-report", "--score", "0.7"]) == 0
    want, _ = _all_billets(at_07)
    page = _open_page(qtbot, project, folder)
    slider = page.panel.threshold
    assert slider.score == 0.5 and "evaluation's" in slider.value.text()
    before = _page_counts(page)
    # Pick a billet whose boxes change between 0.5 and 0.7.
    live = BilletBrowser(folder)
    changed = next(i for i in live.ids(BilletFilter())
                   if live.at_score(i, 0.7)[1] != live.boxes(i))
    page.select_billet(changed)
    qtbot.waitUntil(lambda: page.panel.shown_request == page.panel.request, timeout=20_000)
    with qtbot.waitSignal(slider.store_ready, timeout=30_000) as ready:
        slider.slider.setValue(70)
        # At once, before the table follows: the billet's boxes at 0.7.
        row, boxes = live.at_score(changed, 0.7)
        drawn = [b for b in boxes if b.kind != "ignored"]
        assert len(page.view.overlay_items()) == len(drawn)
        assert f"TP {row['tp']} MC {row['mc']} FN {row['fn']} FP {row['fp']}" in \
            page.panel.details.text()
        assert "score ≥ 0.70" in page.panel.details.text()
    assert ready.args[0] == pytest.approx(0.7)
    assert page.browser.match_config.score == pytest.approx(0.7)
    got = _page_counts(page)
    assert got == {b["file_name"]: (b["tp"], b["mc"], b["fn"], b["fp"]) for b in want}
    assert got != before
    assert page.current_billet == changed  # the same billet stays selected
    # Filters read the re-matched counts: FP lists the billets with an FP at 0.7.
    fp = next(page.kinds.item(i) for i in range(page.kinds.count())
              if page.kinds.item(i).text() == "FP")
    from PySide6.QtCore import Qt

    fp.setCheckState(Qt.CheckState.Checked)
    assert sorted(_page_counts(page)) == sorted(b["file_name"] for b in want if b["fp"] > 0)
    fp.setCheckState(Qt.CheckState.Unchecked)
    # Back at the evaluation's own threshold: its own store again.
    with qtbot.waitSignal(slider.store_ready, timeout=30_000):
        slider.slider.setValue(50)
    assert page.browser.path == folder / "records.sqlite"
    assert _page_counts(page) == before
    live.close()
    page.shutdown()
    assert slider.scratch is None  # the scratch stores are removed


def test_saving_a_corrected_label_rescores_the_billet_in_the_browser(request, evaluated,
                                                                      tmp_path, monkeypatch):
    """Open in labelling, relabel a digit, save: the error browser shows the billet
    re-scored (the evaluation's store updated), and its other billets are untouched."""
    pytest.importorskip("PySide6")
    pytest.importorskip("pytestqt")
    qtbot = request.getfixturevalue("qtbot")
    from studio_driver import open_studio, wait_idle

    from billet_studio.gui.main_window import MainWindow

    project, folder = evaluated
    copy = tmp_path / "evaluation"  # this test changes the store: a copy of it
    copy.mkdir()
    (copy / "records.sqlite").write_bytes((folder / "records.sqlite").read_bytes())
    monkeypatch.setattr(MainWindow, "ask_unsaved_changes", lambda self: None)
    window = open_studio(qtbot, project.root)
    page = window.errors_page
    window.pages.setCurrentWidget(page)
    assert page.open_evaluation(copy)
    billets, boxes = _all_billets(copy)
    target = next(b for b in billets if b["tp"] > 0 and b["fn"] == 0)
    digit = next(x for x in boxes if x["billet"] == target["id"] and x["kind"] == "TP")
    page.select_billet(target["id"])
    image = page.current_path
    sidecar = image.with_suffix(".json")
    original = sidecar.read_bytes()
    try:
        page.open_button.click()
        wait_idle(window)
        label_page = window.label_page
        assert label_page.session.image_path.resolve() == image.resolve()
        shapes = label_page.canvas.shapes
        index = next(i for i, s in enumerate(shapes) if s.label == digit["true_label"]
                     and digit["tx0"] - 1 <= min(p[0] for p in s.points)
                     and max(p[0] for p in s.points) <= digit["tx1"] + 1)
        new_label = "7" if digit["true_label"] != "7" else "3"
        label_page.canvas.select([index])
        label_page.label_selection(new_label)
        assert label_page.save()
        after, after_boxes = _all_billets(copy)
        row = next(b for b in after if b["id"] == target["id"])
        assert (row["tp"], row["mc"]) == (target["tp"] - 1, target["mc"] + 1)
        assert [b for b in after if b["id"] != target["id"]] == \
               [b for b in billets if b["id"] != target["id"]]
        assert any(x["billet"] == target["id"] and x["kind"] == "MC"
                   and x["true_label"] == new_label for x in after_boxes)
        # The page shows it: its table row, and a note that the summary predates it.
        assert page.current_billet == target["id"]
        shown = next(r for r in page.model.rows if r["id"] == target["id"])
        assert (shown["tp"], shown["mc"]) == (row["tp"], row["mc"])
        assert "1 re-scored from corrected labels" in page.count.text()
    finally:
        label_page.close_session(discard=True)
        sidecar.write_bytes(original)


def test_the_slider_keeps_a_few_rematched_stores_and_cleans_up_after_crashes(
        request, evaluated, tmp_path, monkeypatch):
    pytest.importorskip("PySide6")
    pytest.importorskip("pytestqt")
    qtbot = request.getfixturevalue("qtbot")
    import os
    import tempfile
    import time

    from billet_studio.gui import threshold_control

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    old = tmp_path / f"{threshold_control.SCRATCH_PREFIX}crashed"
    recent = tmp_path / f"{threshold_control.SCRATCH_PREFIX}another-studio"
    for folder in (old, recent):
        folder.mkdir()
        (folder / "score-070.sqlite").write_bytes(b"x")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    project, folder = evaluated
    page = _open_page(qtbot, project, folder)
    slider = page.panel.threshold
    made = []
    for value in (60, 70, 80, 90):
        with qtbot.waitSignal(slider.store_ready, timeout=30_000) as ready:
            slider.slider.setValue(value)
        made.append(ready.args[1])
    assert not old.exists() and recent.exists()  # only the stale folder was removed
    assert list(slider.stores) == [70, 80, 90] and len(slider.stores) == threshold_control.KEEP
    assert not made[0].exists() and all(p.exists() for p in made[1:])
    scratch = slider.scratch
    page.shutdown()
    assert not scratch.exists()
