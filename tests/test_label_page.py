"""The labelling page driven like a user: real mouse and key events through qtbot, each
operation checked in the LabelMe JSON it saves."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMessageBox
from studio_driver import open_studio, wait_idle

from billet_studio.annotations import ImageRecord, Project, ProjectConfig, Shape
from billet_studio.gui.canvas.items import HandleItem
from billet_studio.gui.main_window import MainWindow

W, H = 240, 160
NO = Qt.KeyboardModifier.NoModifier
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
ALT = Qt.KeyboardModifier.AltModifier
SQUARE = ((20.0, 20.0), (60.0, 20.0), (60.0, 70.0), (20.0, 70.0))


def photo(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(90, 160, (H, W, 3), dtype=np.uint8)).save(path)


@pytest.fixture(autouse=True)
def no_modal_questions(monkeypatch):
    """Teardown closes windows with unsaved edits: answer Discard instead of a modal box."""
    monkeypatch.setattr(MainWindow, "ask_unsaved_changes",
                        lambda self: QMessageBox.StandardButton.Discard)
    monkeypatch.setattr(MainWindow, "ask_recover", lambda self, entries: False)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "plant"
    (root / "images").mkdir(parents=True)
    project = Project.create(root, ProjectConfig(name="plant", sites=("A", "B")))
    for index, name in enumerate(("a.png", "b.png", "c.png")):
        photo(root / "images" / name, index)
    project.save_record(ImageRecord(root / "images" / "b.png", H, W,
                                    (Shape("5", SQUARE),)))
    return project


def open_window(qtbot, project: Project) -> MainWindow:
    return open_studio(qtbot, project.root)


@pytest.fixture
def window(qtbot, project: Project) -> MainWindow:
    return open_window(qtbot, project)


def at(window: MainWindow, point: tuple[float, float]) -> QPoint:
    return window.label_page.canvas.point_on_screen(point)


def click(qtbot, window, point, modifiers=NO) -> None:
    qtbot.mouseClick(window.label_page.canvas.viewport(), Qt.MouseButton.LeftButton,
                     modifiers, at(window, point))


def drag(qtbot, window, start, end, modifiers=NO) -> None:
    viewport = window.label_page.canvas.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, modifiers, at(window, start))
    qtbot.mouseMove(viewport, at(window, ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)))
    qtbot.mouseMove(viewport, at(window, end))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, modifiers, at(window, end))


def key(qtbot, window, key, modifiers=NO) -> None:
    qtbot.keyClick(window.label_page.canvas, key, modifiers)
    wait_idle(window)  # PgUp/PgDn load the next photograph on a worker thread


def saved_shapes(qtbot, window: MainWindow, name: str = "a.png") -> list[dict]:
    """Save with Ctrl+S, then read the sidecar back from disk."""
    key(qtbot, window, Qt.Key.Key_S, CTRL)
    sidecar = window.project.root / "images" / Path(name).with_suffix(".json")
    return json.loads(sidecar.read_text())["shapes"]


def draw_polygon(qtbot, window, points, close="first") -> None:
    key(qtbot, window, Qt.Key.Key_2, CTRL)
    for point in points:
        click(qtbot, window, point)
    if close == "first":
        click(qtbot, window, points[0])
    elif close == "enter":
        key(qtbot, window, Qt.Key.Key_Return)
    elif close == "double":
        qtbot.mouseDClick(window.label_page.canvas.viewport(), Qt.MouseButton.LeftButton,
                          NO, at(window, points[-1]))


def points_of(shape: dict) -> list[tuple[float, float]]:
    return [tuple(p) for p in shape["points"]]


def near(points) -> object:
    """Points as clicked: a screen pixel is about a third of an image pixel here."""
    return pytest.approx([c for p in points for c in p], abs=0.5)


def flat(points) -> list[float]:
    return [c for p in points for c in p]


def test_draw_a_polygon_close_it_on_the_first_vertex_and_label_it_by_typing(qtbot, window):
    draw_polygon(qtbot, window, SQUARE)
    key(qtbot, window, Qt.Key.Key_7)
    shapes = saved_shapes(qtbot, window)
    assert [(s["label"], s["shape_type"]) for s in shapes] == [("7", "polygon")]
    assert flat(points_of(shapes[0])) == near(SQUARE)


@pytest.mark.parametrize("close", ["enter", "double"])
def test_a_polygon_also_closes_with_enter_or_a_double_click(qtbot, window, close):
    draw_polygon(qtbot, window, SQUARE[:3], close=close)
    [shape] = saved_shapes(qtbot, window)
    assert flat(points_of(shape)) == near(SQUARE[:3])


def test_escape_cancels_and_backspace_takes_back_the_last_vertex(qtbot, window):
    draw_polygon(qtbot, window, SQUARE, close="none")
    key(qtbot, window, Qt.Key.Key_Escape)
    assert window.label_page.canvas.shapes == []
    draw_polygon(qtbot, window, [*SQUARE, (90.0, 90.0)], close="none")
    key(qtbot, window, Qt.Key.Key_Backspace)
    key(qtbot, window, Qt.Key.Key_Return)
    [shape] = saved_shapes(qtbot, window)
    assert flat(points_of(shape)) == near(SQUARE)


def test_drag_a_rectangle(qtbot, window):
    key(qtbot, window, Qt.Key.Key_3, CTRL)
    drag(qtbot, window, (100.0, 30.0), (140.0, 90.0))
    [shape] = saved_shapes(qtbot, window)
    assert (shape["label"], shape["shape_type"]) == ("", "rectangle")
    key(qtbot, window, Qt.Key.Key_G, ALT)  # with snapping off, a key labels the box itself
    key(qtbot, window, Qt.Key.Key_A)
    [shape] = saved_shapes(qtbot, window)
    assert (shape["label"], shape["shape_type"]) == ("A", "rectangle")
    assert flat(points_of(shape)) == near([(100.0, 30.0), (140.0, 90.0)])


def test_select_and_drag_a_shape_then_nudge_it_with_the_arrows(qtbot, window):
    draw_polygon(qtbot, window, SQUARE)
    key(qtbot, window, Qt.Key.Key_1, CTRL)
    drag(qtbot, window, (40.0, 40.0), (60.0, 50.0))
    [shape] = saved_shapes(qtbot, window)
    assert points_of(shape)[0] == pytest.approx((40.0, 30.0), abs=0.7)
    key(qtbot, window, Qt.Key.Key_Right)
    key(qtbot, window, Qt.Key.Key_Down, SHIFT)
    [shape] = saved_shapes(qtbot, window)
    assert points_of(shape)[0] == pytest.approx((41.0, 40.0), abs=0.7)
    # Consecutive nudges are one undo step.
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    [shape] = saved_shapes(qtbot, window)
    assert points_of(shape)[0] == pytest.approx((40.0, 30.0), abs=0.7)


def test_vertices_drag_insert_at_the_midpoint_or_alt_click_and_delete(qtbot, window):
    draw_polygon(qtbot, window, SQUARE)
    key(qtbot, window, Qt.Key.Key_1, CTRL)
    click(qtbot, window, (40.0, 40.0))
    drag(qtbot, window, (60.0, 70.0), (70.0, 80.0))  # drag the third vertex
    assert points_of(saved_shapes(qtbot, window)[0])[2] == pytest.approx((70.0, 80.0), abs=0.5)
    # The midpoint handle of the top edge shows on hover; a click inserts a vertex there.
    qtbot.mouseMove(window.label_page.canvas.viewport(), at(window, (40.0, 20.0)))
    assert window.label_page.canvas._midpoint is not None
    click(qtbot, window, (40.0, 20.0))
    assert len(points_of(saved_shapes(qtbot, window)[0])) == 5
    click(qtbot, window, (20.0, 45.0), ALT)  # anywhere on the left edge
    points = points_of(saved_shapes(qtbot, window)[0])
    assert len(points) == 6 and points[-1] == pytest.approx((20.0, 45.0), abs=0.5)
    click(qtbot, window, (40.0, 20.0), SHIFT)  # Shift+click deletes a vertex
    click(qtbot, window, (20.0, 45.0))  # select a vertex, then Delete
    key(qtbot, window, Qt.Key.Key_Delete)
    assert flat(points_of(saved_shapes(qtbot, window)[0])) == near(
        [SQUARE[0], SQUARE[1], (70.0, 80.0), SQUARE[3]])
    click(qtbot, window, (70.0, 80.0), SHIFT)
    click(qtbot, window, (60.0, 20.0), SHIFT)  # a fourth deletion would leave two
    assert "at least 3 vertices" in window.status.currentMessage()
    assert len(points_of(saved_shapes(qtbot, window)[0])) == 3


def test_cut_a_hole_with_the_hole_tool(qtbot, window):
    draw_polygon(qtbot, window, SQUARE)
    key(qtbot, window, Qt.Key.Key_8)
    key(qtbot, window, Qt.Key.Key_1, CTRL)
    click(qtbot, window, (25.0, 25.0))
    key(qtbot, window, Qt.Key.Key_4, CTRL)
    hole = [(30.0, 30.0), (50.0, 30.0), (50.0, 50.0), (30.0, 50.0)]
    for point in hole:
        click(qtbot, window, point)
    key(qtbot, window, Qt.Key.Key_Return)
    outline, cut = saved_shapes(qtbot, window)
    assert cut["flags"] == {"hole": True} and cut["label"] == "8"
    assert cut["group_id"] == outline["group_id"] is not None
    assert flat(points_of(cut)) == near(hole)


def test_copy_paste_and_duplicate(qtbot, window):
    draw_polygon(qtbot, window, SQUARE)
    key(qtbot, window, Qt.Key.Key_4)
    key(qtbot, window, Qt.Key.Key_C, CTRL)
    key(qtbot, window, Qt.Key.Key_V, CTRL)
    key(qtbot, window, Qt.Key.Key_D, CTRL)
    shapes = saved_shapes(qtbot, window)
    assert [s["label"] for s in shapes] == ["4", "4", "4"]
    assert flat(points_of(s)[0] for s in shapes) == near([(20, 20), (30, 30), (40, 40)])


def test_label_keys_auto_advance_in_reading_order(qtbot, window):
    boxes = [(150.0, 20.0), (20.0, 20.0), (85.0, 22.0), (20.0, 100.0)]
    for x, y in boxes:
        key(qtbot, window, Qt.Key.Key_3, CTRL)
        drag(qtbot, window, (x, y), (x + 20, y + 30))
    key(qtbot, window, Qt.Key.Key_Escape)
    key(qtbot, window, Qt.Key.Key_G, ALT)  # snap off: label keys label the boxes
    assert not window.label_page.snap_action.isChecked()
    key(qtbot, window, Qt.Key.Key_1, CTRL)
    click(qtbot, window, (30.0, 30.0))  # the top-left box: first in reading order
    for character in (Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3, Qt.Key.Key_4):
        key(qtbot, window, character)
    labels = [s["label"] for s in saved_shapes(qtbot, window)]
    assert labels == ["3", "1", "2", "4"]
    key(qtbot, window, Qt.Key.Key_Z)  # letters are classes too
    assert saved_shapes(qtbot, window)[3]["label"] == "Z"


def test_flags_and_site_go_to_the_file(qtbot, window):
    draw_polygon(qtbot, window, SQUARE)
    key(qtbot, window, Qt.Key.Key_P, ALT)
    assert saved_shapes(qtbot, window)[0]["flags"] == {"partial": True}
    key(qtbot, window, Qt.Key.Key_O, ALT)
    assert saved_shapes(qtbot, window)[0]["flags"] == {"partial": True, "poor": True}
    key(qtbot, window, Qt.Key.Key_W, ALT)
    assert saved_shapes(qtbot, window)[0]["flags"] == {}
    combo = window.label_page.shape_panel.site_combo
    combo.setCurrentIndex(combo.findText("B"))
    combo.activated.emit(combo.currentIndex())
    key(qtbot, window, Qt.Key.Key_S, CTRL)
    sidecar = json.loads((window.project.root / "images" / "a.json").read_text())
    assert sidecar["billet"]["site"] == "B"


def test_page_keys_change_image_and_autosave(qtbot, window, project):
    draw_polygon(qtbot, window, SQUARE)
    key(qtbot, window, Qt.Key.Key_9)
    key(qtbot, window, Qt.Key.Key_PageDown)
    assert window.label_page.session.image_path.name == "b.png"
    saved = json.loads((project.root / "images" / "a.json").read_text())
    assert [s["label"] for s in saved["shapes"]] == ["9"]
    key(qtbot, window, Qt.Key.Key_PageUp)
    assert window.label_page.session.image_path.name == "a.png"
    assert [s.label for s in window.label_page.canvas.shapes] == ["9"]


def test_shape_list_selects_on_the_canvas(qtbot, window):
    key(qtbot, window, Qt.Key.Key_PageDown)
    tree = window.label_page.shape_panel.shape_tree
    tree.topLevelItem(0).setSelected(True)
    assert window.label_page.canvas.selection == [0]
    counts = window.label_page.label_counts
    assert [(counts.topLevelItem(0).text(0), counts.topLevelItem(0).text(1))] == [("5", "1")]


def test_undo_and_redo_round_trip_every_command(qtbot, window):
    states = [[]]

    def record() -> None:
        states.append(saved_shapes(qtbot, window))

    draw_polygon(qtbot, window, SQUARE)
    record()
    key(qtbot, window, Qt.Key.Key_6)
    record()
    key(qtbot, window, Qt.Key.Key_1, CTRL)
    drag(qtbot, window, (40.0, 40.0), (45.0, 45.0))
    record()
    drag(qtbot, window, (65.0, 25.0), (75.0, 25.0))
    record()
    click(qtbot, window, (50.0, 25.0))  # the top edge's midpoint handle
    record()
    click(qtbot, window, (50.0, 25.0), SHIFT)
    record()
    key(qtbot, window, Qt.Key.Key_P, ALT)
    record()
    key(qtbot, window, Qt.Key.Key_D, CTRL)
    record()
    key(qtbot, window, Qt.Key.Key_Delete)
    record()
    key(qtbot, window, Qt.Key.Key_3, CTRL)
    drag(qtbot, window, (150.0, 100.0), (180.0, 140.0))
    record()
    assert all(a != b for a, b in itertools.pairwise(states))
    history = window.label_page.history
    assert history.stack().count() == len(states) - 1
    for state in reversed(states[:-1]):
        key(qtbot, window, Qt.Key.Key_Z, CTRL)
        assert saved_shapes(qtbot, window) == state
    for index, state in enumerate(states[1:]):
        key(qtbot, window, Qt.Key.Key_Y if index % 2 else Qt.Key.Key_Z,
            CTRL if index % 2 else CTRL | SHIFT)
        assert saved_shapes(qtbot, window) == state


def test_space_drag_pans_while_a_polygon_is_drawn(qtbot, window):
    canvas = window.label_page.canvas
    canvas.set_scale(6.0)
    canvas.centerOn(40.0, 40.0)
    key(qtbot, window, Qt.Key.Key_2, CTRL)
    click(qtbot, window, (40.0, 40.0))
    click(qtbot, window, (45.0, 40.0))
    before = canvas.mapToScene(canvas.viewport().rect().center())
    qtbot.keyPress(canvas, Qt.Key.Key_Space)
    start = canvas.viewport().rect().center()
    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, NO, start)
    qtbot.mouseMove(canvas.viewport(), start - QPoint(60, 30))
    qtbot.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, NO, start - QPoint(60, 30))
    qtbot.keyRelease(canvas, Qt.Key.Key_Space)
    after = canvas.mapToScene(canvas.viewport().rect().center())
    # The image followed the hand: the view moved 60 screen px = 10 image px right.
    assert (after.x(), after.y()) == pytest.approx((before.x() + 10.0, before.y() + 5.0),
                                                   abs=0.5)
    assert flat(canvas.tool.points) == near([(40.0, 40.0), (45.0, 40.0)])  # still drawing
    click(qtbot, window, (45.0, 45.0))
    key(qtbot, window, Qt.Key.Key_Return)
    assert len(saved_shapes(qtbot, window)) == 1


def test_self_intersections_are_marked_while_drawing_and_on_the_shape(qtbot, window):
    draw_polygon(qtbot, window, [(20.0, 20.0), (60.0, 60.0), (60.0, 20.0), (20.0, 60.0)],
                 close="none")
    canvas = window.label_page.canvas
    markers = [i for i in canvas._previews if isinstance(i, HandleItem)
               and i.rect().width() > 8]
    assert flat((m.pos().x(), m.pos().y()) for m in markers) == near([(40.0, 40.0)])
    key(qtbot, window, Qt.Key.Key_Return)
    [item] = canvas.items
    assert flat((m.pos().x(), m.pos().y()) for m in item.crossings) == near([(40.0, 40.0)])


def test_a_killed_studio_offers_its_unsaved_edits_back(qtbot, project, monkeypatch):
    first = open_window(qtbot, project)
    draw_polygon(qtbot, first, SQUARE)
    key(qtbot, first, Qt.Key.Key_2)
    assert not (project.root / "images" / "a.json").exists()
    first.label_page.session.autosave_timer.stop()
    # A kill: no closeEvent, no save; only the journal survives.
    first.label_page.session = None
    first.deleteLater()
    asked = []
    monkeypatch.setattr(MainWindow, "ask_recover", lambda self, e: asked.append(e) or True)
    second = open_window(qtbot, project)
    assert [e.image_path.name for e in asked[0]] == ["a.png"]
    page = second.label_page
    assert [s.label for s in page.canvas.shapes] == ["2"] and page.session.modified
    key(qtbot, second, Qt.Key.Key_Z, CTRL)  # recovery is an undoable step
    assert page.canvas.shapes == []
    key(qtbot, second, Qt.Key.Key_Y, CTRL)
    assert [s["label"] for s in saved_shapes(qtbot, second)] == ["2"]
    assert not list((project.root / ".billet-studio" / "journal").glob("*.json"))


def test_closing_with_unsaved_edits_asks_and_closes_only_after_a_save(qtbot, window, project,
                                                                      monkeypatch):
    draw_polygon(qtbot, window, SQUARE)
    answers = [QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save,
               QMessageBox.StandardButton.Save]
    monkeypatch.setattr(MainWindow, "ask_unsaved_changes", lambda self: answers.pop(0))
    assert not window.close() and window.isVisible()
    # A save that fails (the sidecar's place is taken by a folder) keeps the window open.
    blocker = project.root / "images" / "a.json"
    blocker.mkdir()
    assert not window.close() and window.isVisible()
    assert "a.json" in window.status.currentMessage()
    assert window.label_page.canvas.shapes  # nothing was lost
    blocker.rmdir()
    assert window.close()
    assert flat(json.loads(blocker.read_text())["shapes"][0]["points"]) == near(SQUARE)


def test_a_corrupt_sidecar_blocks_editing_and_is_never_overwritten(qtbot, window, project):
    broken = project.root / "images" / "c.json"
    broken.write_text('{"shapes": [')
    window.label_page.set_project(project)
    window.select_image(2)
    wait_idle(window)
    assert window.label_page.session is None and "c.json" in window.status.currentMessage()
    draw_polygon(qtbot, window, SQUARE)
    key(qtbot, window, Qt.Key.Key_S, CTRL)
    key(qtbot, window, Qt.Key.Key_PageUp)
    assert broken.read_text() == '{"shapes": ['


def test_done_marks_and_search_filter_the_image_list(qtbot, window, project):
    key(qtbot, window, Qt.Key.Key_Return, CTRL)  # done, then on to the next image
    key(qtbot, window, Qt.Key.Key_PageDown)
    assert json.loads((project.root / "images" / "a.json").read_text())["flags"] == {
        "done": True}
    image_list = window.label_page.image_list
    assert [image_list.topLevelItem(i).text(4) for i in range(3)] == ["✓", "", ""]
    search = window.label_page.docks["images"].widget().search
    qtbot.keyClicks(search, "c.")
    assert [image_list.topLevelItem(i).isHidden() for i in range(3)] == [True, True, False]
    key(qtbot, window, Qt.Key.Key_PageDown)  # hidden rows are skipped
    assert window.label_page.session.image_path.name == "c.png"


def shown_pixels(canvas) -> np.ndarray:
    image = canvas._image_item.pixmap().toImage().convertToFormat(
        canvas._image_item.pixmap().toImage().Format.Format_RGB888)
    raw = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(),
                                                             image.bytesPerLine())
    return raw[:, : image.width() * 3].reshape(image.height(), image.width(), 3)


def test_brightness_and_contrast_change_the_view_only_and_are_remembered(qtbot, window,
                                                                        project):
    canvas, options = window.label_page.canvas, window.label_page.view_options
    before = shown_pixels(canvas).astype(int)
    options.brightness.setValue(40)
    assert (shown_pixels(canvas).astype(int) - before).mean() == pytest.approx(40, abs=1)
    options.contrast.setValue(50)  # twice the spread around mid-grey
    assert shown_pixels(canvas).astype(int).std() > 1.8 * before.std()
    photo_bytes = (project.root / "images" / "a.png").read_bytes()
    second = open_window(qtbot, project)
    assert second.label_page.view_options.levels == (40, 50)
    assert shown_pixels(second.label_page.canvas).astype(int).std() > 1.8 * before.std()
    assert (project.root / "images" / "a.png").read_bytes() == photo_bytes


def test_mask_preview_shows_the_rasterised_stamp_and_follows_edits(qtbot, window):
    from billet_studio.geometry import StampPolygon, rasterize_polygons

    draw_polygon(qtbot, window, SQUARE)
    key(qtbot, window, Qt.Key.Key_8)
    window.label_page.view_options.mask_preview.setChecked(True)
    canvas = window.label_page.canvas
    overlay = canvas._mask_item.pixmap().toImage()
    points = canvas.shapes[0].points
    expected = rasterize_polygons([StampPolygon(points)], H, W)
    alpha = np.array([[overlay.pixelColor(x, y).alpha() > 0 for x in range(0, W, 4)]
                      for y in range(0, H, 4)])
    assert np.array_equal(alpha, expected[::4, ::4] > 0)
    key(qtbot, window, Qt.Key.Key_Delete)
    assert canvas._mask_item.pixmap().toImage().pixelColor(40, 40).alpha() == 0
    window.label_page.view_options.mask_preview.setChecked(False)
    assert canvas._mask_item is None


def test_photographs_decode_off_the_gui_thread_and_neighbours_are_prefetched(qtbot, project):
    big = project.root / "images" / "d_big.jpg"
    rng = np.random.default_rng(5)
    Image.fromarray(rng.integers(0, 255, (3000, 4000, 3), dtype=np.uint8)).save(big)
    window = open_window(qtbot, project)
    page = window.label_page
    # b.png, next to the open a.png, was decoded in the background: it shows at once.
    qtbot.waitUntil(lambda: page.pixels.cached(project.root / "images" / "b.png") is not None)
    qtbot.keyClick(page.canvas, Qt.Key.Key_PageDown)
    assert page.loading is None and page.session.image_path.name == "b.png"
    # An image not yet decoded: selecting it returns at once, the page says it is loading.
    window.select_image(3)
    assert page.loading is not None and page.loading.name == "d_big.jpg"
    assert "Loading d_big.jpg" in window.status.currentMessage()
    wait_idle(window)
    assert page.session.image_path.name == "d_big.jpg"
    assert page.canvas.image_rect.width() == 4000


def test_a_project_lists_its_images_before_their_labels_are_read(qtbot, project):
    window = MainWindow()
    qtbot.addWidget(window)
    window.open_project(project.root)
    names = [s.name for s in window.label_page.image_list.summaries]
    assert names == ["a.png", "b.png", "c.png"]  # listed straight away
    wait_idle(window)
    row = window.label_page.image_list.topLevelItem(1)
    assert (row.text(1), row.text(3)) == ("train", "1")  # then filled in from the sidecar


def test_drag_a_box_while_holding_a_character_key_snaps_its_template(qtbot, window):
    canvas = window.label_page.canvas
    qtbot.keyPress(canvas, Qt.Key.Key_8)
    drag(qtbot, window, (30.0, 30.0), (60.0, 80.0))
    qtbot.keyRelease(canvas, Qt.Key.Key_8)
    shapes = saved_shapes(qtbot, window)
    assert [(s["label"], s["flags"].get("hole", False)) for s in shapes] == [
        ("8", False), ("8", True), ("8", True)]
    assert len({s["group_id"] for s in shapes}) == 1
    xs = [x for s in shapes for x, _ in s["points"]]
    assert (min(xs), max(xs)) == pytest.approx((30.0, 60.0), abs=0.6)
    key(qtbot, window, Qt.Key.Key_Z, CTRL)  # one undo step
    assert canvas.shapes == []


def test_typing_a_character_on_empty_boxes_snaps_templates_in_reading_order(qtbot, window):
    key(qtbot, window, Qt.Key.Key_3, CTRL)
    for x in (20.0, 60.0, 100.0):
        drag(qtbot, window, (x, 30.0), (x + 30.0, 80.0))
    key(qtbot, window, Qt.Key.Key_1, CTRL)
    click(qtbot, window, (35.0, 50.0))  # the first box
    for character in (Qt.Key.Key_4, Qt.Key.Key_0, Qt.Key.Key_7):
        key(qtbot, window, character)
    shapes = saved_shapes(qtbot, window)
    outlines = [(s["label"], round(min(x for x, _ in s["points"])))
                for s in shapes if not s["flags"].get("hole")]
    assert sorted(outlines, key=lambda o: o[1]) == [("4", 20), ("0", 60), ("7", 100)]
    assert all(s["shape_type"] == "polygon" for s in shapes)
    assert sum(1 for s in shapes if s["flags"].get("hole")) == 2  # the 4's and the 0's


def test_refine_aligns_a_snapped_stamp_to_the_photograph(qtbot, project):
    import shapely

    from billet_studio.geometry import Box, StampPolygon
    from billet_studio.glyphs import load_glyph_set
    from billet_studio.glyphs.snap import fit_template

    truth = fit_template(load_glyph_set()["4"], Box(92.0, 40.0, 128.0, 100.0))
    from billet_studio.geometry import rasterize_polygons
    face = np.full((H, W), 185, np.uint8)
    face[rasterize_polygons(truth, H, W) > 0] = 70
    Image.fromarray(np.dstack([face] * 3)).save(project.root / "images" / "a.png")
    window = open_window(qtbot, project)
    canvas = window.label_page.canvas
    qtbot.keyPress(canvas, Qt.Key.Key_4)
    drag(qtbot, window, (87.0, 44.0), (126.0, 108.0))  # a few pixels off
    qtbot.keyRelease(canvas, Qt.Key.Key_4)
    assert canvas.selection  # the snapped stamp is selected

    def iou() -> float:
        record = window.label_page.session.document.to_record()
        ours = shapely.union_all([p.to_shapely() for s in record.stamps for p in s.polygons])
        theirs = shapely.union_all([StampPolygon(p.exterior, p.holes).to_shapely()
                                    for p in truth])
        return ours.intersection(theirs).area / ours.union(theirs).area

    before = iou()
    key(qtbot, window, Qt.Key.Key_R, ALT)
    assert before < 0.8 < 0.9 < iou()
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert iou() == pytest.approx(before)


def test_prelabel_proposes_boxes_and_accepting_snaps_their_templates(qtbot, window):
    torch = pytest.importorskip("torch")
    from billet_studio.detection import ModelSpec, build_detector

    classes = tuple("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    spec = ModelSpec("fasterrcnn_mobilenet_v3_large_fpn", classes, 128, "group")
    torch.manual_seed(0)
    model = build_detector(spec).eval()
    with torch.no_grad():  # a detector sure that everything it sees is a 7
        bias = model.roi_heads.box_predictor.cls_score.bias
        bias.fill_(-10.0)
        bias[1 + classes.index("7")] = 10.0
    page = window.label_page
    page.prelabel.use_model(model, spec)
    key(qtbot, window, Qt.Key.Key_L, CTRL)
    qtbot.waitUntil(lambda: bool(page.prelabel.proposals), timeout=60_000)
    proposals = list(page.prelabel.proposals)
    assert {p.label for p in proposals} == {"7"}
    assert len(page.canvas.proposal_items) == len(proposals)
    key(qtbot, window, Qt.Key.Key_PageDown)  # proposals belong to their image
    assert page.prelabel.proposals == [] and page.canvas.proposal_items == []
    key(qtbot, window, Qt.Key.Key_PageUp)
    key(qtbot, window, Qt.Key.Key_L, CTRL)
    qtbot.waitUntil(lambda: bool(page.prelabel.proposals), timeout=60_000)
    assert page.prelabel.proposals == proposals
    key(qtbot, window, Qt.Key.Key_Return, CTRL | SHIFT)
    shapes = saved_shapes(qtbot, window)
    assert page.canvas.proposal_items == []
    assert [s["label"] for s in shapes] == ["7"] * len(proposals)  # a 7 has no hole
    for shape, proposal in zip(shapes, proposals, strict=True):
        xs, ys = zip(*shape["points"], strict=True)
        assert (min(xs), min(ys), max(xs), max(ys)) == pytest.approx(
            (proposal.box.x0, proposal.box.y0, proposal.box.x1, proposal.box.y1), abs=0.02)
    key(qtbot, window, Qt.Key.Key_Z, CTRL)  # one undo step
    assert page.canvas.shapes == []


class ActionCounter:
    """Performs clicks, drags and keys like a labeller and counts them."""

    def __init__(self, qtbot, window) -> None:
        self.qtbot, self.window, self.count = qtbot, window, 0

    def key(self, code, modifiers=NO) -> None:
        key(self.qtbot, self.window, code, modifiers)
        self.count += 1

    def click(self, point) -> None:
        click(self.qtbot, self.window, point)
        self.count += 1

    def snap(self, character: str, box) -> None:
        """Hold the character's key and drag its box: one drag and one key."""
        canvas = self.window.label_page.canvas
        code = getattr(Qt.Key, f"Key_{character}")
        self.qtbot.keyPress(canvas, code)
        drag(self.qtbot, self.window, (box.x0, box.y0), (box.x1, box.y1))
        self.qtbot.keyRelease(canvas, code)
        self.count += 2


