"""The studio window as a read-only viewer: listing, drawing stamps, zooming, broken files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QWheelEvent
from PySide6.QtWidgets import QApplication, QGraphicsItem
from studio_driver import open_studio, select

from billet_studio.annotations import (
    BilletInfo,
    ImageRecord,
    Project,
    ProjectConfig,
    Shape,
)
from billet_studio.gui.app import studio_icon
from billet_studio.gui.image_view import MAX_SCALE
from billet_studio.gui.main_window import MainWindow
from billet_studio.gui.stamp_items import (
    IMAGE_ROLE,
    LABEL_KEY,
    ROLE_KEY,
    STAMP_LABEL_ROLE,
    STAMP_ROLE,
    VISIBILITY_COLOURS,
)

WIDTH, HEIGHT = 200, 150
OUTER = ((40.0, 30.0), (100.0, 30.0), (100.0, 110.0), (40.0, 110.0))
HOLE = ((60.0, 55.0), (80.0, 55.0), (80.0, 85.0), (60.0, 85.0))
RECT = ((120.0, 40.0), (170.0, 100.0))
PARTIAL = ((150.0, 110.0), (190.0, 110.0), (190.0, 145.0), (150.0, 145.0))


def billet_photo(path: Path, dark_regions: list[tuple[tuple[float, float], ...]]) -> None:
    """A grey gradient face with the labelled regions stamped darker, so overlays can be
    checked against the pixels by eye (the test shapes are all axis-aligned)."""
    gradient = np.linspace(120, 200, WIDTH, dtype=np.uint8)
    pixels = np.repeat(gradient[None, :, None], HEIGHT, axis=0).repeat(3, axis=2)

    def paint(region: tuple[tuple[float, float], ...], colour: tuple[int, int, int]) -> None:
        # Pixel (r, c) covers [c, c+1) x [r, r+1): a region ending at x1 stops before column x1.
        xs, ys = [int(p[0]) for p in region], [int(p[1]) for p in region]
        pixels[min(ys):max(ys), min(xs):max(xs)] = colour

    for region in dark_regions:
        paint(region, (60, 50, 45))
        if region == OUTER:
            paint(HOLE, (150, 150, 150))
    Image.fromarray(pixels).save(path)


def make_project(root: Path) -> Project:
    """Three images: stamps of every kind, boxes only, and a corrupt sidecar."""
    (root / "images").mkdir(parents=True)
    project = Project.create(root, ProjectConfig(name="demo billets"))
    images = root / "images"

    billet_photo(images / "a_stamps.png", [OUTER, RECT, PARTIAL])
    project.save_record(ImageRecord(
        image_path=images / "a_stamps.png", height=HEIGHT, width=WIDTH,
        shapes=(
            Shape("8", OUTER, "polygon", {}, 1),
            Shape("8", HOLE, "polygon", {"hole": True}, 1),
            Shape("A", RECT, "rectangle", {"poor": True}),
            Shape("3", PARTIAL, "polygon", {"partial": True}, 2),
        ),
        billet=BilletInfo(site="A", split="train", id="83A"),
    ))

    billet_photo(images / "b_boxes.png", [RECT])
    project.save_record(ImageRecord(
        image_path=images / "b_boxes.png", height=HEIGHT, width=WIDTH,
        shapes=(Shape("7", RECT, "rectangle"),),
        billet=BilletInfo(site="B", split="test"),
    ))

    billet_photo(images / "c_broken.png", [])
    (images / "c_broken.json").write_text('{"shapes": [{"label": "5", "points": [[1, 2],')
    return project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "billets")


@pytest.fixture
def window(qtbot, project: Project) -> MainWindow:
    return open_studio(qtbot, project.root, (1100, 700))


def items_with_role(window: MainWindow, role: str) -> list[QGraphicsItem]:
    return [item for item in window.view.scene().items() if item.data(ROLE_KEY) == role]


def image_index(window: MainWindow, name: str) -> int:
    names = [s.name for s in window.label_page.image_list.summaries]
    return names.index(name)


def wheel(view, notches: int, at: QPoint) -> None:
    event = QWheelEvent(
        QPointF(at), QPointF(view.viewport().mapToGlobal(at)), QPoint(0, 0),
        QPoint(0, 120 * notches), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase, False,
    )
    QApplication.sendEvent(view.viewport(), event)


def image_fully_visible(window: MainWindow) -> bool:
    view = window.view
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    return visible.adjusted(-0.5, -0.5, 0.5, 0.5).contains(view.image_rect)


def test_opening_a_project_lists_every_image_and_names_the_window(window: MainWindow) -> None:
    image_list = window.label_page.image_list
    assert [s.name for s in image_list.summaries] == [
        "a_stamps.png", "b_boxes.png", "c_broken.png",
    ]
    assert window.windowTitle() == "Billet Studio — demo billets"
    first = image_list.topLevelItem(0)
    assert (first.text(1), first.text(2), first.text(3)) == ("train", "A", "3")
    assert "split train · site A · 3 stamps" in first.toolTip(0)
    broken = image_list.topLevelItem(2)
    assert "c_broken.json" in broken.toolTip(0)
    assert not broken.icon(0).isNull()
    # The first image is shown straight away.
    assert window.label_page.loaded is not None
    assert window.label_page.loaded.path.name == "a_stamps.png"


def test_selecting_an_image_draws_one_outline_and_one_tag_per_stamp_piece(
    window: MainWindow,
) -> None:
    select(window, image_index(window, "a_stamps.png"))
    outlines = items_with_role(window, STAMP_ROLE)
    tags = items_with_role(window, STAMP_LABEL_ROLE)
    assert sorted(item.data(LABEL_KEY) for item in outlines) == ["3", "8", "A"]
    assert sorted(item.data(LABEL_KEY) for item in tags) == ["3", "8", "A"]
    assert len(items_with_role(window, IMAGE_ROLE)) == 1
    rectangle = next(item for item in outlines if item.data(LABEL_KEY) == "A")
    assert rectangle.path().boundingRect().getCoords() == (120.0, 40.0, 170.0, 100.0)
    assert rectangle.path().elementCount() == 5  # four corners, closed: a box
    # Tags keep their size on screen whatever the zoom.
    assert all(
        tag.flags() & QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations for tag in tags
    )

    select(window, image_index(window, "b_boxes.png"))
    assert [item.data(LABEL_KEY) for item in items_with_role(window, STAMP_ROLE)] == ["7"]
    assert window.label_page.shape_panel.shape_tree.topLevelItemCount() == 1


def test_hole_is_cut_out_of_the_stamp_outline(window: MainWindow) -> None:
    select(window, image_index(window, "a_stamps.png"))
    eight = next(
        item for item in items_with_role(window, STAMP_ROLE) if item.data(LABEL_KEY) == "8"
    )
    path = eight.path()
    assert not path.contains(QPointF(70.0, 70.0))  # the hole's centre
    assert path.contains(QPointF(50.0, 70.0))  # in the ring left of the hole
    assert path.contains(QPointF(70.0, 40.0))  # in the ring above it
    assert not path.contains(QPointF(110.0, 70.0))  # outside the stamp


def test_shape_panel_lists_shapes_with_kind_and_flags(window: MainWindow) -> None:
    select(window, image_index(window, "a_stamps.png"))
    panel = window.label_page.shape_panel
    rows = [
        tuple(panel.shape_tree.topLevelItem(i).text(c) for c in range(1, 5))
        for i in range(panel.shape_tree.topLevelItemCount())
    ]
    assert rows == [
        ("8", "polygon", "1", ""),
        ("8", "hole", "1", ""),
        ("A", "rectangle", "", "poor"),
        ("3", "polygon", "2", "partial"),
    ]
    assert "ID 83A" in panel.facts_label.text()
    assert "visibility partial" in panel.facts_label.text()
    assert panel.error_text == ""


def test_wheel_zooms_at_the_cursor_and_fit_shows_the_whole_image(window: MainWindow) -> None:
    view = window.view
    assert image_fully_visible(window)
    fitted = view.scale_factor
    cursor = view.mapFromScene(QPointF(70.0, 70.0))
    # Four notches make the image overflow the view both ways (a smaller image is centred).
    wheel(view, 4, cursor)
    assert view.scale_factor == pytest.approx(fitted * 1.25**4, rel=1e-3)
    # Zooming at the cursor keeps the image point under it in place.
    under = view.mapToScene(cursor)
    assert (under.x(), under.y()) == pytest.approx((70.0, 70.0), abs=2.0 / view.scale_factor)
    assert not image_fully_visible(window)
    assert window.status.zoom_label.text() == f"{view.scale_factor * 100:.0f}%"

    wheel(view, 40, cursor)
    assert view.scale_factor == pytest.approx(MAX_SCALE)

    window.fit_action.trigger()
    assert view.scale_factor == pytest.approx(fitted)
    assert image_fully_visible(window)

    window.actual_size_action.trigger()
    assert view.scale_factor == pytest.approx(1.0)


def test_middle_drag_pans_a_zoomed_view(window: MainWindow, qtbot) -> None:
    view = window.view
    view.set_scale(8.0)
    viewport = view.viewport()
    start = viewport.rect().center()
    before = view.mapToScene(start)
    qtbot.mousePress(viewport, Qt.MouseButton.MiddleButton, pos=start)
    qtbot.mouseMove(viewport, start + QPoint(40, 24))
    qtbot.mouseRelease(viewport, Qt.MouseButton.MiddleButton, pos=start + QPoint(40, 24))
    # The image followed the cursor: the point that was under it moved with it.
    after = view.mapToScene(start + QPoint(40, 24))
    assert (after.x(), after.y()) == pytest.approx((before.x(), before.y()), abs=0.5)


def test_status_bar_shows_the_image_and_the_cursor_position(
    window: MainWindow, qtbot
) -> None:
    status = window.status
    assert status.name_label.text() == "a_stamps.png"
    assert status.size_label.text() == "200 × 150 px"
    point = window.view.mapFromScene(QPointF(50.5, 40.5))
    qtbot.mouseMove(window.view.viewport(), point)
    assert "col 50, row 40" in status.cursor_label.text()


def test_corrupt_sidecar_names_the_file_and_keeps_it(window: MainWindow, project) -> None:
    sidecar = project.root / "images" / "c_broken.json"
    before = sidecar.read_bytes()
    select(window, image_index(window, "c_broken.png"))

    panel_text = window.label_page.shape_panel.error_text
    assert "c_broken.json" in panel_text
    assert "not valid JSON" in panel_text
    assert "c_broken.json" in window.status.currentMessage()
    # The photograph is still shown, without shapes.
    assert len(items_with_role(window, IMAGE_ROLE)) == 1
    assert items_with_role(window, STAMP_ROLE) == []
    assert window.label_page.shape_panel.shape_tree.topLevelItemCount() == 0

    select(window, image_index(window, "a_stamps.png"))
    assert window.label_page.shape_panel.error_text == ""
    window.close()
    assert sidecar.read_bytes() == before


def test_a_folder_that_is_not_a_project_is_reported(window: MainWindow, tmp_path) -> None:
    assert not window.open_project(tmp_path / "missing")
    assert "is not a folder" in window.status.currentMessage()
    # The open project stays open.
    assert window.windowTitle() == "Billet Studio — demo billets"


def test_window_screenshot_shows_the_studio(window: MainWindow, tmp_path) -> None:
    shot = tmp_path / "shot.png"
    assert window.grab().save(str(shot))
    assert shot.stat().st_size > 1000
    image = QImage(str(shot)).convertToFormat(QImage.Format.Format_RGB888)
    assert (image.width(), image.height()) == (window.width(), window.height())
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(
        image.height(), image.bytesPerLine()
    )[:, : image.width() * 3].reshape(image.height(), image.width(), 3)
    # The selected image has a well, a poor and a partial stamp: each outline colour is on
    # screen (the grey test photograph has none of these hues).
    for colour in VISIBILITY_COLOURS.values():
        target = np.array([colour.red(), colour.green(), colour.blue()])
        close = np.abs(pixels.astype(int) - target).sum(axis=2) < 40
        assert close.sum() > 30, f"no {colour.name()} outline in the screenshot"


def test_studio_icon_loads_from_package_resources() -> None:
    assert not studio_icon().isNull()


def test_the_studio_starts_without_importing_torch():
    """Pages list runs and lay out checkpoint grids from files; torch loads only in the
    child processes and the workbench's worker, when a GAN renders."""
    import os
    import subprocess
    import sys

    code = ("import sys; import billet_studio.gui.main_window; "
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
