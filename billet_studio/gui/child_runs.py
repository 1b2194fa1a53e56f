"""CLI commands run as detached child processes of the studio: a training run is the same
``billet-studio …`` command a server would run, at lower priority, so a crash or an
out-of-memory error ends that process and never the studio (and its GPU memory is freed
when it exits). Detached, a run outlives the studio and is followed again on the next
start. Progress and state are read from the run folder; what the command prints goes to
``console.log`` there, whose last lines explain a failure."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from billet_studio.environment import cli_invocation
from billet_studio.jobs import STOP_REQUEST_NAME
from billet_studio.training.run_status import CONSOLE_NAME

#: Niceness of child processes where ``nice`` exists (the studio stays responsive).
NICENESS = 10


def child_command(arguments: list[str]) -> tuple[str, list[str]]:
    """(program, arguments) running ``billet-studio arguments`` with this Python, lowered
    in priority where the platform has ``nice``."""
    command = [*cli_invocation(), *arguments]
    nice = shutil.which("nice")
    if nice is not None:
        return nice, ["-n", str(NICENESS), *command]
    return command[0], command[1:]


def start_detached(arguments: list[str], run_dir: Path,
                   console_path: Path | None = None) -> subprocess.Popen:
    """Start ``billet-studio arguments`` on the job folder ``run_dir`` in a session of its
    own (it outlives the studio), its output appended to the run's console.log (or to
    ``console_path``); a stale stop request in the folder is removed first."""
    console_path = console_path or run_dir / CONSOLE_NAME
    console_path.parent.mkdir(parents=True, exist_ok=True)
    # A stop request the folder's last process ended before reading would stop this one.
    (run_dir / STOP_REQUEST_NAME).unlink(missing_ok=True)
    program, args = child_command(arguments)
    with open(console_path, "ab") as console:  # the child keeps its own handle
        if os.name == "nt":
            flags = subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP
            return subprocess.Popen([program, *args], stdout=console,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    creationflags=flags)
        return subprocess.Popen([program, *args], stdout=console, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def console_tail(run_dir: Path, count: int = 6, console_path: Path | None = None
                 ) -> list[str]:
    """The last lines a run's process printed (progress bars' carriage returns split)."""
    try:
        text = (console_path or run_dir / CONSOLE_NAME).read_text(encoding="utf-8",
                                                                  errors="replace")
    except FileNotFoundError:
        return []
    return [line for line in text.replace("\r", "\n").splitlines() if line.strip()][-count:]