def test_template_snap_labels_an_11_character_billet_in_a_fraction_of_the_actions(
        qtbot, tmp_path, capsys):
    from billet_studio.annotations import Project as DemoProject
    from billet_studio.demo import DemoConfig, build_demo_project

    root = tmp_path / "demo"
    list(build_demo_project(root, DemoConfig(billets=4, test=0, size=512, surfaces=0,
                                             workers=1)))
    demo = DemoProject.open(root)
    record = next(r for r in demo.load_records() if r.visibility == "well"
                  and len(r.stamps) == 11)
    stamps = record.stamps
    demo.save_record(replace_shapes(record))  # the labeller starts from a bare photo
    window = open_studio(qtbot, root, (1600, 1000))
    page = window.label_page
    window.select_image([s.path for s in page.image_list.summaries].index(record.image_path))
    wait_idle(window)

    snapped = ActionCounter(qtbot, window)
    for stamp in stamps:
        snapped.snap(stamp.label, stamp.box)
    snap_labels = sorted(s.label for s in page.canvas.shapes if not s.is_hole)
    page.canvas.apply(editing_delete_all)

    def clickable(ring) -> list[tuple[float, float]]:
        """The ring's vertices a labeller clicks: none so close to the first (which would
        close the ring early) or to the previous one that a click cannot tell them apart."""
        reach = page.canvas.tolerance()
        kept = [(float(ring[0][0]), float(ring[0][1]))]
        for x, y in ring[1:]:
            point = (float(x), float(y))
            if min(np.hypot(point[0] - k[0], point[1] - k[1]) for k in (kept[0], kept[-1])
                   ) > reach:
                kept.append(point)
        return kept

    drawn = ActionCounter(qtbot, window)
    for stamp in stamps:
        for polygon in stamp.polygons:
            drawn.key(Qt.Key.Key_2, CTRL)
            for point in clickable(polygon.exterior):
                drawn.click(point)
            drawn.key(Qt.Key.Key_Return)
            drawn.key(getattr(Qt.Key, f"Key_{stamp.label}"))
            for hole in polygon.holes:
                drawn.key(Qt.Key.Key_4, CTRL)
                for point in clickable(hole):
                    drawn.click(point)
                drawn.key(Qt.Key.Key_Return)
    drawn_labels = sorted(s.label for s in page.canvas.shapes if not s.is_hole)
    expected = sorted(s.label for s in stamps for _ in s.polygons)
    assert snap_labels == sorted(s.label for s in stamps) and drawn_labels == expected
    with capsys.disabled():
        print(f"\n  actions to label an 11-character demo billet: template snap "
              f"{snapped.count}, polygon drawing {drawn.count} "
              f"({drawn.count / snapped.count:.1f}x)")
    assert snapped.count == 22 and drawn.count > 5 * snapped.count


