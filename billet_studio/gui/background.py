"""Work the labelling page keeps off the GUI thread: decoding photographs (with a small
prefetch cache for the neighbours of the open image) and reading every image's summary for
the list after a project opens. Results arrive as signals on the GUI thread.

Threading model: one QThreadPool owned by the page; each task is a QRunnable that calls a
Qt-free function (``read_image``, ``summarize_image``) and emits through a QObject that
lives on the GUI thread, so Qt queues the delivery. A scan honours cancellation between
images; :meth:`shutdown` cancels and waits, so no thread outlives the page.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, Signal
from PySide6.QtGui import QImage

from billet_studio.annotations import AnnotationError, Project, read_image
from billet_studio.gui.image_loading import ImageSummary, describe_error, summarize_image
from billet_studio.gui.image_view import display_image
from billet_studio.gui.worker_task import WorkerTask

#: Decoded photographs kept: the open one, its neighbours, and a little history...
CACHE_SIZE = 5
#: ...within this many bytes (pixels plus display image), however big the photographs.
CACHE_BYTES = 1 << 30


@dataclass(frozen=True, eq=False)
class Photo:
    """A decoded photograph: its RGB pixels and the 32-bit image the canvas displays."""

    pixels: np.ndarray
    display: QImage

    @property
    def size_bytes(self) -> int:
        return int(self.pixels.nbytes + self.display.sizeInBytes())
#: Summaries are delivered in batches of this many (fewer signals for big folders).
SUMMARY_BATCH = 64



class PixelLoader(QObject):
    """Decodes photographs on worker threads; keeps the last few in memory."""

    #: (path, Photo or None, error message or None), on the GUI thread.
    decoded = Signal(Path, object, object)

    def __init__(self, pool: QThreadPool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self._cache: OrderedDict[Path, tuple[float, Photo]] = OrderedDict()
        self._pending: set[Path] = set()
        self._lock = threading.Lock()

    def cached(self, path: Path) -> Photo | None:
        """The decoded photograph if it is in memory and the file has not changed since."""
        with self._lock:
            entry = self._cache.get(path)
            try:
                if entry is not None and entry[0] == path.stat().st_mtime:
                    self._cache.move_to_end(path)
                    return entry[1]
            except OSError:
                pass
            return None

    def request(self, path: Path) -> None:
        """Decode ``path`` unless it is cached or already being decoded (then ``decoded``
        fires when it is done)."""
        with self._lock:
            if path in self._pending:
                return
            self._pending.add(path)
        self.pool.start(WorkerTask(lambda: self._decode(path)))

    def prefetch(self, paths: Sequence[Path]) -> None:
        for path in paths:
            if self.cached(path) is None:
                self.request(path)

    def _decode(self, path: Path) -> None:
        photo, error, mtime = None, None, 0.0
        try:
            mtime = path.stat().st_mtime
            pixels = read_image(path)
            photo = Photo(pixels, display_image(pixels))
        except AnnotationError as problem:
            error = describe_error(problem)
        except OSError as problem:
            error = f"{path.name}: cannot be read ({problem.strerror or problem})"
        except Exception as problem:  # e.g. MemoryError: the page must still hear back
            error = f"{path.name}: cannot be decoded ({type(problem).__name__}: {problem})"
        finally:
            with self._lock:
                self._pending.discard(path)
                if photo is not None:  # cached before the signal, so its slot finds it
                    self._cache[path] = (mtime, photo)
                    self._cache.move_to_end(path)
                    while len(self._cache) > 1 and (
                            len(self._cache) > CACHE_SIZE
                            or sum(p.size_bytes for _, p in self._cache.values()) > CACHE_BYTES):
                        self._cache.popitem(last=False)
        self.decoded.emit(path, photo, error)


class SummaryScanner(QObject):
    """Reads each image's summary (sidecar + image header, no decoding) in the background,
    so a big project folder lists its images at once and fills in the details."""

    #: (scan number, list of (index, ImageSummary)), on the GUI thread.
    summaries = Signal(int, list)
    #: The scan with this number reached the end (or was cancelled).
    finished = Signal(int)

    def __init__(self, pool: QThreadPool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self._stop = threading.Event()
        self._done = threading.Event()
        self._done.set()
        #: Numbers each scan, so late signals of a cancelled one can be told apart.
        self.generation = 0

    def scan(self, project: Project, paths: Sequence[Path]) -> None:
        self.cancel()
        self.generation += 1
        self._stop = threading.Event()
        self._done = threading.Event()
        stop, done, paths, number = self._stop, self._done, list(paths), self.generation

        def work() -> None:
            try:
                batch: list[tuple[int, ImageSummary]] = []
                for index, path in enumerate(paths):
                    if stop.is_set():
                        return
                    batch.append((index, summarize_image(project, path)))
                    if len(batch) >= SUMMARY_BATCH:
                        self.summaries.emit(number, batch)
                        batch = []
                if batch:
                    self.summaries.emit(number, batch)
            finally:
                done.set()
                self.finished.emit(number)

        self.pool.start(WorkerTask(work))

    def cancel(self) -> None:
        """Stop the scan at the next image and wait for it."""
        self._stop.set()
        self._done.wait(5.0)

    @property
    def running(self) -> bool:
        return not self._done.is_set()
