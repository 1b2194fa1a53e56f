"""Real + synthetic datasets: fractions, splits, site ratio, nesting, shards, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from project_builder import add_image, make_project, write_image

from billet_studio.annotations import AnnotationError, BilletInfo, IdFormat, ProjectConfig
from billet_studio.annotations.shapes import Shape
from billet_studio.cli import main
from billet_studio.jobs import CancelToken, JobCancelled, read_progress_log
from billet_studio.synthesis import ClassicalRenderer, CompositeConfig
from billet_studio.synthesis.dataset_build import Shard, build_dataset, merge_dataset
from billet_studio.synthesis.dataset_plan import DatasetConfig, paper_table1, plan_dataset

SMALL = CompositeConfig(size=128, characters=4)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("dataset") / "proj"
    project = make_project(root, ProjectConfig(id_format=IdFormat(r"\d{3}[A-Z]\d{2}")))
    digit = Shape("1", ((20.0, 20.0), (40.0, 60.0)), "rectangle")
    for index in range(16):
        site = "A" if index % 3 == 0 else "B"  # 6 A, 10 B
        split = "test" if index >= 12 else "train"
        add_image(project, f"b{index:02d}.png", (digit,), BilletInfo(site=site, split=split),
                  size=(96, 96))
    for index in range(2):
        write_image(project.root / "surfaces" / f"face_{index}.png", 128, 128, index + 50)
    return project


def build(project, out, config, shard=Shard(), cancel=None, workers=1):
    return list(build_dataset(project, out, config, ClassicalRenderer, "classical", shard,
                              workers, cancel))


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_fractions_splits_and_site_ratio(project, tmp_path):
    out = tmp_path / "d"
    build(project, out, DatasetConfig(images=12, synthetic=0.5, composite=SMALL))
    train = json.loads((out / "train.json").read_text())
    val = json.loads((out / "val.json").read_text())
    images = train["images"] + val["images"]
    synthetic = [i for i in images if i["billet"]["synthetic"]]
    real = [i for i in images if not i["billet"]["synthetic"]]
    assert len(images) == 12 and len(synthetic) == 6 and len(real) == 6
    # floor(6 x 0.25) = 1 validation image of each kind, spread along the pool orders.
    assert len(val["images"]) == 2 and sum(i["billet"]["synthetic"]
                                           for i in val["images"]) == 1
    sites = [i["billet"]["site"] for i in real]
    assert abs(sites.count("A") - 6 * 4 / 12) <= 1  # the pool's 4:8 ratio (test left out)
    names = [i["file_name"] for i in real]
    assert len(set(names)) == len(names)  # no real image in two splits
    assert not any(f"b{n}.png" in name for name in names for n in (12, 13, 14, 15))
    for image in real:
        assert (out / image["file_name"]).resolve().is_file()  # referenced, not copied
    assert not list((out / "images").glob("b*.png"))
    assert all(a["attributes"]["synthetic"] for a in train["annotations"]
               if train["images"][a["image_id"] - 1]["billet"]["synthetic"])


def test_table1_datasets_are_nested(project):
    plans = {name: plan_dataset(project, DatasetConfig(images=images, synthetic=synthetic))
             for name, images, synthetic in paper_table1(0.004)}
    real = {name: [r.image_path for r, _ in plan.real] for name, plan in plans.items()}
    assert real["exp6-real635"] == real["exp4-syn75"]  # exactly Experiment 4's real images
    assert real["exp3-syn50"] == real["exp2-syn25"][:len(real["exp3-syn50"])]
    assert real["exp2-syn25"] == real["exp1-real"][:len(real["exp2-syn25"])]
    assert not real["exp5-syn100"]
    splits = {r.image_path: s for plan in plans.values() for r, s in plan.real}
    for plan in plans.values():  # an image keeps its split in every dataset
        assert all(splits[r.image_path] == s for r, s in plan.real)


def test_replacing_one_real_image_by_n_synthetic_ones(project):
    base = plan_dataset(project, DatasetConfig(images=8, synthetic=0.5))
    tripled = plan_dataset(project, DatasetConfig(images=8, synthetic=0.5,
                                                  synthetic_per_real=3))
    assert len(tripled.real) == len(base.real) == 4
    assert len(base.synthetic) == 4 and len(tripled.synthetic) == 12
    assert tripled.synthetic[:4] == base.synthetic  # still nested: the first indices
    with pytest.raises(ValueError, match="at least 1"):
        DatasetConfig(synthetic_per_real=0)


def test_too_few_real_images_names_the_need_and_a_scale(project):
    with pytest.raises(AnnotationError, match=r"needs 2540 real .* --scale 0"):
        plan_dataset(project, DatasetConfig(images=2540))


def test_shards_merge_to_the_unsharded_dataset_byte_for_byte(project, tmp_path):
    config = DatasetConfig(images=10, synthetic=0.6, composite=SMALL, seed=3)
    whole, sharded = tmp_path / "whole", tmp_path / "sharded"
    build(project, whole, config, workers=2)
    for index in range(3):
        build(project, sharded, config, Shard(index, 3))
    assert not (sharded / "train.json").exists()  # only the merge writes the COCO files
    list(merge_dataset(project, sharded))
    assert files(whole) == files(sharded)


def test_an_interrupted_build_resumes_to_the_same_result(project, tmp_path):
    config = DatasetConfig(images=8, synthetic=0.75, composite=SMALL, seed=5)
    reference, resumed = tmp_path / "ref", tmp_path / "resumed"
    build(project, reference, config)
    cancel = CancelToken()
    jobs = build_dataset(project, resumed, config, ClassicalRenderer, "classical",
                         Shard(), 1, cancel)
    with pytest.raises(JobCancelled, match="run the same command again"):
        for progress in jobs:
            if progress.step >= 2:
                cancel.cancel()
    assert 2 <= len(list((resumed / "labels").glob("*.json"))) < 6
    progress = build(project, resumed, config)
    assert "already made" in progress[0].message
    assert files(reference) == files(resumed)
    with pytest.raises(AnnotationError, match="other settings"):
        build(project, resumed, DatasetConfig(images=8, synthetic=0.5, composite=SMALL))


def test_a_corrupt_surface_is_skipped_and_the_export_goes_on(project, tmp_path):
    bad = project.root / "surfaces" / "zz_broken.png"
    bad.write_bytes(b"\x89PNG broken")
    try:
        progress = build(project, tmp_path / "d", DatasetConfig(images=6, synthetic=1.0,
                                                                composite=SMALL))
    finally:
        bad.unlink()
    warnings = [p.message for p in progress if p.message.startswith("warning: ")]
    assert any("zz_broken.png" in w for w in warnings)
    assert len(json.loads((tmp_path / "d" / "train.json").read_text())["images"]) == 5


def test_cli_builds_the_table1_preset(project, tmp_path, capsys):
    code = main(["dataset", "build", str(project.root), "--out", str(tmp_path / "t1"),
                 "--preset", "paper-table1", "--scale", "0.004", "--size", "128",
                 "--characters", "3", "--workers", "1"])
    assert code == 0, capsys.readouterr().err
    folders = sorted(p.name for p in (tmp_path / "t1").iterdir() if p.is_dir())
    assert folders == ["exp1-real", "exp2-syn25", "exp3-syn50", "exp4-syn75", "exp5-syn100",
                       "exp6-real635"]
    # One progress log over all six: synthetic images 0+2+5+8+10+0, counted to the end.
    reports = read_progress_log(tmp_path / "t1" / "build-log.jsonl")
    assert reports[-1].step == reports[-1].total == 25
    assert any(r.message.startswith("exp5-syn100: ") for r in reports)
    steps = [r.step for r in reports]
    assert steps == sorted(steps)
    for name in folders:  # each dataset's labels drawn on a sheet
        assert (tmp_path / "t1" / name / "contact_sheet.png").stat().st_size > 1000
    manifest = json.loads((tmp_path / "t1" / "exp5-syn100" / "manifest.json").read_text())
    assert manifest["counts"]["train"]["synthetic"] == manifest["counts"]["train"]["images"]
    code = main(["dataset", "build", str(project.root), "--out", "big", "-n", "500"])
    assert code == 2 and "--scale" in capsys.readouterr().err
