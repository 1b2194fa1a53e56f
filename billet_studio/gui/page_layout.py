"""The layout most pages share: controls on the left, the view on the right, split."""

from __future__ import annotations

from PySide6.QtWidgets import QLayout, QSplitter, QVBoxLayout, QWidget


def split_page(page: QWidget, left: QWidget, right: QWidget, above: QLayout | None = None
               ) -> QSplitter:
    """Fill ``page`` with ``left`` and ``right`` side by side (the right one takes the
    extra width), under ``above`` when given; returns the splitter."""
    splitter = QSplitter()
    splitter.addWidget(left)
    splitter.addWidget(right)
    splitter.setStretchFactor(1, 1)
    layout = QVBoxLayout(page)
    if above is not None:
        layout.addLayout(above)
    layout.addWidget(splitter, 1)
    return splitter
