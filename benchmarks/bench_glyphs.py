"""Glyph variations per second (one core): vary_glyph with its 96 px mask.

Baseline in the same run: rasterising the plain template at the same size, the floor any
variation pays.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.table import print_table
from billet_studio.glyphs import load_glyph_set
from billet_studio.glyphs.variation import StampVariation, vary_glyph

COUNT = 2000


def run() -> None:
    glyphs = load_glyph_set()
    templates = [glyphs[c] for c in glyphs.chars]
    rng = np.random.default_rng(0)
    rows = []
    start = time.perf_counter()
    for index in range(COUNT):
        templates[index % len(templates)].mask(96)
    baseline = COUNT / (time.perf_counter() - start)
    rows.append(("template mask only (baseline)", baseline, 1.0))
    for name, config in (
        ("vary_glyph, well (warp + affine + stroke)",
         StampVariation(partial_probability=0.0, poor_probability=0.0)),
        ("vary_glyph, partial (plus an erasure)",
         StampVariation(partial_probability=1.0)),
        ("vary_glyph, default mix", StampVariation()),
    ):
        start = time.perf_counter()
        for index in range(COUNT):
            vary_glyph(templates[index % len(templates)], rng, config, glyphs.stroke_width)
        rate = COUNT / (time.perf_counter() - start)
        rows.append((name, rate, rate / baseline))
    print_table(("path", "glyphs/s", "x baseline"), rows)
