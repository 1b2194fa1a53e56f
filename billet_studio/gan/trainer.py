"""Training pix2pix as a job: one report per step, checkpoints, previews, exact resume."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from billet_studio import __version__
from billet_studio.annotations import AnnotationError, atomic_write_json
from billet_studio.annotations.images import write_png
from billet_studio.gan.networks import PRESETS, build_discriminator, build_generator
from billet_studio.gan.pairs import PairSet
from billet_studio.gan.quality import Legibility, heldout_scores
from billet_studio.gan.render import (
    images_to_tensor,
    masks_to_tensor,
    per_sample_copy,
    render_masks,
)
from billet_studio.jobs import CancelToken, JobCancelled, JsonlProgressWriter, Progress
from billet_studio.training.checkpoints import CheckpointStore, load_generator_weights
from billet_studio.training.devices import describe_device, pick_device
from billet_studio.training.distributed import DistributedContext, any_rank

LOSS_NAMES = ("G_GAN", "G_L1", "D_real", "D_fake")


@dataclass(frozen=True)
class GanTrainConfig:
    """A pix2pix run; the defaults are the paper's (40,000 steps, a checkpoint every 5,000)
    and the reference's optimiser and losses."""

    preset: str = "paper"
    steps: int = 40_000
    checkpoint_every: int = 5_000
    batch_size: int = 1
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lambda_l1: float = 100.0
    gan_mode: str = "vanilla"  # or "lsgan"
    #: Linear decay of the learning rate to zero over the last steps (0: constant).
    decay_steps: int = 0
    #: Random crop from the 286/256 load size, as the reference; flips are off because a
    #: mirrored character is another character.
    jitter: bool = True
    flip: bool = False
    seed: int = 0
    preview_count: int = 8
    log_every: int = 10

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; use {', '.join(PRESETS)}")
        if self.gan_mode not in ("vanilla", "lsgan"):
            raise ValueError(f"gan_mode must be vanilla or lsgan, got {self.gan_mode!r}")
        if self.steps < 1 or self.checkpoint_every < 1 or self.batch_size < 1:
            raise ValueError("steps, checkpoint_every and batch_size must be positive")

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> GanTrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in document.items() if k in known})


