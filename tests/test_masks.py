"""`masks`: full masks and pix2pix crop pairs; the test split stays out by default."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from project_builder import RECTANGLE, SQUARE_WITH_HOLE, add_image, make_project, write_image

from billet_studio.annotations import AnnotationError, BilletInfo, read_image
from billet_studio.annotations.mask_export import MaskExportConfig, export_masks
from billet_studio.jobs import CancelToken, JobCancelled


def test_masks_and_pairs_are_written_for_training_images_only(tmp_path):
    project = make_project(tmp_path / "p")
    add_image(project, "train.png", (*SQUARE_WITH_HOLE, RECTANGLE), BilletInfo(split="train"))
    add_image(project, "held_out.png", SQUARE_WITH_HOLE, BilletInfo(split="test"))
    out = tmp_path / "out"
    reports = list(export_masks(project, out, MaskExportConfig(size=64)))
    assert [r.step for r in reports] == [1] and reports[0].total == 1

    mask = cv2.imread(str(out / "masks" / "train.png"), cv2.IMREAD_GRAYSCALE)
    assert mask.shape == (100, 120)
    assert mask[15, 15] == 255 and mask[25, 30] == 0 and mask[80, 100] == 0  # hole cut
    pair_mask = cv2.imread(str(out / "pairs" / "mask" / "train__000.png"), cv2.IMREAD_GRAYSCALE)
    pair_image = cv2.imread(str(out / "pairs" / "image" / "train__000.png"))
    assert pair_mask.shape == (64, 64) and pair_image.shape == (64, 64, 3)
    assert not (out / "masks" / "held_out.png").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["left_out_test_images"] == 1
    assert manifest["box_only_stamps_without_pairs"] == 1
    assert [p["label"] for p in manifest["pairs"]] == ["8"]
    assert manifest["config"]["size"] == 64


def test_pair_image_is_the_stamp_region_of_the_photo(tmp_path):
    project = make_project(tmp_path / "p")
    record = add_image(project, "a.png", SQUARE_WITH_HOLE)
    out = tmp_path / "out"
    list(export_masks(project, out, MaskExportConfig(size=50, margin=0.0)))
    crop = cv2.cvtColor(cv2.imread(str(out / "pairs" / "image" / "a__000.png")),
                        cv2.COLOR_BGR2RGB)
    photo = read_image(record.image_path)
    # With no margin the 50x50 crop spans x 5..55, y 10..60 of the photo at 1:1 scale.
    assert np.abs(crop[10:40, 10:40].astype(int) - photo[20:50, 15:45].astype(int)).mean() < 3


def test_include_test_and_cancel_keeps_the_earlier_output(tmp_path):
    project = make_project(tmp_path / "p")
    for index in range(3):
        add_image(project, f"t{index}.png", SQUARE_WITH_HOLE, BilletInfo(split="test"))
    out = tmp_path / "out"
    list(export_masks(project, out, MaskExportConfig(size=32, include_test=True)))
    earlier = json.loads((out / "manifest.json").read_text())
    assert earlier["images"] == 3
    cancel = CancelToken()
    job = export_masks(project, out, MaskExportConfig(include_test=True), cancel)
    first = next(job)
    cancel.cancel()
    with pytest.raises(JobCancelled):
        next(job)
    assert first.step == 1 and first.total == 3
    assert json.loads((out / "manifest.json").read_text()) == earlier
    assert [p.name for p in tmp_path.iterdir()] == ["out", "p"]  # no staging left


def test_re_export_after_a_split_change_drops_new_test_images(tmp_path):
    project = make_project(tmp_path / "p")
    a = add_image(project, "a.png", SQUARE_WITH_HOLE)
    add_image(project, "b.png", SQUARE_WITH_HOLE)
    out = tmp_path / "out"
    list(export_masks(project, out))
    assert (out / "masks" / "a.png").exists()
    project.save_record(a.with_billet(split="test"))
    list(export_masks(project, out))
    assert sorted(p.name for p in (out / "masks").iterdir()) == ["b.png"]
    assert sorted(p.name for p in (out / "pairs" / "image").iterdir()) == ["b__000.png"]


def test_unlabelled_images_and_foreign_folders_are_left_alone(tmp_path):
    project = make_project(tmp_path / "p")
    add_image(project, "a.png", SQUARE_WITH_HOLE)
    write_image(project.root / "images" / "unlabelled.png")
    out = tmp_path / "out"
    list(export_masks(project, out))
    assert [p.name for p in (out / "masks").iterdir()] == ["a.png"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(AnnotationError, match="not empty and was not written"):
        list(export_masks(project, mine))
    assert (mine / "notes.txt").read_text() == "keep me"
    with pytest.raises(AnnotationError, match="project folder itself"):
        list(export_masks(project, project.root))
