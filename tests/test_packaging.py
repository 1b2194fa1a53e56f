"""Package layout: every package folder is declared, package data loads by import name."""

from __future__ import annotations

import tomllib
from importlib.resources import files
from pathlib import Path

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
    icon = files("billet_studio.resources") / "icons" / "billet-studio.svg"
    assert icon.is_file() and b"<svg" in icon.read_bytes()
    assert files("billet_studio.models").is_dir()
