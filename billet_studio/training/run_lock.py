"""The lock a training process holds on its run folder: it tells a live run from a dead one
(so the studio can reattach after a restart) and keeps two processes out of one run.

The file ``run.lock`` says who holds it (pid, host, start time); the operating system's
advisory lock on it (``flock``; ``msvcrt.locking`` on Windows) is what counts. The OS drops
that lock when the process exits however it dies, so a crashed run never looks alive, and
no stale pid is ever guessed at.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import IO, Any

from billet_studio.annotations import AnnotationError

LOCK_NAME = "run.lock"

try:  # POSIX
    import fcntl

    def _try_lock(stream: IO[str]) -> bool:
        try:
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True

    def _unlock(stream: IO[str]) -> None:
        fcntl.flock(stream.fileno(), fcntl.LOCK_UN)
except ImportError:  # Windows
    import msvcrt

    def _try_lock(stream: IO[str]) -> bool:
        try:
            stream.seek(0)
            msvcrt.locking(stream.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(stream: IO[str]) -> None:
        stream.seek(0)
        msvcrt.locking(stream.fileno(), msvcrt.LK_UNLCK, 1)


class RunBusy(AnnotationError):
    """Another live process is training in this run folder."""


def lock_holder(run_dir: Path) -> dict[str, Any] | None:
    """Who is training in ``run_dir`` now (pid, host, started), or None if nobody is."""
    path = Path(run_dir) / LOCK_NAME
    try:
        stream = open(path, "r+", encoding="utf-8")  # noqa: SIM115 (kept open to probe)
    except FileNotFoundError:
        return None
    with stream:
        if _try_lock(stream):
            _unlock(stream)
            return None
        try:
            return json.loads(stream.read() or "{}")
        except json.JSONDecodeError:
            return {}


class RunLock:
    """Held while this process trains in a run folder (a context manager)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self._stream: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        stream = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held until release)
        if not _try_lock(stream):
            stream.seek(0)
            holder = stream.read()
            stream.close()
            try:
                who = json.loads(holder)
                named = f"process {who.get('pid')} on {who.get('host')}"
            except json.JSONDecodeError:
                named = "another process"
            raise RunBusy(self.path.parent, f"is being trained by {named}; stop it (a STOP "
                                            "file in the folder) or wait for it to finish")
        stream.seek(0)
        stream.truncate()
        stream.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "started": round(time.time(), 3)}))
        stream.flush()
        self._stream = stream

    def release(self) -> None:
        if self._stream is not None:
            _unlock(self._stream)
            self._stream.close()
            self._stream = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
