"""Checkpoint quality without downloads: held-out L1, PSNR and SSIM, and legibility.

FID needs Inception weights that cannot be fetched here. Instead each checkpoint is scored
on validation pairs it never trained on, and by a small character classifier, trained on
the project's real stamp crops, reading renders of fresh template masks (partial ones
included): a GAN that fills in erased parts or draws the wrong character loses legibility.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from billet_studio.gan.pairs import PairSet
from billet_studio.gan.render import render_masks

CLASSIFIER_SIZE = 32


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean structural similarity of two uint8 images (grey, Gaussian window 11, σ 1.5)."""
    x = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY).astype(np.float64) / 255.0
    y = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY).astype(np.float64) / 255.0
    c1, c2 = 0.01**2, 0.03**2

    def blur(image: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(image, (11, 11), 1.5)

    mx, my = blur(x), blur(y)
    vx, vy = blur(x * x) - mx * mx, blur(y * y) - my * my
    cov = blur(x * y) - mx * my
    value = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(value.mean())


def heldout_scores(generator: nn.Module, pairs: PairSet, size: int, limit: int = 64
                   ) -> dict[str, float]:
    """L1 (0-1 scale), PSNR (dB) and SSIM of renders against the real held-out stamps."""
    if len(pairs) == 0:
        return {}
    offset = (pairs.masks.shape[1] - size) // 2
    masks = pairs.masks[:limit, offset:offset + size, offset:offset + size]
    real = pairs.images[:limit, offset:offset + size, offset:offset + size]
    rendered = render_masks(generator, masks)
    diff = rendered.astype(np.float64) / 255 - real.astype(np.float64) / 255
    mse = float(np.mean(diff**2))
    return {
        "heldout_l1": round(float(np.mean(np.abs(diff))), 5),
        "heldout_psnr": round(10 * math.log10(1.0 / max(mse, 1e-10)), 3),
        "heldout_ssim": round(float(np.mean([ssim(r, t) for r, t in zip(rendered, real,
                                                                        strict=True)])), 4),
    }


class CharacterClassifier(nn.Module):
    """A small CNN reading one stamp crop (grey, 32x32)."""

    def __init__(self, classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2))
        self.head = nn.Linear(256, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


def classifier_input(images: np.ndarray) -> torch.Tensor:
    """uint8 RGB crops (N, S, S, 3) to grey 32x32 in [-1, 1], (N, 1, 32, 32)."""
    grey = [cv2.resize(cv2.cvtColor(i, cv2.COLOR_RGB2GRAY), (CLASSIFIER_SIZE,) * 2,
                       interpolation=cv2.INTER_AREA) for i in images]
    return torch.from_numpy(np.stack(grey)).float().div(127.5).sub(1.0).unsqueeze(1)


@dataclass(frozen=True, eq=False)
class Legibility:
    """A classifier trained on real crops, and fresh masks (with their characters) to read."""

    classifier: CharacterClassifier
    classes: tuple[str, ...]
    masks: np.ndarray  # (N, S, S) uint8 at the GAN's size
    labels: np.ndarray  # (N,) class indices
    real_accuracy: float  # on held-out real crops: the ceiling a render can reach

    def score(self, generator: nn.Module) -> float:
        """Share of the fresh masks whose render the classifier reads as their character."""
        rendered = render_masks(generator, self.masks)
        with torch.no_grad():
            predicted = self.classifier(classifier_input(rendered)).argmax(1).numpy()
        return float(np.mean(predicted == self.labels))


def train_legibility(train_images: np.ndarray, train_labels: np.ndarray,
                     val_images: np.ndarray, val_labels: np.ndarray, classes: tuple[str, ...],
                     masks: np.ndarray, mask_labels: np.ndarray, steps: int = 800,
                     seed: int = 0) -> Legibility:
    """Train the reader on real stamp crops (seconds on a CPU; deterministic per seed)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        classifier = CharacterClassifier(len(classes))
    optimizer = torch.optim.Adam(classifier.parameters(), 2e-3)
    inputs = classifier_input(train_images)
    targets = torch.from_numpy(train_labels).long()
    for _ in range(steps):
        batch = torch.randint(0, len(inputs), (64,), generator=generator)
        # Small shifts make the reader tolerant of where the stamp sits in the crop.
        shift = tuple(int(v) for v in torch.randint(-2, 3, (2,), generator=generator))
        x = torch.roll(inputs[batch], shifts=shift, dims=(2, 3))
        loss = F.cross_entropy(classifier(x), targets[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    classifier.eval()
    with torch.no_grad():
        accuracy = (float((classifier(classifier_input(val_images)).argmax(1).numpy()
                           == val_labels).mean()) if len(val_images) else float("nan"))
    return Legibility(classifier, classes, masks, mask_labels, accuracy)
