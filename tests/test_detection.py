"""The detector: builders, COCO reading, a training job that learns, exact resume, safe
local weights, per-class score vectors, and the detect/read commands."""

from __future__ import annotations

import csv
import io
import json
import pickle
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from billet_studio.annotations import AnnotationError, Project, ProjectConfig  # noqa: E402
from billet_studio.detection import (  # noqa: E402
    PRESETS,
    DetectionDataset,
    MixSchedule,
    ModelSpec,
    PretrainedError,
    build_detector,
    learning_rate,
    load_detector,
    load_pretrained,
    read_coco_samples,
    train_detector,
)
from billet_studio.detection.data import collate, training_samples  # noqa: E402
from billet_studio.detection.validation import to_device  # noqa: E402
from billet_studio.jobs import CancelToken, JobCancelled  # noqa: E402

CLASSES = ("0", "1", "2")
COLOURS = ((220, 40, 40), (40, 200, 40), (40, 60, 230))
SIZE = 96
TINY = replace(PRESETS["tiny"].train, steps=8, eval_every=4, checkpoint_every=4,
               val_images=4, warmup_steps=2, log_every=2)
SPEC = ModelSpec("fasterrcnn_mobilenet_v3_large_fpn", CLASSES, SIZE, "group")


def write_toy_dataset(folder: Path, count: int = 8, seed: int = 0, empty_every: int = 4,
                      split: str = "train") -> Path:
    """Square 'characters' (one colour per class) on noise; every ``empty_every``-th image
    has none. Returns the COCO file."""
    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for index in range(1, count + 1):
        image = rng.integers(90, 140, (SIZE, SIZE, 3), dtype=np.uint8)
        if index % empty_every:
            for _ in range(rng.integers(1, 3)):
                label = int(rng.integers(0, 3))
                x, y = (int(v) for v in rng.integers(4, SIZE - 40, 2))
                side = int(rng.integers(24, 36))
                cv2.rectangle(image, (x, y), (x + side, y + side), COLOURS[label], -1)
                annotations.append({"id": len(annotations) + 1, "image_id": index,
                                    "category_id": label + 1, "iscrowd": 0,
                                    "bbox": [x, y, side + 1, side + 1],
                                    "area": float((side + 1) ** 2)})
        name = f"images/{split}_{index:03d}.png"
        cv2.imwrite(str(folder / name), image[..., ::-1])
        images.append({"id": index, "file_name": name, "width": SIZE, "height": SIZE,
                       "billet": {"split": split, "synthetic": index % 2 == 0}})
    document = {"images": images, "annotations": annotations,
                "categories": [{"id": i + 1, "name": c} for i, c in enumerate(CLASSES)]}
    path = folder / f"{'val' if split == 'val' else 'train'}.json"
    path.write_text(json.dumps(document))
    return path


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("toy")
    write_toy_dataset(folder, count=8)
    write_toy_dataset(folder, count=4, seed=1, split="val")
    return folder


def datasets(folder: Path) -> tuple[DetectionDataset, DetectionDataset]:
    train, val = training_samples(folder, CLASSES)
    return DetectionDataset(train, SIZE), DetectionDataset(val, SIZE)


def test_three_architectures_build_with_group_norm_at_the_dataset_size():
    for architecture in ("fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn_v2",
                         "fasterrcnn_mobilenet_v3_large_fpn"):
        model = build_detector(ModelSpec(architecture, CLASSES, 1024, "group"))
        norms = {type(m).__name__ for m in model.backbone.modules()}
        assert "GroupNorm" in norms and "BatchNorm2d" not in norms
        assert model.transform.min_size == (1024,) and model.transform.max_size == 1024
        assert model.roi_heads.box_predictor.cls_score.out_features == len(CLASSES) + 1
    batch = build_detector(replace(SPEC, norm="batch"))
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in batch.backbone.modules())


def test_detections_carry_score_vectors_that_agree_with_labels_and_scores():
    torch.manual_seed(0)
    model = build_detector(replace(SPEC, score_threshold=0.0)).eval()
    with torch.no_grad():
        output = model([torch.rand(3, SIZE, SIZE)])[0]
    vectors = output["class_scores"]
    assert len(vectors) == len(output["boxes"]) > 0
    assert vectors.shape[1] == len(CLASSES)
    picked = vectors[torch.arange(len(vectors)), output["labels"] - 1]
    assert torch.allclose(picked, output["scores"])
    assert bool((vectors.sum(1) <= 1 + 1e-5).all())