class Pix2Pix:
    """The two networks, their optimisers and one training step."""

    def __init__(self, config: GanTrainConfig, device: torch.device) -> None:
        self.config = config
        self.device = device
        preset = PRESETS[config.preset]
        self.g_module = build_generator(preset).to(device)
        self.d_module = build_discriminator(preset).to(device)
        if device.type == "cuda":
            self.g_module = self.g_module.to(memory_format=torch.channels_last)
            self.d_module = self.d_module.to(memory_format=torch.channels_last)
        # The modules that train: wrapped in DistributedDataParallel under torchrun.
        self.generator: nn.Module = self.g_module
        self.discriminator: nn.Module = self.d_module
        betas = (config.beta1, config.beta2)
        self.optimizer_g = torch.optim.Adam(self.g_module.parameters(), config.lr, betas)
        self.optimizer_d = torch.optim.Adam(self.d_module.parameters(), config.lr, betas)
        self.gan_loss = (nn.MSELoss() if config.gan_mode == "lsgan"
                         else nn.BCEWithLogitsLoss())
        self.l1 = nn.L1Loss()

    def distribute(self) -> None:
        """Average gradients across the torchrun processes (DistributedDataParallel)."""
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        self.generator = DistributedDataParallel(self.g_module, device_ids=ids)
        self.discriminator = DistributedDataParallel(self.d_module, device_ids=ids)

    def set_learning_rate(self, step: int) -> None:
        decay_start = self.config.steps - self.config.decay_steps
        factor = 1.0
        if self.config.decay_steps and step > decay_start:
            factor = max(0.0, 1.0 - (step - decay_start) / (self.config.decay_steps + 1))
        for optimizer in (self.optimizer_g, self.optimizer_d):
            for group in optimizer.param_groups:
                group["lr"] = self.config.lr * factor

    def _target(self, prediction: torch.Tensor, real: bool) -> torch.Tensor:
        return torch.full_like(prediction, 1.0 if real else 0.0)

    def step(self, masks: torch.Tensor, real: torch.Tensor) -> dict[str, float]:
        """One reference pix2pix step: D on real and detached fake, then G on GAN + L1."""
        autocast = torch.autocast("cuda", torch.bfloat16, enabled=self.device.type == "cuda")
        with autocast:
            fake = self.generator(masks)
        for parameter in self.d_module.parameters():
            parameter.requires_grad_(True)
        self.optimizer_d.zero_grad(set_to_none=True)
        with autocast:
            pred_fake = self.discriminator(torch.cat([masks, fake.detach()], 1))
            pred_real = self.discriminator(torch.cat([masks, real], 1))
            loss_d_fake = self.gan_loss(pred_fake.float(), self._target(pred_fake, False))
            loss_d_real = self.gan_loss(pred_real.float(), self._target(pred_real, True))
            loss_d = (loss_d_fake + loss_d_real) * 0.5
        loss_d.backward()
        self.optimizer_d.step()
        for parameter in self.d_module.parameters():
            parameter.requires_grad_(False)
        self.optimizer_g.zero_grad(set_to_none=True)
        with autocast:
            # The bare discriminator: its parameters take no gradient in this pass, and a
            # DistributedDataParallel wrapper would wait for them.
            pred_fake = self.d_module(torch.cat([masks, fake], 1))
            loss_g_gan = self.gan_loss(pred_fake.float(), self._target(pred_fake, True))
            loss_g_l1 = self.l1(fake.float(), real) * self.config.lambda_l1
            loss_g = loss_g_gan + loss_g_l1
        loss_g.backward()
        self.optimizer_g.step()
        return {"G_GAN": loss_g_gan.item(), "G_L1": loss_g_l1.item(),
                "D_real": loss_d_real.item(), "D_fake": loss_d_fake.item()}

    def state(self, step: int, rng: np.random.Generator) -> dict[str, Any]:
        return {
            "step": step,
            "discriminator": self.d_module.state_dict(),
            "optimizer_g": self.optimizer_g.state_dict(),
            "optimizer_d": self.optimizer_d.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "numpy_rng": json.dumps(rng.bit_generator.state),
        }

    def restore(self, state: dict[str, Any], rng: np.random.Generator) -> int:
        self.d_module.load_state_dict(state["discriminator"])
        self.optimizer_g.load_state_dict(state["optimizer_g"])
        self.optimizer_d.load_state_dict(state["optimizer_d"])
        torch.set_rng_state(state["torch_rng"])
        rng.bit_generator.state = json.loads(state["numpy_rng"])
        return int(state["step"])


