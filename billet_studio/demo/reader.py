"""A simulated ID reader: plausible detections for a COCO test set, made from its truth.

It lets evaluation, the error browser and the reports run on the demo before any detector
is trained. Nothing here is a model: misses, misreads between look-alike characters, loose
boxes, duplicates and background hits are drawn at rates that rise for poorly and
partially stamped digits. Its numbers say nothing about a real reader.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from billet_studio.annotations.atomic import atomic_write_json
from billet_studio.annotations.errors import AnnotationError

#: Characters a worn stamp is easily taken for.
LOOKALIKES = {
    "0": "8DO", "1": "7I", "2": "Z7", "3": "8B", "4": "A9", "5": "6S", "6": "5G8",
    "7": "1T", "8": "0B3", "9": "4", "B": "8", "D": "0", "G": "6", "I": "1", "O": "0",
    "S": "5", "Z": "2",
}


@dataclass(frozen=True)
class SimulatedReaderConfig:
    """Rates per digit by its stamp quality (well, poor, partial)."""

    miss: tuple[float, float, float] = (0.005, 0.03, 0.06)
    misread: tuple[float, float, float] = (0.01, 0.04, 0.05)
    duplicate: float = 0.01
    background_per_image: float = 0.08
    seed: int = 0


def _quality(attributes: Any) -> int:
    flags = attributes if isinstance(attributes, dict) else {}
    return 2 if flags.get("partial") else 1 if flags.get("poor") else 0


def simulate_detections(truth: dict[str, Any], config: SimulatedReaderConfig
                        ) -> list[dict[str, Any]]:
    """COCO-results detections, with a ``class_scores`` vector each, for ``truth``."""
    rng = np.random.default_rng(config.seed)
    categories = sorted(truth["categories"], key=lambda c: c["id"])
    names = [c["name"] for c in categories]
    index = {name: i for i, name in enumerate(names)}
    ids = [c["id"] for c in categories]
    class_of = {c["id"]: number for number, c in enumerate(categories)}
    sizes = {image["id"]: (image["width"], image["height"]) for image in truth["images"]}
    detections: list[dict[str, Any]] = []

    def emit(image_id: int, box: np.ndarray, label: int, confidence: float) -> None:
        vector = rng.dirichlet(np.full(len(names), 0.3)) * (1 - confidence)
        vector[label] = confidence
        detections.append({
            "image_id": image_id, "category_id": ids[label],
            "bbox": [round(float(v), 2) for v in box], "score": round(confidence, 4),
            "class_scores": [round(float(v), 4) for v in vector],
        })

    for ann in truth["annotations"]:
        quality = _quality(ann.get("attributes"))
        if rng.random() < config.miss[quality]:
            continue
        x, y, w, h = ann["bbox"]
        jitter = rng.normal(0, 0.04 + 0.03 * quality, 4) * [w, h, w, h]
        box = np.array([x, y, w, h]) + jitter
        box[2:] = np.maximum(box[2:], 1.0)
        label = class_of[ann["category_id"]]
        if rng.random() < config.misread[quality]:
            options = LOOKALIKES.get(names[label]) or "".join(names)
            options = [index[c] for c in options if c in index and index[c] != label]
            if options:
                label = int(rng.choice(options))
            confidence = float(rng.uniform(0.45, 0.8))
        else:
            confidence = float(np.clip(rng.normal(0.93 - 0.1 * quality, 0.05), 0.3, 0.999))
        emit(ann["image_id"], box, label, confidence)
        if rng.random() < config.duplicate:
            emit(ann["image_id"], box + rng.normal(0, 0.08, 4) * [w, h, 0, 0], label,
                 confidence * float(rng.uniform(0.5, 0.9)))
    for image_id, (width, height) in sizes.items():
        if rng.random() < config.background_per_image:
            side = float(rng.uniform(0.03, 0.08)) * min(width, height)
            box = np.array([rng.uniform(0, width - side), rng.uniform(0, height - side),
                            side * 0.7, side])
            emit(image_id, box, int(rng.integers(len(names))), float(rng.uniform(0.5, 0.8)))
    return detections


def write_simulated_detections(truth_path: Path, out: Path,
                               config: SimulatedReaderConfig = SimulatedReaderConfig()
                               ) -> int:
    """Read a COCO truth file, write simulated detections to ``out``; their count."""
    try:
        truth = json.loads(Path(truth_path).read_text(encoding="utf-8"))
        detections = simulate_detections(truth, config)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AnnotationError(truth_path, f"cannot be read as COCO JSON ({error})") from None
    except (KeyError, TypeError) as error:
        raise AnnotationError(truth_path, f"is not a COCO instances file ({error!r})"
                              ) from None
    atomic_write_json(out, detections)
    return len(detections)
