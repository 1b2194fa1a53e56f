"""Atomic saves: an interrupted or failed write leaves the old file intact."""

from __future__ import annotations

import os
import stat

import pytest

from billet_studio.annotations import SaveError, atomic_write_bytes, atomic_write_json


def test_write_replaces_content_and_keeps_mode(tmp_path):
    path = tmp_path / "labels.json"
    path.write_text("old")
    os.chmod(path, 0o640)
    atomic_write_json(path, {"a": 1})
    assert path.read_text() == '{\n  "a": 1\n}\n'
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["labels.json"]


def test_new_files_get_the_usual_permissions(tmp_path):
    path = tmp_path / "new.json"
    atomic_write_bytes(path, b"{}")
    assert stat.S_IMODE(path.stat().st_mode) & 0o044 == 0o044  # readable by others (umask 022)


def test_interrupted_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "labels.json"
    path.write_text("precious labels")

    def power_cut(fd):
        raise KeyboardInterrupt  # the process dies between write and rename

    monkeypatch.setattr(os, "fsync", power_cut)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(path, b"half-written new content" * 1000)
    assert path.read_text() == "precious labels"
    assert [p.name for p in tmp_path.iterdir()] == ["labels.json"]


def test_full_disk_is_a_save_error_naming_the_file(tmp_path, monkeypatch):
    path = tmp_path / "labels.json"
    path.write_text("precious labels")
    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, stream):
            self.stream = stream

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.stream.close()

        def write(self, data):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: FullDisk(real_fdopen(fd, mode)))
    with pytest.raises(SaveError) as caught:
        atomic_write_bytes(path, b"new")
    assert "labels.json" in str(caught.value) and "No space left" in str(caught.value)
    assert "previous version" in str(caught.value)
    assert path.read_text() == "precious labels"
    assert [p.name for p in tmp_path.iterdir()] == ["labels.json"]
