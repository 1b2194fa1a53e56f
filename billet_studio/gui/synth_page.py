"""The synthesis workbench page: a live synthetic billet with its labels drawn, made again
on demand (Shuffle) and whenever a setting changes; the settings are saved to the
project's ``project.toml`` (debounced), where ``synth preview`` and ``dataset build`` read
them.

Threading model: renders run on the page's one-thread QThreadPool through a
``BilletWorkbench`` (which keeps the faces, glyphs and GAN renderer between renders);
each request is numbered, a queued request that a newer one superseded is skipped, and a
result that is not the newest request's is dropped. Torch is imported on that thread
only, when the GAN renderer is first needed.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRectF, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QImage, QPen
from PySide6.QtWidgets import (
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from billet_studio.annotations import AnnotationError, Project, Stamp
from billet_studio.annotations.project import PROJECT_FILE
from billet_studio.gui.image_view import ImageView, display_image
from billet_studio.gui.page_layout import split_page
from billet_studio.gui.stamp_items import ROLE_KEY, visibility_colour
from billet_studio.gui.synth_controls import SynthControls
from billet_studio.gui.worker_task import WorkerTask
from billet_studio.synthesis.compose import Renderer, SyntheticBillet
from billet_studio.synthesis.settings import (
    SynthesisSettings,
    load_synthesis_settings,
    save_synthesis_settings,
)
from billet_studio.synthesis.workbench import BilletWorkbench

RENDER_DELAY_MS = 150
SAVE_DELAY_MS = 500
BOX_ROLE = "synthetic-box"


def load_gan_renderer(pool: Sequence[tuple[Path, float]]) -> Renderer:
    """A pix2pix renderer over ``pool`` (called on the worker thread: torch loads there)."""
    import torch

    from billet_studio.gan.render import StampRenderer

    torch.set_num_threads(1)
    return StampRenderer(pool)


def bundled_generator() -> Path | None:
    from billet_studio.gan.bundled import bundled_generator_path

    return bundled_generator_path()


def describe_problem(problem: BaseException) -> str:
    """A one-line message (an AnnotationError's already names its file)."""
    if isinstance(problem, (AnnotationError, ValueError)):
        return str(problem)
    return f"{type(problem).__name__}: {problem}"


@dataclass(frozen=True, eq=False)
class RenderedPreview:
    """A finished render: the billet, its display image (made on the worker) and seed."""

    billet: SyntheticBillet
    display: QImage
    seed: int
    renderer: str



class PreviewRenderer(QObject):
    """Renders preview billets off the GUI thread, newest request first."""

    #: (request number, RenderedPreview or None, error message or ""), on the GUI thread.
    rendered = Signal(int, object, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.workbench = BilletWorkbench()
        self.latest = 0
        self._reread = threading.Event()

    def request(self, project: Project, settings: SynthesisSettings, seed: int,
                reread: bool = False) -> int:
        """Queue a render (``reread``: read the project's faces and glyphs again first);
        returns its number."""
        if reread:
            self._reread.set()
        self.latest += 1
        number = self.latest
        self.pool.start(WorkerTask(lambda: self._render(number, project, settings, seed)))
        return number

    def _render(self, number: int, project: Project, settings: SynthesisSettings,
                seed: int) -> None:
        if number != self.latest:
            return  # superseded while queued
        result, error = None, ""
        try:
            if self._reread.is_set():
                self._reread.clear()
                self.workbench.forget_sources()
            renderer = self.workbench.renderer(project, settings, load_gan_renderer,
                                               bundled_generator())
            billet = self.workbench.render(project, settings, renderer, seed)
            result = RenderedPreview(billet, display_image(billet.image), seed,
                                     settings.renderer)
        except Exception as problem:  # shown on the page; never raised into Qt
            error = describe_problem(problem)
        self.rendered.emit(number, result, error)

    def shutdown(self) -> None:
        """Skip what is queued and wait for the render in progress."""
        self.latest += 1
        self.pool.clear()
        self.pool.waitForDone()


class PreviewView(ImageView):
    """The image view, plus each stamp's box; keeps the zoom across re-renders."""

    def show_billet(self, billet: SyntheticBillet, display: QImage) -> None:
        size = billet.image.shape[1], billet.image.shape[0]
        same = (self.image_rect.width(), self.image_rect.height()) == size
        keep = same and not self._fitting
        transform = self.transform()
        scroll = self.horizontalScrollBar().value(), self.verticalScrollBar().value()
        self.show_image(billet.image, [stamp_of(s) for s in billet.stamps], display)
        for stamp in billet.stamps:
            pen = QPen(visibility_colour(stamp.visibility), 1.0, Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
            box = QGraphicsRectItem(QRectF(stamp.box.x0, stamp.box.y0, stamp.box.width,
                                           stamp.box.height))
            box.setPen(pen)
            box.setData(ROLE_KEY, BOX_ROLE)
            self.scene().addItem(box)
        if keep:
            self._fitting = False
            self.setTransform(transform)
            self.horizontalScrollBar().setValue(scroll[0])
            self.verticalScrollBar().setValue(scroll[1])

    def items_of_role(self, role: str) -> list[Any]:
        return [item for item in self.scene().items() if item.data(ROLE_KEY) == role]


def stamp_of(stamp: Any) -> Stamp:
    """A synthetic stamp as the labelling page's Stamp (to draw it the same way)."""
    return Stamp(stamp.label, stamp.box, stamp.polygons, partial=stamp.visibility == "partial",
                 poor=stamp.visibility == "poor")


class SynthPage(QWidget):
    """Tune synthesis by eye on one live billet; the settings go to project.toml."""

    #: A sentence for the status bar.
    message = Signal(str)
    #: The settings were written to project.toml.
    settings_saved = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        #: The project's settings as last read; the form's values go over them.
        self.base = SynthesisSettings()
        self.seed = 0
        self.preview: RenderedPreview | None = None
        self._requested = 0
        self._load_failed = False
        self._pending = False  # a render waits for the page to be shown
        self.worker = PreviewRenderer(self)
        self.worker.rendered.connect(self._rendered)
        self.controls = SynthControls()
        self.controls.changed.connect(self._edited)
        self.shuffle_button = QPushButton("Shuffle")
        self.shuffle_button.setToolTip("Another billet: a new face, ID and layout")
        self.shuffle_button.clicked.connect(self.shuffle)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #d03030")
        self.problem.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem.hide()
        self.view = PreviewView()
        self.caption = QLabel()
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.controls)
        left = QWidget()
        left.setMinimumWidth(360)
        column = QVBoxLayout(left)
        column.addWidget(scroll, 1)
        column.addWidget(self.shuffle_button)
        column.addWidget(self.problem)
        right = QWidget()
        column = QVBoxLayout(right)
        column.addWidget(self.view, 1)
        row = QHBoxLayout()
        row.addWidget(self.caption, 1)
        column.addLayout(row)
        split_page(self, left, right)
        self.render_timer = QTimer(self)
        self.render_timer.setSingleShot(True)
        self.render_timer.setInterval(RENDER_DELAY_MS)
        self.render_timer.timeout.connect(self.render_now)
        self.save_timer = QTimer(self)
        self.save_timer.setSingleShot(True)
        self.save_timer.setInterval(SAVE_DELAY_MS)
        self.save_timer.timeout.connect(self.save_now)
        self._set_enabled(False)

    # -- project -----------------------------------------------------------------------

    def set_project(self, project: Project | None) -> None:
        """Show ``project``'s settings and a billet of it (None: an empty page)."""
        self.flush()
        self.project = project
        self.preview = None
        self._requested = 0  # results for the old project are stale
        self.view.show_image(None)
        self.caption.clear()
        self._set_enabled(project is not None)
        if project is None:
            self._show_problem("")
            return
        self._read_settings()
        self._render_when_shown(reread=True)

    def reload_settings(self) -> None:
        """Read the settings from project.toml again (another page or the CLI changed them,
        e.g. the GAN pool) and render with them."""
        if self.project is None:
            return
        self.flush()  # the user's pending edits first (only the fields they changed)
        self._read_settings()  # load_synthesis_settings reads the file afresh
        self._render_when_shown(reread=True)

    def _render_when_shown(self, reread: bool) -> None:
        """Render now if the page is on screen, else when it is first shown (a GAN pool is
        not loaded for a page nobody looks at)."""
        if self.isVisible():
            self.render_now(reread=reread)
        else:
            self._pending = True

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._pending and self.project is not None:
            self._pending = False
            self.render_now(reread=True)

    def _read_settings(self) -> None:
        assert self.project is not None
        try:
            self.base = load_synthesis_settings(self.project)
            self._load_failed = False
            self._show_problem("")
        except AnnotationError as error:
            self.base = SynthesisSettings()
            self._load_failed = True
            self._report(f"{error} (the defaults are shown; changes are not saved until it "
                         "is fixed)")
        self.controls.set_settings(self.base)

    def shutdown(self) -> None:
        """Save pending changes and wait for the render in progress."""
        self.render_timer.stop()
        self.flush()
        self.worker.shutdown()

    def flush(self) -> None:
        """Save now if a save is pending."""
        if self.save_timer.isActive():
            self.save_timer.stop()
            self.save_now()

    # -- settings ----------------------------------------------------------------------

    def current_settings(self) -> SynthesisSettings:
        """The settings the form shows (ValueError for a bad combination)."""
        return replace(self.base, **self.controls.edited_values())

    def _edited(self) -> None:
        try:
            self.current_settings()
        except ValueError as error:
            self.render_timer.stop()
            self.save_timer.stop()
            self._report(f"not applied: {error}")
            return
        self._show_problem("")
        self.render_timer.start()
        if not self._load_failed:
            self.save_timer.start()

    def save_now(self) -> bool:
        """Write the form's settings to project.toml over the project's current ones (so
        a pool another page saved is kept); False, with a message, when they are not."""
        if self.project is None or self._load_failed:
            return False
        try:
            settings = replace(load_synthesis_settings(self.project),
                               **self.controls.edited_values())
            save_synthesis_settings(self.project, settings)
        except (ValueError, AnnotationError, OSError) as error:
            self._report(f"settings not saved: {describe_problem(error)}")
            return False
        self.base = settings
        self.settings_saved.emit()
        self.message.emit(f"Saved the synthesis settings to {PROJECT_FILE}")
        return True

    # -- rendering ---------------------------------------------------------------------

    def shuffle(self) -> None:
        """Render another billet (a new seed)."""
        seed = self.seed
        while seed == self.seed:
            seed = random.randrange(2**31)
        self.seed = seed
        self.render_now()

    def render_now(self, reread: bool = False) -> None:
        """Ask the worker for a billet with the form's settings (a newer request wins)."""
        self.render_timer.stop()
        if self.project is None:
            return
        try:
            settings = self.current_settings()
        except ValueError as error:
            self._report(f"not applied: {error}")
            return
        self._requested = self.worker.request(self.project, settings, self.seed, reread)
        self.caption.setText(f"rendering… (seed {self.seed})")

    def _rendered(self, number: int, result: RenderedPreview | None, error: str) -> None:
        if number != self._requested:
            return  # a newer request is on its way
        if result is None:
            self.preview = None
            self.view.show_image(None)
            self.caption.setText(f"no billet (seed {self.seed})")
            self._report(error)
            return
        self.preview = result
        self._show_problem("")
        billet = result.billet
        self.view.show_billet(billet, result.display)
        counts = {v: sum(s.visibility == v for s in billet.stamps) for v in
                  ("well", "partial", "poor")}
        stamps = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
        self.caption.setText(f"{billet.text}  ·  visibility: {billet.visibility}  ·  "
                             f"{len(billet.stamps)} stamps ({stamps or 'none'})  ·  "
                             f"{result.renderer}  ·  seed {result.seed}"
                             + (f"  ·  ⚠ {len(billet.warnings)} dropped"
                                if billet.warnings else ""))

    # -- feedback ----------------------------------------------------------------------

    def _report(self, text: str) -> None:
        self._show_problem(text)
        self.message.emit(f"⚠ {text}")

    def _show_problem(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.setVisible(bool(text))

    def _set_enabled(self, enabled: bool) -> None:
        self.controls.setEnabled(enabled)
        self.shuffle_button.setEnabled(enabled)

