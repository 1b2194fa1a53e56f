"""The command line: version, doctor, init, check, masks, split, and clean errors."""

from __future__ import annotations

import importlib.util
import json
import platform
import subprocess
import sys
import time

from project_builder import SQUARE_WITH_HOLE, add_image, make_project

from billet_studio.annotations import BilletInfo
from billet_studio.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "billet_studio", *args],
                          capture_output=True, text=True, timeout=120)


def test_version_is_fast_and_imports_neither_qt_nor_torch():
    probe = subprocess.run(
        [sys.executable, "-c",
         "import sys\nfrom billet_studio.cli import main\n"
         "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
         "print(sorted(m for m in ('torch', 'PySide6', 'cv2', 'shapely') if m in sys.modules))"],
        capture_output=True, text=True, timeout=60)
    assert probe.stdout.splitlines() == [f"billet-studio {_version()}", "[]"]
    started = time.perf_counter()
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("billet-studio ")
    assert time.perf_counter() - started < 5


def _version() -> str:
    from billet_studio import __version__

    return __version__


def test_doctor_reports_versions():
    result = run_cli("doctor")
    assert result.returncode == 0
    facts = dict(line.split(None, 1) for line in result.stdout.splitlines()[1:])
    assert facts["python"].startswith(platform.python_version())
    if importlib.util.find_spec("torch"):
        import torch

        assert facts["torch"] == torch.__version__
        assert facts["device"].startswith("cpu") or facts["device"].startswith("cuda")
    else:
        assert facts["torch"].startswith("not importable")
    if importlib.util.find_spec("PySide6"):
        import PySide6

        assert facts["Qt"].startswith(f"PySide6 {PySide6.__version__}, Qt 6.")
    else:
        assert facts["Qt"].startswith("not importable")


def test_check_exits_1_on_problems_and_0_when_clean(tmp_path, capsys):
    project = make_project(tmp_path / "p")
    add_image(project, "a.png", SQUARE_WITH_HOLE, BilletInfo(site="A"))
    assert main(["check", str(project.root)]) == 0
    (project.root / "images" / "a.json").write_text("{")
    assert main(["check", str(project.root)]) == 1
    out = capsys.readouterr().out
    assert "a.json: is not valid JSON" in out and "1 errors" in out


def test_bad_project_folder_is_a_clean_error(tmp_path, capsys):
    assert main(["check", str(tmp_path / "missing")]) == 2
    assert "missing: is not a folder" in capsys.readouterr().err


def test_init_masks_and_split_from_the_command_line(tmp_path, capsys):
    root = tmp_path / "p"
    assert main(["init", str(root)]) == 0
    assert (root / "project.toml").exists()
    project = make_project(tmp_path / "q")
    for index in range(6):
        add_image(project, f"i{index}.png", SQUARE_WITH_HOLE, BilletInfo(site="AB"[index % 2]))
    assert main(["split", str(project.root), "--test", "2", "--balance", "site",
                 "--dry-run"]) == 0
    assert not any(r.split == "test" for r in project.load_records())
    assert main(["split", str(project.root), "--test", "2", "--balance", "site"]) == 0
    tested = [r for r in project.load_records() if r.split == "test"]
    assert sorted(r.billet.site for r in tested) == ["A", "B"]
    assert main(["split", str(project.root), "--test", "1"]) == 2
    assert "never moved silently" in capsys.readouterr().err
    out = tmp_path / "masks"
    assert main(["masks", str(project.root), "--out", str(out), "--size", "32"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["images"] == 4 and len(manifest["pairs"]) == 4


def test_demo_init_builds_a_project_that_passes_check(tmp_path):
    root = tmp_path / "demo"
    result = run_cli("demo", "init", str(root), "--billets", "4", "--test", "4",
                     "--size", "192", "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert "4 training and 4 test billets" in result.stdout
    result = run_cli("check", str(root))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "8 images, 0 errors, 0 warnings" in result.stdout
    again = run_cli("demo", "init", str(root))
    assert again.returncode == 2 and "is not empty" in again.stderr
    bad = run_cli("demo", "init", str(tmp_path / "x"), "--test", "3")
    assert bad.returncode == 2 and "multiple of 4" in bad.stderr


def test_glyphs_learn_from_the_command_line(tmp_path, capsys):
    from billet_studio.demo import DemoConfig, build_demo_project
    from billet_studio.glyphs import load_glyph_set

    root = tmp_path / "demo"
    list(build_demo_project(root, DemoConfig(billets=8, test=4, size=256, surfaces=0,
                                             workers=1)))
    bundled = (root / "glyphs.json").read_bytes()
    assert main(["glyphs", "learn", str(root)]) == 2
    assert "pass --replace" in capsys.readouterr().err
    assert (root / "glyphs.json").read_bytes() == bundled
    assert main(["glyphs", "learn", str(root), "--replace", "--min-examples", "4"]) == 0
    out = capsys.readouterr().out
    assert "4 test images were not read" in out
    assert (root / "glyphs.json.bak").read_bytes() == bundled
    learned = load_glyph_set(root / "glyphs.json")
    assert learned.style.startswith("learned from") and len(learned) == 36
