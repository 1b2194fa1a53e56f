"""Reading a COCO dataset (a synthesis build's train.json/val.json, or a project export)
as detector training samples.

Boxes become torchvision's (x1, y1, x2, y2) in pixels with labels 1..C in the detector's
class order (0 is background). An image without digits is a valid sample with boxes of
shape (0, 4). Crowd regions are left out. Images are resized to the detector's square
input size in the loader processes, so the model's own resize is a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import orjson
import torch
from torch.utils.data import Dataset

from billet_studio.annotations import AnnotationError
from billet_studio.detection.augment import AugmentConfig, augment_rng, augment_sample


@dataclass(frozen=True, eq=False)
class DetectionSample:
    """One image's labels as read from the COCO file."""

    image_id: int
    path: Path
    width: int
    height: int
    boxes: np.ndarray  # (N, 4) float32, x1 y1 x2 y2 in the original image's pixels
    labels: np.ndarray  # (N,) int64, 1..C
    synthetic: bool
    billet: dict[str, Any]


def _read_document(path: Path) -> dict[str, Any]:
    try:
        document = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise AnnotationError(path, "does not exist") from None
    except (OSError, orjson.JSONDecodeError) as error:
        raise AnnotationError(path, f"is not readable COCO JSON ({error})") from None
    if not isinstance(document, dict) or not isinstance(document.get("images"), list):
        raise AnnotationError(path, "is not a COCO instances file (no 'images' list)")
    return document


def read_coco_samples(path: Path | str, classes: Sequence[str]) -> list[DetectionSample]:
    """Every image of a COCO instances file, checked: unknown categories, boxes that are
    empty or leave the image, and missing fields are errors naming the image."""
    path = Path(path)
    document = _read_document(path)
    index = {name: i + 1 for i, name in enumerate(classes)}
    category_label: dict[int, int] = {}
    for category in document.get("categories", []):
        name = str(category.get("name"))
        if name not in index:
            raise AnnotationError(path, f"category {name!r} is not one of the detector's "
                                        f"classes ({''.join(classes)})")
        category_label[int(category["id"])] = index[name]
    by_image: dict[int, list[dict[str, Any]]] = {}
    for annotation in document.get("annotations", []):
        if annotation.get("iscrowd", 0):
            continue
        by_image.setdefault(int(annotation["image_id"]), []).append(annotation)
    samples = []
    for image in document["images"]:
        try:
            image_id, name = int(image["id"]), str(image["file_name"])
            width, height = int(image["width"]), int(image["height"])
        except (KeyError, TypeError, ValueError):
            raise AnnotationError(path, f"image entry {image!r:.80} lacks id, file_name, "
                                        "width or height") from None
        image_path = (path.parent / name).resolve()
        boxes, labels = [], []
        for annotation in by_image.get(image_id, []):
            where = f"{image_path.name} (annotation {annotation.get('id')})"
            category = annotation.get("category_id")
            if category not in category_label:
                raise AnnotationError(path, f"{where} has unknown category {category!r}")
            try:
                x, y, w, h = (float(v) for v in annotation["bbox"])
            except (KeyError, TypeError, ValueError):
                raise AnnotationError(path, f"{where} has no valid bbox") from None
            if not (w > 0 and h > 0 and np.isfinite([x, y, w, h]).all()):
                raise AnnotationError(path, f"{where} has a degenerate box {[x, y, w, h]} "
                                            "(zero or negative width or height)")
            if x < -1 or y < -1 or x + w > width + 1 or y + h > height + 1:
                raise AnnotationError(path, f"{where} has a box {[x, y, w, h]} outside the "
                                            f"{width}x{height} image")
            boxes.append((max(x, 0.0), max(y, 0.0), min(x + w, width), min(y + h, height)))
            labels.append(category_label[category])
        billet = image.get("billet") if isinstance(image.get("billet"), dict) else {}
        samples.append(DetectionSample(
            image_id, image_path, width, height,
            np.array(boxes, dtype=np.float32).reshape(-1, 4),
            np.array(labels, dtype=np.int64), bool(billet.get("synthetic", False)), billet))
    return samples


def load_rgb(path: Path, size: int | None = None) -> np.ndarray:
    """An image as RGB uint8, optionally resized to ``size`` x ``size``."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise AnnotationError(path, "is missing or not a readable image")
    image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if size is not None and image.shape[:2] != (size, size):
        image = resize_square(image, size)
    return image


class DetectionDataset(Dataset):
    """Samples as (uint8 CHW tensor, target dict) at the detector's input size. An index
    may be ``(index, seed, step, position)``: the sample then gets that draw's
    augmentation (when the dataset has one)."""

    def __init__(self, samples: Sequence[DetectionSample], image_size: int,
                 augment: AugmentConfig | None = None) -> None:
        self.samples = list(samples)
        self.image_size = image_size
        self.augment = augment if augment is not None and augment.active else None

    def with_augment(self, augment: AugmentConfig) -> DetectionDataset:
        return DetectionDataset(self.samples, self.image_size, augment)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, key: int | tuple[int, int, int, int]
                    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        index, draw = (key, None) if isinstance(key, int | np.integer) else (key[0], key[1:])
        sample = self.samples[index]
        image = load_rgb(sample.path)
        if image.shape[:2] != (sample.height, sample.width):
            raise AnnotationError(sample.path, f"is {image.shape[1]}x{image.shape[0]} but "
                                               f"its COCO entry says {sample.width}x"
                                               f"{sample.height}")
        scale = np.array([self.image_size / sample.width, self.image_size / sample.height] * 2,
                         dtype=np.float32)
        if image.shape[:2] != (self.image_size, self.image_size):
            image = resize_square(image, self.image_size)
        boxes, labels = sample.boxes * scale, sample.labels
        if self.augment is not None and draw is not None:
            image, boxes, labels = augment_sample(image, boxes, labels, self.augment,
                                                  augment_rng(*draw))
        target = {"boxes": torch.from_numpy(boxes),
                  "labels": torch.from_numpy(labels),
                  "image_id": torch.tensor(sample.image_id)}
        return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))), target


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` resized to ``size`` x ``size`` (area averaging when shrinking)."""
    shrinking = size < max(image.shape[:2])
    return cv2.resize(image, (size, size),
                      interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def collate(batch: list[tuple[torch.Tensor, dict[str, torch.Tensor]]]
            ) -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]:
    """Lists, not stacks: torchvision's detectors take a list of images and targets."""
    images, targets = zip(*batch, strict=True)
    return list(images), list(targets)


def image_size_of(samples: Sequence[DetectionSample]) -> int:
    """The input side that shrinks none of ``samples``: their largest side."""
    return max(max(s.width, s.height) for s in samples)


def training_samples(folder: Path, classes: Sequence[str]
                     ) -> tuple[list[DetectionSample], list[DetectionSample]]:
    """A dataset folder's train.json and val.json (empty when absent); a test-split image
    in either is refused: the test split is never trained or validated on."""
    train = read_coco_samples(folder / "train.json", classes)
    val_path = folder / "val.json"
    val = read_coco_samples(val_path, classes) if val_path.is_file() else []
    for name, samples in (("train.json", train), ("val.json", val)):
        leaked = [s.path.name for s in samples if s.billet.get("split") == "test"]
        if leaked:
            raise AnnotationError(folder / name, f"holds {len(leaked)} test-split images "
                                                 f"(e.g. {leaked[0]}); the test split is "
                                                 "never trained on")
    if not train:
        raise AnnotationError(folder / "train.json", "holds no images")
    return train, val