def sample_batch(pairs: PairSet, size: int, config: GanTrainConfig,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random pairs, each cropped at a random offset from its load size (the jitter)."""
    indices = rng.integers(0, len(pairs), config.batch_size)
    loaded = pairs.masks.shape[1]
    masks, images = [], []
    for index in indices:
        top, left = (rng.integers(0, loaded - size + 1, 2) if config.jitter
                     else ((loaded - size) // 2,) * 2)
        mask = pairs.masks[index, top:top + size, left:left + size]
        image = pairs.images[index, top:top + size, left:left + size]
        if config.flip and rng.random() < 0.5:
            mask, image = mask[:, ::-1], image[:, ::-1]
        masks.append(mask)
        images.append(image)
    return np.ascontiguousarray(masks), np.ascontiguousarray(images)


def train_gan(run_dir: Path, train: PairSet, val: PairSet, config: GanTrainConfig,
              cancel: CancelToken | None = None, resume: bool = False,
              context: DistributedContext | None = None,
              legibility: Legibility | None = None) -> Iterator[Progress]:
    """Job: train (or resume) the run in ``run_dir``, yielding one report per step.

    Under torchrun (``context``), every rank trains on its own batches and only rank 0
    writes. Exact resume is guaranteed for a single process (a resumed multi-process run
    draws fresh batches on the other ranks). Each checkpoint's sidecar gets quality scores
    on the held-out pairs and, with ``legibility``, how well renders read.
    """
    run_dir = Path(run_dir)
    context = context or DistributedContext()
    if len(train) == 0:
        raise AnnotationError(run_dir, "has no training pairs: label some stamps as polygons "
                                       "in training images first")
    store = CheckpointStore(run_dir)
    config_path = run_dir / "config.json"
    if resume:
        if not config_path.exists():
            raise AnnotationError(run_dir, "is not a GAN run (no config.json) to resume")
        saved = json.loads(config_path.read_text(encoding="utf-8"))
        config = GanTrainConfig.from_json({**saved["config"], "steps": config.steps})
    elif store.list():
        raise AnnotationError(run_dir, "already holds checkpoints; resume it or choose a "
                                       "new run folder")
    preset = PRESETS[config.preset]
    size = preset.image_size
    if train.masks.shape[1] < size:
        raise AnnotationError(run_dir, f"pairs are {train.masks.shape[1]} px, smaller than "
                                       f"the {size} px the {config.preset} preset needs")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed if context.is_main else [config.seed, context.rank])
    device = pick_device()
    model = Pix2Pix(config, device)
    start, elapsed_before = 0, 0.0
    latest = store.latest() if resume else None
    if latest is not None:
        load_generator_weights(latest.weights, model.g_module, latest.metadata)
        start = model.restore(store.load_state(latest), rng)
        elapsed_before = float(latest.metadata.get("wall_time_s", 0.0))
        if not context.is_main:
            rng = np.random.default_rng([config.seed, context.rank, start])
    if context.active:
        model.distribute()
    if context.is_main:
        atomic_write_json(config_path, {
            "config": asdict(config), "code_version": __version__, "device": device.type,
            "device_name": describe_device(device),
            "processes": context.world_size, "train_pairs": len(train),
            "val_pairs": len(val)})
        log = JsonlProgressWriter(run_dir / "log.jsonl")
    preview_source = val if len(val) else train
    preview_masks = _centre(preview_source.masks[:config.preview_count], size)
    preview_real = _centre(preview_source.images[:config.preview_count], size)
    window: list[dict[str, float]] = []
    started = time.monotonic()
    for step in range(start + 1, config.steps + 1):
        model.generator.train()
        model.discriminator.train()
        model.set_learning_rate(step)
        masks, images = sample_batch(train, size, config, rng)
        losses = model.step(masks_to_tensor(masks).to(device), images_to_tensor(images).to(device))
        window.append(losses)
        stopping = any_rank(cancel is not None and cancel.cancelled, context)
        saving = step % config.checkpoint_every == 0 or step == config.steps or stopping
        preview = None
        if saving and context.is_main:
            wall = elapsed_before + time.monotonic() - started
            averaged = _mean(window)
            quality = _quality(model.g_module, val, size, legibility)
            store.save(step, model.g_module, model.state(step, rng), {
                "config": asdict(config), "losses": averaged, "quality": quality,
                "wall_time_s": round(wall, 2), "train_pairs": len(train),
                "val_pairs": len(val)})
            preview = os.path.abspath(_write_preview(run_dir, step, model.g_module,
                                                     preview_masks, preview_real))
        progress = Progress(step, config.steps, f"step {step}/{config.steps}", losses, preview)
        if step % config.log_every == 0 or saving:
            if context.is_main:
                log.write(Progress(step, config.steps, progress.message, _mean(window),
                                   preview))
            window = []
        yield progress
        if stopping:
            raise JobCancelled(f"stopped at step {step}; checkpoint saved in {store.folder}")
        if context.active and saving:
            # Nobody reads a checkpoint before rank 0 has written it.
            torch.distributed.barrier()


def _quality(generator: nn.Module, val: PairSet, size: int,
             legibility: Legibility | None) -> dict[str, float]:
    rendering = per_sample_copy(generator).cpu()
    scores = heldout_scores(rendering, val, size)
    if legibility is not None:
        scores["legibility"] = round(legibility.score(rendering), 4)
        scores["legibility_real"] = round(legibility.real_accuracy, 4)
    return scores


def _mean(window: list[dict[str, float]]) -> dict[str, float]:
    if not window:
        return {}
    return {name: round(float(np.mean([w[name] for w in window])), 5) for name in LOSS_NAMES}


def _centre(array: np.ndarray, size: int) -> np.ndarray:
    offset = (array.shape[1] - size) // 2
    return array[:, offset:offset + size, offset:offset + size]


def _write_preview(run_dir: Path, step: int, generator: nn.Module, masks: np.ndarray,
                   real: np.ndarray) -> Path:
    """A sheet of mask | render | real stamp rows for the fixed preview masks."""
    rendered = render_masks(per_sample_copy(generator).cpu(), masks)
    rows = [np.hstack([np.repeat(m[..., None], 3, axis=2), r, t])
            for m, r, t in zip(masks, rendered, real, strict=True)]
    sheet = np.vstack(rows) if rows else np.zeros((8, 8, 3), np.uint8)
    path = run_dir / "previews" / f"step_{step:07d}.png"
    write_png(path, sheet)
    return path