def replace_shapes(record):
    from dataclasses import replace

    return replace(record, shapes=())


def editing_delete_all(shapes):
    from billet_studio.annotations import editing

    return editing.delete_shapes(shapes, range(len(shapes)))


def test_the_page_renders_to_a_png_with_shapes_handles_and_docks(qtbot, window, tmp_path):
    from PySide6.QtGui import QImage

    from billet_studio.gui.stamp_items import VISIBILITY_COLOURS

    draw_polygon(qtbot, window, SQUARE)
    key(qtbot, window, Qt.Key.Key_5)  # labelled: drawn in the "well" green
    draw_polygon(qtbot, window, [(120.0, 40.0), (170.0, 40.0), (145.0, 100.0)])
    shot = tmp_path / "page.png"
    assert window.grab().save(str(shot))
    image = QImage(str(shot)).convertToFormat(QImage.Format.Format_RGB888)
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(
        image.height(), image.bytesPerLine())[:, : image.width() * 3].reshape(
        image.height(), image.width(), 3).astype(int)

    def seen(colour) -> int:
        return int((np.abs(pixels - np.array(colour)).sum(axis=2) < 40).sum())

    green = VISIBILITY_COLOURS["well"]
    assert seen((green.red(), green.green(), green.blue())) > 100  # the labelled outline
    assert seen((255, 255, 255)) > 100  # the selected triangle and its vertex handles
    titles = {dock.windowTitle() for dock in window.label_page.docks.values()}
    assert titles == {"Images", "Billet and shapes", "Labels", "History", "View"}
    assert all(dock.isVisible() for dock in window.label_page.docks.values())


