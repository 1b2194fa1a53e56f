"""Where the studio keeps its preferences (window layout, last folder) between sessions."""

from __future__ import annotations

from PySide6.QtCore import QSettings

ORGANISATION = "Billet Studio"
APPLICATION = "Billet Studio"


def studio_settings() -> QSettings:
    """The studio's settings store.

    Named explicitly rather than taken from the QApplication, so the same store is used
    whichever application object hosts the window (the studio's own, or a test's).
    """
    return QSettings(ORGANISATION, APPLICATION)