def test_coco_reader_accepts_empty_images_and_names_bad_boxes(toy, tmp_path):
    samples = read_coco_samples(toy / "train.json", CLASSES)
    empty = [s for s in samples if len(s.boxes) == 0]
    assert empty and all(s.boxes.shape == (0, 4) for s in empty)
    image, target = DetectionDataset(samples, 48)[0]
    assert image.shape == (3, 48, 48) and image.dtype == torch.uint8
    assert torch.allclose(target["boxes"], torch.from_numpy(samples[0].boxes) / 2)

    document = json.loads((toy / "train.json").read_text())
    document["annotations"][0]["bbox"][2] = 0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document))
    with pytest.raises(AnnotationError, match=r"train_001\.png.*degenerate box"):
        read_coco_samples(bad, CLASSES)
    document = json.loads((toy / "train.json").read_text())
    document["categories"][0]["name"] = "Q"
    bad.write_text(json.dumps(document))
    with pytest.raises(AnnotationError, match="'Q' is not one of the detector's classes"):
        read_coco_samples(bad, CLASSES)
    bad.write_text("{not json")
    with pytest.raises(AnnotationError, match=r"bad\.json: is not readable COCO JSON"):
        read_coco_samples(bad, CLASSES)


def test_test_split_images_are_never_trained_on(tmp_path):
    write_toy_dataset(tmp_path, count=2, split="test")
    with pytest.raises(AnnotationError, match="2 test-split images"):
        training_samples(tmp_path, CLASSES)


def test_learning_rate_warms_up_then_decays_at_the_milestones():
    config = replace(PRESETS["paper"].train, steps=900, warmup_steps=100)
    assert learning_rate(1, config) == pytest.approx(config.lr * (1e-3 + 0.01 * (1 - 1e-3)))
    assert learning_rate(100, config) == pytest.approx(config.lr)
    assert learning_rate(600, config) == pytest.approx(config.lr)
    assert learning_rate(601, config) == pytest.approx(config.lr * 0.1)
    assert learning_rate(801, config) == pytest.approx(config.lr * 0.01)


def _fixed_batch_loss(model: torch.nn.Module, dataset: DetectionDataset) -> float:
    images, targets = to_device(*collate([dataset[i] for i in range(4)]), torch.device("cpu"))
    model.train()
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(123)
        return float(sum(model(images, targets).values()))


def test_a_few_steps_on_tiny_images_with_empty_targets_lower_the_loss(toy, tmp_path):
    train, val = datasets(toy)
    assert any(len(s.boxes) == 0 for s in train.samples)
    torch.manual_seed(TINY.seed)
    before = _fixed_batch_loss(build_detector(SPEC), train)
    config = replace(TINY, steps=12, lr=0.02)
    reports = list(train_detector(tmp_path / "run", train, val, SPEC, config))
    assert [r.step for r in reports] == list(range(1, 13))
    assert all(np.isfinite(r.metrics["loss"]) for r in reports)
    model, spec, metadata = load_detector(tmp_path / "run")
    after = _fixed_batch_loss(model, train)
    assert after < 0.7 * before, (before, after)
    assert spec == SPEC and metadata["step"] == 12
    assert "val_mAP50" in metadata["metrics"] and "val_loss" in metadata["metrics"]
    logged = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").open()]
    assert {"loss", "lr", "images_per_s", "eta_s", "data_wait"} <= set(logged[0]["metrics"])
    assert any("val_mAP50" in line["metrics"] for line in logged)
    # Each validation writes a preview of the detections, named in the log.
    previews = [line["preview"] for line in logged if line.get("preview")]
    assert previews and all(Path(p).is_file() for p in previews)
    assert Path(previews[-1]).name == "step_0000012.png"
    config_json = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config_json["device_name"].startswith("CPU")


def test_the_untrained_baseline_is_the_state_training_started_from(toy, tmp_path):
    from billet_studio.detection.run_files import initial_detector

    train, val = datasets(toy)
    # One warm-up step moves the weights by lr * warmup_factor (1e-5 here): a checkpoint
    # at step 1 sits next to the run's own initial state and far from another seed's.
    config = replace(TINY, steps=1, warmup_steps=1000)
    list(train_detector(tmp_path / "run", train, val, SPEC, config))
    list(train_detector(tmp_path / "other", train, val, SPEC, replace(config, seed=5)))
    state = torch.get_rng_state()
    mine, spec, facts = initial_detector(tmp_path / "run")
    assert torch.equal(torch.get_rng_state(), state)  # the caller's random state is kept
    other, _, _ = initial_detector(tmp_path / "other")
    assert spec == SPEC and facts["step"] == 0 and not mine.training
    stepped = _weights(tmp_path / "run")
    own = max((mine.state_dict()[k] - v).abs().max().item() for k, v in stepped.items())
    far = max((other.state_dict()[k] - v).abs().max().item() for k, v in stepped.items())
    assert own < 1e-3 < 0.05 < far, (own, far)


def _weights(run: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(sorted((run / "checkpoints").glob("*.safetensors"))[-1]))