def test_autosave_writes_unsaved_edits_on_its_timer(qtbot, window, project):
    session = window.label_page.session
    assert session.autosave_timer.interval() == 30_000 and session.autosave_timer.isActive()
    session.autosave_timer.setInterval(50)  # the 30 s timer, sped up
    draw_polygon(qtbot, window, SQUARE)
    key(qtbot, window, Qt.Key.Key_6)
    sidecar = project.root / "images" / "a.json"
    qtbot.waitUntil(lambda: sidecar.exists() and not session.modified, timeout=5000)
    assert [s["label"] for s in json.loads(sidecar.read_text())["shapes"]] == ["6"]


def test_shapes_hide_and_show_without_touching_the_labels(qtbot, window):
    draw_polygon(qtbot, window, SQUARE)
    canvas = window.label_page.canvas
    key(qtbot, window, Qt.Key.Key_H, CTRL | SHIFT)
    assert not any(item.isVisible() for item in canvas.items)
    assert not window.label_page.view_options.show_shapes.isChecked()
    key(qtbot, window, Qt.Key.Key_H, CTRL | SHIFT)
    assert all(item.isVisible() for item in canvas.items)
    window.label_page.view_options.show_shapes.click()  # the View dock's checkbox
    assert not any(item.isVisible() for item in canvas.items)
    assert len(saved_shapes(qtbot, window)) == 1


