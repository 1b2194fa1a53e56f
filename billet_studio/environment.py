"""What this installation runs on: the facts ``billet-studio doctor`` prints and the
studio's About box shows (version, Python, platform, torch and its devices, Qt, display).

Qt is probed in a child process unless the caller knows it (the CLI never loads Qt, and a
missing system library is reported instead of crashing); torch is imported only when asked.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

from billet_studio import __version__

Facts = list[tuple[str, str]]


def cli_invocation() -> list[str]:
    """How to run ``billet-studio`` with this installation: ``python -m billet_studio``, or
    the bundle's own executable in a standalone (PyInstaller) build."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "billet_studio"]


def qt_versions() -> str:
    """PySide6 and Qt versions, asked of ``billet-studio gui --qt-versions`` in a child
    process (the CLI never loads Qt itself, and a missing system library is reported
    instead of crashing)."""
    try:
        result = subprocess.run([*cli_invocation(), "gui", "--qt-versions"],
                                capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"not checked ({error})"
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["unknown error"])[-1]
        return f"not importable ({last})"
    return result.stdout.strip()


def torch_facts() -> Facts:
    """torch's version and the devices it can train on (imports torch: seconds)."""
    try:
        import torch
    except ImportError as error:
        return [("torch", f"not importable ({error})"),
                ("device", "unknown (training and the detector need torch)")]
    facts = [("torch", torch.__version__)]
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            memory = torch.cuda.get_device_properties(index).total_memory / 2**30
            facts.append((f"cuda:{index}", f"{torch.cuda.get_device_name(index)} "
                                          f"({memory:.0f} GiB)"))
    else:
        facts.append(("device", f"cpu ({torch.get_num_threads()} threads), no CUDA device"))
    return facts


def display_name() -> str | None:
    """The X11 or Wayland display this process would show on, if any."""
    return os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or None


def environment_facts(qt: str | None = None, torch: Facts | None = None,
                      display: str | None = None) -> Facts:
    """Every fact, in the order doctor prints them. ``qt``: the Qt versions when the
    caller has Qt loaded (else probed); ``torch``: stand-ins for torch's facts (else
    torch is imported and asked); ``display``: what a running studio shows on."""
    display = display or display_name()
    return [("billet-studio", __version__),
            ("python", f"{platform.python_version()} ({sys.executable})"),
            ("platform", platform.platform()),
            *(torch if torch is not None else torch_facts()),
            ("Qt", qt if qt is not None else qt_versions()),
            ("display", display or "none (the studio needs QT_QPA_PLATFORM=offscreen)")]