def test_resume_after_a_cancel_equals_an_uninterrupted_run(toy, tmp_path):
    train, val = datasets(toy)
    config = replace(TINY, steps=6)
    list(train_detector(tmp_path / "whole", train, val, SPEC, config))
    cancel = CancelToken()
    seen = []
    with pytest.raises(JobCancelled, match="stopped at step 3"):
        for report in train_detector(tmp_path / "parts", train, val, SPEC, config, cancel):
            seen.append(report.step)
            if report.step == 2:
                cancel.cancel()
    assert seen == [1, 2, 3]  # asked during step 2's report, it stopped after one more step
    assert (tmp_path / "parts" / "checkpoints" / "step_0000003.safetensors").exists()
    with pytest.raises(AnnotationError, match="already holds checkpoints"):
        list(train_detector(tmp_path / "parts", train, val, SPEC, config))
    resumed = list(train_detector(tmp_path / "parts", train, val, SPEC, config, resume=True))
    assert [r.step for r in resumed] == [4, 5, 6]
    whole, parts = _weights(tmp_path / "whole"), _weights(tmp_path / "parts")
    assert whole.keys() == parts.keys()
    for name in whole:
        assert torch.equal(whole[name], parts[name]), name


def test_stop_file_stops_training(toy, tmp_path):
    train, val = datasets(toy)
    run = tmp_path / "run"
    run.mkdir()
    cancel = CancelToken(stop_file=run / "STOP")
    with pytest.raises(JobCancelled, match="stopped at step 2"):
        for report in train_detector(run, train, val, SPEC, TINY, cancel):
            if report.step == 1:
                (run / "STOP").write_text("stop")
                assert report.step == 1


def test_local_weights_load_and_a_mismatched_file_is_refused(tmp_path):
    spec = replace(SPEC, norm="frozen")
    backbone = torchvision.models.mobilenet_v3_large(weights=None).state_dict()
    torch.save(backbone, tmp_path / "imagenet.pth")
    model = build_detector(spec)
    assert load_pretrained(model, spec, tmp_path / "imagenet.pth") == "backbone"
    assert torch.equal(model.backbone.body["0"][0].weight, backbone["features.0.0.weight"])
    trainable = [p.requires_grad for p in model.backbone.body.parameters()]
    assert any(trainable) and not all(trainable)  # 3 trainable stages, the rest frozen

    coco = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_fpn(
        weights=None, weights_backbone=None, num_classes=91).state_dict()
    torch.save({"model": coco}, tmp_path / "coco.pth")
    model = build_detector(spec)
    assert load_pretrained(model, spec, tmp_path / "coco.pth") == "detector"
    assert torch.equal(model.rpn.head.conv[0][0].weight, coco["rpn.head.conv.0.0.weight"])
    assert model.roi_heads.box_predictor.cls_score.out_features == 4

    resnet = replace(spec, architecture="fasterrcnn_resnet50_fpn")
    with pytest.raises(PretrainedError, match=r"imagenet\.pth: does not fit the "
                                              r"fasterrcnn_resnet50_fpn backbone"):
        load_pretrained(build_detector(resnet), resnet, tmp_path / "imagenet.pth")
    wrong = {k: v[..., :1] if k == "features.0.0.weight" else v for k, v in backbone.items()}
    torch.save(wrong, tmp_path / "wrong.pth")
    with pytest.raises(PretrainedError, match=r"features\.0\.0\.weight|0\.0\.weight has shape"):
        load_pretrained(build_detector(spec), spec, tmp_path / "wrong.pth")


class _Payload:
    def __reduce__(self):
        return (print, ("pickled code ran",))


def test_pickled_code_in_a_weights_file_is_never_run(tmp_path, capsys):
    path = tmp_path / "evil.pth"
    buffer = io.BytesIO()
    pickle.dump({"model": _Payload()}, buffer)
    path.write_bytes(buffer.getvalue())
    with pytest.raises(PretrainedError, match="nothing in it was run"):
        load_pretrained(build_detector(SPEC), SPEC, path)
    assert "pickled code ran" not in capsys.readouterr().out
    (tmp_path / "missing.pth").unlink(missing_ok=True)
    with pytest.raises(PretrainedError, match="does not exist"):
        load_pretrained(build_detector(SPEC), SPEC, tmp_path / "missing.pth")


def test_training_from_pretrained_weights_records_them(toy, tmp_path):
    spec = replace(SPEC, norm="frozen")
    torch.save(torchvision.models.mobilenet_v3_large(weights=None).state_dict(),
               tmp_path / "imagenet.pth")
    train, val = datasets(toy)
    list(train_detector(tmp_path / "run", train, val, spec, replace(TINY, steps=2),
                        pretrained=tmp_path / "imagenet.pth"))
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["pretrained_kind"] == "backbone"
    assert config["model"]["norm"] == "frozen"
    list(train_detector(tmp_path / "run", train, val, spec, replace(TINY, steps=3),
                        resume=True))
    resumed = json.loads((tmp_path / "run" / "config.json").read_text())
    assert resumed["pretrained"] == config["pretrained"]  # still says where it started
    assert resumed["pretrained_kind"] == "backbone" and resumed["config"]["steps"] == 3


