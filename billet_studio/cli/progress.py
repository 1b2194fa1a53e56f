"""Showing a job's progress on the terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import Any


class ProgressBar:
    """A one-line terminal progress bar with an ETA (plain lines when not a terminal)."""

    def __init__(self, label: str, stream: Any = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last_print = 0.0

    def update(self, done: int, total: int | None, message: str = "") -> None:
        now = time.monotonic()
        if self.interactive and now - self.last_print < 0.1 and done != total:
            return
        self.last_print = now
        if total:
            elapsed = now - self.start
            eta = elapsed / done * (total - done) if done else 0.0
            filled = int(30 * done / total)
            text = (f"{self.label} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total} "
                    f"ETA {eta:4.0f}s {message[:40]}")
        else:
            text = f"{self.label} {done} {message[:60]}"
        if self.interactive:
            self.stream.write("\r" + text.ljust(110))
        elif done == total or done % max(1, (total or 500) // 10) == 0:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()


def run_job(label: str, job: Iterable[Any]) -> None:
    bar = ProgressBar(label)
    try:
        for progress in job:
            bar.update(progress.step, progress.total, progress.message)
    finally:
        bar.close()


