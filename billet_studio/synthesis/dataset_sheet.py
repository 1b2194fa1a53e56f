"""A contact sheet of a built dataset: a sample of its training images, real and synthetic,
with every COCO box and label drawn, to check an export by eye."""

from __future__ import annotations

import json
from collections import defaultdict
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from billet_studio.annotations.atomic import atomic_write_bytes
from billet_studio.annotations.errors import AnnotationError
from billet_studio.synthesis.preview import COLOURS, CONTACT_SHEET, contact_sheet


def _visibility(attributes: dict) -> str:
    return "partial" if attributes.get("partial") else (
        "poor" if attributes.get("poor") else "well")


def dataset_contact_sheet(folder: Path, count: int = 16, thumbnail: int = 320,
                          split: str = "train") -> Path:
    """Write ``folder/contact_sheet.png`` from ``count`` images of the split, spread evenly
    over it (real images come first in a dataset, synthetic ones after)."""
    path = Path(folder) / f"{split}.json"
    try:
        coco = json.loads(path.read_text(encoding="utf-8"))
        images, annotations = coco["images"], coco["annotations"]
        names = {c["id"]: c["name"] for c in coco["categories"]}
    except FileNotFoundError:
        raise AnnotationError(path, "is missing; the dataset is not finished") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise AnnotationError(path, f"is not a readable COCO file ({error})") from None
    if not images:
        raise AnnotationError(path, "holds no images")
    by_image = defaultdict(list)
    for annotation in annotations:
        by_image[annotation["image_id"]].append(annotation)
    chosen = np.unique(np.linspace(0, len(images) - 1, min(count, len(images))).round()
                       .astype(int))
    tiles = []
    for index in chosen:
        entry = images[int(index)]
        tiles.append(_tile(Path(folder) / entry["file_name"], entry, by_image[entry["id"]],
                           names, thumbnail))
    buffer = BytesIO()
    contact_sheet(tiles).save(buffer, format="PNG")
    out = Path(folder) / CONTACT_SHEET
    atomic_write_bytes(out, buffer.getvalue())
    return out


def _tile(image_path: Path, entry: dict, annotations: list[dict], names: dict[int, str],
          width: int) -> Image.Image:
    try:
        with Image.open(image_path) as opened:
            image = opened.convert("RGB")
    except (OSError, ValueError) as error:
        raise AnnotationError(image_path, f"cannot be read ({error})") from None
    scale = width / max(image.width, image.height)  # tiles are squares, the image fitted
    resized = image.resize((max(1, round(image.width * scale)),
                            max(1, round(image.height * scale))), Image.Resampling.LANCZOS)
    image = Image.new("RGB", (width, width), (30, 30, 30))
    image.paste(resized)
    draw = ImageDraw.Draw(image)
    for annotation in annotations:
        x, y, w, h = (v * scale for v in annotation["bbox"])
        colour = COLOURS[_visibility(annotation.get("attributes", {}))]
        draw.rectangle([x, y, x + w, y + h], outline=colour, width=1)
        draw.text((x, y - 11), names.get(annotation["category_id"], "?"), fill=colour)
    billet = entry.get("billet", {})
    kind = "synthetic" if billet.get("synthetic") else "real"
    draw.text((4, 4), f"{kind}  {billet.get('text') or billet.get('id') or ''}",
              fill=(255, 255, 255))
    return image