def test_a_constant_mix_needs_both_pools(toy, tmp_path):
    train, val = datasets(toy)
    only_real = DetectionDataset([s for s in train.samples if not s.synthetic], SIZE)
    with pytest.raises(ValueError, match="has none"):
        list(train_detector(tmp_path / "run", only_real, val, SPEC,
                            replace(TINY, mix=MixSchedule(0.5, 0.5))))


def _project(root: Path) -> Path:
    Project.create(root, ProjectConfig(classes=CLASSES))
    return root


def test_cli_train_detect_and_read(toy, tmp_path, capsys):
    from billet_studio.cli import main
    from billet_studio.evaluation.inputs import load_predictions, load_truth

    project = _project(tmp_path / "project")
    assert main(["detector", "train", str(project), "--dataset", str(toy), "--preset", "tiny",
                 "--image-size", str(SIZE), "--steps", "4", "--eval-every", "2",
                 "--run-name", "cli", "--mix", "0.5"]) == 0
    run = project / "runs" / "detector" / "cli"
    assert json.loads((run / "config.json").read_text())["config"]["mix"] == {
        "start": 0.5, "end": 0.5}
    # Resuming keeps the run's budget (not the preset's) unless --steps extends it.
    assert main(["detector", "train", str(project), "--dataset", str(toy), "--resume",
                 "cli"]) == 0
    assert json.loads((run / "config.json").read_text())["config"]["steps"] == 4
    assert main(["detector", "train", str(project), "--dataset", str(toy), "--resume",
                 "cli", "--steps", "5"]) == 0
    assert json.loads((run / "config.json").read_text())["config"]["steps"] == 5
    assert main(["detector", "checkpoints", str(run)]) == 0
    assert "       4 " in capsys.readouterr().out

    out = tmp_path / "preds.json"
    assert main(["detect", "--run", str(run), "--images", str(toy / "val.json"),
                 "--out", str(out), "--batch-size", "3"]) == 0
    truth = load_truth(toy / "val.json")
    predictions = load_predictions(out, truth)  # the evaluation accepts the file
    assert predictions.count == len(json.loads(out.read_text()))

    exported = tmp_path / "model.safetensors"
    assert main(["detector", "export", str(run), "--out", str(exported)]) == 0
    _model, spec, _ = load_detector(exported)
    assert next(iter(_weights_of(exported).values())).dtype == torch.float16
    assert spec.classes == CLASSES

    csv_path = tmp_path / "ids.csv"
    images = sorted((toy / "images").glob("val_*.png"))
    assert main(["read", "--run", str(exported), "--project", str(project),
                 *map(str, images), "--out", str(csv_path), "--score", "0"]) == 0
    rows = list(csv.DictReader(csv_path.open()))
    assert [Path(r["image"]).name for r in rows] == [p.name for p in images]
    assert all(r["needs_review"] in ("yes", "no") for r in rows)
    assert all(0.0 <= float(r["confidence"]) <= 1.0 for r in rows)


def _weights_of(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


def test_detect_names_a_coco_file_whose_images_are_elsewhere(toy, tmp_path, capsys):
    from billet_studio.cli import main

    moved = tmp_path / "elsewhere.json"
    moved.write_text((toy / "val.json").read_text())
    assert main(["detect", "--run", "bundled-missing", "--images", str(moved),
                 "--out", str(tmp_path / "p.json")]) == 2
    assert "--image-root" in capsys.readouterr().err


def test_torchrun_with_two_gloo_processes(toy, tmp_path):
    from torchrun import run_torchrun

    project = _project(tmp_path / "project")
    result = run_torchrun(["detector", "train", str(project), "--dataset", str(toy),
                           "--preset", "tiny", "--image-size", str(SIZE), "--steps", "4",
                           "--eval-every", "2", "--run-name", "ddp", "--workers", "0"], 29531)
    assert "rank 0 of 2: trained to step 4" in result.stdout
    assert "rank 1 of 2: trained to step 4" in result.stdout
    run = project / "runs" / "detector" / "ddp"
    assert json.loads((run / "config.json").read_text())["processes"] == 2
    assert sorted(p.name for p in (run / "checkpoints").glob("*.safetensors")) == [
        "step_0000002.safetensors", "step_0000004.safetensors"]
    steps = [json.loads(line)["step"] for line in (run / "log.jsonl").open()]
    assert steps == sorted(set(steps))
