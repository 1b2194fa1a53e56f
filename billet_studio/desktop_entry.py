"""Putting the studio in the desktop's application menu (freedesktop.org: Linux and the
BSDs): the desktop entry and the hicolor icons shipped in the wheel
(``billet_studio.desktop``) are copied under the user's data folder, with ``Exec=`` naming
the installed ``billet-studio`` (pipx puts it in ~/.local/bin, which a desktop session's
PATH may lack). ``billet-studio desktop install`` / ``uninstall`` run these.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from billet_studio.annotations.atomic import atomic_write_bytes, atomic_write_text
from billet_studio.environment import cli_invocation

ENTRY = "billet-studio.desktop"
ICON = "billet-studio"


def data_home() -> Path:
    """$XDG_DATA_HOME, else ~/.local/share."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def studio_command() -> list[str]:
    """How to start this installation's studio: a standalone build's executable, the
    ``billet-studio`` script running now, else the one beside this Python (a pipx or venv
    install), else the one on PATH, else this Python with ``-m billet_studio``."""
    if getattr(sys, "frozen", False):  # a standalone build: its own executable
        return cli_invocation()
    running = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if running is not None and running.name.startswith("billet-studio") and running.is_file():
        return [str(running.absolute())]
    beside = Path(sys.executable).parent / "billet-studio"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("billet-studio")
    return [str(Path(found).resolve())] if found else cli_invocation()


def _quoted(argument: str) -> str:
    """One Exec= argument as the desktop entry specification writes it: ``%`` doubled (it
    starts field codes); quoted when it holds a reserved character, the double quote,
    backtick, dollar and backslash then escaped with a backslash, and every backslash
    doubled again for the file's string escaping."""
    argument = argument.replace("%", "%%")
    if not any(c in argument for c in ' \t\n"\'\\><~|&;$*?#()`'):
        return argument
    quoted = "".join("\\" + c if c in '"`$\\' else c for c in argument)
    return '"' + quoted.replace("\\", "\\\\") + '"'


def _string(value: str) -> str:
    """A plain string value of a desktop entry (its escapes: backslash, newline, tab)."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def desktop_entry(command: list[str]) -> str:
    """The shipped desktop entry with ``Exec=`` and ``TryExec=`` naming ``command``."""
    text = (files("billet_studio.desktop") / ENTRY).read_text(encoding="utf-8")
    exec_line = " ".join(_quoted(part) for part in command)
    lines = []
    for line in text.splitlines():
        if line.startswith("Exec="):
            line = f"Exec={exec_line} gui"
        elif line.startswith("TryExec="):
            line = f"TryExec={_string(command[0])}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def _icon_files() -> list[tuple[Traversable, Path]]:
    """(shipped icon, its place under icons/hicolor/)."""
    icons = files("billet_studio.desktop") / "icons"
    found = [(icons / "billet-studio.svg", Path("scalable") / "apps" / f"{ICON}.svg")]
    for size in sorted((icons / "hicolor").iterdir(), key=lambda p: p.name):
        png = size / "apps" / f"{ICON}.png"
        if png.is_file():
            found.append((png, Path(size.name) / "apps" / f"{ICON}.png"))
    return found


def installed_paths(home: Path) -> list[Path]:
    return [home / "applications" / ENTRY,
            *(home / "icons" / "hicolor" / place for _, place in _icon_files())]


def install_desktop_entry(home: Path | None = None, command: list[str] | None = None
                          ) -> list[Path]:
    """Write the entry and icons under ``home`` (default: :func:`data_home`); returns the
    files written. The menu and icon caches are refreshed where their tools exist."""
    home = Path(home) if home is not None else data_home()
    entry, *icons = installed_paths(home)
    atomic_write_text(entry, desktop_entry(command or studio_command()))
    for (source, _), target in zip(_icon_files(), icons, strict=True):
        atomic_write_bytes(target, source.read_bytes())
    _refresh(home)
    return [entry, *icons]


def uninstall_desktop_entry(home: Path | None = None) -> list[Path]:
    """Remove what :func:`install_desktop_entry` wrote; returns the files removed."""
    home = Path(home) if home is not None else data_home()
    removed = []
    for path in installed_paths(home):
        if path.is_file():
            path.unlink()
            removed.append(path)
    _refresh(home)
    return removed


def _refresh(home: Path) -> None:
    """Best effort: tell the menu and the icon theme (a missing tool is no error)."""
    for tool, target in (("update-desktop-database", home / "applications"),
                         ("gtk-update-icon-cache", home / "icons" / "hicolor")):
        if shutil.which(tool) and target.is_dir():
            subprocess.run([tool, "-q", str(target)] if tool.startswith("update")
                           else [tool, "-q", "-t", str(target)],
                           capture_output=True, check=False, timeout=60)
