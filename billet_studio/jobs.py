"""The job protocol: progress reports, cancellation, stop-request files and JSONL logs.

A job is a generator ``run(config, cancel) -> Iterator[Progress]``; every yield is both a
progress report and a point where the job honours a cancel request.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Progress:
    """One report from a running job."""

    step: int
    total: int | None = None
    message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    preview: str | None = None

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.step / self.total)


class JobCancelled(Exception):
    """Raised by a runner when a job stopped because it was asked to."""


class CancelToken:
    """A cancel request that a job polls between yields.

    Set from another thread with :meth:`cancel`, or from another process (the studio, a
    later studio session) by creating the stop-request file of the run.
    """

    def __init__(self, stop_file: Path | None = None) -> None:
        self._event = threading.Event()
        self.stop_file = stop_file

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        if self._event.is_set():
            return True
        if self.stop_file is not None and self.stop_file.exists():
            self._event.set()
            return True
        return False


STOP_REQUEST_NAME = "STOP"


def request_stop(run_dir: Path, reason: str = "stop") -> Path:
    """Ask the job running in ``run_dir`` to stop at its next yield; ``reason`` "stop"
    (a pause: resume later) or "cancel" (the run is given up)."""
    if reason not in ("stop", "cancel"):
        raise ValueError(f"a stop request is 'stop' or 'cancel', not {reason!r}")
    path = run_dir / STOP_REQUEST_NAME
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(f"{reason} requested at {time.time():.3f}\n")
        stream.flush()
        os.fsync(stream.fileno())
    return path


def stop_reason(run_dir: Path) -> str | None:
    """"stop" or "cancel" while a stop request is pending in ``run_dir``, else None."""
    try:
        text = (run_dir / STOP_REQUEST_NAME).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return "cancel" if text.startswith("cancel") else "stop"


class JsonlProgressWriter:
    """Appends each progress report as one JSON line, flushed, so a reader can tail it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, progress: Progress) -> None:
        record = {"time": round(time.time(), 3), **asdict(progress)}
        line = json.dumps(record, sort_keys=True) + "\n"
        with open(self.path, "a", encoding="utf-8") as stream:
            stream.write(line)
            stream.flush()
            os.fsync(stream.fileno())


def read_progress_log(path: Path) -> list[Progress]:
    """Read a JSONL progress log; a torn last line (a crash mid-write) is skipped."""
    reports: list[Progress] = []
    if not path.exists():
        return reports
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        record.pop("time", None)
        reports.append(Progress(**record))
    return reports


def drive(job: Iterator[Progress], cancel: CancelToken) -> Iterator[Progress]:
    """Run a job, forwarding its reports, and stop it at the first yield after a cancel."""
    try:
        for progress in job:
            yield progress
            if cancel.cancelled:
                raise JobCancelled(progress.message or "cancelled")
    finally:
        close = getattr(job, "close", None)
        if close is not None:
            close()
