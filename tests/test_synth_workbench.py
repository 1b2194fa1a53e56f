"""The synthesis workbench: one billet at a time from the core (labels inside the image,
reproducible by seed), and the studio page that previews it live, renders on a worker,
saves its settings to project.toml and reports bad settings and missing checkpoints."""

from __future__ import annotations

import shutil
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from billet_studio.annotations import AnnotationError, Project
from billet_studio.cli import main
from billet_studio.synthesis import ClassicalRenderer
from billet_studio.synthesis.settings import (
    PoolEntry,
    SynthesisSettings,
    load_synthesis_settings,
    save_synthesis_settings,
)
from billet_studio.synthesis.workbench import BilletWorkbench, make_renderer, resolve_pool

SIZE = 256
WAIT = 60_000  # ms; the first GAN render imports torch


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("workbench") / "demo"
    assert main(["demo", "init", str(root), "--billets", "8", "--test", "4", "--size", "192",
                 "--workers", "1"]) == 0
    return root


@pytest.fixture
def project(demo_root, tmp_path) -> Project:
    """A copy of the demo project per test (tests write its project.toml), set to SIZE."""
    root = tmp_path / "demo"
    shutil.copytree(demo_root, root)
    opened = Project.open(root)
    save_synthesis_settings(opened, SynthesisSettings(size=SIZE))
    return opened


def never_gan(pool):
    raise AssertionError("the classical renderer must not load a GAN")


# -- core ----------------------------------------------------------------------------------


def test_the_core_renders_a_billet_with_labels_inside_and_the_same_seed_repeats(project):
    settings = SynthesisSettings(size=SIZE, characters=6)
    bench = BilletWorkbench()
    renderer = bench.renderer(project, settings, never_gan, None)
    assert isinstance(renderer, ClassicalRenderer)
    billet = bench.render(project, settings, renderer, seed=3)
    assert billet.image.shape == (SIZE, SIZE, 3) and len(billet.text) == 6
    assert billet.stamps
    for stamp in billet.stamps:
        assert 0 <= stamp.box.x0 < stamp.box.x1 <= SIZE
        assert 0 <= stamp.box.y0 < stamp.box.y1 <= SIZE
    again = BilletWorkbench().render(project, settings, ClassicalRenderer(), seed=3)
    assert np.array_equal(again.image, billet.image) and again.text == billet.text
    other = bench.render(project, settings, renderer, seed=4)
    assert not np.array_equal(other.image, billet.image)


def test_the_core_names_a_missing_checkpoint_and_an_empty_surface_folder(project, tmp_path):
    settings = SynthesisSettings(renderer="gan", pool=(PoolEntry("runs/gone.safetensors"),),
                                 size=SIZE)
    with pytest.raises(AnnotationError, match=r"gone\.safetensors"):
        make_renderer(project, settings, never_gan, None)
    with pytest.raises(AnnotationError, match="bundled"):
        resolve_pool(project, (PoolEntry("bundled"),), None)
    shutil.rmtree(project.root / "surfaces")
    with pytest.raises(AnnotationError, match="surfaces"):
        BilletWorkbench().render(project, SynthesisSettings(size=SIZE), ClassicalRenderer(), 0)


def test_the_core_keeps_the_gan_renderer_until_its_pool_changes(project):
    (project.root / "a.safetensors").write_bytes(b"a")
    (project.root / "b.safetensors").write_bytes(b"b")
    loads = []

    def load(pool):
        loads.append(pool)
        return ClassicalRenderer()

    bench = BilletWorkbench()
    first = SynthesisSettings(renderer="gan", pool=(PoolEntry("a.safetensors"),), size=SIZE)
    assert bench.renderer(project, first, load, None) is bench.renderer(
        project, replace(first, blur_px=3.0), load, None)
    assert len(loads) == 1 and loads[0] == [(project.root / "a.safetensors", 1.0)]
    bench.renderer(project, replace(first, pool=(PoolEntry("b.safetensors", 2.0),)), load,
                   None)
    assert len(loads) == 2 and loads[1] == [(project.root / "b.safetensors", 2.0)]


