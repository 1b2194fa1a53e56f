"""The training page: runs started as child processes, followed from their folders,
paused, resumed, killed from outside, and reattached by a new studio."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")
pytest.importorskip("torch")

from billet_studio.annotations import Project
from billet_studio.cli import main
from billet_studio.gui.train_page import TrainPage
from billet_studio.jobs import request_stop
from billet_studio.training.run_status import run_status

WAIT = 90_000  # ms; a child imports torch first


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    root = tmp_path_factory.mktemp("train") / "demo"
    assert main(["demo", "init", str(root), "--billets", "8", "--test", "4", "--size", "192",
                 "--workers", "1"]) == 0
    return Project.open(root)


def page_on(qtbot, project: Project) -> TrainPage:
    page = TrainPage()
    qtbot.addWidget(page)
    page.set_project(project)
    return page


def start_tiny_gan(page: TrainPage, name: str) -> Path:
    page.kind.setCurrentText("gan")
    page.preset.setCurrentText("tiny")
    page.steps.setValue(1_000_000)  # runs until paused
    page.name.setText(name)
    run = page.start_run()
    assert run is not None
    page.select_run(run)
    return run


def state_of(page: TrainPage, run: Path) -> str:
    page.refresh()
    return next(s.state for s in page.statuses if s.run_dir == run)


def test_a_run_started_from_the_page_shows_its_curve_pauses_and_resumes(qtbot, project):
    page = page_on(qtbot, project)
    run = start_tiny_gan(page, "live")
    try:
        qtbot.waitUntil(lambda: state_of(page, run) == "running" and len(page._curve) >= 3,
                        timeout=WAIT)
        assert page.line.getData()[0] is not None and len(page.line.getData()[0]) >= 3
        details = page.details.text()
        assert "running" in details and "process" in details
        assert "steps/s" in details and "ETA" in details and "on CPU" in details
        assert page.steps_per_second() > 0
        assert page.cancel_button.isEnabled()
        page.select_run(run)
        page.pause_selected()
        qtbot.waitUntil(lambda: state_of(page, run) == "stopped", timeout=WAIT)
        paused = run_status(run).step
        assert paused > 0 and page.resume_button.isEnabled()
        # Pausing saved a checkpoint: its preview (mask | render | real) is shown.
        qtbot.waitUntil(lambda: page.preview.pixmap() is not None
                        and not page.preview.pixmap().isNull(), timeout=10_000)
        assert f"step_{paused:07d}" in page.preview.toolTip()
        page.resume_selected()
        qtbot.waitUntil(lambda: state_of(page, run) == "running"
                        and run_status(run).step > paused, timeout=WAIT)
        assert run_status(run).total == 1_000_000  # the resumed run keeps its own budget
        # Cancel ends the run for good: not offered for resuming.
        page.cancel_selected()
        qtbot.waitUntil(lambda: state_of(page, run) == "cancelled", timeout=WAIT)
        page.select_run(run)
        page.refresh()
        assert not page.resume_button.isEnabled() and not page.cancel_button.isEnabled()
    finally:
        request_stop(run)
        qtbot.waitUntil(lambda: run_status(run).state != "running", timeout=WAIT)


def test_a_run_killed_from_outside_shows_as_failed_with_its_last_lines(qtbot, project):
    page = page_on(qtbot, project)
    run = start_tiny_gan(page, "doomed")
    qtbot.waitUntil(lambda: state_of(page, run) == "running" and len(page._curve) >= 1,
                    timeout=WAIT)
    os.kill(run_status(run).holder["pid"], signal.SIGKILL)
    qtbot.waitUntil(lambda: state_of(page, run) == "failed", timeout=WAIT)
    page.select_run(run)
    page.refresh()
    assert "without a word" in page.details.text()
    assert "gan" in page.details.text()  # the console's last lines (its progress bar)
    assert page.resume_button.isEnabled()  # and the page still works


def test_a_new_studio_reattaches_to_a_run_it_did_not_start(qtbot, project):
    first = page_on(qtbot, project)
    run = start_tiny_gan(first, "lasting")
    try:
        qtbot.waitUntil(lambda: state_of(first, run) == "running", timeout=WAIT)
        first.shutdown()
        first.close()  # the studio closes; the run goes on
        second = page_on(qtbot, project)
        second.select_run(run)
        qtbot.waitUntil(lambda: state_of(second, run) == "running"
                        and len(second._curve) >= 2, timeout=WAIT)
        assert second.pause_button.isEnabled()
        second.pause_selected()
        qtbot.waitUntil(lambda: state_of(second, run) == "stopped", timeout=WAIT)
    finally:
        request_stop(run)
        qtbot.waitUntil(lambda: run_status(run).state != "running", timeout=WAIT)


def test_a_detector_run_shows_its_pretraining_phase_before_its_first_step(qtbot, project):
    from billet_studio.jobs import JsonlProgressWriter, Progress
    from billet_studio.training.run_lock import RunLock
    from billet_studio.training.run_status import PRETRAIN_LOG

    run = project.root / "runs" / "detector" / "warming"
    run.mkdir(parents=True)
    log = JsonlProgressWriter(run / PRETRAIN_LOG)
    log.write(Progress(300, 800, "pretraining the backbone: step 300/800 loss 1.234",
                       {"pretrain_loss": 1.234, "eta_s": 150.0}))
    page = page_on(qtbot, project)
    with RunLock(run):
        page.refresh()
        page.select_run(run)
        details = page.details.text()
        assert "running" in details and "pretraining the backbone: step 300/800" in details
        assert "ETA 2.5 min" in details
        # Once training logs its first step, the page follows the training instead.
        JsonlProgressWriter(run / "log.jsonl").write(
            Progress(1, 3000, "step 1/3000 loss 2.0", {"loss": 2.0, "lr": 0.001}))
        page.refresh()
        assert "pretraining" not in page.details.text()
