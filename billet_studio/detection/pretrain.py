"""Self-made pretraining, nothing downloaded: the detector's backbone first learns the
characters as a classifier on crops around the training set's boxes, at the detector's own
input scale, then the detector starts from it (``detector train --pretrained FILE``).

Only the images of the training list are read (never val or test). A tenth of them (by
image, not by crop) is held out to report accuracy. The file keeps torchvision's key names
(``features.*`` for MobileNet, ``layer*`` for ResNet), so the backbone loader reads it
like an ImageNet file; its metadata says which normalisation it was trained with.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save as save_safetensors
from torch import nn

from billet_studio.annotations import AnnotationError, atomic_write_bytes
from billet_studio.detection.data import DetectionSample, load_rgb
from billet_studio.detection.model import ModelSpec, build_backbone
from billet_studio.jobs import CancelToken, JobCancelled, Progress

FILE_FORMAT = "billet-studio-backbone"


@dataclass(frozen=True)
class PretrainConfig:
    """The character classifier's budget; defaults take about 4 minutes on 2 CPU cores."""

    steps: int = 800
    batch_size: int = 48
    lr: float = 2e-3
    weight_decay: float = 0.01
    #: Random shift of the crop window, in pixels at the detector's input size.
    jitter: int = 6
    #: Share of the training images held out to measure accuracy.
    heldout: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.steps, self.batch_size) < 1 or self.lr <= 0:
            raise ValueError("pretraining needs positive steps, batch size and rate")
        if not 0.0 <= self.heldout < 1.0:
            raise ValueError(f"heldout must lie in [0, 1), got {self.heldout}")


@dataclass(frozen=True)
class CharacterCrops:
    """Patches (N, P, P, 3) uint8 centred on characters, their 0-based labels and the
    index of the image each came from."""

    patches: np.ndarray
    labels: np.ndarray
    images: np.ndarray
    crop: int


def crop_side(samples: Sequence[DetectionSample], image_size: int) -> int:
    """Square crop fed to the backbone: 1.6 x the median character's longer side at the
    input size, in multiples of 32 (the backbone's stride), at least 64."""
    sides = [max((b[2] - b[0]) * image_size / s.width, (b[3] - b[1]) * image_size / s.height)
             for s in samples for b in s.boxes]
    if not sides:
        raise AnnotationError(Path(samples[0].path).parent if samples else Path("."),
                              "holds no labelled characters to pretrain on")
    return max(64, 32 * math.ceil(1.6 * float(np.median(sides)) / 32))


def character_crops(samples: Sequence[DetectionSample], image_size: int, jitter: int,
                    cancel: CancelToken | None = None) -> Iterator[Progress | CharacterCrops]:
    """Job: read each training image once (resized as the detector reads it) and cut a
    patch of ``crop + 2 * jitter`` around every character; the last item is the crops."""
    crop = crop_side(samples, image_size)
    side = crop + 2 * jitter
    patches, labels, owners = [], [], []
    for index, sample in enumerate(samples):
        if cancel is not None and cancel.cancelled:
            raise JobCancelled("pretraining stopped while reading crops")
        image = load_rgb(sample.path, image_size)
        padded = cv2.copyMakeBorder(image, side, side, side, side, cv2.BORDER_REFLECT_101)
        scale = np.array([image_size / sample.width, image_size / sample.height] * 2)
        for box, label in zip(sample.boxes * scale, sample.labels, strict=True):
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            x0, y0 = round(cx) - side // 2 + side, round(cy) - side // 2 + side
            patches.append(padded[y0:y0 + side, x0:x0 + side])
            labels.append(int(label) - 1)
            owners.append(index)
        if index % 20 == 0 or index == len(samples) - 1:
            yield Progress(index + 1, len(samples), f"reading crops {index + 1}/{len(samples)}")
    yield CharacterCrops(np.stack(patches) if patches else np.zeros((0, side, side, 3), np.uint8),
                         np.asarray(labels, np.int64), np.asarray(owners, np.int64), crop)


class CharacterClassifier(nn.Module):
    """The detector's backbone body, pooled, then one linear layer over the classes."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.body = build_backbone(spec).body
        with torch.no_grad():
            channels = list(self.body(torch.zeros(1, 3, 64, 64)).values())[-1].shape[1]
        self.head = nn.Linear(channels, len(spec.classes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = list(self.body(images).values())[-1]
        return self.head(F.adaptive_avg_pool2d(features, 1).flatten(1))


def _batch(crops: CharacterCrops, indices: np.ndarray, rng: np.random.Generator | None,
           jitter: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Float images: random shift and brightness/contrast when ``rng`` is given, else the
    centre crop."""
    side = crops.crop
    picked = []
    for i in indices:
        dx, dy = (rng.integers(0, 2 * jitter + 1, 2) if rng is not None else (jitter, jitter))
        picked.append(crops.patches[i, dy:dy + side, dx:dx + side])
    images = torch.from_numpy(np.stack(picked)).permute(0, 3, 1, 2).float().div_(255.0)
    if rng is not None:
        gain = torch.from_numpy(rng.uniform(0.8, 1.2, (len(indices), 1, 1, 1))).float()
        shift = torch.from_numpy(rng.uniform(-0.1, 0.1, (len(indices), 1, 1, 1))).float()
        mean = images.mean(dim=(1, 2, 3), keepdim=True)
        images = ((images - mean) * gain + mean + shift).clamp_(0.0, 1.0)
    return images, torch.from_numpy(crops.labels[indices])


