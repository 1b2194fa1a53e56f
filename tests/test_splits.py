"""Balanced, stable test splits that never move existing test marks silently."""

from __future__ import annotations

from collections import Counter

import pytest
from project_builder import SQUARE_WITH_HOLE, add_image, make_project

from billet_studio.annotations import BilletInfo, Shape
from billet_studio.annotations.splits import apply_split, plan_test_split, stratum_value

PARTIAL = (Shape("5", ((5.0, 5.0), (30.0, 5.0), (30.0, 40.0)), flags={"partial": True}),)
POOR = (Shape("5", ((5.0, 5.0), (30.0, 5.0), (30.0, 40.0)), flags={"poor": True}),)


@pytest.fixture
def project(tmp_path):
    project = make_project(tmp_path / "p")
    index = 0
    for site, count_well, count_hard in (("A", 12, 6), ("B", 20, 8)):
        for n in range(count_well + count_hard):
            shapes = SQUARE_WITH_HOLE if n < count_well else (PARTIAL if n % 2 else POOR)
            add_image(project, f"{site}_{index:03d}.png", shapes, BilletInfo(site=site),
                      size=(50, 60))
            index += 1
    return project


def strata_counts(project, paths):
    records = {r.image_path: r for r in project.load_records()}
    return Counter((stratum_value(records[p], "site"), stratum_value(records[p], "visibility"))
                   for p in paths)


def test_split_is_balanced_over_site_and_visibility(project):
    plan = plan_test_split(project.load_records(), 16, project.root)
    assert len(plan.test) == 16
    assert strata_counts(project, plan.test) == {
        ("A", "well"): 4, ("A", "poor_or_partial"): 4,
        ("B", "well"): 4, ("B", "poor_or_partial"): 4,
    }
    assert plan.warnings == ()


def test_split_is_stable_for_a_seed_and_differs_between_seeds(project):
    records = project.load_records()
    first = plan_test_split(records, 12, project.root, seed=3)
    again = plan_test_split(project.load_records(), 12, project.root, seed=3)
    other = plan_test_split(records, 12, project.root, seed=4)
    assert first.test == again.test
    assert first.test != other.test


def test_short_stratum_is_filled_from_others_with_a_warning(project):
    plan = plan_test_split(project.load_records(), 28, project.root)
    assert len(plan.test) == 28
    assert strata_counts(project, plan.test)[("A", "poor_or_partial")] == 6
    assert any("A/poor_or_partial" in w for w in plan.warnings)


def test_apply_writes_marks_and_existing_marks_are_kept(project):
    records = project.load_records()
    plan = plan_test_split(records, 8, project.root, seed=1)
    assert apply_split(project, records, plan) == 8
    marked = {r.image_path for r in project.load_records() if r.split == "test"}
    assert marked == set(plan.test)
    # Growing the split keeps the 8 already chosen.
    bigger = plan_test_split(project.load_records(), 12, project.root, seed=99)
    assert set(plan.test) <= set(bigger.test)
    with pytest.raises(ValueError, match="never moved silently"):
        plan_test_split(project.load_records(), 4, project.root)
    redrawn = plan_test_split(project.load_records(), 4, project.root, reassign=True)
    assert len(redrawn.test) == 4


def test_reassign_releases_old_marks_to_train(project):
    records = project.load_records()
    apply_split(project, records, plan_test_split(records, 8, project.root, seed=1))
    records = project.load_records()
    redrawn = plan_test_split(records, 4, project.root, seed=2, reassign=True)
    apply_split(project, records, redrawn)
    after = project.load_records()
    assert sorted(r.image_path for r in after if r.split == "test") == list(redrawn.test)
    released = set(redrawn.released)
    assert all(r.billet.split == "train" for r in after if r.image_path in released)


def test_validation_images_are_never_taken(project):
    records = project.load_records()
    val = records[0]
    project.save_record(val.with_billet(split="val"))
    plan = plan_test_split(project.load_records(), 40, project.root)
    assert val.image_path not in plan.test


def test_existing_marks_over_a_stratum_share_do_not_grow_the_split(project):
    records = project.load_records()
    a_well = [r for r in records if stratum_value(r, "site") == "A"
              and stratum_value(r, "visibility") == "well"]
    for record in a_well[:6]:  # 6 marked where a 16-image split wants 4
        project.save_record(record.with_billet(split="test"))
    plan = plan_test_split(project.load_records(), 16, project.root)
    assert len(plan.test) == 16
    counts = strata_counts(project, plan.test)
    assert counts[("A", "well")] == 6
    assert sum(counts.values()) == 16
    assert any("exceed the share of A/well by 2" in w for w in plan.warnings)
