"""One-click export: the dialog runs `dataset build` as a child process with the project's
synthesis settings; the result is a dataset the `dataset` commands accept, shown as a
contact sheet; Cancel stops it with the finished images kept, and exporting again
resumes."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from billet_studio.annotations import Project
from billet_studio.cli import main
from billet_studio.gui.export_dialog import ExportDialog
from billet_studio.synthesis.settings import load_synthesis_settings, save_synthesis_settings

WAIT = 120_000


@pytest.fixture
def project(tmp_path) -> Project:
    root = tmp_path / "demo"
    assert main(["demo", "init", str(root), "--billets", "8", "--test", "4", "--size", "192",
                 "--workers", "1"]) == 0
    project = Project.open(root)
    # Small, quick synthetic billets; the dialog must pass these settings on.
    save_synthesis_settings(project, replace(load_synthesis_settings(project), size=160,
                                             characters=3, rotation_deg=2.0, poisson=True))
    return Project.open(root)


def _dialog(qtbot, project: Project, name: str, images: int, synthetic: float = 0.5
            ) -> ExportDialog:
    dialog = ExportDialog(project)
    qtbot.addWidget(dialog)
    dialog.name.setText(name)
    dialog.images.setValue(images)
    dialog.synthetic.setValue(synthetic)
    dialog.workers.setValue(1)
    return dialog


def test_export_from_the_dialog_makes_a_dataset_the_cli_accepts(qtbot, project):
    dialog = _dialog(qtbot, project, "one-click", 6)
    command = dialog.command.toPlainText()
    assert "--size 160" in command and "--poisson" in command and "--rotation 2" in command
    ended = []
    dialog.ended.connect(lambda folder, state: ended.append((folder, state)))
    assert dialog.start()
    qtbot.waitUntil(lambda: bool(ended), timeout=WAIT)
    folder = project.root / "datasets" / "one-click"
    assert ended == [(folder, "finished")], dialog.state.text()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["counts"]["train"]["images"] + manifest["counts"]["val"]["images"] == 6
    plan = json.loads((folder / "plan.json").read_text())
    assert plan["config"]["composite"]["poisson"] is True
    assert plan["config"]["composite"]["warp"]["rotation_deg"] == 2.0
    assert dialog.progress.value() == dialog.progress.maximum() == 3  # synthetic images
    assert dialog.progress.format().endswith("done")
    # The result opens as a contact sheet.
    assert len(dialog.sheets) == 1
    qtbot.waitUntil(dialog.sheets[0].loaded, timeout=10_000)
    # The `dataset` commands accept it.
    assert main(["dataset", "merge", str(project.root), "--out", "one-click"]) == 0


def test_cancel_keeps_finished_images_and_exporting_again_resumes(qtbot, project):
    dialog = _dialog(qtbot, project, "stopped", 200, synthetic=0.97)  # 194 synthetic
    ended = []
    dialog.ended.connect(lambda folder, state: ended.append(state))
    assert dialog.start()
    # While it runs the form is locked: the export's folder cannot change under it.
    assert not dialog.name.isEnabled() and not dialog.export_button.isEnabled()
    labels = project.root / "datasets" / "stopped" / "labels"
    qtbot.waitUntil(lambda: labels.is_dir() and len(list(labels.iterdir())) >= 3,
                    timeout=WAIT)
    qtbot.waitUntil(lambda: dialog.progress.maximum() > 1, timeout=10_000)
    assert "ETA" in dialog.progress.format()
    dialog.cancel()
    qtbot.waitUntil(lambda: bool(ended), timeout=WAIT)
    assert ended == ["cancelled"]
    kept = len(list(labels.glob("syn_*.json")))
    assert 3 <= kept < 194
    assert not (labels.parent / "STOP").exists()  # the next export is not stopped at once
    assert not (labels.parent / "train.json").exists()
    assert dialog.name.isEnabled()
    # Exporting again under the same name resumes where it stopped; the bar follows the
    # new log from its first line (the old one is gone before the child starts).
    assert dialog.start()
    assert not (labels.parent / "build-log.jsonl").exists()
    qtbot.waitUntil(lambda: dialog.baseline is not None, timeout=WAIT)
    assert dialog.baseline[1] >= kept
    dialog.cancel()
    qtbot.waitUntil(lambda: len(ended) == 2, timeout=WAIT)
    log = (labels.parent / "build-log.jsonl").read_text().splitlines()
    first = json.loads(log[0])
    assert first["step"] >= kept and "already made" in first["message"]  # resumed
    assert len(list(labels.glob("syn_*.json"))) >= kept


def test_a_bad_name_or_broken_settings_are_reported_before_anything_runs(qtbot, project):
    dialog = _dialog(qtbot, project, "../outside", 6)
    assert not dialog.export_button.isEnabled()
    assert "plain folder name" in dialog.command.toPlainText()
    assert not dialog.start()
    toml = project.root / "project.toml"
    toml.write_text(toml.read_text().replace("poisson = true", 'poisson = "yes"'))
    dialog.name.setText("fine")
    assert "poisson" in dialog.command.toPlainText() and "project.toml" in \
        dialog.command.toPlainText()
    assert not dialog.export_button.isEnabled()
