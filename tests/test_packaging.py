"""Packaging: every package folder is declared, package data loads by import name, the
desktop entry validates, and the wheel works installed away from the source tree."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.resources import files
from pathlib import Path

import pytest

from billet_studio import __version__

REPO = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    declared = set(config["packages"])
    found = {
        ".".join(path.parent.relative_to(REPO).parts)
        for path in (REPO / "billet_studio").rglob("__init__.py")
    }
    mapped = {name for name, folder in config["package-dir"].items() if folder != name}
    assert found | mapped == declared


def test_resources_load_through_importlib_resources():
    icon = files("billet_studio.desktop") / "icons" / "billet-studio.svg"
    assert icon.is_file() and b"<svg" in icon.read_bytes()
    assert (files("billet_studio.resources") / "glyphs.json").is_file()
    assert files("billet_studio.models").is_dir()


def _desktop_file_validate() -> str:
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        if os.environ.get("CI"):
            pytest.fail("desktop-file-validate is missing (.ci/run installs desktop-file-utils)")
        pytest.skip("desktop-file-validate is not installed (Debian: desktop-file-utils)")
    return tool


def test_the_desktop_entry_is_valid_and_its_icons_match_the_svg():
    tool = _desktop_file_validate()
    entry = REPO / "packaging" / "desktop" / "billet-studio.desktop"
    result = subprocess.run([tool, str(entry)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in result.stdout
    fields = dict(line.split("=", 1) for line in entry.read_text().splitlines() if "=" in line)
    assert fields["Exec"] == "billet-studio gui" and fields["Icon"] == "billet-studio"
    from PIL import Image

    icons = REPO / "packaging" / "desktop" / "icons"
    sizes = sorted(int(p.parent.parent.name.split("x")[0])
                   for p in icons.glob("hicolor/*/apps/billet-studio.png"))
    assert sizes == [16, 24, 32, 48, 64, 128, 256, 512]
    for size in sizes:
        with Image.open(icons / "hicolor" / f"{size}x{size}" / "apps" / "billet-studio.png") as png:
            assert png.size == (size, size) and png.mode == "RGBA"
    with Image.open(icons / "billet-studio.ico") as ico:
        assert (256, 256) in ico.info["sizes"] and (16, 16) in ico.info["sizes"]


def _tracked_tree(target: Path) -> Path:
    """A copy of the files git tracks (the build writes build/ and egg-info beside them)."""
    if not (REPO / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def test_the_wheel_installs_and_runs_outside_the_source_tree(tmp_path):
    """``python -m build`` makes an sdist and, from it, a wheel carrying the glyphs, the
    bundled models and the desktop files; installed with ``pip --target`` and run from
    elsewhere it answers --version, doctor, demo init and desktop install."""
    # The build tool (a leftover build/ folder in the checkout is no module of it).
    if importlib.util.find_spec("build") is None or importlib.util.find_spec(
            "build.__main__") is None:
        pytest.skip("the 'build' package is not installed")
    source = _tracked_tree(tmp_path / "source")
    dist = tmp_path / "dist"
    built = subprocess.run([sys.executable, "-m", "build", "--outdir", str(dist), str(source)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    assert [w.name for w in wheels] == [f"billet_studio-{__version__}-py3-none-any.whl"]
    assert len(sdists) == 1
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = set(wheel.namelist())
    for shipped in ("billet_studio/resources/glyphs.json",
                    "billet_studio/models/detector-demo.safetensors",
                    "billet_studio/models/pix2pix-small-demo.safetensors",
                    "billet_studio/desktop/billet-studio.desktop",
                    "billet_studio/desktop/icons/billet-studio.svg",
                    "billet_studio/desktop/icons/hicolor/256x256/apps/billet-studio.png"):
        assert shipped in names
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)
    target = tmp_path / "installed"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(wheels[0])], check=True, timeout=600)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "XDG_DATA_HOME": str(tmp_path / "xdg")}
    script = target / "bin" / "billet-studio"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(script), *args], cwd=elsewhere, env=env,
                              capture_output=True, text=True, timeout=600)

    where = subprocess.run([sys.executable, "-c", "import billet_studio; "
                            "print(billet_studio.__file__)"], cwd=elsewhere, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(target)  # the wheel's copy, not the source tree
    version = run("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"billet-studio {__version__}"
    doctor = run("doctor")
    assert doctor.returncode == 0 and doctor.stdout.startswith(f"billet-studio {__version__}")
    demo = run("demo", "init", str(tmp_path / "demo"), "--billets", "8", "--test", "4",
               "--size", "256", "--workers", "1")
    assert demo.returncode == 0, demo.stderr
    assert len(list((tmp_path / "demo" / "images").glob("*.json"))) == 12
    installed = run("desktop", "install")
    assert installed.returncode == 0, installed.stderr
    entry = tmp_path / "xdg" / "applications" / "billet-studio.desktop"
    fields = dict(line.split("=", 1) for line in entry.read_text().splitlines() if "=" in line)
    assert fields["Exec"] == f"{script} gui"
    assert (tmp_path / "xdg" / "icons" / "hicolor" / "scalable" / "apps"
            / "billet-studio.svg").is_file()
    if shutil.which("desktop-file-validate"):
        assert subprocess.run(["desktop-file-validate", str(entry)]).returncode == 0


def test_the_about_box_shows_what_doctor_prints_and_the_project(request, tmp_path):
    pytest.importorskip("PySide6")
    pytest.importorskip("pytestqt")
    qtbot = request.getfixturevalue("qtbot")
    from PySide6.QtGui import QGuiApplication
    from studio_driver import open_studio

    from billet_studio.cli import main

    assert main(["init", str(tmp_path / "project")]) == 0
    window = open_studio(qtbot, tmp_path / "project")
    about = window.show_about()
    assert about.isVisible() and window.about_action.text() == "&About Billet Studio"
    qtbot.waitUntil(lambda: about.complete, timeout=120_000)  # torch is asked on a worker
    facts = dict(about.facts)
    doctor = subprocess.run([sys.executable, "-m", "billet_studio", "doctor"],
                            capture_output=True, text=True, check=True).stdout
    printed = dict(line.split(None, 1) for line in doctor.splitlines())
    assert list(facts) == [*printed, "project"]
    for name in ("billet-studio", "python", "platform", "Qt"):
        assert facts[name] == printed[name]
    assert facts["display"].startswith(QGuiApplication.platformName())  # "offscreen"
    assert facts["torch"] == printed["torch"]
    assert facts["project"] == str((tmp_path / "project").resolve())
    assert "checking" not in about.table.text() and __version__ in about.table.text()
    about.copy_facts()
    assert QGuiApplication.clipboard().text().splitlines()[0] == f"billet-studio {__version__}"
    about.reject()


def test_commands_run_through_this_installation_also_when_frozen(monkeypatch):
    """Child processes and the desktop entry start ``python -m billet_studio``, or the
    standalone build's own executable."""
    from billet_studio.desktop_entry import studio_command
    from billet_studio.environment import cli_invocation

    assert cli_invocation() == [sys.executable, "-m", "billet_studio"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert cli_invocation() == [sys.executable]
    assert studio_command() == [sys.executable]


def test_gui_reports_its_qt_versions_for_doctor():
    pyside = pytest.importorskip("PySide6")
    from PySide6.QtCore import qVersion

    result = subprocess.run([sys.executable, "-m", "billet_studio", "gui", "--qt-versions"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"PySide6 {pyside.__version__}, Qt {qVersion()}"


def test_the_standalone_recipe_parses_and_its_launcher_runs_the_cli():
    """The PyInstaller spec is valid Python naming files that exist; its entry script runs
    the command line (the full build is a manual step: minutes and gigabytes)."""
    spec = REPO / "packaging" / "pyinstaller" / "billet-studio.spec"
    compile(spec.read_text(), str(spec), "exec")
    assert (REPO / "packaging" / "desktop" / "icons" / "billet-studio.ico").is_file()
    launch = REPO / "packaging" / "pyinstaller" / "launch.py"
    result = subprocess.run([sys.executable, str(launch), "--version"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == f"billet-studio {__version__}"


def _exec_arguments(line: str) -> list[str]:
    """Exec= arguments read back as the desktop entry specification says."""
    value = line.replace("\\\\", "\\")  # the string escaping first
    arguments, current, quoted, escaped, i = [], "", False, False, 0
    while i < len(value):
        c = value[i]
        if quoted and escaped:
            current, escaped = current + c, False
        elif quoted and c == "\\":
            escaped = True
        elif c == '"':
            quoted = not quoted
        elif c == " " and not quoted:
            arguments.append(current)
            current = ""
        else:
            current += c
        i += 1
    return [a.replace("%%", "%") for a in [*arguments, current]]


def test_an_installation_path_with_reserved_characters_survives_the_exec_line(tmp_path):
    from billet_studio.desktop_entry import desktop_entry

    odd = '/opt/plant tools/$HOME\\x/50%/"b`s"/billet-studio'
    text = desktop_entry([odd])
    line = next(v for v in text.splitlines() if v.startswith("Exec="))[len("Exec="):]
    assert _exec_arguments(line) == [odd, "gui"]
    plain = desktop_entry(["/home/me/.local/bin/billet-studio"])
    assert "Exec=/home/me/.local/bin/billet-studio gui" in plain.splitlines()
    entry = tmp_path / "billet-studio.desktop"
    entry.write_text(text)
    if shutil.which("desktop-file-validate"):
        result = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True,
                                text=True)
        assert result.returncode == 0, result.stdout
