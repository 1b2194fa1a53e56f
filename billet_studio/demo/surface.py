"""Billet end faces without stamps: cut texture, saw or torch marks, oxide scale, rust."""

from __future__ import annotations

import math

import cv2
import numpy as np

from billet_studio.demo.noise import fractal_noise, smooth_noise

#: Colours of the bare cut steel, from a cold grey to a warm, tempered brown.
STEEL_COLOURS = (np.array([122.0, 120.0, 118.0]), np.array([126.0, 108.0, 92.0]))
SCALE_TINT = np.array([0.68, 0.69, 0.74], np.float32)  # dark, slightly blue oxide scale
RUST_TINT = np.array([1.18, 0.86, 0.62], np.float32)


def billet_face(size: int, rng: np.random.Generator) -> np.ndarray:
    """A square face seen straight on, (size, size, 3) float32 RGB in 0-255."""
    shape = (size, size)
    mix = rng.uniform(0, 1)
    colour = (1 - mix) * STEEL_COLOURS[0] + mix * STEEL_COLOURS[1]
    grain = rng.standard_normal(shape).astype(np.float32)
    grain = cv2.GaussianBlur(grain, (0, 0), 0.7)
    luminance = (1.0 + 0.08 * smooth_noise(shape, size * 0.35, rng)
                 + 0.05 * fractal_noise(shape, 30.0, rng, octaves=3)
                 + 0.045 * grain + _cut_marks(shape, rng))
    luminance *= _rim(size, rng)
    scale = _patches(shape, rng, rng.uniform(0.1, 0.6), size * 0.03, edge=1.2)
    scale *= 0.75 + 0.25 * np.clip(fractal_noise(shape, 8.0, rng, octaves=2), -1, 1)
    luminance *= 1.0 - 0.35 * _pits(shape, rng, count=int(rng.uniform(50, 400)))
    rust = _patches(shape, rng, rng.uniform(0.0, 0.3), size * 0.15, edge=25.0)
    rust *= rng.uniform(0.3, 0.8)
    tint = ((1.0 + scale[..., None] * (SCALE_TINT - 1.0))
            * (1.0 + rust[..., None] * (RUST_TINT - 1.0)))
    face = (luminance[..., None] * colour.astype(np.float32)) * tint
    return np.clip(face, 0, 255)


def _cut_marks(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Fine saw grooves, or the broad, curved drag lines of a torch cut (relative light)."""
    height, width = shape
    angle = rng.uniform(0, math.pi)
    along = (np.arange(width, dtype=np.float32)[None, :] * math.cos(angle)
             + np.arange(height, dtype=np.float32)[:, None] * math.sin(angle))
    if rng.random() < 0.6:  # saw
        period = rng.uniform(4.0, 10.0)
        phase = along * (2 * math.pi / period) + 1.5 * smooth_noise(shape, width * 0.5, rng)
        strength = 0.025 * (1.0 + 0.5 * smooth_noise(shape, width * 0.3, rng))
        return strength * np.sin(phase)
    period = rng.uniform(25.0, 60.0)  # torch
    phase = along * (2 * math.pi / period) + 5.0 * smooth_noise(shape, width * 0.6, rng)
    return 0.05 * np.sin(phase) * (0.5 + 0.5 * np.abs(smooth_noise(shape, width * 0.2, rng)))


def _patches(shape: tuple[int, int], rng: np.random.Generator, coverage: float,
             feature: float, edge: float) -> np.ndarray:
    """A 0-1 map covering about ``coverage`` of the face in blotches, edges ``edge`` px soft."""
    if coverage <= 0.005:
        return np.zeros(shape, np.float32)
    field = fractal_noise(shape, feature, rng, octaves=3)
    threshold = np.quantile(field[::16, ::16], 1.0 - coverage)
    # The field changes by about 1/feature per pixel: scale so the ramp is ``edge`` wide.
    return np.clip((field - threshold) * (feature / (4.0 * edge)) + 0.5, 0.0, 1.0)


def _pits(shape: tuple[int, int], rng: np.random.Generator, count: int) -> np.ndarray:
    """Small dark pores and pits of the cast structure, 0-1."""
    pits = np.zeros(shape, np.float32)
    rows = rng.integers(0, shape[0], count)
    cols = rng.integers(0, shape[1], count)
    pits[rows, cols] = rng.uniform(0.5, 1.0, count).astype(np.float32)
    pits = cv2.GaussianBlur(pits, (0, 0), 1.2)
    return np.clip(pits / max(float(pits.max()), 1e-6) * 1.5, 0.0, 1.0)


def _rim(size: int, rng: np.random.Generator) -> np.ndarray:
    """Darkening towards the face's edges: the rounded corners of a cast billet."""
    width = size * rng.uniform(0.02, 0.05)
    ramp = np.minimum(np.arange(size), np.arange(size)[::-1]).astype(np.float32)
    edge = np.sqrt(np.clip(ramp / width, 0.0, 1.0))
    return 0.5 + 0.5 * np.minimum(edge[:, None], edge[None, :])
