"""Synthetic billets at 1024x1024 on one core: compositing with pre-rendered stamps, with
the classical renderer, and with the bundled `small` pix2pix generator.

Goal (synthesis issue): >= 15 images/s on 2 cores with pre-rendered stamps (the paper's
2,540-image set in under 3 minutes); the two-core figure comes with the dataset export.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from benchmarks.table import print_table
from billet_studio.annotations.id_format import IdFormat
from billet_studio.glyphs import load_glyph_set
from billet_studio.glyphs.id_patterns import IdGenerator
from billet_studio.synthesis import ClassicalRenderer, CompositeConfig, compose_billet

COUNT = 30
SIZE = 1024


class PreRendered:
    """Stamps from a pool rendered beforehand (the rendering cost left out)."""

    def __init__(self, pool: np.ndarray) -> None:
        self.pool = pool
        self.next = 0

    def __call__(self, masks, patches, rng):
        picks = (self.next + np.arange(len(masks))) % len(self.pool)
        self.next += len(masks)
        return self.pool[picks]


def rate(renderer, render_size: int, face: np.ndarray, encode: bool = False) -> float:
    glyphs = load_glyph_set()
    generator = IdGenerator(IdFormat(r"\d{6}[A-Z]\d{4}"))
    rng = np.random.default_rng(0)
    config = CompositeConfig(size=SIZE)
    start = time.perf_counter()
    for _ in range(COUNT):
        text = generator.generate(rng)[:10]
        billet = compose_billet(face, glyphs, text, renderer, render_size, rng, config)
        if encode:
            cv2.imencode(".png", billet.image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    return COUNT / (time.perf_counter() - start)


def run() -> None:
    cv2.setNumThreads(1)
    face = np.random.default_rng(0).integers(60, 180, (SIZE, SIZE, 3), dtype=np.uint8)
    face = cv2.GaussianBlur(face, (0, 0), 3)
    rows = []
    try:
        import torch

        from billet_studio.gan.bundled import bundled_generator_path
        from billet_studio.gan.render import StampRenderer

        torch.set_num_threads(1)
        path = bundled_generator_path()
        gan = StampRenderer([(path, 1.0)]) if path else None
    except ImportError:
        gan = None
    size = gan.size if gan else 128
    masks = np.zeros((40, size, size), np.uint8)
    for index, mask in enumerate(masks):
        cv2.putText(mask, "0123456789"[index % 10], (size // 5, size * 4 // 5),
                    cv2.FONT_HERSHEY_SIMPLEX, size / 40, 255, size // 12)
    pool = (gan.render(masks)[0] if gan else
            ClassicalRenderer()(masks, np.full((40, size, size, 3), 120, np.uint8),
                                np.random.default_rng(0)))
    base = rate(PreRendered(pool), size, face)
    rows.append(["pre-rendered stamps", f"{base:.1f}", "1.00x"])
    with_png = rate(PreRendered(pool), size, face, encode=True)
    rows.append(["pre-rendered + PNG encode", f"{with_png:.1f}", f"{with_png / base:.2f}x"])
    classical = rate(ClassicalRenderer(), 128, face)
    rows.append(["classical renderer", f"{classical:.1f}", f"{classical / base:.2f}x"])
    if gan is not None:
        gan_rate = rate(gan, gan.size, face)
        rows.append(["GAN renderer (small preset)", f"{gan_rate:.1f}", f"{gan_rate / base:.2f}x"])
    print_table(["1024x1024 billets, one core", "images/s", "vs pre-rendered"], rows)