# -- the page ------------------------------------------------------------------------------


@pytest.fixture
def bot(request):
    """pytest-qt's qtbot; the page's tests are skipped where Qt or pytest-qt is missing
    (the core's tests above still run)."""
    pytest.importorskip("PySide6")
    pytest.importorskip("pytestqt")
    return request.getfixturevalue("qtbot")


@pytest.fixture
def page(bot):
    from billet_studio.gui.synth_page import SynthPage

    shown = SynthPage()
    bot.addWidget(shown)
    shown.resize(1000, 700)
    shown.show()
    messages: list[str] = []
    shown.message.connect(messages.append)
    shown.messages = messages
    yield shown
    shown.shutdown()


def wait_for_new_preview(bot, page, old=None) -> None:
    bot.waitUntil(lambda: page.preview is not None and page.preview is not old
                    and page._requested == page.worker.latest
                    and page.preview.seed == page.seed, timeout=WAIT)


@pytest.fixture
def torch_threads():
    """Put torch's thread count back after a test whose worker set it to one."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def saved(project: Project) -> SynthesisSettings:
    return load_synthesis_settings(Project.open(project.root))


def test_the_page_shows_a_billet_with_its_boxes_and_labels(bot, page, project):
    page.set_project(project)
    wait_for_new_preview(bot, page)
    billet = page.preview.billet
    assert billet.image.shape == (SIZE, SIZE, 3)
    from billet_studio.gui.stamp_items import ROLE_KEY, STAMP_LABEL_ROLE
    from billet_studio.gui.synth_page import BOX_ROLE

    roles = [item.data(ROLE_KEY) for item in page.view.scene().items()]
    assert roles.count(BOX_ROLE) == len(billet.stamps) > 0
    assert roles.count(STAMP_LABEL_ROLE) == len(billet.stamps)
    assert billet.text in page.caption.text() and billet.visibility in page.caption.text()
    assert not page.controls.gan_available()  # the demo project's pool is empty


def test_billets_are_rendered_off_the_gui_thread(bot, page, project):
    threads = []
    render = page.worker.workbench.render

    def recording(*args, **kwargs):
        threads.append(threading.current_thread())
        return render(*args, **kwargs)

    page.worker.workbench.render = recording
    page.set_project(project)
    wait_for_new_preview(bot, page)
    assert threads and threading.main_thread() not in threads


def test_shuffle_shows_another_billet(bot, page, project):
    page.set_project(project)
    wait_for_new_preview(bot, page)
    first = page.preview
    page.shuffle_button.click()
    wait_for_new_preview(bot, page, first)
    assert page.preview.seed != first.seed
    assert not np.array_equal(page.preview.billet.image, first.billet.image)


def test_a_newer_request_supersedes_older_ones(bot, page, project):
    page.set_project(project)
    wait_for_new_preview(bot, page)
    finished: list[int] = []
    page.worker.rendered.connect(lambda number, result, error: finished.append(number))
    for _ in range(6):
        page.shuffle()
    wait_for_new_preview(bot, page, page.preview)
    bot.wait(200)
    assert finished[-1] == page.worker.latest and page.preview.seed == page.seed
    assert len(finished) < 6  # requests superseded while queued were never rendered


def test_changing_a_setting_renders_again_and_saves_it(bot, page, project):
    page.set_project(project)
    wait_for_new_preview(bot, page)
    first, requests = page.preview, page.worker.latest
    with bot.waitSignal(page.settings_saved, timeout=WAIT):
        page.controls.knobs["rotation_deg"].spin.setValue(20.0)
        page.controls.poisson.setChecked(True)
    wait_for_new_preview(bot, page, first)
    assert page.worker.latest == requests + 1  # the two edits made one (debounced) render
    assert page.preview.seed == first.seed  # the same billet, made with the new settings
    assert not np.array_equal(page.preview.billet.image, first.billet.image)
    on_disk = saved(project)
    assert on_disk.rotation_deg == 20.0 and on_disk.poisson
    assert on_disk.size == SIZE  # what the page does not edit is kept


def test_partial_and_poor_over_one_are_reported_and_not_saved(bot, page, project):
    page.set_project(project)
    wait_for_new_preview(bot, page)
    before = (project.root / "project.toml").read_text(encoding="utf-8")
    page.controls.knobs["partial"].spin.setValue(0.8)
    page.controls.knobs["poor"].spin.setValue(0.5)
    bot.wait(2 * 500)
    assert page.problem.isVisible() and "sum to at most 1" in page.problem.text()
    assert any("sum to at most 1" in m for m in page.messages)
    assert (project.root / "project.toml").read_text(encoding="utf-8") == before
    assert saved(project).poor == 0.0


def test_reload_settings_picks_up_a_pool_saved_elsewhere(bot, page, project):
    page.set_project(project)
    wait_for_new_preview(bot, page)
    other = Project.open(project.root)
    save_synthesis_settings(other, SynthesisSettings(pool=(PoolEntry("bundled", 2.0),),
                                                     size=SIZE, blur_px=2.5))
    page.reload_settings()
    assert page.controls.gan_available()
    assert "bundled ×2" in page.controls.pool.text()
    assert page.controls.knobs["blur_px"].value() == 2.5


def test_the_gan_pool_renders_with_the_bundled_generator(bot, page, project, torch_threads):
    from billet_studio.gan.bundled import bundled_generator_path

    if bundled_generator_path() is None:
        pytest.skip("this installation has no bundled generator")
    save_synthesis_settings(project, SynthesisSettings(
        renderer="gan", pool=(PoolEntry("bundled"),), size=SIZE))
    page.set_project(project)
    wait_for_new_preview(bot, page)
    assert page.preview.renderer == "gan" and page.preview.billet.stamps
    assert not page.problem.isVisible()
    loaded = page.worker.workbench._gan
    page.controls.knobs["blur_px"].spin.setValue(3.0)
    wait_for_new_preview(bot, page, page.preview)
    assert page.worker.workbench._gan is loaded  # not loaded again for a knob


def test_a_pool_naming_a_missing_checkpoint_shows_an_error_naming_it(bot, page, project):
    save_synthesis_settings(project, SynthesisSettings(
        renderer="gan", pool=(PoolEntry("runs/gan/lost/step_0000100.safetensors"),),
        size=SIZE))
    page.set_project(project)
    bot.waitUntil(lambda: page.problem.isVisible(), timeout=WAIT)
    assert "step_0000100.safetensors" in page.problem.text()
    assert any("step_0000100.safetensors" in m for m in page.messages)
    assert page.preview is None


def test_a_corrupt_checkpoint_shows_an_error_naming_it(bot, page, project, torch_threads):
    (project.root / "broken.safetensors").write_bytes(b"not a checkpoint at all")
    save_synthesis_settings(project, SynthesisSettings(
        renderer="gan", pool=(PoolEntry("broken.safetensors"),), size=SIZE))
    page.set_project(project)
    bot.waitUntil(lambda: page.problem.isVisible(), timeout=WAIT)
    assert "broken.safetensors" in page.problem.text()


def test_a_hidden_page_renders_only_once_it_is_shown(bot, project):
    from billet_studio.gui.synth_page import SynthPage

    hidden = SynthPage()
    bot.addWidget(hidden)
    try:
        hidden.set_project(project)
        bot.wait(300)
        assert hidden.worker.latest == 0 and hidden.preview is None  # nothing asked for
        hidden.show()
        bot.waitUntil(lambda: hidden.preview is not None, timeout=WAIT)
        assert hidden.worker.latest == 1
    finally:
        hidden.shutdown()
