"""Remake examples/sample-project: six small simulated billet faces with exact labels.

Each character is drawn into its own mask; its outline (and any counters, as holes) is
traced from that mask, so the labels match the pixels exactly. A stand-in until the demo
world of the glyphs issue exists. Run: python scripts/make_sample_project.py
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

from billet_studio.annotations import BilletInfo, ImageRecord, Project, ProjectConfig, Shape

OUT = Path(__file__).resolve().parents[1] / "examples" / "sample-project"
SIZE = (320, 400)  # height, width
BILLETS = [  # (id, site, split, visibility of the damaged characters)
    ("483920K1057", "A", "train", "well"),
    ("512877B3301", "A", "train", "partial"),
    ("660413C9982", "B", "train", "poor"),
    ("705218D4416", "B", "train", "well"),
    ("871045E2290", "A", "test", "partial"),
    ("930162F7735", "B", "test", "well"),
]


def steel_face(rng: np.random.Generator) -> np.ndarray:
    """A rough, scaled billet end face: mottled grey-brown with a darker rim."""
    h, w = SIZE
    noise = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 6)
    grain = rng.normal(0, 0.35, (h, w)).astype(np.float32)
    base = 120 + 28 * noise / (np.abs(noise).max() + 1e-6) + 10 * grain
    yy, xx = np.mgrid[0:h, 0:w]
    rim = np.minimum.reduce([xx, yy, w - 1 - xx, h - 1 - yy]).astype(np.float32)
    base -= 40 * np.exp(-rim / 12.0)
    tint = np.array([1.08, 0.98, 0.86], dtype=np.float32)  # rust-tinted RGB
    return np.clip(base[..., None] * tint, 0, 255).astype(np.uint8)


def trace(mask: np.ndarray) -> list[tuple[np.ndarray, list[np.ndarray]]]:
    """Outlines with their holes, in pixel-edge coordinates (the project's convention)."""
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    pieces = []
    if hierarchy is None:
        return pieces
    for index, contour in enumerate(contours):
        if hierarchy[0][index][3] != -1 or cv2.contourArea(contour) < 6:
            continue
        holes = []
        child = hierarchy[0][index][2]
        while child != -1:
            if cv2.contourArea(contours[child]) >= 2:
                holes.append(contours[child])
            child = hierarchy[0][child][0]
        pieces.append((contour, holes))
    def ring(contour: np.ndarray) -> np.ndarray:
        simple = cv2.approxPolyDP(contour, 0.6, True).reshape(-1, 2).astype(float)
        return simple + 0.5  # contour runs through pixel centres
    return [(ring(c), [ring(h) for h in hs]) for c, hs in pieces]


def make_billet(billet_id: str, damage: str, rng: np.random.Generator
                ) -> tuple[np.ndarray, list[Shape]]:
    image = steel_face(rng).astype(np.float32)
    shapes: list[Shape] = []
    lines = [billet_id[:6], billet_id[6:]]
    group = 1
    for row, text in enumerate(lines):
        y = 130 + row * 95
        for col, char in enumerate(text):
            x = 55 + col * 50 + (25 if row else 0)
            mask = np.zeros(SIZE, np.uint8)
            cv2.putText(mask, char, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 2.2, 255, 7, cv2.LINE_8)
            damaged = damage != "well" and rng.random() < 0.35
            flags = {}
            if damaged and damage == "partial":
                # Half-imprinted: the punch missed the top or the bottom of the character.
                ys = np.nonzero(mask)[0]
                cut = int(np.percentile(ys, rng.uniform(35, 65)))
                if rng.random() < 0.5:
                    mask[cut:, :] = 0
                else:
                    mask[:cut, :] = 0
                flags["partial"] = True
            depth = 45.0
            if damaged and damage == "poor":
                depth = 14.0
                flags["poor"] = True
            shade = cv2.GaussianBlur(mask.astype(np.float32) / 255, (0, 0), 1.2)
            image -= depth * shade[..., None]
            pieces = trace(mask)
            for outline, holes in pieces:
                shapes.append(Shape(char, tuple(map(tuple, outline)), "polygon", dict(flags),
                                    group if (holes or len(pieces) > 1) else None))
                for hole in holes:
                    shapes.append(Shape(char, tuple(map(tuple, hole)), "polygon",
                                        {**flags, "hole": True}, group))
            group += 1
    return np.clip(image, 0, 255).astype(np.uint8), shapes


def main() -> int:
    if OUT.exists():
        shutil.rmtree(OUT)
    (OUT / "images").mkdir(parents=True)
    project = Project.create(OUT, ProjectConfig(name="sample-project"))
    rng = np.random.default_rng(20220913)  # the paper's publication date
    for index, (billet_id, site, split, damage) in enumerate(BILLETS):
        image, shapes = make_billet(billet_id, damage, rng)
        path = OUT / "images" / f"billet_{index + 1:02d}.jpg"
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 88])
        record = ImageRecord(path.resolve(), SIZE[0], SIZE[1], tuple(shapes),
                             BilletInfo(site=site, split=split, id=billet_id))
        project.save_record(record)
    print(f"wrote {len(BILLETS)} billets to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