def test_undo_and_redo_round_trip_holes_site_done_and_snaps(qtbot, window, project):
    states = []

    def record() -> None:
        key(qtbot, window, Qt.Key.Key_S, CTRL)
        states.append((project.root / "images" / "a.json").read_text())

    record()
    draw_polygon(qtbot, window, SQUARE)
    record()
    key(qtbot, window, Qt.Key.Key_4, CTRL)  # hole tool, the square still selected
    for point in ((30.0, 30.0), (50.0, 30.0), (40.0, 50.0)):
        click(qtbot, window, point)
    key(qtbot, window, Qt.Key.Key_Return)
    record()
    combo = window.label_page.shape_panel.site_combo
    combo.setCurrentIndex(combo.findText("A"))
    combo.activated.emit(combo.currentIndex())
    record()
    key(qtbot, window, Qt.Key.Key_Return, CTRL)  # done
    record()
    canvas = window.label_page.canvas
    qtbot.keyPress(canvas, Qt.Key.Key_B)
    drag(qtbot, window, (120.0, 40.0), (150.0, 90.0))
    qtbot.keyRelease(canvas, Qt.Key.Key_B)
    record()
    key(qtbot, window, Qt.Key.Key_Right)
    key(qtbot, window, Qt.Key.Key_Right)  # two nudges, one step
    record()
    assert len(set(states)) == len(states)
    for state in reversed(states[:-1]):
        key(qtbot, window, Qt.Key.Key_Z, CTRL)
        key(qtbot, window, Qt.Key.Key_S, CTRL)
        assert (project.root / "images" / "a.json").read_text() == state
    for state in states[1:]:
        key(qtbot, window, Qt.Key.Key_Y, CTRL)
        key(qtbot, window, Qt.Key.Key_S, CTRL)
        assert (project.root / "images" / "a.json").read_text() == state


