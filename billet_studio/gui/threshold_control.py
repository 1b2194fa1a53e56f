"""The error browser's score-threshold slider: every move re-matches the shown billet at
once (the page does that, one billet is a millisecond); when the slider rests, a worker
re-matches the whole evaluation into a scratch store, and the table and its counts switch
to it. Stores made for a threshold are kept until the evaluation changes."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import Qt, QThreadPool, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QWidget

from billet_studio.evaluation.rematch import rematch_store
from billet_studio.gui.worker_task import WorkerTask
from billet_studio.jobs import CancelToken

#: The slider's steps: hundredths of a score.
STEPS = 100
#: Re-matched stores kept for thresholds visited before (each is about as large as the
#: evaluation's own store); older ones are deleted.
KEEP = 3
#: Scratch folders older than this are left over from a studio that crashed: removed.
STALE_SECONDS = 24 * 3600
SCRATCH_PREFIX = "billet-studio-rematch-"


def remove_stale_scratch(now: float | None = None) -> int:
    """Delete scratch folders a crashed studio left in the temporary folder."""
    now = time.time() if now is None else now
    removed = 0
    for folder in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        try:
            if folder.is_dir() and now - folder.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        except OSError:
            continue  # removed meanwhile
    return removed


class ThresholdControl(QWidget):
    """``score_moved(score)`` on every move; ``store_ready(score, path)`` when the store
    matched at ``score`` is ready (the evaluation's own at its own threshold)."""

    score_moved = Signal(float)
    store_ready = Signal(float, Path)
    #: From the worker: (request, billets done, total, path or None, error).
    progressed = Signal(int, int, int, object, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, STEPS)
        self.slider.setToolTip("Score threshold: detections below it are ignored. The billet"
                               " re-matches as you drag; the table once you let go. The ID "
                               "reads (and CB raw/prior) stay the evaluation's.")
        self.value = QLabel()
        self.state = QLabel()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Score ≥"))
        row.addWidget(self.slider, 1)
        row.addWidget(self.value)
        row.addWidget(self.state)
        self.source: Path | None = None
        self.base_score = 0.5
        self.stores: dict[int, Path] = {}  # slider step -> store matched there
        self.scratch: Path | None = None
        self.request = 0
        self.cancel: CancelToken | None = None
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(350)
        self.timer.timeout.connect(self._settled)
        self.slider.valueChanged.connect(self._moved)
        self.progressed.connect(self._progressed)
        self.setEnabled(False)

    @property
    def score(self) -> float:
        return self.slider.value() / STEPS

    def set_evaluation(self, store: Path | None, base_score: float = 0.5) -> None:
        """Follow another evaluation (None: none); the slider goes to its threshold."""
        self._forget()
        self.source, self.base_score = store, base_score
        self.setEnabled(store is not None)
        self.slider.blockSignals(True)
        self.slider.setValue(round(base_score * STEPS))
        self.slider.blockSignals(False)
        self._show_value()
        self.state.setText("")

    def invalidate(self) -> None:
        """The evaluation's store changed (a billet re-scored): re-match again."""
        self._forget()
        if self.source is not None:
            self._settled()

    def _stop_work(self) -> None:
        """Make any result on its way stale, and ask its worker to stop."""
        self.request += 1
        if self.cancel is not None:
            self.cancel.cancel()
            self.cancel = None

    def _forget(self) -> None:
        self.timer.stop()
        self._stop_work()
        self.stores = {}
        old, self.scratch = self.scratch, None
        if old is not None:  # a worker still writing there fails, and its result is stale
            shutil.rmtree(old, ignore_errors=True)

    def _show_value(self) -> None:
        mark = " (evaluation's)" if self.slider.value() == round(self.base_score * STEPS) else ""
        self.value.setText(f"{self.score:.2f}{mark}")

    def _moved(self, _value: int) -> None:
        self._stop_work()  # what it was making is for a score no longer asked for
        self._show_value()
        self.score_moved.emit(self.score)
        self.timer.start()

    def _settled(self) -> None:
        """The slider rests: hand over the store matched at its score, making it if new."""
        if self.source is None:
            return
        step = self.slider.value()
        self._stop_work()
        if step == round(self.base_score * STEPS):
            self.state.setText("")
            self.store_ready.emit(self.score, self.source)
            return
        if step in self.stores:
            self.state.setText("")
            self.store_ready.emit(self.score, self.stores[step])
            return
        if self.scratch is None:
            remove_stale_scratch()
            self.scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
        out = self.scratch / f"score-{step:03d}.sqlite"
        request, source, score = self.request, self.source, self.score
        cancel = self.cancel = CancelToken()
        self.state.setText("re-matching…")
        self.pool.start(WorkerTask(lambda: self._rematch(request, source, score, out, cancel)))

    def _rematch(self, request: int, source: Path, score: float, out: Path,
                 cancel: CancelToken) -> None:
        try:  # on the worker
            for progress in rematch_store(source, score, out, cancel, durable=False):
                self.progressed.emit(request, progress.step, progress.total or 0, None, "")
            if not cancel.cancelled:
                self.progressed.emit(request, 0, 0, out, "")
        except Exception as error:  # reported on the GUI thread, never lost
            self.progressed.emit(request, 0, 0, None, str(error))

    def _progressed(self, request: int, done: int, total: int, path: object,
                    error: str) -> None:
        if request != self.request:
            return  # the slider moved on
        if error:
            self.state.setText(f"⚠ {error}")
        elif path is None:
            self.state.setText(f"re-matching… {100 * done // max(total, 1)} %")
        else:
            self.state.setText("")
            self.stores[self.slider.value()] = Path(path)
            while len(self.stores) > KEEP:  # the oldest is no longer shown: drop it
                Path(self.stores.pop(next(iter(self.stores)))).unlink(missing_ok=True)
            self.store_ready.emit(self.score, Path(path))

    def shutdown(self) -> None:
        self.timer.stop()
        self._stop_work()
        self.pool.clear()
        self.pool.waitForDone()
        self._forget()
