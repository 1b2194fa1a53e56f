"""Reading what is evaluated: COCO ground truth and COCO-results predictions, checked.

Every problem names the file and the entry; nothing is silently dropped. Per-image facts
(site, visibility, true ID) come from an image's ``billet`` (or ``attributes``) object as
Billet Studio's COCO export writes it; visibility otherwise follows the paper's rule over
the annotations' ``partial``/``poor`` attributes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

try:  # a parser about 3x faster than the standard library's on detection files
    import orjson
except ImportError:  # pragma: no cover - installed with the package
    orjson = None

from billet_studio.annotations.errors import AnnotationError
from billet_studio.evaluation.collector import without_collector

VISIBILITY_CLASSES = ("well", "partial", "poor")


@dataclass(frozen=True, eq=False)
class TruthImage:
    """One billet: its digits (xyxy boxes, class indices) and the facts that pick subsets."""

    image_id: int
    file_name: str
    width: int
    height: int
    boxes: np.ndarray
    labels: np.ndarray
    site: str | None = None
    visibility: str | None = None
    billet_id: str | None = None


@dataclass(frozen=True, eq=False)
class TruthSet:
    path: Path
    classes: tuple[str, ...]
    category_ids: tuple[int, ...]
    images: tuple[TruthImage, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class ImagePredictions:
    """One image's detections; ``class_scores`` (N, classes) when the reader gave them."""

    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    class_scores: np.ndarray | None = None

    @classmethod
    def empty(cls) -> ImagePredictions:
        return cls(np.zeros((0, 4)), np.zeros(0, dtype=np.int64), np.zeros(0))


@dataclass(frozen=True, eq=False)
class PredictionSet:
    path: Path
    by_image: dict[int, ImagePredictions]
    count: int
    warnings: tuple[str, ...] = field(default=())

    def of(self, image_id: int) -> ImagePredictions:
        return self.by_image.get(image_id) or ImagePredictions.empty()


