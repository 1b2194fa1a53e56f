"""The studio's responsiveness: event-loop latency while a GAN training run and a dataset
export run in the background (started from the studio, as child processes), and how fast
the checkpoint-comparison grid fills (8 masks x 8 checkpoints, `small` preset).

Latency: a 5 ms repeating QTimer on the GUI thread; its lateness is each interval minus
5 ms. Baseline in the same run: the same studio with nothing running. Goal: p99 under
30 ms on 2 cores. Grid: from choosing the run to every cell shown, with the rendering
child process cold (nothing cached) and with the cache warm; baseline: the same
`gan compare` command run alone from the shell.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.table import print_table

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PROBE_MS = 5
SECONDS = float(os.environ.get("BENCH_STUDIO_SECONDS", "20"))
CHECKPOINTS = 8
MASKS = 8


def _cli(*arguments: str) -> None:
    subprocess.run([sys.executable, "-m", "billet_studio", *arguments], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _probe(app, seconds: float) -> np.ndarray:
    """Lateness (ms) of a 5 ms repeating timer over ``seconds`` of the event loop."""
    from PySide6.QtCore import QTimer

    stamps: list[float] = []
    timer = QTimer()
    timer.setInterval(PROBE_MS)
    timer.timeout.connect(lambda: stamps.append(time.perf_counter()))
    timer.start()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.0005)
    timer.stop()
    intervals = np.diff(stamps) * 1000
    return np.maximum(intervals - PROBE_MS, 0.0)


def _row(name: str, lateness: np.ndarray) -> tuple:
    return (name, len(lateness), float(np.percentile(lateness, 50)),
            float(np.percentile(lateness, 99)), float(lateness.max()))


def _latency(root: Path, app) -> list[tuple]:
    from dataclasses import replace

    from billet_studio.gui.main_window import MainWindow
    from billet_studio.jobs import request_stop
    from billet_studio.synthesis.settings import load_synthesis_settings, save_synthesis_settings

    window = MainWindow()
    window.resize(1280, 800)
    window.show()
    window.open_project(root)
    project = window.project
    save_synthesis_settings(project, replace(load_synthesis_settings(project), size=512))
    window.pages.setCurrentWidget(window.train_page)
    for _ in range(200):  # let the pages settle (image list scan, first preview)
        app.processEvents()
        time.sleep(0.01)
    rows = [_row("idle studio (baseline)", _probe(app, SECONDS))]
    page = window.train_page
    page.kind.setCurrentText("gan")
    page.preset.setCurrentText("small")
    page.steps.setValue(1_000_000)
    page.name.setText("bench-latency")
    run = page.start_run()
    dialog = window.export_dataset()
    dialog.name.setText("bench-latency")
    dialog.images.setValue(400)
    dialog.synthetic.setValue(1.0)
    dialog.workers.setValue(1)
    dialog.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (page._curve and dialog.progress.value() > 0):
        app.processEvents()  # both children past their start-up (torch import, planning)
        time.sleep(0.01)
    loaded = _probe(app, SECONDS)
    rows.append(_row("training + export running", loaded))
    window.pages.setCurrentWidget(window.synth_page)
    shuffles = 0
    end = time.perf_counter() + SECONDS
    stamps: list[float] = []
    from PySide6.QtCore import QTimer

    timer = QTimer()
    timer.setInterval(PROBE_MS)
    timer.timeout.connect(lambda: stamps.append(time.perf_counter()))
    timer.start()
    while time.perf_counter() < end:  # the preview re-rendered as fast as it can
        if window.synth_page.preview is not None and shuffles < 10_000:
            window.synth_page.shuffle()
            shuffles += 1
        app.processEvents()
        time.sleep(0.0005)
    timer.stop()
    lateness = np.maximum(np.diff(stamps) * 1000 - PROBE_MS, 0.0)
    rows.append(_row("… and Synthesize re-rendering nonstop", lateness))
    dialog.cancel()
    request_stop(run)
    for process in [*page.started.values(), dialog.process]:
        if process is not None:
            process.wait(120)
    dialog.poll()
    window.synth_page.shutdown()
    window.close()
    return rows


def _grid(root: Path, app) -> list[tuple]:
    from billet_studio.annotations import Project
    from billet_studio.gan.comparison import COMPARE_FOLDER
    from billet_studio.gui.compare_page import ComparePage

    run = root / "runs" / "gan" / "bench-grid"
    _cli("gan", "train", str(root), "--preset", "small", "--steps", str(CHECKPOINTS),
         "--every", "1", "--run-name", "bench-grid", "--no-legibility")
    started = time.perf_counter()
    _cli("gan", "compare", str(run), "--project", str(root), "-n", str(MASKS))
    cli = time.perf_counter() - started
    rows = [("gan compare from the shell (baseline)", cli, 1.0)]
    for label, clear in (("studio grid, cold (child renders)", True),
                         ("studio grid, warm (cache)", False)):
        if clear:
            import shutil

            shutil.rmtree(run / COMPARE_FOLDER)
        page = ComparePage()
        page.resize(1400, 900)
        page.show()
        page.count.setValue(MASKS)
        started = time.perf_counter()
        page.set_project(Project.open(root))
        while len(page.loaded) < MASKS * CHECKPOINTS:
            app.processEvents()
            time.sleep(0.002)
            if time.perf_counter() - started > 600:
                raise TimeoutError("the grid did not fill in 10 minutes")
        seconds = time.perf_counter() - started
        rows.append((label, seconds, seconds / cli))
        if page.process is not None:
            page.process.wait(60)
        page.shutdown()
        page.close()
    return rows


def run() -> None:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "demo"
        _cli("demo", "init", str(root), "--billets", "40", "--test", "8", "--size", "384",
             "--workers", "1")
        print("   event-loop latency, 5 ms QTimer probe (ms late):")
        print_table(("while", "ticks", "p50", "p99", "max"), _latency(root, app))
        print(f"\n   checkpoint grid, {MASKS} masks x {CHECKPOINTS} checkpoints, small "
              "preset (s):")
        print_table(("fill", "seconds", "x baseline"), _grid(root, app))
