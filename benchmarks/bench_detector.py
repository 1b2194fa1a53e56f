"""The detector on this machine: training step time through the job against a bare
torchvision loop over the same data and model, the share of step time spent waiting for
data, and inference images/s at 1024 px for the three architectures.

Goals (detector issue): the job within 5 % of the bare loop; data wait near zero.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch

from benchmarks.table import print_table
from billet_studio.detection import (
    ARCHITECTURES,
    PRESETS,
    DetectionDataset,
    ModelSpec,
    build_detector,
    read_coco_samples,
    train_detector,
)
from billet_studio.detection.data import collate
from billet_studio.detection.trainer import learning_rate
from billet_studio.detection.validation import to_device

CLASSES = tuple("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
SIZE = int(os.environ.get("BENCH_DETECTOR_SIZE", "512"))
STEPS = int(os.environ.get("BENCH_DETECTOR_STEPS", "8"))


def _dataset(folder: Path, count: int = 16, size: int = 1024) -> Path:
    """JPEG billets with eleven 'characters' each (rectangles), as a COCO file."""
    rng = np.random.default_rng(0)
    (folder / "images").mkdir(parents=True)
    images, annotations = [], []
    for index in range(1, count + 1):
        image = rng.integers(60, 120, (size, size, 3), dtype=np.uint8)
        for position in range(11):
            x, y = 200 + position * 55, 450 + int(rng.integers(-10, 10))
            label = int(rng.integers(0, len(CLASSES)))
            cv2.rectangle(image, (x, y), (x + 40, y + 62), (200, 200 - 5 * label, 190), -1)
            annotations.append({"id": len(annotations) + 1, "image_id": index,
                                "category_id": label + 1, "bbox": [x, y, 41, 63]})
        name = f"images/b{index:03d}.jpg"
        cv2.imwrite(str(folder / name), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        images.append({"id": index, "file_name": name, "width": size, "height": size})
    import json

    path = folder / "train.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": [{"id": i + 1, "name": c}
                                               for i, c in enumerate(CLASSES)]}))
    return path


def _bare_loop(dataset: DetectionDataset, spec: ModelSpec, config, steps: int) -> float:
    """Seconds per step of the plainest loop: load, forward, backward, step."""
    torch.manual_seed(0)
    model = build_detector(spec).train()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad],
                                lr=config.lr, momentum=0.9, weight_decay=1e-4)
    times = []
    for step in range(1, steps + 2):
        start = time.perf_counter()
        indices = [(step * 2 + i) % len(dataset) for i in range(config.batch_size)]
        images, targets = to_device(*collate([dataset[i] for i in indices]),
                                    torch.device("cpu"))
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, config)
        loss = sum(model(images, targets).values())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return float(np.mean(times[1:]))  # the first step warms up


def _job(dataset: DetectionDataset, spec: ModelSpec, config, steps: int,
         run: Path) -> tuple[float, float]:
    """(seconds per step, data-wait share) through ``train_detector``; the warm-up step
    and the last one (with its checkpoint) are left out."""
    config = replace(config, steps=steps + 2, eval_every=10**9, checkpoint_every=10**9,
                     log_every=10**9)
    stamps, waits = [], []
    for progress in train_detector(run, dataset, DetectionDataset([], spec.image_size),
                                   spec, config):
        stamps.append(time.perf_counter())
        waits.append(progress.metrics["data_wait"])
    per_step = float(np.mean(np.diff(stamps[:-1])))
    return per_step, waits[-2]


def _inference_rate(architecture: str, count: int = 3) -> float:
    model = build_detector(ModelSpec(architecture, CLASSES, 1024, "group")).eval()
    image = [torch.rand(3, 1024, 1024)]
    with torch.no_grad():
        model(image)  # warm-up
        start = time.perf_counter()
        for _ in range(count):
            model(image)
    return count / (time.perf_counter() - start)


def run() -> None:
    base = PRESETS["cpu"]
    spec = ModelSpec(base.architecture, CLASSES, SIZE, "group")
    rows = []
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        samples = read_coco_samples(_dataset(folder / "data"), CLASSES)
        dataset = DetectionDataset(samples, SIZE)
        for workers in (0, 1):
            config = replace(base.train, workers=workers)
            bare = _bare_loop(dataset, spec, config, STEPS)
            job, wait = _job(dataset, spec, config, STEPS, folder / f"run{workers}")
            rows.append((f"mobilenet FPN {SIZE}px, batch 2, loader workers {workers}",
                         f"{bare:.2f}", f"{job:.2f}", f"{job / bare:.3f}", f"{wait:.1%}"))
    print_table(("training step", "bare s/step", "job s/step", "job / bare", "data wait"),
                rows)
    rates = [(architecture, f"{_inference_rate(architecture):.2f}")
             for architecture in ARCHITECTURES]
    print_table(("inference at 1024 px, batch 1, CPU", "images/s"), rates)
    device = "CUDA " + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    print(f"   ({device}, {torch.get_num_threads()} threads, {STEPS} timed steps; "
          "BENCH_DETECTOR_SIZE and BENCH_DETECTOR_STEPS change them)")
