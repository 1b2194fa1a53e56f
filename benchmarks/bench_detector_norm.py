"""GroupNorm against batch norm for a detector trained from scratch at batch 2: the same
model, data, seed and step budget, differing only in the backbone's normalisation.

Reports seconds per step, the last logged training loss, and the validation loss and
mAP@0.5 at the end. By default it trains on generated billets (eleven coloured
'characters' each, learnable in a few hundred steps); BENCH_NORM_DATASET names a dataset
folder (train.json + val.json) to compare on real or demo data instead.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from benchmarks.table import print_table
from billet_studio.detection import PRESETS, DetectionDataset, ModelSpec, train_detector
from billet_studio.detection.data import training_samples

CLASSES = tuple("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
SIZE = int(os.environ.get("BENCH_NORM_SIZE", "256"))
STEPS = int(os.environ.get("BENCH_NORM_STEPS", "150"))
DATASET = os.environ.get("BENCH_NORM_DATASET")
NORMS = ("group", "batch")


def _split(folder: Path, name: str, count: int, seed: int) -> None:
    """Billets with eleven characters whose colour and height encode the class."""
    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    classes = 10  # digits only: enough to tell the norms apart in a short budget
    for index in range(1, count + 1):
        image = rng.integers(60, 120, (SIZE, SIZE, 3), dtype=np.uint8)
        side = SIZE / 20
        for position in range(11):
            label = int(rng.integers(0, classes))
            x = int(SIZE * 0.12 + position * side * 1.4)
            y = int(SIZE * 0.45 + rng.integers(-3, 4))
            w, h = int(side), int(side * (1.3 + 0.05 * label))
            colour = (int(60 + 19 * label), 220 - 15 * label, 180)
            cv2.rectangle(image, (x, y), (x + w, y + h), colour, -1)
            annotations.append({"id": len(annotations) + 1, "image_id": index,
                                "category_id": label + 1, "bbox": [x, y, w + 1, h + 1],
                                "area": float((w + 1) * (h + 1)), "iscrowd": 0})
        file_name = f"images/{name}_{index:03d}.jpg"
        cv2.imwrite(str(folder / file_name), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        images.append({"id": index, "file_name": file_name, "width": SIZE, "height": SIZE,
                       "billet": {"split": name}})
    document = {"images": images, "annotations": annotations,
                "categories": [{"id": i + 1, "name": c} for i, c in enumerate(CLASSES)]}
    (folder / f"{name}.json").write_text(json.dumps(document))


def _train(folder: Path, norm: str, run: Path) -> tuple[float, dict[str, float]]:
    train, val = training_samples(folder, CLASSES)
    spec = ModelSpec(PRESETS["cpu"].architecture, CLASSES, SIZE, norm)
    config = replace(PRESETS["cpu"].train, steps=STEPS, eval_every=STEPS,
                     checkpoint_every=STEPS, warmup_steps=min(100, STEPS // 4),
                     val_images=len(val), seed=0, workers=1)
    started = time.perf_counter()
    metrics: dict[str, float] = {}
    for progress in train_detector(run, DetectionDataset(train, SIZE),
                                   DetectionDataset(val, SIZE), spec, config):
        metrics = progress.metrics
    seconds = time.perf_counter() - started
    logged = [json.loads(line) for line in (run / "log.jsonl").open(encoding="utf-8")]
    return seconds / STEPS, {**metrics, "loss": logged[-1]["metrics"]["loss"]}


def run() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as temp:
        if DATASET:
            folder = Path(DATASET)
        else:
            folder = Path(temp) / "data"
            _split(folder, "train", 64, 0)
            _split(folder, "val", 16, 1)
        for norm in NORMS:
            per_step, metrics = _train(folder, norm, Path(temp) / f"run-{norm}")
            rows.append((norm, f"{per_step:.2f}", f"{metrics['loss']:.3f}",
                         f"{metrics['val_loss']:.3f}", f"{metrics['val_mAP50']:.3f}"))
    print_table(("backbone norm (batch 2, from scratch)", "s/step", "train loss",
                 "val loss", "val mAP@0.5"), rows)
    where = DATASET or "generated billets"
    print(f"   (mobilenet-v3 FPN at {SIZE} px, {STEPS} steps on {where}; BENCH_NORM_SIZE, "
          "BENCH_NORM_STEPS and BENCH_NORM_DATASET change them)")
