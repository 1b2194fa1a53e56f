"""The error browser on an evaluation of 100,000 billets (11 digits and about 2
predictions more each): time to the first rows when the evaluation opens and when a filter
changes, the cost of scrolling (each page of 200 rows fetched as the view reaches it), the
confusion matrix and one of its cells, and memory.

Baseline in the same run: reading every billet row into Python first (what a non-lazy
table would do). Goal: first rows in under 300 ms.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.table import print_table

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

BILLETS = int(os.environ.get("BENCH_BROWSER_BILLETS", "100000"))


def _rss_mib() -> float:
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _make_store(path: Path) -> None:
    """A store in the real schema with random but consistent billets and boxes."""
    import json

    from billet_studio.evaluation.store import _COUNTS, _INDEXES, _SCHEMA, SCHEMA_VERSION

    rng = np.random.default_rng(0)
    classes = [*"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
    with sqlite3.connect(path) as db:
        db.executescript(_SCHEMA + _INDEXES)
        db.executemany("INSERT INTO meta VALUES (?, ?)", [
            ("schema", json.dumps(SCHEMA_VERSION)), ("classes", json.dumps(classes)),
            ("summary", json.dumps({"config": {"scoring": {"match": {
                "iou": 0.5, "background_iou": 0.1, "score": 0.5}}}}))])
        billets, boxes = [], []
        for i in range(1, BILLETS + 1):
            true_id = "".join(rng.choice(classes[:10], 6)) + rng.choice(classes[10:]) + \
                "".join(rng.choice(classes[:10], 4))
            kinds = rng.choice(["TP", "MC", "FN"], 11, p=[0.8, 0.1, 0.1])
            fps = int(rng.integers(0, 3))
            tp, mc, fn = (int((kinds == k).sum()) for k in ("TP", "MC", "FN"))
            read = "".join(c if k == "TP" else "7" for c, k in zip(true_id, kinds, strict=True)
                           if k != "FN")
            fp_types = [0] * 5
            for _ in range(fps):
                fp_types[int(rng.integers(0, 5))] += 1
            counts = [11, tp, mc, fn, fps, *fp_types, int(tp == 11 and not fps),
                      int(tp == 11), int(read == true_id), int(read == true_id),
                      int(mc + fn > 2)]
            assert len(counts) == len(_COUNTS)
            billets.append((i, i, f"images/billet_{i:06d}.jpg", 1024, 1024,
                            "AB"[i % 2], ("well", "poor", "partial")[i % 3], true_id, read,
                            None, float(-rng.random()), None, 0, 0, *counts, mc + fn + fps))
            index = 0  # each prediction's place in its billet (pred_index)
            for n, (c, k) in enumerate(zip(true_id, kinds, strict=True)):
                x = 10 + 50 * n
                found = k != "FN"
                boxes.append((i, str(k), None, c, (c if k == "TP" else "7") if found else None,
                              float(rng.uniform(0.5, 1.0)) if found else None,
                              0.8 if found else None, x, 10, x + 40, 90,
                              *((x + 2, 11, x + 42, 91) if found else (None,) * 4), None,
                              index if found else None))
                index += found
            for _ in range(fps):
                boxes.append((i, "FP", "Bkg", None, "1", float(rng.uniform(0.5, 0.8)), 0.0,
                              None, None, None, None, 600, 100, 640, 180, None, index))
                index += 1
        db.executemany(f"INSERT INTO billets VALUES ({', '.join('?' * len(billets[0]))})",
                       billets)
        db.executemany(
            "INSERT INTO boxes (billet, kind, fp_type, true_label, pred_label, score, iou,"
            " tx0, ty0, tx1, ty1, px0, py0, px1, py1, top_classes, pred_index) VALUES "
            f"({', '.join('?' * 17)})", boxes)


def _type(page, text: str) -> None:
    """Type into the ID field and filter now (the page waits for the keys to pause)."""
    page.text.setText(text)
    page.text_timer.stop()
    page.apply_filter()


def _first_rows(app, page, change) -> float:
    started = time.perf_counter()
    change()
    app.processEvents()
    assert page.model.rowCount() > 0
    return (time.perf_counter() - started) * 1000


def _slider_rows(app, page, folder: Path) -> list[tuple[str, float, float | None]]:
    """The score slider: one billet re-matched live, the whole table re-matched on the
    worker (and how long the GUI thread went without its events meanwhile), and batched
    re-matching against matching one billet at a time."""
    from billet_studio.evaluation.matching import MatchConfig, match_detections
    from billet_studio.evaluation.rematch import iter_billets, rematched_rows
    from billet_studio.evaluation.store import open_store

    rows: list[tuple[str, float, float | None]] = []
    live = []
    for billet_id in page.browser.ids(page.model.filter)[:200]:
        started = time.perf_counter()
        page.browser.at_score(billet_id, 0.7)
        live.append((time.perf_counter() - started) * 1000)
    rows.append(("slider: the shown billet re-matched, p50 / p95 of 200",
                 float(np.percentile(live, 50)), float(np.percentile(live, 95))))
    slider = page.panel.threshold
    ready: list[float] = []
    slider.store_ready.connect(lambda score, _: ready.append(score))
    started = time.perf_counter()
    slider.slider.setValue(70)
    slider.timer.stop()
    slider._settled()  # as if the slider rested now (no debounce in the figure)
    gaps, last = [], time.perf_counter()
    while not ready:
        app.processEvents()
        now = time.perf_counter()
        gaps.append((now - last) * 1000)
        last = now
        time.sleep(0.002)
    rows.append((f"slider: all {BILLETS:,} billets re-matched (worker) / longest GUI stall",
                 (time.perf_counter() - started) * 1000, max(gaps)))
    db = open_store(folder)
    classes = tuple(page.browser.classes)
    billets = next(iter_billets(db, folder / "records.sqlite", classes, chunk=10_000))
    db.close()
    config = MatchConfig(score=0.7)
    started = time.perf_counter()
    rematched_rows(billets, classes, config)
    batched = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    for b in billets:
        match_detections(b.truth.boxes, b.truth.labels, b.predictions.boxes,
                         b.predictions.labels, b.predictions.scores, config)
    one_by_one = (time.perf_counter() - started) * 1000
    rows.append(("re-match 10,000 billets batched (rows made too)", batched,
                 batched / one_by_one))
    rows.append(("   baseline: match_detections one billet at a time", one_by_one, None))
    return rows


def run() -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from billet_studio.evaluation.store import open_store
    from billet_studio.gui.errors_page import ErrorsPage

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary) / "evaluation"
        folder.mkdir()
        started = time.perf_counter()
        _make_store(folder / "records.sqlite")
        print(f"   store of {BILLETS:,} billets written in {time.perf_counter() - started:.0f} s")
        before = _rss_mib()
        started = time.perf_counter()
        db = open_store(folder)
        everything = db.execute("SELECT * FROM billets ORDER BY errors DESC").fetchall()
        baseline_ms = (time.perf_counter() - started) * 1000
        baseline_mib = _rss_mib() - before
        del everything
        db.close()
        page = ErrorsPage()
        page.resize(1400, 900)
        page.show()
        app.processEvents()
        before = _rss_mib()
        rows = []
        opened = _first_rows(app, page, lambda: page.open_evaluation(folder))
        opened_mib = _rss_mib() - before
        rows.append(("open the evaluation (first 200 rows)", opened, opened / baseline_ms))
        mc = next(page.kinds.item(i) for i in range(page.kinds.count())
                  if page.kinds.item(i).text() == "MC")
        rows.append(("filter: MC", _first_rows(
            app, page, lambda: mc.setCheckState(Qt.CheckState.Checked)), None))
        rows.append(("filter: + subset poor", _first_rows(
            app, page, lambda: page.subset.setCurrentIndex(
                page.subset.findData("poor"))), None))
        rows.append(("filter: + character 7", _first_rows(
            app, page, lambda: page.character.setCurrentIndex(
                page.character.findData("7"))), None))
        rows.append(("filter: + ID text '12'", _first_rows(
            app, page, lambda: _type(page, "12")), None))
        rows.append(("sort by true ID", _first_rows(
            app, page, lambda: page.table.sortByColumn(3, Qt.SortOrder.AscendingOrder)),
            None))
        page.character.setCurrentIndex(page.character.findData(None))
        page.text.setText("")
        page.subset.setCurrentIndex(0)
        mc.setCheckState(Qt.CheckState.Unchecked)
        started = time.perf_counter()
        page.right.setCurrentIndex(1)
        blocked = (time.perf_counter() - started) * 1000
        while page.confusion.view.confusion.matrix.size == 0:  # counted on a worker thread
            app.processEvents()
            time.sleep(0.002)
        rows.append(("confusion tab: GUI thread busy / matrix shown", blocked,
                     (time.perf_counter() - started) * 1000))
        rows.append(("confusion cell 1 -> 7: its billets listed", _first_rows(
            app, page, lambda: page.filter_by_confusion("1", "7")), None))
        page.filter_by_confusion(None, None)
        page.right.setCurrentIndex(0)
        fetches = []
        for _ in range(100):  # scrolling down 100 pages (20,000 rows)
            started = time.perf_counter()
            page.table.scrollToBottom()
            app.processEvents()
            fetches.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()  # the far end of the list: the largest OFFSET
        page.model.browser.page(page.model.filter, BILLETS - 200, 200)
        last_page = (time.perf_counter() - started) * 1000
        rows.append(("scroll: one page fetched, p50 / p95 of 100",
                     float(np.percentile(fetches, 50)), float(np.percentile(fetches, 95))))
        rows.append((f"the last page (offset {BILLETS - 200:,})", last_page, None))
        rows += _slider_rows(app, page, folder)
        print_table(("step", "ms", "x baseline or p95"),
                    [(n, v, "" if r is None else r) for n, v, r in rows])
        print(f"   baseline: every billet read first {baseline_ms:.0f} ms, "
              f"{baseline_mib:+.0f} MiB; the page: {opened_mib:+.1f} MiB after opening, "
              f"{page.model.rowCount():,} rows loaded after scrolling")
        page.shutdown()
        page.close()
