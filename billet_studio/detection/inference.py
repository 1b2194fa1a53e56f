"""Running a trained detector over images: batched, as COCO results that carry each
detection's full class-score vector, and as decoded IDs for daily use."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from billet_studio.annotations import AnnotationError, atomic_write_bytes
from billet_studio.detection.data import load_rgb, resize_square
from billet_studio.detection.model import ModelSpec
from billet_studio.evaluation.inputs import ImagePredictions
from billet_studio.evaluation.scoring import ScoringConfig, read_billet
from billet_studio.glyphs.id_automaton import IdAutomaton
from billet_studio.jobs import CancelToken, JobCancelled, Progress

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


@dataclass(frozen=True, eq=False)
class ImageToRead:
    image_id: int
    path: Path


@dataclass(frozen=True, eq=False)
class Detections:
    """One image's detections in its own pixels; labels 0-based in the detector's order."""

    image: ImageToRead
    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    class_scores: np.ndarray

    def as_predictions(self) -> ImagePredictions:
        return ImagePredictions(self.boxes, self.labels, self.scores, self.class_scores)


def images_in(sources: Sequence[Path]) -> list[ImageToRead]:
    """Images from files and folders (sorted), numbered from 1 in that order."""
    paths: list[Path] = []
    for source in map(Path, sources):
        if source.is_dir():
            paths.extend(sorted(p for p in source.iterdir()
                                if p.suffix.lower() in IMAGE_SUFFIXES))
        elif source.is_file():
            paths.append(source)
        else:
            raise AnnotationError(source, "does not exist")
    if not paths:
        raise AnnotationError(Path(sources[0]) if sources else Path("."), "holds no images")
    return [ImageToRead(i + 1, p) for i, p in enumerate(paths)]


def images_of_coco(path: Path, root: Path | None = None
                   ) -> tuple[list[ImageToRead], list[tuple[int, str]]]:
    """The images of a COCO file (its ids; file names relative to ``root``, by default the
    file's folder) and its categories as (id, name)."""
    root = Path(root) if root is not None else path.parent
    try:
        document = orjson.loads(Path(path).read_bytes())
        images = [ImageToRead(int(i["id"]), (root / i["file_name"]).resolve())
                  for i in document["images"]]
        categories = sorted((int(c["id"]), str(c["name"])) for c in document["categories"])
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise AnnotationError(path, f"is not a usable COCO file ({error})") from None
    missing = [image.path for image in images if not image.path.is_file()]
    if missing:
        raise AnnotationError(path, f"names {len(missing)} images that are not under {root} "
                                    f"(e.g. {missing[0]}); give the folder its file names "
                                    "are relative to (--image-root)")
    return images, categories


class _ImageFiles(Dataset):
    def __init__(self, images: Sequence[ImageToRead], size: int) -> None:
        self.images, self.size = list(images), size

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, tuple[int, int]]:
        path = self.images[index].path
        original = load_rgb(path)
        height, width = original.shape[:2]
        image = resize_square(original, self.size)
        return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))), (width, height)


def _collate(batch):
    images, sizes = zip(*batch, strict=True)
    return list(images), list(sizes)


@torch.no_grad()
def detect(model: nn.Module, spec: ModelSpec, images: Sequence[ImageToRead],
           device: torch.device, batch_size: int = 4, workers: int = 0,
           cancel: CancelToken | None = None) -> Iterator[Detections]:
    """Detections for every image, in order, boxes in each image's own pixels."""
    model.eval()
    loader = DataLoader(_ImageFiles(images, spec.image_size), batch_size=batch_size,
                        num_workers=workers, collate_fn=_collate,
                        multiprocessing_context="spawn" if workers else None,
                        pin_memory=device.type == "cuda")
    autocast = device.type == "cuda"
    position = 0
    for batch, sizes in loader:
        if cancel is not None and cancel.cancelled:
            raise JobCancelled(f"stopped after {position} images")
        tensors = [b.to(device).float().div_(255.0) for b in batch]
        with torch.autocast(device.type, torch.bfloat16, enabled=autocast):
            outputs = model(tensors)
        for output, (width, height) in zip(outputs, sizes, strict=True):
            scale = np.array([width, height, width, height]) / spec.image_size
            yield Detections(
                images[position],
                output["boxes"].float().cpu().numpy().astype(np.float64) * scale,
                output["labels"].cpu().numpy().astype(np.int64) - 1,
                output["scores"].float().cpu().numpy().astype(np.float64),
                output["class_scores"].float().cpu().numpy().astype(np.float64))
            position += 1


