"""A preview of synthesis: a few synthetic billets with LabelMe sidecars, and a contact
sheet with every label drawn, to judge the look and check the labels by eye."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from billet_studio.annotations import (
    BilletInfo,
    ImageRecord,
    Project,
    atomic_write_bytes,
    write_labelme,
)
from billet_studio.annotations.images import write_png
from billet_studio.annotations.shapes import shapes_of_stamp
from billet_studio.glyphs.id_patterns import IdGenerator
from billet_studio.glyphs.templates import project_glyph_set
from billet_studio.jobs import CancelToken, JobCancelled, Progress
from billet_studio.synthesis.compose import (
    CompositeConfig,
    Renderer,
    SyntheticBillet,
    billet_text,
    compose_billet,
)
from billet_studio.synthesis.surfaces import SurfaceBank, find_surfaces

CONTACT_SHEET = "contact_sheet.png"
#: Box colours on the contact sheet, by visibility.
COLOURS = {"well": (40, 200, 60), "partial": (255, 150, 20), "poor": (230, 40, 40)}


@dataclass(frozen=True)
class PreviewConfig:
    count: int = 16
    seed: int = 0
    composite: CompositeConfig = field(default_factory=CompositeConfig)
    inpaint_training: bool = False
    thumbnail: int = 384


def synthetic_record(billet: SyntheticBillet, path: Path, site: str | None) -> ImageRecord:
    """The LabelMe record of a synthetic billet: each stamp's polygons, its visibility as
    flags, and ``synthetic`` on every shape and on the image."""
    shapes = []
    for number, stamp in enumerate(billet.stamps, start=1):
        flags = {"synthetic": True}
        if stamp.visibility in ("partial", "poor"):
            flags[stamp.visibility] = True
        shapes.extend(shapes_of_stamp(stamp.label, stamp.polygons, flags, number))
    size = billet.image.shape[0]
    return ImageRecord(path, size, billet.image.shape[1], tuple(shapes),
                       BilletInfo(site=site, extra={"synthetic": True, "text": billet.text}))


def draw_labels(billet: SyntheticBillet, width: int) -> Image.Image:
    """A thumbnail with every stamp's outline and box, its label above the box."""
    scale = width / billet.image.shape[1]
    image = Image.fromarray(billet.image).resize(
        (width, round(billet.image.shape[0] * scale)), Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(image)
    for stamp in billet.stamps:
        colour = COLOURS[stamp.visibility]
        box = [v * scale for v in (stamp.box.x0, stamp.box.y0, stamp.box.x1, stamp.box.y1)]
        draw.rectangle(box, outline=colour, width=1)
        for polygon in stamp.polygons:
            draw.polygon([(x * scale, y * scale) for x, y in polygon.exterior],
                         outline=(90, 170, 255))
        draw.text((box[0], box[1] - 11), stamp.label, fill=colour)
    draw.text((4, 4), f"{billet.text}  ({billet.visibility})", fill=(255, 255, 255))
    return image


def contact_sheet(images: Sequence[Image.Image], columns: int = 4) -> Image.Image:
    width, height = images[0].size
    rows = math.ceil(len(images) / columns)
    sheet = Image.new("RGB", (columns * width + (columns + 1) * 4,
                              rows * height + (rows + 1) * 4), (30, 30, 30))
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        sheet.paste(image, (4 + column * (width + 4), 4 + row * (height + 4)))
    return sheet


def preview_synthesis(project: Project, out: Path, renderer: Renderer,
                      config: PreviewConfig = PreviewConfig(),
                      cancel: CancelToken | None = None) -> Iterator[Progress]:
    """Job: write ``config.count`` synthetic billets, their sidecars and a contact sheet."""
    if config.count < 1:
        raise ValueError("a preview needs at least one billet")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    glyphs = project_glyph_set(project.root)
    generator = IdGenerator(project.config.id_format)
    size = config.composite.size
    bank = SurfaceBank(find_surfaces(project, config.inpaint_training), size)
    rng = np.random.default_rng(config.seed)
    thumbnails = []
    for index in range(config.count):
        if cancel is not None and cancel.cancelled:
            raise JobCancelled(f"preview stopped after {index} billets")
        face, region, surface = bank.draw(rng)
        text = billet_text(generator.generate(rng), config.composite.characters)
        billet = compose_billet(face, glyphs, text, renderer, renderer.size, rng,
                                config.composite, region)
        path = out / "images" / f"synthetic_{index:04d}.png"
        write_png(path, billet.image)
        write_labelme(synthetic_record(billet, path, surface.site))
        thumbnails.append(draw_labels(billet, config.thumbnail))
        yield Progress(index + 1, config.count, f"billet {index + 1}/{config.count}",
                       preview=str(path))
    buffer = BytesIO()
    contact_sheet(thumbnails).save(buffer, format="PNG")
    atomic_write_bytes(out / CONTACT_SHEET, buffer.getvalue())
    for warning in bank.warnings:
        yield Progress(config.count, config.count, f"warning: {warning}")
