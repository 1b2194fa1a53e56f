"""``billet-studio desktop``: the studio in the desktop's application menu."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any


def cmd_desktop_install(args: argparse.Namespace) -> int:
    from billet_studio.desktop_entry import install_desktop_entry

    written = install_desktop_entry(Path(args.data_home) if args.data_home else None)
    print(f"installed {written[0]} and {len(written) - 1} icons")
    return 0


def cmd_desktop_uninstall(args: argparse.Namespace) -> int:
    from billet_studio.desktop_entry import uninstall_desktop_entry

    removed = uninstall_desktop_entry(Path(args.data_home) if args.data_home else None)
    print(f"removed {len(removed)} files" if removed else "nothing was installed there")
    return 0


def cmd_desktop_files(args: argparse.Namespace) -> int:
    from importlib.resources import as_file, files

    with as_file(files("billet_studio.desktop")) as folder:
        print(folder)
    return 0


def add_desktop_commands(add: Callable[..., argparse.ArgumentParser],
                         group: Callable[[str, str], Any]) -> None:
    desktop = group("desktop", "the studio in the desktop's application menu")
    for name, func, text in (
            ("install", cmd_desktop_install,
             "add Billet Studio to the application menu (Linux: a desktop entry and icons "
             "under ~/.local/share, Exec= naming this installation's billet-studio)"),
            ("uninstall", cmd_desktop_uninstall, "remove what install added")):
        command = add(name, func, text, desktop)
        command.add_argument("--data-home", help="instead of $XDG_DATA_HOME or "
                                                 "~/.local/share (e.g. /usr/local/share)")
    add("files", cmd_desktop_files, "print the folder holding the shipped desktop entry and "
                                    "icons (the Windows shortcut recipe takes the .ico there)",
        desktop)