def _read_json(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AnnotationError(path, f"{what} file not found") from None
    except OSError as error:
        raise AnnotationError(path, f"cannot be read ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise AnnotationError(path, "is not UTF-8 text (is it a JSON file?)") from None
    if not text.strip():
        raise AnnotationError(path, f"is empty; expected a {what} JSON file")
    if orjson is not None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # the standard parser says where, and reads NaN for the checks to name
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise AnnotationError(path, f"is not valid JSON ({error})") from None


def _xyxy(bbox: Any, path: Path, where: str) -> tuple[float, float, float, float]:
    if not isinstance(bbox, list) or len(bbox) != 4:
        raise AnnotationError(path, f"{where}: 'bbox' must be [x, y, width, height]")
    try:
        x, y, w, h = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise AnnotationError(path, f"{where}: 'bbox' holds a value that is not a number"
                              ) from None
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        raise AnnotationError(path, f"{where}: 'bbox' {bbox} is not finite (NaN or inf)")
    if w < 0 or h < 0:
        raise AnnotationError(path, f"{where}: 'bbox' {bbox} has a negative width or height")
    return x, y, x + w, y + h


def _facts(image: Mapping[str, Any]) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for key in ("attributes", "billet"):  # the billet object wins where both say
        value = image.get(key)
        if isinstance(value, dict):
            facts.update(value)
    return facts


def _derived_visibility(flags: list[dict[str, Any]]) -> str | None:
    """The paper's rule over annotation attributes; None when no annotation carries them."""
    if not any("partial" in f or "poor" in f for f in flags):
        return None if flags else "well"
    if any(f.get("partial") for f in flags):
        return "partial"
    return "poor" if any(f.get("poor") for f in flags) else "well"


@without_collector
def load_truth(path: Path | str) -> TruthSet:
    """Read a COCO instances file as ground truth; crowd regions are left out with a warning."""
    path = Path(path)
    document = _read_json(path, "ground-truth")
    if not isinstance(document, dict) or not {"images", "annotations", "categories"} <= set(
            document):
        raise AnnotationError(path, "is not a COCO instances file (it needs 'images', "
                                    "'annotations' and 'categories')")
    for key in ("images", "annotations", "categories"):
        entries = document[key]
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise AnnotationError(path, f"'{key}' must be a list of objects")
    try:
        categories = sorted((int(c["id"]), str(c["name"])) for c in document["categories"])
    except (KeyError, TypeError, ValueError):
        raise AnnotationError(path, "every category needs an integer 'id' and a 'name'"
                              ) from None
    category_ids = tuple(cid for cid, _ in categories)
    classes = tuple(name for _, name in categories)
    if len(set(category_ids)) != len(category_ids) or len(set(classes)) != len(classes):
        raise AnnotationError(path, "category ids and names must be unique")
    class_of = {cid: index for index, cid in enumerate(category_ids)}
    images: dict[int, dict[str, Any]] = {}
    names: dict[str, int] = {}
    for entry in document["images"]:
        try:
            image_id = int(entry["id"])
            file_name, width, height = str(entry["file_name"]), int(entry["width"]), int(
                entry["height"])
        except (KeyError, TypeError, ValueError):
            raise AnnotationError(path, f"image {entry.get('id', '?')!r} needs 'id', "
                                        "'file_name', 'width' and 'height'") from None
        if image_id in images:
            raise AnnotationError(path, f"image id {image_id} appears twice")
        if file_name in names:
            raise AnnotationError(path, f"file name {file_name!r} appears twice (images "
                                        f"{names[file_name]} and {image_id})")
        names[file_name] = image_id
        images[image_id] = {"entry": entry, "file_name": file_name, "width": width,
                            "height": height, "boxes": [], "labels": [], "flags": []}
    crowd = 0
    for index, ann in enumerate(document["annotations"]):
        where = f"annotation {ann.get('id', index)!r}"
        image = images.get(ann.get("image_id"))
        if image is None:
            raise AnnotationError(path, f"{where} refers to image {ann.get('image_id')!r}, "
                                        "which the file does not list")
        if ann.get("category_id") not in class_of:
            raise AnnotationError(path, f"{where} has category {ann.get('category_id')!r}, "
                                        "which the file does not list")
        if ann.get("iscrowd"):
            crowd += 1
            continue
        image["boxes"].append(_xyxy(ann.get("bbox"), path, where))
        image["labels"].append(class_of[ann["category_id"]])
        attributes = ann.get("attributes")
        image["flags"].append(attributes if isinstance(attributes, dict) else {})
    warnings = []
    if not images:
        warnings.append(f"{path}: lists no images; there is nothing to evaluate")
    if crowd:
        warnings.append(f"{path}: {crowd} crowd annotations are not digits and were left out")
    truth_images = []
    for image_id, image in images.items():
        facts = _facts(image["entry"])
        visibility = facts.get("visibility")
        if visibility not in VISIBILITY_CLASSES:
            visibility = _derived_visibility(image["flags"])
        truth_images.append(TruthImage(
            image_id=image_id, file_name=image["file_name"], width=image["width"],
            height=image["height"],
            boxes=np.array(image["boxes"], dtype=np.float64).reshape(-1, 4),
            labels=np.array(image["labels"], dtype=np.int64),
            site=None if facts.get("site") is None else str(facts["site"]),
            visibility=visibility,
            billet_id=None if facts.get("id") is None else str(facts["id"]),
        ))
    unknown = sum(image.visibility is None for image in truth_images)
    if unknown:
        warnings.append(f"{path}: {unknown} images say nothing of their visibility (no "
                        "'billet.visibility' and no partial/poor attributes); they count "
                        "only in the 'all' subset")
    return TruthSet(path, classes, category_ids, tuple(truth_images), tuple(warnings))


@without_collector
def load_predictions(path: Path | str, truth: TruthSet) -> PredictionSet:
    """Read COCO-results detections (a list of ``image_id, category_id, bbox, score`` and
    optionally ``class_scores``, one score per category in category-id order)."""
    path = Path(path)
    document = _read_json(path, "predictions")
    if isinstance(document, dict) and isinstance(document.get("annotations"), list):
        document = document["annotations"]
    if not isinstance(document, list):
        raise AnnotationError(path, "is not a COCO results file (a list of detections)")
    class_of = {cid: index for index, cid in enumerate(truth.category_ids)}
    known_images = {image.image_id for image in truth.images}
    n_classes = len(truth.classes)
    kept: list[int] = []
    image_ids, labels = [], []
    unknown_images: set[Any] = set()
    for index, det in enumerate(document):
        if not isinstance(det, dict):
            raise AnnotationError(path, f"detection {index} is not an object")
        image_id = det.get("image_id")
        if image_id not in known_images:
            unknown_images.add(image_id)
            continue
        label = class_of.get(det.get("category_id"))
        if label is None:
            raise AnnotationError(path, f"detection {index} (image {image_id}) has category "
                                        f"{det.get('category_id')!r}, which the ground "
                                        f"truth {truth.path.name} does not list")
        kept.append(index)
        image_ids.append(image_id)
        labels.append(label)
    if unknown_images:
        listed = ", ".join(repr(i) for i in sorted(unknown_images, key=repr)[:5])
        raise AnnotationError(path, f"has detections for {len(unknown_images)} images the "
                                    f"ground truth {truth.path} does not list ({listed}); "
                                    "are these predictions for another test set?")
    detections = [document[i] for i in kept]
    boxes = _bulk_boxes(detections, kept, path)
    scores = _bulk_scores(detections, kept, path)
    vectors = _bulk_class_scores(detections, kept, n_classes, path)
    label_array = np.array(labels, dtype=np.int64)
    id_array = np.array(image_ids)
    order = np.argsort(id_array, kind="stable")
    by_image = {}
    if len(order):
        starts = np.flatnonzero(np.r_[True, id_array[order][1:] != id_array[order][:-1]])
        for picks in np.split(order, starts[1:]):
            by_image[image_ids[picks[0]]] = ImagePredictions(
                boxes[picks], label_array[picks], scores[picks],
                None if vectors is None else vectors[picks])
    warnings = []
    if not kept:
        warnings.append(f"{path}: holds no detections; every digit counts as missed")
    return PredictionSet(path, by_image, len(kept), tuple(warnings))


def _bulk_boxes(detections: list[dict[str, Any]], indices: list[int], path: Path
                ) -> np.ndarray:
    """xyxy boxes of all detections at once; a bad one is found and named on failure."""
    try:
        xywh = np.array([d["bbox"] for d in detections], dtype=np.float64)
        valid = xywh.shape == (len(detections), 4) and bool(
            np.isfinite(xywh).all() and (xywh[:, 2:] >= 0).all())
    except (KeyError, TypeError, ValueError):
        valid = False
    if not detections:
        return np.zeros((0, 4))
    if not valid:
        for det, index in zip(detections, indices, strict=True):
            _xyxy(det.get("bbox"), path, f"detection {index} (image {det.get('image_id')})")
        raise AnnotationError(path, "has a malformed 'bbox'")  # pragma: no cover
    return np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)


def _bulk_scores(detections: list[dict[str, Any]], indices: list[int], path: Path
                 ) -> np.ndarray:
    raw = [d.get("score") for d in detections]
    for det, index, score in zip(detections, indices, raw, strict=True):
        if (isinstance(score, bool) or not isinstance(score, int | float)
                or not math.isfinite(score) or not 0.0 <= score <= 1.0):
            raise AnnotationError(path, f"detection {index} (image {det.get('image_id')}) "
                                        f"has score {score!r}; scores must be numbers in "
                                        "[0, 1]")
    return np.array(raw, dtype=np.float64)


def _bulk_class_scores(detections: list[dict[str, Any]], indices: list[int],
                       n_classes: int, path: Path) -> np.ndarray | None:
    present = ["class_scores" in d for d in detections]
    if not any(present):
        return None
    if not all(present):
        index = indices[present.index(False)]
        raise AnnotationError(path, f"detection {index} has no 'class_scores' though other "
                                    "detections have them")
    try:
        vectors = np.array([d["class_scores"] for d in detections], dtype=np.float64)
        valid = vectors.shape == (len(detections), n_classes) and bool(
            np.isfinite(vectors).all() and (vectors >= 0).all() and (vectors <= 1).all())
    except (TypeError, ValueError):
        valid = False
    if not valid:
        for det, index in zip(detections, indices, strict=True):
            vector = det["class_scores"]
            ok = isinstance(vector, list) and len(vector) == n_classes and all(
                isinstance(v, int | float) and math.isfinite(v) and 0 <= v <= 1
                for v in vector)
            if not ok:
                raise AnnotationError(path, f"detection {index} (image {det.get('image_id')}):"
                                            f" 'class_scores' must list {n_classes} scores in "
                                            "[0, 1] (probabilities, not logits), one per "
                                            "category in category-id order")
    return vectors
