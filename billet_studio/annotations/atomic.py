"""Atomic file writes: a temp file in the same folder, fsync, then ``os.replace``.

A crash, a full disk or a killed process during a save leaves either the old file or the
new one, never a mix; the temp file is removed on failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from billet_studio.annotations.errors import SaveError


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once: os.umask can only be read by setting it, which is not thread-safe later on.
_UMASK = _current_umask()


@contextlib.contextmanager
def atomic_stream(path: Path | str, text: bool = False) -> Iterator[IO[Any]]:
    """A stream whose contents replace ``path`` atomically when the block ends without an
    error (for files too large to build in memory); on an error the old file stays."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with (os.fdopen(fd, "w", encoding="utf-8") if text else os.fdopen(fd, "wb")
              ) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        # mkstemp creates the file private (0600); give it the old file's mode, or the
        # mode a plain open() would have given a new file.
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_UMASK
        os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise SaveError(path, f"could not save ({error.strerror or error}); the previous "
                              "version, if any, is intact") from error
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    _fsync_directory(path.parent)


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically, keeping the old file's permissions."""
    with atomic_stream(path) as stream:
        stream.write(data)


def atomic_write_text(path: Path | str, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path | str, document: Any, indent: int | None = 2) -> None:
    """Write JSON atomically (UTF-8, non-ASCII kept readable, trailing newline)."""
    text = json.dumps(document, indent=indent, ensure_ascii=False)
    atomic_write_text(path, text + "\n")


def _fsync_directory(folder: Path) -> None:
    # Makes the rename itself durable on POSIX; Windows cannot open folders this way.
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
