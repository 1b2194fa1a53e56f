"""Checkpoint quality: held-out L1/PSNR/SSIM and the legibility reader."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from billet_studio.gan import PairSet  # noqa: E402
from billet_studio.gan.quality import heldout_scores, ssim, train_legibility  # noqa: E402


class MaskPainter(torch.nn.Module):
    """A stand-in generator that draws the mask itself as a dark stamp on grey."""

    def forward(self, masks: torch.Tensor) -> torch.Tensor:
        return (0.2 - 0.8 * (masks + 1) / 2).repeat(1, 3, 1, 1)


class Blank(torch.nn.Module):
    """A generator that ignores the mask: nothing legible comes out."""

    def forward(self, masks: torch.Tensor) -> torch.Tensor:
        return torch.full((masks.shape[0], 3, *masks.shape[2:]), 0.2)


def shapes(count: int, rng: np.random.Generator, size: int = 48):
    """Two characters: a vertical bar (0) and a ring (1), jittered."""
    masks = np.zeros((count, size, size), np.uint8)
    labels = rng.integers(0, 2, count)
    for i, label in enumerate(labels):
        x, y = rng.integers(-4, 5, 2)
        if label == 0:
            masks[i, 8 + y:40 + y, 20 + x:28 + x] = 255
        else:
            masks[i, 10 + y:38 + y, 12 + x:36 + x] = 255
            masks[i, 16 + y:32 + y, 18 + x:30 + x] = 0
    images = np.where(masks[..., None] > 0, 51, 153).astype(np.uint8).repeat(3, axis=3)
    return masks, images, labels


def test_ssim_is_one_for_identical_images_and_drops_with_noise():
    rng = np.random.default_rng(0)
    ramp = np.linspace(40, 200, 32)
    image = np.repeat((ramp[:, None] + ramp[None, :] / 4)[..., None], 3, axis=2).astype(np.uint8)
    noisy = np.clip(image + rng.normal(0, 40, image.shape), 0, 255).astype(np.uint8)
    assert ssim(image, image) == pytest.approx(1.0)
    assert ssim(image, noisy) < 0.8


def test_heldout_scores_reward_the_generator_that_draws_the_stamp():
    rng = np.random.default_rng(1)
    masks, images, _ = shapes(12, rng)
    pairs = PairSet(masks, images, tuple(str(i) for i in range(12)))
    good = heldout_scores(MaskPainter(), pairs, 48)
    bad = heldout_scores(Blank(), pairs, 48)
    assert set(good) == {"heldout_l1", "heldout_psnr", "heldout_ssim"}
    assert good["heldout_l1"] < 0.01 < bad["heldout_l1"]
    assert good["heldout_psnr"] > bad["heldout_psnr"] + 10
    assert good["heldout_ssim"] > bad["heldout_ssim"]


def test_legibility_separates_a_legible_generator_from_a_blank_one():
    rng = np.random.default_rng(2)
    _, train_images, train_labels = shapes(200, rng)
    _, val_images, val_labels = shapes(40, rng)
    fresh_masks, _, fresh_labels = shapes(40, rng)
    legibility = train_legibility(train_images, train_labels, val_images, val_labels,
                                  ("1", "0"), fresh_masks, fresh_labels, steps=150)
    assert legibility.real_accuracy > 0.95
    assert legibility.score(MaskPainter()) > 0.9
    assert legibility.score(Blank()) < 0.7
