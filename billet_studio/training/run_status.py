"""What a training run is doing, read from its folder alone, so any process (the studio
after a restart, a script) can follow a run it did not start.

A run is *running* while a live process holds its lock (``run_lock``). When the training
driver ends it writes ``exit.json``: finished, stopped (Pause: a STOP file or Ctrl-C),
cancelled (a Cancel request in the STOP file) or failed
(with the error). A folder with no live holder and no ``exit.json`` for its last start
was killed: it reads as failed, "ended without a word". ``LogTail`` reads the progress
log incrementally for live curves.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from billet_studio.annotations import atomic_write_json
from billet_studio.training.run_lock import lock_holder

EXIT_NAME = "exit.json"
LOG_NAME = "log.jsonl"
#: What a run's process printed, when the studio started it (gui/child_runs).
CONSOLE_NAME = "console.log"
#: A detector run's first phase, pretraining its backbone, logs here.
PRETRAIN_LOG = "pretrain/log.jsonl"
STATES = ("running", "finished", "stopped", "cancelled", "failed", "new")


def write_exit(run_dir: Path, state: str, detail: str = "") -> None:
    """Record how the training process ended (called by the driver on its way out)."""
    atomic_write_json(Path(run_dir) / EXIT_NAME, {"state": state, "detail": detail,
                                                  "time": round(time.time(), 3)})


def clear_exit(run_dir: Path) -> None:
    """A new start: the previous ending no longer describes the run."""
    (Path(run_dir) / EXIT_NAME).unlink(missing_ok=True)


class LogTail:
    """The new complete records of a growing JSONL log since the last read."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.offset = 0
        self._partial = b""
        self._identity: tuple[int, int] | None = None

    def read_new(self) -> list[dict[str, Any]]:
        """Records appended since the last read; a log replaced by a new one (another
        file, or a shorter one) is read from its start."""
        try:
            with open(self.path, "rb") as stream:
                stat = os.fstat(stream.fileno())
                identity = (stat.st_dev, stat.st_ino)
                if identity != self._identity or stat.st_size < self.offset:
                    self._identity, self.offset, self._partial = identity, 0, b""
                stream.seek(self.offset)
                data = stream.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()  # an unfinished last line waits for the next read
        records = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a torn line from a killed writer
            if isinstance(record, dict):
                records.append(record)
        return records


@dataclass(frozen=True)
class RunStatus:
    """A run's state, last logged step and, for a failed run, why (or its last log lines)."""

    run_dir: Path
    state: str
    step: int = 0
    total: int | None = None
    detail: str = ""
    holder: dict[str, Any] | None = None
    last_lines: tuple[str, ...] = field(default_factory=tuple)


def _last_lines(path: Path, count: int = 5) -> tuple[str, ...]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return ()
    return tuple(lines[-count:])


def pretraining_progress(run_dir: Path) -> dict[str, Any] | None:
    """The last record of a run's pretraining phase, while its training has not logged yet
    (None once it has, or for runs without that phase)."""
    run_dir = Path(run_dir)
    if (run_dir / LOG_NAME).exists():
        return None
    for line in reversed(_last_lines(run_dir / PRETRAIN_LOG, 2)):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            return record
    return None


def run_status(run_dir: Path) -> RunStatus:
    run_dir = Path(run_dir)
    log = run_dir / LOG_NAME
    lines = _last_lines(log)
    step, total = 0, None
    for line in reversed(lines):
        try:
            record = json.loads(line)
            step, total = int(record["step"]), record.get("total")
            break
        except (ValueError, KeyError, TypeError):
            continue
    holder = lock_holder(run_dir)
    if holder is not None:
        return RunStatus(run_dir, "running", step, total, holder=holder)
    try:
        ended = json.loads((run_dir / EXIT_NAME).read_text(encoding="utf-8"))
        return RunStatus(run_dir, str(ended.get("state", "failed")), step, total,
                         str(ended.get("detail", "")), last_lines=lines)
    except FileNotFoundError:
        pass
    except ValueError:
        return RunStatus(run_dir, "failed", step, total, f"{EXIT_NAME} is unreadable",
                         last_lines=lines)
    if not log.exists() and not (run_dir / CONSOLE_NAME).exists():
        return RunStatus(run_dir, "new")
    if total and step >= int(total):  # every step logged (a run older than exit.json)
        return RunStatus(run_dir, "finished", step, total, last_lines=lines)
    return RunStatus(run_dir, "failed", step, total,
                     "the process ended without a word (killed, out of memory, or an error "
                     "before training: see its last lines)", last_lines=lines)


def find_runs(project_root: Path) -> list[RunStatus]:
    """Every GAN and detector run of a project, newest first."""
    runs = [path for kind in ("gan", "detector")
            for path in (Path(project_root) / "runs" / kind).glob("*") if path.is_dir()]
    runs.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [run_status(path) for path in runs]
