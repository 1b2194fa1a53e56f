"""Render docs/images/demo_billets.png: demo billets of both sites in all three classes.

Top: whole photographs (site A above site B; well, partial, poor from left to right).
Bottom: the ID region of each at full resolution, with the labelled outlines drawn.
Run: python scripts/make_demo_sheet.py [--seed S]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from billet_studio.demo import BilletPlan, DemoLook, render_billet
from billet_studio.geometry import bounds_of
from billet_studio.glyphs import load_glyph_set

OUT = Path(__file__).resolve().parents[1] / "docs" / "images" / "demo_billets.png"
COLOURS = {"well": (60, 200, 80), "partial": (255, 150, 0), "poor": (235, 50, 50)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    glyphs = load_glyph_set()
    look = DemoLook()
    thumbs, crops = [], []
    for row, site in enumerate("AB"):
        for column, visibility in enumerate(("well", "partial", "poor")):
            plan = BilletPlan(row * 3 + column, site, visibility, "train")
            rendered = render_billet(plan, args.seed, glyphs, look)
            thumb = cv2.resize(rendered.image, (400, 400), interpolation=cv2.INTER_AREA)
            cv2.putText(thumb, f"site {site} - {visibility}", (10, 26),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
            thumbs.append(thumb)
            crops.append(_id_crop(rendered, visibility))
    top = np.vstack([np.hstack(thumbs[:3]), np.hstack(thumbs[3:])])
    bottom = np.vstack([np.hstack(crops[:3]), np.hstack(crops[3:])])
    sheet = np.vstack([top, bottom])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out}")
    return 0


def _id_crop(rendered, visibility: str) -> np.ndarray:
    """The ID region at full resolution, outlines drawn on the right half only."""
    polygons = [p for s in rendered.stamps for p in s.polygons]
    box = bounds_of(polygons)
    cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
    x0 = int(np.clip(cx - 200, 0, rendered.image.shape[1] - 400))
    y0 = int(np.clip(cy - 100, 0, rendered.image.shape[0] - 200))
    crop = rendered.image[y0:y0 + 200, x0:x0 + 400].copy()
    outlined = crop.copy()
    for stamp in rendered.stamps:
        colour = COLOURS["partial" if stamp.partial else "poor" if stamp.poor else "well"]
        for polygon in stamp.polygons:
            for ring in (polygon.exterior, *polygon.holes):
                points = np.round(ring - [x0 + 0.5, y0 + 0.5]).astype(np.int32)
                cv2.polylines(outlined, [points], True, colour, 1, cv2.LINE_AA)
    crop[:, 200:] = outlined[:, 200:]
    cv2.line(crop, (200, 0), (200, 199), (255, 255, 255), 1)
    return crop


if __name__ == "__main__":
    sys.exit(main())
