"""A demo project opens in the studio with every labelled stamp piece drawn."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from studio_driver import select, wait_idle

from billet_studio.annotations import Project
from billet_studio.demo import DemoConfig, build_demo_project
from billet_studio.gui.main_window import MainWindow
from billet_studio.gui.stamp_items import LABEL_KEY, ROLE_KEY, STAMP_ROLE


def test_demo_project_loads_in_the_studio(qtbot, tmp_path):
    root = tmp_path / "demo"
    list(build_demo_project(root, DemoConfig(billets=4, test=4, size=256, surfaces=1,
                                             workers=1)))
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    assert window.open_project(root)
    wait_idle(window)
    records = Project.open(root).load_records()
    assert window.label_page.image_list.image_count() == len(records) == 8
    for index, record in enumerate(records):
        select(window, index)
        drawn = sorted(item.data(LABEL_KEY) for item in window.view.scene().items()
                       if item.data(ROLE_KEY) == STAMP_ROLE)
        # One outline per polygon piece or box: a partial stamp may have several pieces.
        assert drawn == sorted(s.label for s in record.shapes if not s.is_hole)
        assert {s.label for s in record.stamps} == set(drawn) and record.stamps
