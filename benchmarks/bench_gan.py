"""pix2pix on this machine, both presets: training steps/s through the job against a bare
loop over the same networks, and rendering stamps/s batched against one at a time.

Goals (GAN issue): job overhead within 10 % of the bare loop; batched rendering at least
3x one-at-a-time on the CPU.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.table import print_table
from billet_studio.gan import PRESETS, GanTrainConfig, PairSet, build_generator, load_size
from billet_studio.gan.render import (
    images_to_tensor,
    masks_to_tensor,
    per_sample_copy,
    render_masks,
)
from billet_studio.gan.trainer import Pix2Pix, sample_batch, train_gan

STEPS = {"small": 20, "paper": 6}
RENDERS = {"small": 64, "paper": 16}


def _pairs(size: int, count: int = 16) -> PairSet:
    rng = np.random.default_rng(0)
    masks = (rng.random((count, size, size)) > 0.7).astype(np.uint8) * 255
    images = rng.integers(0, 255, (count, size, size, 3), dtype=np.uint8)
    return PairSet(masks, images, tuple(str(i) for i in range(count)))


def _train_rates(preset: str) -> tuple[float, float]:
    size = PRESETS[preset].image_size
    pairs = _pairs(load_size(size))
    steps = STEPS[preset]
    # One warm-up step, the timed steps, and a last step (with its checkpoint) left untimed.
    config = GanTrainConfig(preset=preset, steps=steps + 2, checkpoint_every=10**9)
    torch.manual_seed(0)
    model = Pix2Pix(config, torch.device("cpu"))
    rng = np.random.default_rng(0)
    masks, images = sample_batch(pairs, size, config, rng)
    x, y = masks_to_tensor(masks), images_to_tensor(images)
    model.step(x, y)  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        model.step(x, y)
    bare = steps / (time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as folder:
        job = train_gan(Path(folder) / "run", pairs, pairs, config)
        next(job)  # warm-up step
        start = time.perf_counter()
        for _ in range(steps):
            next(job)
        timed = steps / (time.perf_counter() - start)
        job.close()
    return bare, timed


def _render_rates(preset: str) -> tuple[float, float]:
    size = PRESETS[preset].image_size
    torch.manual_seed(0)
    generator = per_sample_copy(build_generator(PRESETS[preset]))
    masks = _pairs(size, RENDERS[preset]).masks
    render_masks(generator, masks[:2], batch_size=2)  # warm-up
    start = time.perf_counter()
    for index in range(len(masks)):
        render_masks(generator, masks[index:index + 1], batch_size=1)
    single = len(masks) / (time.perf_counter() - start)
    start = time.perf_counter()
    render_masks(generator, masks, batch_size=len(masks))
    batched = len(masks) / (time.perf_counter() - start)
    return single, batched


def run() -> None:
    device = "cuda" if torch.cuda.is_available() else f"cpu, {torch.get_num_threads()} threads"
    print(f"   device: {device}")
    rows = []
    for preset in ("small", "paper"):
        bare, job = _train_rates(preset)
        rows.append((f"{preset}: train, bare loop (baseline)", bare, 1.0))
        rows.append((f"{preset}: train, train_gan job", job, job / bare))
        single, batched = _render_rates(preset)
        rows.append((f"{preset}: render one at a time (baseline)", single, 1.0))
        rows.append((f"{preset}: render batched", batched, batched / single))
    print_table(("what", "per second", "x baseline"), rows)
