"""The demo world: stamps where the labels say, classes as planned, reproducible files."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace

import cv2
import numpy as np
import pytest

from billet_studio.annotations import Project
from billet_studio.annotations.check import check_project
from billet_studio.demo import (
    DEMO_PROJECT_REGEX,
    BilletPlan,
    DemoConfig,
    DemoLook,
    build_demo_project,
    plan_billets,
    render_billet,
)
from billet_studio.geometry import rasterize_polygons
from billet_studio.glyphs import load_glyph_set

LOOK = DemoLook(size=384)


@pytest.fixture(scope="module")
def glyphs():
    return load_glyph_set()


def stamp_mask(rendered, size: int, grow_px: int = 0) -> np.ndarray:
    polygons = [p for stamp in rendered.stamps for p in stamp.polygons]
    mask = rasterize_polygons(polygons, size, size) > 0
    if grow_px:
        kernel = np.ones((2 * grow_px + 1, 2 * grow_px + 1), np.uint8)
        mask = cv2.dilate(mask.astype(np.uint8), kernel) > 0
    return mask


def stamp_difference(rendered) -> np.ndarray:
    """How much the stamps changed each pixel (same face, light, camera and noise)."""
    diff = rendered.image.astype(np.float32) - rendered.unstamped.astype(np.float32)
    return np.abs(diff).mean(axis=2)


@pytest.mark.parametrize("visibility", ["well", "partial", "poor"])
def test_stamp_shading_lies_where_the_polygons_are(glyphs, visibility):
    for index in range(3):
        plan = BilletPlan(index, "AB"[index % 2], visibility, "train")
        rendered = render_billet(plan, 7, glyphs, LOOK, with_unstamped=True)
        difference = stamp_difference(rendered)
        # The bevel and the camera's blur spread the shading a few pixels past the outline.
        near = stamp_mask(rendered, LOOK.size, grow_px=4)
        inside_share = difference[near].sum() / difference.sum()
        assert inside_share > 0.85, f"only {inside_share:.0%} of the shading is on the stamps"
        assert near.mean() < 0.2


def test_well_stamps_have_more_contrast_than_poor_ones(glyphs):
    contrast = {}
    for visibility in ("well", "poor"):
        values = []
        for index in range(4):
            plan = BilletPlan(index, "AB"[index % 2], visibility, "train")
            rendered = render_billet(plan, 3, glyphs, LOOK, with_unstamped=True)
            values.append(stamp_difference(rendered)[stamp_mask(rendered, LOOK.size, 2)].mean())
        contrast[visibility] = float(np.mean(values))
    assert contrast["well"] > 1.8 * contrast["poor"], contrast


def test_classes_flags_and_ids_follow_the_plan(glyphs):
    for index, visibility in enumerate(["well", "partial", "poor"] * 3):
        plan = BilletPlan(index, "AB"[index % 2], visibility, "train")
        rendered = render_billet(plan, 11, glyphs, LOOK)
        assert re.fullmatch(DEMO_PROJECT_REGEX, rendered.billet_id)
        flags = Counter((s.partial, s.poor) for s in rendered.stamps)
        if visibility == "well":
            assert set(flags) == {(False, False)}
            assert len(rendered.stamps) == len(rendered.billet_id)
        elif visibility == "partial":
            assert flags[(True, False)] >= 1 and not any(poor for _, poor in flags)
        else:
            assert all(poor for _, poor in flags)
        labelled = "".join(s.char for s in rendered.stamps)
        assert set(labelled) <= set(rendered.billet_id)
        for stamp in rendered.stamps:
            for polygon in stamp.polygons:
                box = polygon.bounds()
                assert box.x0 >= 0 and box.x1 <= LOOK.size and box.y0 >= 0
                assert box.y1 <= LOOK.size and polygon.to_shapely().is_valid


def test_occluded_stamps_are_partial_with_their_visible_extent(glyphs):
    look = replace(LOOK, label_probability=1.0, flake_probability=1.0)
    seen_cut = False
    for index in range(6):
        rendered = render_billet(BilletPlan(index, "B", "partial", "train"), 5, glyphs, look)
        for stamp in rendered.stamps:
            area = sum(p.area for p in stamp.polygons)
            assert area > 0
            seen_cut |= stamp.partial and len(stamp.polygons) > 1
    assert seen_cut, "no partially covered stamp split into visible pieces in six billets"


def test_plan_matches_the_paper_proportions():
    plans = plan_billets(DemoConfig(billets=300, test=40))
    test = [p for p in plans if p.split == "test"]
    train = [p for p in plans if p.split == "train"]
    assert len(test) == 40 and len(train) == 300
    assert Counter((p.site, p.visibility == "well") for p in test) == {
        ("A", True): 10, ("A", False): 10, ("B", True): 10, ("B", False): 10}
    assert Counter(p.visibility for p in test) == {"well": 20, "partial": 10, "poor": 10}
    assert sum(p.site == "A" for p in train) == 100
    assert sum(p.visibility != "well" for p in train) == 72  # 24 %
    assert sorted(p.index for p in plans) == list(range(340))
    with pytest.raises(ValueError, match="multiple of 4"):
        DemoConfig(test=10)


def build(tmp_path, name, seed=0, workers=1):
    root = tmp_path / name
    config = DemoConfig(billets=6, test=4, size=256, seed=seed, surfaces=2, workers=workers)
    steps = list(build_demo_project(root, config))
    assert steps[-1].step == steps[-1].total == 12
    return root


def files_of(root):
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_different_seed_different_files(tmp_path):
    first = files_of(build(tmp_path, "a", seed=1))
    again = files_of(build(tmp_path, "b", seed=1))
    other = files_of(build(tmp_path, "c", seed=2))
    assert first.keys() == again.keys()
    assert first == again
    assert {k for k in first if first[k] != other.get(k)} >= {"images/billet_00001.jpg"}


def test_worker_processes_write_the_same_files(tmp_path):
    assert files_of(build(tmp_path, "one", workers=1)) == files_of(build(tmp_path, "two",
                                                                            workers=2))


def test_demo_project_is_complete_and_passes_check(tmp_path):
    root = build(tmp_path, "demo")
    project = Project.open(root)
    assert project.config.id_format.regex == DEMO_PROJECT_REGEX
    assert check_project(project) == []
    records = project.load_records()
    assert len(records) == 10
    assert Counter(r.split for r in records) == {"train": 6, "test": 4}
    test = [r for r in records if r.split == "test"]
    assert Counter((r.billet.site, r.visibility == "well") for r in test) == {
        ("A", True): 1, ("A", False): 1, ("B", True): 1, ("B", False): 1}
    assert all(project.config.id_format.matches(r.billet.id) for r in records)
    assert len(list((root / "surfaces").glob("*.jpg"))) == 2
    assert (root / "glyphs.json").is_file()
    manifest = json.loads((root / "demo.json").read_text())
    assert manifest["config"]["seed"] == 0 and len(manifest["billets"]) == 10
    # Counters survive the variations: whole stamps keep their template's holes.
    expected = {c: sum(len(p.holes) for p in t.polygons) for c, t in
                ((t.char, t) for t in load_glyph_set())}
    whole = [s for r in records for s in r.stamps if not s.partial and expected[s.label]]
    kept = sum(sum(len(p.holes) for p in s.polygons) == expected[s.label] for s in whole)
    assert len(whole) > 10 and kept >= 0.9 * len(whole)


def test_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("mine")
    with pytest.raises(Exception, match="is not empty"):
        list(build_demo_project(tmp_path / "x", DemoConfig(billets=1, test=0, size=128)))
    assert (tmp_path / "x" / "notes.txt").read_text() == "mine"


def test_cancelled_build_leaves_nothing_behind(tmp_path):
    from billet_studio.jobs import CancelToken, JobCancelled

    cancel = CancelToken()
    job = build_demo_project(tmp_path / "demo", DemoConfig(billets=8, test=0, size=128,
                                                           surfaces=0, workers=1), cancel)
    next(job)
    cancel.cancel()
    with pytest.raises(JobCancelled):
        next(job)
    assert list(tmp_path.iterdir()) == []