def test_fast_typing_with_overlapping_keys_labels_every_shape(qtbot, window):
    key(qtbot, window, Qt.Key.Key_G, ALT)  # snap off: the boxes keep being boxes
    key(qtbot, window, Qt.Key.Key_3, CTRL)
    for x in (20.0, 80.0):
        drag(qtbot, window, (x, 30.0), (x + 30.0, 80.0))
    key(qtbot, window, Qt.Key.Key_1, CTRL)
    click(qtbot, window, (35.0, 50.0))
    canvas = window.label_page.canvas
    qtbot.keyPress(canvas, Qt.Key.Key_4)  # 7 goes down before 4 comes up
    qtbot.keyPress(canvas, Qt.Key.Key_7)
    qtbot.keyRelease(canvas, Qt.Key.Key_4)
    qtbot.keyRelease(canvas, Qt.Key.Key_7)
    assert [s["label"] for s in saved_shapes(qtbot, window)] == ["4", "7"]


def test_deleting_a_hole_on_its_own_fills_its_outline_again(qtbot, window):
    from PySide6.QtCore import QPointF

    draw_polygon(qtbot, window, SQUARE)
    key(qtbot, window, Qt.Key.Key_4, CTRL)
    for point in ((30.0, 30.0), (50.0, 30.0), (50.0, 50.0), (30.0, 50.0)):
        click(qtbot, window, point)
    key(qtbot, window, Qt.Key.Key_Return)
    canvas = window.label_page.canvas
    assert not canvas.items[0].path().contains(QPointF(40.0, 40.0))  # cut out
    key(qtbot, window, Qt.Key.Key_1, CTRL)
    click(qtbot, window, (40.0, 40.0))  # inside the hole: the hole alone
    assert canvas.selection == [1]
    key(qtbot, window, Qt.Key.Key_Delete)
    assert len(canvas.shapes) == 1 and canvas.items[0].path().contains(QPointF(40.0, 40.0))


def test_a_click_with_jitter_selects_without_moving(qtbot, window):
    draw_polygon(qtbot, window, SQUARE)
    key(qtbot, window, Qt.Key.Key_1, CTRL)
    key(qtbot, window, Qt.Key.Key_Escape)
    stack = window.label_page.session.undo_stack
    steps = stack.count()
    drag(qtbot, window, (40.0, 40.0), (40.3, 40.2))  # a hand's tremor, not a drag
    drag(qtbot, window, (60.0, 70.0), (60.2, 69.8))  # the same on a vertex
    assert stack.count() == steps and window.label_page.canvas.selection == [0]


def test_label_tags_hide_while_shapes_are_too_small_on_screen_to_read(qtbot, window):
    draw_polygon(qtbot, window, [(10.0, 10.0), (14.0, 10.0), (12.0, 13.0)])  # 3 px tall
    key(qtbot, window, Qt.Key.Key_7)
    canvas = window.label_page.canvas
    [item] = canvas.items
    canvas.set_scale(1.0)  # 3 screen px: a tag would hide the stamp
    assert not item.tag.isVisible()
    canvas.set_scale(8.0)  # 24 screen px
    assert item.tag.isVisible() and item.tag.text() == "7"
