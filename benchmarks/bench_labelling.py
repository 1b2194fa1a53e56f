"""The labelling page's speed: frame times while panning and zooming over 2,000 polygons
(offscreen), and opening a 10,000-image project folder.

Baselines in the same run: the same frames with the image alone (what the shapes cost),
and reading every image's summary before listing it (what opening cost before the list
became lazy). Goals: p95 frame under 16 ms; the folder listed in under 2 s.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.table import print_table

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

POLYGONS = int(os.environ.get("BENCH_LABEL_POLYGONS", "2000"))
IMAGES = int(os.environ.get("BENCH_LABEL_IMAGES", "10000"))
FRAMES = 120


def _scene_shapes(rng: np.random.Generator, size: int) -> list:
    from billet_studio.annotations import Shape

    shapes = []
    columns = int(np.ceil(np.sqrt(POLYGONS)))
    cell = size / columns
    for index in range(POLYGONS):
        cx, cy = (index % columns + 0.5) * cell, (index // columns + 0.5) * cell
        angles = np.sort(rng.uniform(0, 2 * np.pi, 14))
        radius = cell * rng.uniform(0.25, 0.45, 14)
        points = tuple((round(float(cx + r * np.cos(a)), 2), round(float(cy + r * np.sin(a)), 2))
                       for a, r in zip(angles, radius, strict=True))
        shapes.append(Shape("0123456789ABCDEF"[index % 16], points,
                            flags={"partial": index % 7 == 0}))
    return shapes


def _frame_times(canvas, app) -> tuple[float, float]:
    """p50 and p95 milliseconds of repainting the viewport after each pan or zoom step."""
    times = []
    viewport = canvas.viewport()
    horizontal = canvas.horizontalScrollBar()
    for frame in range(FRAMES):
        if frame % 40 == 0:
            canvas.fit_to_window() if frame == 0 else canvas.zoom_in()
        horizontal.setValue(horizontal.value() + (25 if (frame // 20) % 2 == 0 else -25))
        start = time.perf_counter()
        viewport.repaint()
        app.processEvents()
        times.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def _frames() -> list[tuple]:
    from PySide6.QtWidgets import QApplication

    from billet_studio.annotations import ImageRecord, Project
    from billet_studio.gui.canvas.label_canvas import LabelCanvas
    from billet_studio.gui.label_session import LabelSession

    app = QApplication.instance() or QApplication([])
    rng = np.random.default_rng(0)
    size = 4000
    pixels = rng.integers(60, 200, (size, size, 3), dtype=np.uint8)
    rows = []
    with tempfile.TemporaryDirectory() as temp:
        project = Project.create(Path(temp) / "p")
        shapes_drawn = tuple(_scene_shapes(rng, size))
        record = ImageRecord(Path(temp) / "p" / "x.png", size, size, shapes_drawn)
        for label, shapes in (("image only (baseline)", ()), (f"{POLYGONS} polygons", None)):
            canvas = LabelCanvas()
            canvas.resize(1280, 800)
            canvas.show()
            session = LabelSession(project, record if shapes is None else
                                   ImageRecord(record.image_path, size, size, ()))
            started = time.perf_counter()
            canvas.show_session(pixels, session)
            shown = time.perf_counter() - started
            p50, p95 = _frame_times(canvas, app)
            rows.append((label, f"{p50:.1f}", f"{p95:.1f}", f"{shown * 1000:.0f}"))
            canvas.close()
            session.close(discard=True)
    base = float(rows[0][2])
    return [(*row, f"{float(row[2]) / base:.2f}x") for row in rows]


def _folder() -> list[tuple]:
    from PIL import Image
    from PySide6.QtWidgets import QApplication

    from billet_studio.annotations import ImageRecord, Project, Shape
    from billet_studio.gui.image_loading import summarize_image
    from billet_studio.gui.label_page import LabelPage

    app = QApplication.instance() or QApplication([])
    rows = []
    with tempfile.TemporaryDirectory() as temp:
        project = Project.create(Path(temp) / "big")
        images = project.root / "images"
        images.mkdir()
        tiny = Image.fromarray(np.full((8, 8, 3), 128, np.uint8))
        for index in range(IMAGES):
            path = images / f"billet_{index:05d}.png"
            tiny.save(path)
            if index % 2 == 0:
                project.save_record(ImageRecord(path, 8, 8, (Shape("1", ((1, 1), (5, 1),
                                                                           (5, 5))),)))
        project = Project.open(project.root)
        started = time.perf_counter()
        for path in project.image_paths():
            summarize_image(project, path)
        eager = time.perf_counter() - started
        rows.append(("read every summary, then list (baseline)", f"{eager:.2f}", "", "1.00x"))
        page = LabelPage()
        started = time.perf_counter()
        page.set_project(project)
        listed = time.perf_counter() - started
        while not page.idle():
            app.processEvents()
            time.sleep(0.001)
        complete = time.perf_counter() - started
        rows.append(("lazy list (names at once, details scanned)", f"{listed:.2f}",
                     f"{complete:.2f}", f"{listed / eager:.2f}x"))
        page.shutdown()
    return rows


def _large_image() -> list[tuple]:
    """How long the GUI thread stalls while an 8000x8000 photograph opens: a 5 ms timer
    records the longest gap between its ticks (the event loop's freeze)."""
    import cv2
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from billet_studio.annotations import Project
    from billet_studio.gui.label_page import LabelPage

    app = QApplication.instance() or QApplication([])
    rows = []
    with tempfile.TemporaryDirectory() as temp:
        project = Project.create(Path(temp) / "large")
        images = project.root / "images"
        images.mkdir()
        side = 8000
        ramp = np.linspace(60, 200, side, dtype=np.float32)
        face = (ramp[None, :] * 0.5 + ramp[:, None] * 0.5).astype(np.uint8)
        cv2.imwrite(str(images / "a_small.jpg"), np.full((64, 64, 3), 128, np.uint8))
        cv2.imwrite(str(images / "b_large.jpg"), cv2.merge([face, face, face]))
        page = LabelPage()
        page.resize(1280, 800)
        page.show()
        page.set_project(project)
        while not page.idle():
            app.processEvents()
        page.pool.waitForDone()  # the prefetch of the large image, if it started
        page.pixels._cache.clear()  # measure a cold open
        ticks: list[float] = []
        timer = QTimer()
        timer.setInterval(5)
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
        timer.start()
        started = time.perf_counter()
        page.select_image(1)
        returned = time.perf_counter() - started
        while not page.idle():
            app.processEvents()
        shown = time.perf_counter() - started
        timer.stop()
        gaps = np.diff([started, *ticks]) * 1000 if ticks else np.array([shown * 1000])
        rows.append((f"{side}x{side} JPEG, cold", f"{returned * 1000:.0f}", f"{shown:.2f}",
                     f"{gaps.max():.0f}"))
        page.shutdown()
    return rows


def run() -> None:
    print_table(("canvas (4000x4000 image, 1280x800 view)", "p50 ms", "p95 ms",
                 "show ms", "p95 / baseline"), _frames())
    print()
    print_table((f"open a {IMAGES:,}-image project", "listed s", "details s",
                 "listed / baseline"), _folder())
    print()
    print_table(("open a large photograph", "select returns ms", "shown s",
                 "longest GUI stall ms"), _large_image())
