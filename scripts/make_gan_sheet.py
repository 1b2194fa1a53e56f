"""Render docs/images/gan_vs_demo.png: the bundled generator next to real demo stamps.

Columns, repeated: the held-out mask, the bundled generator's render, the real stamp
(held-out pairs of the demo project the generator never trained on), plus renders of
fresh template masks (whole and partial) that no labelled stamp drew.
Run: python scripts/make_gan_sheet.py demo-project
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from billet_studio.annotations import Project
from billet_studio.gan import collect_pairs, load_size
from billet_studio.gan.bundled import bundled_generator_path
from billet_studio.gan.render import StampRenderer
from billet_studio.glyphs import load_glyph_set
from billet_studio.glyphs.variation import StampVariation, framed_mask, vary_glyph

OUT = Path(__file__).resolve().parents[1] / "docs" / "images" / "gan_vs_demo.png"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    renderer = StampRenderer([(bundled_generator_path(), 1.0)])
    size = renderer.size
    _, val = collect_pairs(Project.open(args.project), load_size(size))
    offset = (val.masks.shape[1] - size) // 2
    pick = np.linspace(0, len(val) - 1, 12).astype(int)
    masks = val.masks[pick, offset:offset + size, offset:offset + size]
    real = val.images[pick, offset:offset + size, offset:offset + size]
    rendered, _ = renderer.render(masks)
    cells = [np.hstack([np.repeat(m[..., None], 3, axis=2), r, t])
             for m, r, t in zip(masks, rendered, real, strict=True)]
    held_out = np.vstack([np.hstack(cells[i:i + 3]) for i in range(0, 12, 3)])
    glyphs = load_glyph_set()
    rng = np.random.default_rng(5)
    fresh = []
    for index, char in enumerate("0123456789ABKMRX"):
        partial = StampVariation(partial_probability=1.0 if index % 2 else 0.0)
        fresh.append(framed_mask(vary_glyph(glyphs[char], rng, partial).polygons, size))
    fresh_masks = np.stack(fresh)
    fresh_renders, _ = renderer.render(fresh_masks)
    pairs = [np.vstack([np.repeat(m[..., None], 3, axis=2), r])
             for m, r in zip(fresh_masks, fresh_renders, strict=True)]
    row = np.hstack(pairs[:8]), np.hstack(pairs[8:])
    template_rows = np.vstack(row)
    width = max(held_out.shape[1], template_rows.shape[1])

    def pad(image: np.ndarray) -> np.ndarray:
        return np.pad(image, ((0, 8), (0, width - image.shape[1]), (0, 0)))

    sheet = np.vstack([pad(held_out), pad(template_rows)])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
