"""Shared test setup: Qt runs headless, and no test sees another's (or the user's) settings."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before any Qt import: tests run on machines without a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# The core's tests also run where PySide6 is not installed.
HAVE_QT = importlib.util.find_spec("PySide6") is not None


@pytest.fixture(autouse=True)
def isolated_qt_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path | None]:
    """Point every QSettings store at a fresh folder for the length of one test."""
    if not HAVE_QT:
        yield None
        return
    from PySide6.QtCore import QSettings, QStandardPaths

    folder = tmp_path_factory.mktemp("qsettings")
    # Test mode also moves QStandardPaths (caches, app data) away from the user's folders.
    QStandardPaths.setTestModeEnabled(True)
    for settings_format in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(settings_format, QSettings.Scope.UserScope, str(folder / "user"))
        QSettings.setPath(settings_format, QSettings.Scope.SystemScope, str(folder / "system"))
    yield folder