def _heldout_images(count: int, share: float, seed: int) -> np.ndarray:
    if count < 2 or share == 0:
        return np.zeros(0, np.int64)
    held = max(1, round(count * share))
    return np.random.default_rng([seed, 7]).permutation(count)[:held]


@torch.no_grad()
def _accuracy(model: nn.Module, crops: CharacterCrops, indices: np.ndarray,
              jitter: int) -> float:
    if not len(indices):
        return float("nan")
    model.eval()
    right = 0
    for start in range(0, len(indices), 256):
        images, labels = _batch(crops, indices[start:start + 256], None, jitter)
        right += int((model(images).argmax(1) == labels).sum())
    model.train()
    return right / len(indices)


def backbone_state(model: CharacterClassifier, spec: ModelSpec) -> dict[str, torch.Tensor]:
    """The body's tensors under torchvision's names (what the backbone loader reads)."""
    prefix = "features." if "mobilenet" in spec.architecture else ""
    return {f"{prefix}{k}": v.detach().contiguous().clone()
            for k, v in model.body.state_dict().items()}


def pretrain_backbone(samples: Sequence[DetectionSample], spec: ModelSpec, out: Path,
                      config: PretrainConfig = PretrainConfig(),
                      cancel: CancelToken | None = None) -> Iterator[Progress]:
    """Job: train ``spec``'s backbone as a character classifier on ``samples`` (the
    training list) and write it to ``out``; the last report carries the held-out accuracy."""
    out = Path(out)
    if not samples:
        raise AnnotationError(out, "cannot be made: no training images to pretrain on")
    crops = None
    for item in character_crops(samples, spec.image_size, config.jitter, cancel):
        if isinstance(item, CharacterCrops):
            crops = item
        else:
            yield Progress(0, config.steps, f"pretraining: {item.message}")
    assert crops is not None
    held_images = _heldout_images(len(samples), config.heldout, config.seed)
    held = np.isin(crops.images, held_images)
    train_idx, held_idx = np.flatnonzero(~held), np.flatnonzero(held)
    if not len(train_idx):
        raise AnnotationError(out, "cannot be made: the training images hold no characters")
    torch.manual_seed(config.seed)
    model = CharacterClassifier(spec).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    rng = np.random.default_rng([config.seed, 11])
    started = time.monotonic()
    running = None
    for step in range(1, config.steps + 1):
        if cancel is not None and cancel.cancelled:
            raise JobCancelled(f"pretraining stopped at step {step - 1}; nothing was written")
        rate = config.lr * 0.5 * (1 + math.cos(math.pi * (step - 1) / config.steps))
        for group in optimizer.param_groups:
            group["lr"] = rate
        images, labels = _batch(crops, rng.choice(train_idx, config.batch_size), rng,
                                config.jitter)
        loss = F.cross_entropy(model(images), labels, label_smoothing=0.05)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        value = loss.item()
        running = value if running is None else 0.9 * running + 0.1 * value
        if step % 10 == 0 or step == config.steps:
            per_step = (time.monotonic() - started) / step
            yield Progress(step, config.steps,
                           f"pretraining the backbone: step {step}/{config.steps} loss "
                           f"{running:.3f}", {"pretrain_loss": running,
                                              "eta_s": per_step * (config.steps - step)})
    accuracy = _accuracy(model, crops, held_idx, config.jitter)
    metadata = {"format": FILE_FORMAT, "architecture": spec.architecture, "norm": spec.norm,
                "classes": "".join(spec.classes), "image_size": str(spec.image_size),
                "crop": str(crops.crop), "train_crops": str(len(train_idx)),
                "heldout_crops": str(len(held_idx)), "heldout_accuracy": f"{accuracy:.4f}",
                "steps": str(config.steps), "seed": str(config.seed),
                "seconds": f"{time.monotonic() - started:.1f}"}
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, save_safetensors(backbone_state(model, spec), metadata))
    yield Progress(config.steps, config.steps,
                   f"pretrained backbone: {accuracy:.1%} of {len(held_idx)} held-out "
                   f"characters right; wrote {out}",
                   {"heldout_accuracy": accuracy, "train_crops": float(len(train_idx))})
