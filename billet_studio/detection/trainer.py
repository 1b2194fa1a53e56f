"""Training the detector as a job: SGD with warm-up, then step or cosine decay placed by
the step budget, validation every K steps, safetensors checkpoints with exact resume, DDP
under torchrun."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from billet_studio import __version__
from billet_studio.annotations import AnnotationError, atomic_write_json
from billet_studio.detection.augment import AugmentConfig
from billet_studio.detection.data import DetectionDataset, collate
from billet_studio.detection.model import ModelSpec, seeded_detector
from billet_studio.detection.pretrain import PretrainConfig
from billet_studio.detection.pretrained import load_pretrained
from billet_studio.detection.run_files import read_run_config
from billet_studio.detection.sampler import BatchPlan, MixSchedule
from billet_studio.detection.validation import to_device, validate, write_detection_preview
from billet_studio.jobs import CancelToken, JobCancelled, JsonlProgressWriter, Progress
from billet_studio.training import CheckpointStore, DistributedContext, any_rank, load_weights
from billet_studio.training.devices import describe_device, pick_device


@dataclass(frozen=True)
class DetectorTrainConfig:
    """One detector run. Defaults: the paper's budget (165,000 steps) with torchvision's
    reference recipe scaled to batch 2 (lr 0.02 x 2/16, decay by 10 at 2/3 and 8/9)."""

    steps: int = 165_000
    batch_size: int = 2
    lr: float = 0.0025
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_steps: int = 1000
    warmup_factor: float = 1e-3
    #: "step": decay by ``gamma`` at each milestone; "cosine": a half cosine from the end
    #: of warm-up down to ``lr * final_factor`` at the last step.
    schedule: str = "step"
    #: Decay points as fractions of the budget, each multiplying the rate by ``gamma``.
    milestones: tuple[float, ...] = (2 / 3, 8 / 9)
    gamma: float = 0.1
    final_factor: float = 0.01
    eval_every: int = 5000
    checkpoint_every: int = 5000
    #: Held-out images scored at each validation (0: all).
    val_images: int = 0
    log_every: int = 20
    seed: int = 0
    #: Loader processes (0: load in the training process).
    workers: int = 2
    mix: MixSchedule = MixSchedule()
    augment: AugmentConfig = AugmentConfig()

    def __post_init__(self) -> None:
        if min(self.steps, self.batch_size, self.eval_every, self.checkpoint_every) < 1:
            raise ValueError("steps, batch_size, eval_every and checkpoint_every must be "
                             "positive")
        if self.lr <= 0 or not all(0 < m <= 1 for m in self.milestones):
            raise ValueError("lr must be positive and milestones fractions in (0, 1]")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got "
                             f"{self.schedule!r}")

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> DetectorTrainConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in document.items() if k in known}
        values["milestones"] = tuple(values.get("milestones", cls.milestones))
        values["mix"] = MixSchedule(**values.get("mix", {}))
        values["augment"] = AugmentConfig(**values.get("augment", {}))
        return cls(**values)


SCHEDULES = ("step", "cosine")
#: Jitter for stamped characters (the cpu and tiny presets).
CHARACTER_JITTER = AugmentConfig(rotation=3.0, scale=0.1, shift=0.03, brightness=0.1,
                                 contrast=0.15)


@dataclass(frozen=True)
class Preset:
    """A recipe: model, input size, training budget, and how the run starts."""

    architecture: str
    image_size: int
    train: DetectorTrainConfig
    #: MobileNet: the backbone strides the pyramid reads (None: torchvision's), and the
    #: pyramid's width.
    pyramid_strides: tuple[int, ...] | None = None
    pyramid_channels: int = 256
    #: Proposals per image that train the box head.
    roi_batch: int = 512
    #: Anchors fitted to the training boxes (False: torchvision's defaults).
    fit_anchors: bool = True
    #: Pretrain the backbone on the dataset's characters first (None: start from scratch
    #: or from the user's --weights).
    pretrain: PretrainConfig | None = None


PRESETS = {
    # Tests and plumbing checks: tiny images, a handful of steps, the cpu recipe's shape.
    "tiny": Preset("fasterrcnn_mobilenet_v3_large_fpn", 128,
                   DetectorTrainConfig(steps=20, warmup_steps=5, eval_every=10,
                                       checkpoint_every=10, val_images=8, log_every=5,
                                       lr=0.01, workers=0, schedule="cosine",
                                       augment=CHARACTER_JITTER),
                   pyramid_strides=(8, 16, 32), pyramid_channels=128, roi_batch=128,
                   pretrain=PretrainConfig(steps=6, batch_size=16)),
    # An evening on a laptop CPU: MobileNet at half resolution, its pyramid (128 wide) over
    # the stride-8/16/32 stages, anchors fitted to the characters, 128 proposals an image
    # for the box head, the backbone first pretrained on the dataset's own characters,
    # cosine decay and character jitter.
    "cpu": Preset("fasterrcnn_mobilenet_v3_large_fpn", 512,
                  DetectorTrainConfig(steps=3000, warmup_steps=200, eval_every=500,
                                      checkpoint_every=500, val_images=64, lr=0.01,
                                      schedule="cosine", augment=CHARACTER_JITTER),
                  pyramid_strides=(8, 16, 32), pyramid_channels=128, roi_batch=128,
                  pretrain=PretrainConfig()),
    # The paper: ResNet-50 FPN on full 1024 px billets for 165,000 steps (anchors fitted;
    # the paper fine-tuned COCO weights, which come only from --weights FILE).
    "paper": Preset("fasterrcnn_resnet50_fpn", 1024, DetectorTrainConfig()),
}


def learning_rate(step: int, config: DetectorTrainConfig) -> float:
    """The rate at ``step`` (1-based): linear warm-up, then step decay at the milestones
    or a half cosine to ``final_factor``, both placed by the budget ``config.steps``."""
    rate = config.lr
    if step <= config.warmup_steps:
        alpha = step / config.warmup_steps
        rate *= config.warmup_factor * (1 - alpha) + alpha
    if config.schedule == "cosine":
        if step <= config.warmup_steps:
            return rate
        span = max(1, config.steps - config.warmup_steps)
        progress = min(1.0, (step - config.warmup_steps) / span)
        floor = config.final_factor
        return rate * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))
    passed = sum(step > round(m * config.steps) for m in config.milestones)
    return rate * config.gamma ** passed


class _StepBatches:
    """A DataLoader batch sampler over the plan's remaining steps; with augmentation each
    index carries its draw (seed, step, place), so the jitter is a function of the step."""

    def __init__(self, plan: BatchPlan, first_step: int, augment: bool = False) -> None:
        self.plan, self.first_step, self.augment = plan, first_step, augment

    def __iter__(self) -> Iterator[list[Any]]:
        for offset, batch in enumerate(self.plan.batches(self.first_step)):
            if not self.augment:
                yield batch
                continue
            step = self.first_step + offset
            yield [(index, self.plan.seed, step, self.plan.rank * len(batch) + place)
                   for place, index in enumerate(batch)]

    def __len__(self) -> int:
        return max(0, self.plan.total_steps - self.first_step + 1)


def _loader(dataset: DetectionDataset, batch_sampler: Any, workers: int,
            device: torch.device) -> DataLoader:
    return DataLoader(dataset, batch_sampler=batch_sampler, num_workers=workers,
                      collate_fn=collate, pin_memory=device.type == "cuda",
                      prefetch_factor=4 if workers else None,
                      # Its own generator: making loader iterators never draws from the
                      # global random state, so resumed runs stay exact.
                      generator=torch.Generator().manual_seed(0),
                      multiprocessing_context="spawn" if workers else None)


def _val_batches(dataset: DetectionDataset, config: DetectorTrainConfig) -> list[list[int]]:
    count = len(dataset) if not config.val_images else min(config.val_images, len(dataset))
    return [list(range(i, min(i + config.batch_size, count)))
            for i in range(0, count, config.batch_size)]


def train_detector(run_dir: Path, train: DetectionDataset, val: DetectionDataset,
                   spec: ModelSpec, config: DetectorTrainConfig,
                   cancel: CancelToken | None = None, resume: bool = False,
                   context: DistributedContext | None = None,
                   pretrained: Path | None = None,
                   sources: dict[str, Any] | None = None) -> Iterator[Progress]:
    """Job: train (or resume) the detector run in ``run_dir``, one report per step.

    A cancel (token, Ctrl-C or a STOP file) saves a checkpoint at the current step and
    raises :class:`JobCancelled`; resuming continues exactly where it stopped (one process).
    """
    run_dir = Path(run_dir)
    context = context or DistributedContext()
    store = CheckpointStore(run_dir)
    if resume:
        saved = read_run_config(run_dir)
        spec = ModelSpec.from_json(saved["model"])
        config = replace(DetectorTrainConfig.from_json(saved["config"]), steps=config.steps)
        pretrained = None  # the checkpoint already holds them
        origin = saved.get("pretrained"), saved.get("pretrained_kind")
    elif store.list():
        raise AnnotationError(run_dir, "already holds checkpoints; resume it or choose a new "
                                       "run name")
    if len(train) == 0:
        raise AnnotationError(run_dir, "has an empty training set")
    device = pick_device()
    module = seeded_detector(spec, config.seed)
    if pretrained is not None:
        origin = str(pretrained), load_pretrained(module, spec, pretrained)
    elif not resume:
        origin = None, None
    module.to(device)
    if device.type == "cuda":
        module = module.to(memory_format=torch.channels_last)
    parameters = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(parameters, lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay)
    start, elapsed_before = 0, 0.0
    latest = store.latest() if resume else None
    if latest is not None:
        load_weights(latest.weights, module, latest.metadata)
        state = store.load_state(latest)
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        start = int(state["step"])
        elapsed_before = float(latest.metadata.get("wall_time_s", 0.0))
    model = module
    if context.active:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(
            module, device_ids=[device.index] if device.type == "cuda" else None)
    plan = BatchPlan([s.synthetic for s in train.samples], config.batch_size, config.steps,
                     config.mix, config.seed, context.rank, context.world_size)
    if context.is_main:
        atomic_write_json(run_dir / "config.json", {
            "model": spec.to_json(),
            "config": asdict(config), "code_version": __version__, "device": device.type,
            "device_name": describe_device(device),
            "processes": context.world_size, "pretrained": origin[0],
            "pretrained_kind": origin[1], "train_images": len(train),
            "val_images": len(val), "sources": sources or {}})
        log = JsonlProgressWriter(run_dir / "log.jsonl")
    autocast = device.type == "cuda"
    train = train.with_augment(config.augment)
    loader = _loader(train, _StepBatches(plan, start + 1, train.augment is not None),
                     config.workers, device)
    val_sampler = _val_batches(val, config)
    window: dict[str, float] = {}
    window_steps, waited, busy = 0, 0.0, 0.0
    started = time.monotonic()
    step = start
    batches = iter(loader)
    while step < config.steps:
        tick = time.monotonic()
        images, targets = next(batches)
        loaded = time.monotonic()
        step += 1
        images, targets = to_device(images, targets, device)
        rate = learning_rate(step, config)
        for group in optimizer.param_groups:
            group["lr"] = rate
        model.train()
        with torch.autocast(device.type, torch.bfloat16, enabled=autocast):
            losses = model(images, targets)
        loss = sum(losses.values())
        if not torch.isfinite(loss):
            raise AnnotationError(run_dir, f"loss became {loss.item()} at step {step}; "
                                           "lower the learning rate (--lr) and resume from "
                                           "the last checkpoint")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        values = {k: float(v.detach()) for k, v in losses.items()}
        values["loss"] = float(loss.detach())
        for name, value in values.items():
            window[name] = window.get(name, 0.0) + value
        window_steps += 1
        done = time.monotonic()
        if step > start + 1:  # the first batch also waits for the loader processes to start
            waited += loaded - tick
            busy += done - tick
        stopping = any_rank(cancel is not None and cancel.cancelled, context)
        validating = step % config.eval_every == 0 or step == config.steps
        saving = step % config.checkpoint_every == 0 or step == config.steps or stopping
        metrics = {**values, "lr": rate}
        timing = _timing(step, start, config, time.monotonic() - started, waited, busy)
        metrics.update(timing)
        preview = None
        if validating and context.is_main and len(val):
            val_loader = _loader(val, val_sampler, 0, device)
            metrics.update(validate(module, val_loader, device, len(spec.classes), autocast))
            preview = os.path.abspath(write_detection_preview(
                module, val[0], device, spec.classes,
                run_dir / "previews" / f"step_{step:07d}.png"))
        if saving and context.is_main:
            wall = elapsed_before + time.monotonic() - started
            state = {"step": step, "optimizer": optimizer.state_dict(),
                     "torch_rng": torch.get_rng_state()}
            store.save(step, module, state, {
                "model": spec.to_json(),
                "metrics": {k: round(v, 6) for k, v in metrics.items()
                            if isinstance(v, float) and math.isfinite(v)},
                "wall_time_s": round(wall, 2)})
        message = f"step {step}/{config.steps} loss {values['loss']:.3f}"
        if step % config.log_every == 0 or saving or validating:
            if context.is_main:
                logged = {k: v / window_steps for k, v in window.items()}
                logged.update({k: v for k, v in metrics.items() if k not in logged})
                log.write(Progress(step, config.steps, message, _finite(logged), preview))
            window, window_steps = {}, 0
        yield Progress(step, config.steps, message, metrics)
        if stopping:
            raise JobCancelled(f"stopped at step {step}; resume with --resume "
                               f"{run_dir.name}")
        if context.active and saving:
            torch.distributed.barrier()


def _timing(step: int, start: int, config: DetectorTrainConfig, elapsed: float,
            waited: float, busy: float) -> dict[str, float]:
    done = step - start
    per_step = elapsed / done if done else 0.0
    return {"images_per_s": config.batch_size / per_step if per_step else 0.0,
            "data_wait": waited / busy if busy else 0.0,
            "eta_s": per_step * (config.steps - step)}


def _finite(metrics: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 6) for k, v in metrics.items() if math.isfinite(v)}
