"""Checkpoint comparison: the PNG cache rendered by `gan compare`, and the studio page that
fills its grid from a real tiny run, flips through steps, zooms cells together and picks
checkpoints into the project's synthesis pool."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("torch")

from billet_studio.annotations import Project
from billet_studio.cli import main
from billet_studio.gan.comparison import (
    COMPARE_FOLDER,
    DONE_FILE,
    ERROR_FILE,
    cell_path,
    read_mask_set,
    set_name,
)
from billet_studio.synthesis.settings import load_synthesis_settings

STEPS = (1, 2, 3)


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory) -> tuple[Project, Path]:
    """A tiny real GAN run with a checkpoint at each of three steps."""
    root = tmp_path_factory.mktemp("compare") / "demo"
    assert main(["demo", "init", str(root), "--billets", "8", "--test", "4", "--size", "192",
                 "--workers", "1"]) == 0
    assert main(["gan", "train", str(root), "--preset", "tiny", "--steps", "3", "--every",
                 "1", "--run-name", "t", "--no-legibility"]) == 0
    return Project.open(root), root / "runs" / "gan" / "t"


@pytest.fixture
def run_copy(gan_run, tmp_path) -> tuple[Project, Path]:
    """A copy of the project a test may change (caches, pool, damaged checkpoints)."""
    project, run = gan_run
    root = tmp_path / "demo"
    shutil.copytree(project.root, root)
    return Project.open(root), root / "runs" / "gan" / run.name


def test_compare_renders_every_cell_caches_and_rerenders_a_changed_checkpoint(run_copy):
    project, run = run_copy
    assert main(["gan", "compare", str(run), "--project", str(project.root), "-n", "3"]) == 0
    folder = run / COMPARE_FOLDER / set_name("validation", 3, 0)
    masks = read_mask_set(folder)
    assert masks.masks.shape[0] == 3 and masks.targets is not None  # real stamps beside
    cells = {step: [cell_path(folder, step, row) for row in range(3)] for step in STEPS}
    assert all(path.is_file() for paths in cells.values() for path in paths)
    first = {path: path.stat().st_mtime_ns for paths in cells.values() for path in paths}
    # A second run finds every column current and renders nothing.
    assert main(["gan", "compare", str(run), "--project", str(project.root), "-n", "3"]) == 0
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in first.items())
    # A checkpoint replaced by another (here step 3's generator copied over step 2's) is
    # rendered again: its column now shows exactly what step 3 draws.
    checkpoints = run / "checkpoints"
    saved = {suffix: (checkpoints / f"step_0000002{suffix}").read_bytes()
             for suffix in (".safetensors", ".json")}
    for suffix in (".safetensors", ".json"):
        shutil.copyfile(checkpoints / f"step_0000003{suffix}",
                        checkpoints / f"step_0000002{suffix}")
    assert main(["gan", "compare", str(run), "--project", str(project.root), "-n", "3"]) == 0
    assert [p.read_bytes() for p in cells[2]] == [p.read_bytes() for p in cells[3]]
    assert all(path.stat().st_mtime_ns == first[path] for path in cells[1] + cells[3])
    for suffix, data in saved.items():
        (checkpoints / f"step_0000002{suffix}").write_bytes(data)
    # A damaged checkpoint (its weights no longer match its sidecar's checksum) spoils
    # only its own column, with the file named.
    sidecar = checkpoints / "step_0000002.json"
    document = json.loads(sidecar.read_text())
    document["sha256"]["weights"] = "0" * 64
    sidecar.write_text(json.dumps(document))
    assert main(["gan", "compare", str(run), "--project", str(project.root), "-n", "3"]) == 0
    error = json.loads((cells[2][0].parent / ERROR_FILE).read_text())["error"]
    assert "step_0000002.safetensors" in error and "checksum" in error
    assert not (cells[2][0].parent / DONE_FILE).exists()
    assert all(path.stat().st_mtime_ns == first[path] for path in cells[1] + cells[3])


def test_compare_takes_templates_varied_masks_and_a_folder(run_copy, tmp_path):
    project, run = run_copy
    for source in ("templates", "varied"):
        assert main(["gan", "compare", str(run), "--project", str(project.root), "--masks",
                     source, "-n", "2", "--steps", "3"]) == 0
        folder = run / COMPARE_FOLDER / set_name(source, 2, 0)
        assert read_mask_set(folder).targets is None
        assert cell_path(folder, 3, 1).is_file() and not cell_path(folder, 1, 0).exists()
    empty = tmp_path / "nothing"
    empty.mkdir()
    assert main(["gan", "compare", str(run), "--project", str(project.root), "--masks",
                 str(empty)]) == 2


# -- the studio page ----------------------------------------------------------------------

def _page(qtbot, project: Project):
    pytest.importorskip("pytestqt")
    from billet_studio.gui.compare_page import ComparePage

    page = ComparePage()
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    page.count.setValue(3)
    page.set_project(project)
    return page


def test_the_grid_fills_from_a_real_run_and_flips_and_zooms_together(qtbot, run_copy):
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    from billet_studio.gui.compare_grid import CellView

    project, run = run_copy
    page = _page(qtbot, project)
    assert page.run_choice.currentText() == run.name
    # Nothing is cached: the page starts `gan compare` itself; cells appear as they finish.
    qtbot.waitUntil(lambda: len(page.loaded) == 3 * len(STEPS), timeout=90_000)
    assert "failed" not in page.state.text()
    assert sorted(page.headers) == list(STEPS)
    assert "L1" in page.headers[3].scores.text()  # held-out scores in the header
    assert len(page.row_views) == 3 and all(v.has_image() for v in page.row_views)
    # Clicking a cell makes it current and leaves the keys with the page: Right flips to
    # the next step, Down to the next mask.
    page.activateWindow()
    page.setFocus()
    qtbot.mouseClick(page.cells[(1, 0)].viewport(), Qt.MouseButton.LeftButton)
    assert page.current == (0, 0)  # step 1 is the first column
    focused = QApplication.focusWidget() or page
    assert not isinstance(focused, CellView), focused
    qtbot.keyClick(focused, Qt.Key.Key_Right)
    qtbot.keyClick(focused, Qt.Key.Key_Down)
    assert page.current == (1, 1)
    assert page.focus_title.text().startswith("step 2 · mask 2/3")
    assert page.focus_view.has_image()
    qtbot.keyClick(page, Qt.Key.Key_Right)
    qtbot.keyClick(page, Qt.Key.Key_Right)  # past the last step: stays
    assert page.current == (2, 1)
    # The wheel over one cell zooms all of them the same; panning one pans all.
    some = page.cells[(1, 0)]
    for _ in range(3):
        some.wheelEvent(QWheelEvent(QPointF(50, 50), QPointF(50, 50), QPoint(0, 0),
                                    QPoint(0, 120), Qt.MouseButton.NoButton,
                                    Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                                    False))
    scales = {round(v.transform().m11() / v.base, 6) for v in page.sync.views}
    assert scales == {round(1.25**3, 6)}
    some.horizontalScrollBar().setValue(some.horizontalScrollBar().maximum())
    other = page.cells[(3, 2)]
    assert other.horizontalScrollBar().value() == some.horizontalScrollBar().value() > 0


def test_picking_checkpoints_writes_the_projects_synthesis_pool(qtbot, run_copy):
    project, _ = run_copy
    page = _page(qtbot, project)
    qtbot.waitUntil(lambda: sorted(page.headers) == list(STEPS), timeout=90_000)
    changed = []
    page.pool_changed.connect(lambda: changed.append(True))
    page.headers[2].in_pool.setChecked(True)
    page.headers[3].in_pool.setChecked(True)
    page.headers[3].weight.setValue(25)  # x2.5
    settings = load_synthesis_settings(Project.open(project.root))
    assert settings.renderer == "gan"  # the first pick switches synthesis to the pool
    assert {(e.checkpoint, e.weight) for e in settings.pool} == {
        ("runs/gan/t/checkpoints/step_0000002.safetensors", 1.0),
        ("runs/gan/t/checkpoints/step_0000003.safetensors", 2.5)}
    assert changed
    # A new page reads the pool back; emptying it returns synthesis to classical shading.
    page.shutdown()
    again = _page(qtbot, Project.open(project.root))
    qtbot.waitUntil(lambda: sorted(again.headers) == list(STEPS), timeout=90_000)
    assert again.headers[3].in_pool.isChecked() and again.headers[3].weight.value() == 25
    again.headers[2].in_pool.setChecked(False)
    again.headers[3].in_pool.setChecked(False)
    settings = load_synthesis_settings(Project.open(project.root))
    assert settings.pool == () and settings.renderer == "classical"