def coco_results(found: Detections, spec: ModelSpec,
                 categories: Sequence[tuple[int, str]] | None = None
                 ) -> list[dict[str, Any]]:
    """COCO-results entries; ``class_scores`` follow the categories in id order (the
    detector's class order when no COCO file names them)."""
    if categories is None:
        categories = [(i + 1, name) for i, name in enumerate(spec.classes)]
    by_name = {name: i for i, name in enumerate(spec.classes)}
    missing = [name for _, name in categories if name not in by_name]
    if missing:
        raise ValueError(f"the detector does not know the categories {missing}")
    category_of = {by_name[name]: cid for cid, name in categories}
    columns = np.array([by_name[name] for _, name in categories])
    entries = []
    for box, label, score, vector in zip(found.boxes, found.labels, found.scores,
                                         found.class_scores, strict=True):
        if int(label) not in category_of:
            continue
        x1, y1, x2, y2 = (round(float(v), 2) for v in box)
        entries.append({"image_id": found.image.image_id,
                        "category_id": category_of[int(label)],
                        "bbox": [x1, y1, round(x2 - x1, 2), round(y2 - y1, 2)],
                        "score": round(float(score), 5),
                        "class_scores": [round(float(v), 5) for v in vector[columns]],
                        "file_name": found.image.path.name})
    return entries


def detect_to_coco(model: nn.Module, spec: ModelSpec, images: Sequence[ImageToRead],
                   out: Path, device: torch.device,
                   categories: Sequence[tuple[int, str]] | None = None,
                   batch_size: int = 4, workers: int = 0,
                   cancel: CancelToken | None = None) -> Iterator[Progress]:
    """Job: detect every image and write ``out`` (COCO results) atomically at the end."""
    entries: list[dict[str, Any]] = []
    for done, found in enumerate(detect(model, spec, images, device, batch_size, workers,
                                        cancel), start=1):
        entries.extend(coco_results(found, spec, categories))
        yield Progress(done, len(images), f"{done}/{len(images)} images")
    atomic_write_bytes(out, orjson.dumps(entries))


@dataclass(frozen=True)
class IdReading:
    image: Path
    id: str
    confidence: float
    needs_review: bool
    raw: str


def read_ids(model: nn.Module, spec: ModelSpec, images: Sequence[ImageToRead],
             automaton: IdAutomaton, device: torch.device,
             scoring: ScoringConfig = ScoringConfig(), batch_size: int = 4,
             workers: int = 0) -> Iterator[IdReading]:
    """Decode each image's ID with the format prior. ``confidence`` is the geometric mean
    of the read's per-character scores (penalties included); no fitting ID: empty id."""
    for found in detect(model, spec, images, device, batch_size, workers):
        read = read_billet(found.as_predictions(), len(spec.classes), automaton, scoring)
        text = read.constrained or ""
        score = read.constrained_score if read.constrained is not None else -math.inf
        confidence = math.exp(score / max(1, len(text))) if text else 0.0
        yield IdReading(found.image.path, text, round(confidence, 4), read.needs_review,
                        read.raw)


def write_id_csv(readings: Sequence[IdReading], out: Path) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["image", "id", "confidence", "needs_review", "raw"])
    for reading in readings:
        writer.writerow([str(reading.image), reading.id, f"{reading.confidence:.4f}",
                         "yes" if reading.needs_review else "no", reading.raw])
    atomic_write_bytes(out, buffer.getvalue().encode("utf-8"))
