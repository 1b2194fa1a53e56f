"""The detector recipe that learns on a CPU: anchors fitted to the labels, a pyramid over
MobileNet's stride-8/16/32 stages, self-made pretraining on the training characters, a
cosine schedule and character jitter, all exactly resumable."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from test_detection import (  # noqa: E402
    CLASSES,
    SIZE,
    _fixed_batch_loss,
    _project,
    write_toy_dataset,
)

from billet_studio.detection import (  # noqa: E402
    PRESETS,
    DetectionDataset,
    ModelSpec,
    build_detector,
    learning_rate,
    load_detector,
    load_pretrained,
    train_detector,
)
from billet_studio.detection.anchors import (  # noqa: E402
    AnchorSet,
    anchor_coverage,
    best_anchor_iou,
    fit_anchors,
    grid_anchors,
)
from billet_studio.detection.augment import (  # noqa: E402
    AugmentConfig,
    augment_rng,
    augment_sample,
)
from billet_studio.detection.data import training_samples  # noqa: E402
from billet_studio.detection.pretrain import PretrainConfig, pretrain_backbone  # noqa: E402
from billet_studio.detection.recipe import spec_with_anchors, start_detector_run  # noqa: E402

MOBILENET = "fasterrcnn_mobilenet_v3_large_fpn"
FINE = ModelSpec(MOBILENET, CLASSES, SIZE, "group", pyramid_strides=(8, 16, 32),
                 pyramid_channels=64, roi_batch=64)
TINY = replace(PRESETS["tiny"].train, steps=8, eval_every=4, checkpoint_every=4,
               val_images=4, warmup_steps=2, log_every=2)


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("toy")
    write_toy_dataset(folder, count=8)
    write_toy_dataset(folder, count=4, seed=1, split="val")
    return folder


def _datasets(folder: Path, size: int = SIZE) -> tuple[DetectionDataset, DetectionDataset]:
    train, val = training_samples(folder, CLASSES)
    return DetectionDataset(train, size), DetectionDataset(val, size)


def _boxes(rng: np.random.Generator, count: int, width: float, height: float) -> np.ndarray:
    xy = rng.uniform(0, 400, (count, 2))
    sides = np.stack([rng.normal(width, 1.0, count), rng.normal(height, 1.5, count)], 1)
    return np.concatenate([xy, xy + sides], axis=1)


def test_fitted_anchors_recover_the_size_and_shape_of_known_boxes():
    rng = np.random.default_rng(0)
    boxes = _boxes(rng, 3000, 20, 33)  # characters at 512 px: 20 x 33
    anchors = fit_anchors(boxes, (8, 16, 32, 64), sizes_per_level=2, ratios=3)
    home = anchors.sizes[0]  # stride 8 is the coarsest at most 0.4 x the 20 px side
    assert all(abs(s - np.sqrt(20 * 33)) < 2.5 for s in home), home
    assert all(abs(r - 33 / 20) < 0.15 for r in anchors.ratios), anchors.ratios
    # Levels above hold the same shapes at twice the size each.
    assert anchors.sizes[1] == pytest.approx([2 * s for s in home], abs=0.02)
    assert anchors.sizes[3] == pytest.approx([8 * s for s in home], abs=0.05)
    fitted = anchor_coverage(boxes, anchors, (8, 16, 32, 64), 512)
    default = anchor_coverage(boxes, ModelSpec(MOBILENET, CLASSES, 512).anchor_set,
                              (32, 32, 64), 512)
    assert fitted.at_05 > 0.95 and fitted.at_07 > 0.5
    assert default.at_07 < 0.1 < fitted.at_07

    # Boxes twice as large have their own sizes on the stride-16 level.
    big = fit_anchors(_boxes(rng, 500, 40, 66), (8, 16, 32, 64))
    assert big.sizes[1] == pytest.approx([np.sqrt(40 * 66)] * 2, abs=3)
    assert big.sizes[0] == pytest.approx([s / 2 for s in big.sizes[1]], abs=0.02)
    with pytest.raises(ValueError, match="no boxes"):
        fit_anchors(np.zeros((0, 4)), (8, 16))


def test_anchor_grid_and_best_iou_agree_with_torchvision():
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.image_list import ImageList
    from torchvision.ops import box_iou

    anchors = AnchorSet(((24.8, 29.6), (49.6, 59.2), (99.2, 118.5)), (1.44, 1.61, 1.84))
    strides, size = (8, 16, 32), 256
    generator = AnchorGenerator(anchors.sizes, (anchors.ratios,) * 3)
    maps = [torch.zeros(1, 1, size // s, size // s) for s in strides]
    theirs = generator(ImageList(torch.zeros(1, 3, size, size), [(size, size)]), maps)[0]
    ours = grid_anchors(anchors, strides, size)
    assert np.array_equal(theirs.numpy(), ours)
    boxes = _boxes(np.random.default_rng(1), 200, 22, 30)
    brute = box_iou(torch.from_numpy(boxes), torch.from_numpy(ours)).max(1).values.numpy()
    assert np.allclose(best_anchor_iou(boxes, anchors, strides, size), brute)


def test_model_spec_round_trips_its_anchors_through_a_checkpoint(toy, tmp_path):
    train, val = _datasets(toy)
    spec, report = spec_with_anchors(FINE, train.samples)
    assert report.fitted and spec.anchors is not None and report.chosen.boxes > 0
    assert ModelSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec
    list(train_detector(tmp_path / "run", train, val, spec, replace(TINY, steps=2)))
    model, loaded, _ = load_detector(tmp_path / "run")
    assert loaded == spec
    assert model.rpn.anchor_generator.sizes == spec.anchors.sizes
    # The pyramid reads three MobileNet stages of different strides.
    with torch.no_grad():
        features = model.backbone(torch.zeros(1, 3, SIZE, SIZE))
    assert [f.shape[-1] for f in features.values()] == [-(-SIZE // s) for s in spec.feature_strides]
    assert spec.feature_strides == (8, 16, 32, 64)
    default, kept = spec_with_anchors(FINE, train.samples, fit=False)
    assert default.anchors is None and not kept.fitted


def test_a_tiny_run_with_fitted_anchors_and_jitter_lowers_its_loss(toy, tmp_path):
    train, val = _datasets(toy)
    spec, _ = spec_with_anchors(FINE, train.samples)
    torch.manual_seed(TINY.seed)
    before = _fixed_batch_loss(build_detector(spec), train)
    config = replace(TINY, steps=12, lr=0.02, schedule="cosine",
                     augment=PRESETS["cpu"].train.augment)
    list(train_detector(tmp_path / "run", train, val, spec, config))
    model, _, _ = load_detector(tmp_path / "run")
    after = _fixed_batch_loss(model, train)
    assert after < 0.7 * before, (before, after)


def test_cosine_schedule_warms_up_then_falls_to_its_floor_by_the_budget():
    config = replace(PRESETS["cpu"].train, steps=1000, warmup_steps=100)
    assert learning_rate(100, config) == pytest.approx(config.lr)
    assert learning_rate(550, config) == pytest.approx(config.lr * (0.01 + 0.99 * 0.5))
    assert learning_rate(1000, config) == pytest.approx(config.lr * 0.01)
    rates = [learning_rate(s, config) for s in range(100, 1001)]
    assert all(a >= b for a, b in itertools.pairwise(rates))
    # The schedule is placed by the budget: a longer one decays later.
    assert learning_rate(550, replace(config, steps=2000)) > learning_rate(550, config)


def test_augmentation_keeps_each_box_on_its_character_and_never_flips():
    image = np.full((128, 128, 3), 100, np.uint8)
    cv2.rectangle(image, (40, 30), (59, 62), (250, 250, 250), -1)  # a 20 x 33 'character'
    cv2.rectangle(image, (44, 30), (47, 40), (0, 0, 0), -1)  # marks its left side
    boxes = np.array([[40, 30, 60, 63]], np.float32)
    config = AugmentConfig(rotation=3, scale=0.1, shift=0.03, brightness=0.1, contrast=0.15)
    for draw in range(20):
        moved, placed, labels = augment_sample(image, boxes, np.array([1]), config,
                                               augment_rng(0, draw, 0))
        again, _, _ = augment_sample(image, boxes, np.array([1]), config,
                                     augment_rng(0, draw, 0))
        assert np.array_equal(moved, again)  # a pure function of the draw
        assert list(labels) == [1]
        bright = np.argwhere(moved.mean(axis=2) > 200)
        truth = np.array([bright[:, 1].min(), bright[:, 0].min(), bright[:, 1].max() + 1,
                          bright[:, 0].max() + 1])
        x1, y1, x2, y2 = placed[0]
        inter = max(0, min(x2, truth[2]) - max(x1, truth[0])) * max(
            0, min(y2, truth[3]) - max(y1, truth[1]))
        union = (x2 - x1) * (y2 - y1) + np.prod(truth[2:] - truth[:2]) - inter
        assert inter / union > 0.8, (draw, placed, truth)
        dark = np.argwhere(moved.mean(axis=2) < 30)
        assert dark[:, 1].mean() < (x1 + x2) / 2  # the mark stays on the left: no flip
    assert not AugmentConfig().active


def test_resume_stays_exact_with_jitter_cosine_and_fitted_anchors(toy, tmp_path):
    from billet_studio.jobs import CancelToken, JobCancelled
    from billet_studio.training import CheckpointStore

    train, val = _datasets(toy)
    spec, _ = spec_with_anchors(FINE, train.samples)
    config = replace(TINY, steps=6, schedule="cosine", augment=PRESETS["cpu"].train.augment)
    list(train_detector(tmp_path / "whole", train, val, spec, config))
    cancel = CancelToken()
    with pytest.raises(JobCancelled):
        for report in train_detector(tmp_path / "parts", train, val, spec, config, cancel):
            if report.step == 2:
                cancel.cancel()
    list(train_detector(tmp_path / "parts", train, val, spec, config, resume=True))
    from safetensors.torch import load_file

    whole = load_file(str(CheckpointStore(tmp_path / "whole").latest().weights))
    parts = load_file(str(CheckpointStore(tmp_path / "parts").latest().weights))
    for name in whole:
        assert torch.equal(whole[name], parts[name]), name


def test_pretraining_reads_only_training_images_and_learns(toy, tmp_path, monkeypatch):
    import billet_studio.detection.data as data

    opened: list[str] = []
    real_imread = data.cv2.imread

    def spy(path, *args):
        opened.append(Path(path).name)
        return real_imread(path, *args)

    monkeypatch.setattr(data.cv2, "imread", spy)
    train, _ = training_samples(toy, CLASSES)
    out = tmp_path / "backbone.safetensors"
    config = PretrainConfig(steps=30, batch_size=16, lr=3e-3, heldout=0.25)
    reports = list(pretrain_backbone(train, FINE, out, config))
    assert opened and all(name.startswith("train_") for name in opened)
    assert set(opened) == {s.path.name for s in train}
    losses = [r.metrics["pretrain_loss"] for r in reports if "pretrain_loss" in r.metrics]
    assert losses[-1] < losses[0], losses
    assert 0.0 <= reports[-1].metrics["heldout_accuracy"] <= 1.0
    from billet_studio.detection.pretrained import backbone_file_facts

    facts = backbone_file_facts(out)
    assert facts["norm"] == "group" and facts["architecture"] == MOBILENET
    # The file loads into the detector like an ImageNet backbone.
    model = build_detector(FINE)
    assert load_pretrained(model, FINE, out) == "backbone"
    from safetensors.torch import load_file

    saved = load_file(str(out))
    assert torch.equal(model.backbone.body["0"][0].weight, saved["features.0.0.weight"])
    assert all(p.requires_grad for p in model.backbone.body.parameters())


def test_a_coco_detector_with_another_anchor_count_keeps_all_but_the_rpn_outputs(tmp_path):
    spec = replace(ModelSpec(MOBILENET, CLASSES, SIZE, "frozen"),
                   anchors=AnchorSet(((20.0, 30.0),) * 3, (1.5,)))
    coco = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_fpn(
        weights=None, weights_backbone=None, num_classes=91).state_dict()
    torch.save({"model": coco}, tmp_path / "coco.pth")
    model = build_detector(spec)
    assert load_pretrained(model, spec, tmp_path / "coco.pth") == "detector"
    assert torch.equal(model.rpn.head.conv[0][0].weight, coco["rpn.head.conv.0.0.weight"])
    assert model.rpn.head.cls_logits.out_channels == 2  # two anchors a place, fresh


def test_cli_pretrains_by_default_and_a_user_file_takes_precedence(toy, tmp_path, capsys):
    from billet_studio.cli import main

    project = _project(tmp_path / "project")
    common = ["--dataset", str(toy), "--preset", "tiny", "--image-size", str(SIZE),
              "--eval-every", "2"]
    assert main(["detector", "train", str(project), *common, "--steps", "2",
                 "--run-name", "own"]) == 0
    out = capsys.readouterr().out
    assert "anchors fitted to the training boxes" in out and "held-out" in out
    run = project / "runs" / "detector" / "own"
    config = json.loads((run / "config.json").read_text())
    assert config["pretrained"] == str(run / "pretrain" / "backbone.safetensors")
    assert config["model"]["anchors"] is not None
    assert config["model"]["pyramid_strides"] == [8, 16, 32]

    file = tmp_path / "mine.safetensors"
    assert main(["detector", "pretrain", str(project), *common[:6], "--steps", "4",
                 "--out", str(file)]) == 0
    assert "held-out characters right" in capsys.readouterr().out
    assert main(["detector", "train", str(project), *common, "--steps", "2",
                 "--pretrained", str(file), "--run-name", "given"]) == 0
    given = json.loads((project / "runs" / "detector" / "given" / "config.json").read_text())
    assert given["pretrained"] == str(file) and given["model"]["norm"] == "group"
    assert not (project / "runs" / "detector" / "given" / "pretrain").exists()

    assert main(["detector", "train", str(project), *common, "--steps", "2", "--no-pretrain",
                 "--default-anchors", "--run-name", "plain"]) == 0
    plain = json.loads((project / "runs" / "detector" / "plain" / "config.json").read_text())
    assert plain["pretrained"] is None and plain["model"]["anchors"] is None

    # Extending a run's budget says how the schedule moves.
    assert main(["detector", "train", str(project), "--dataset", str(toy), "--resume", "own",
                 "--steps", "4"]) == 0
    assert "moves the rate at step 3" in capsys.readouterr().out


def test_the_run_job_pretrains_once_then_trains(toy, tmp_path):
    train, val = _datasets(toy)
    spec, _ = spec_with_anchors(FINE, train.samples)
    config = replace(TINY, steps=2)
    reports = list(start_detector_run(tmp_path / "run", train, val, spec, config,
                                      pretrain=PretrainConfig(steps=4, batch_size=8)))
    pretraining = [r for r in reports if "loss" not in r.metrics]
    training = [r for r in reports if "loss" in r.metrics]
    assert reports[:len(pretraining)] == pretraining  # the whole phase comes first
    assert "held-out" in pretraining[-1].message and pretraining[-1].total == 4
    assert [r.step for r in training] == [1, 2]
    assert (tmp_path / "run" / "pretrain" / "backbone.safetensors").is_file()
