"""Bringing parsed foreign labels into a project: image copies, sidecars, never overwriting.

Every importer first parses its whole source into :class:`SourceImage` items (a malformed
source raises before anything is written), then :func:`write_into_project` copies each image
into ``images/`` and writes its LabelMe sidecar. Nothing the user already has is replaced: an
image that already has labels, or a different file under the same name, is skipped with a
message in the report.
"""

from __future__ import annotations

import contextlib
import glob
import math
import os
import shutil
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from billet_studio.annotations.errors import AnnotationError, SaveError
from billet_studio.annotations.images import is_image_file, read_image_size
from billet_studio.annotations.project import Project
from billet_studio.annotations.records import SPLITS, BilletInfo, ImageRecord
from billet_studio.annotations.shapes import Shape

#: Attributes other tools carry that are our shape flags.
FLAG_ATTRIBUTES = ("partial", "poor")
#: Split folder and subset names other tools use, mapped onto ours.
SPLIT_ALIASES = {"valid": "val", "validation": "val", "training": "train", "testing": "test"}


@dataclass(frozen=True)
class ImportReport:
    """What an import did: counts, the images it left out (and why), and warnings."""

    images_imported: int
    shapes_imported: int
    skipped: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass
class SourceImage:
    """One image as an import source describes it, before it enters the project."""

    #: The annotation file that describes the image; messages name it.
    origin: Path
    #: The file name the image gets in the project's ``images/`` folder.
    name: str
    #: Where the image file was found; None when it was not.
    source: Path | None
    shapes: list[Shape] = field(default_factory=list)
    #: (height, width) as the annotation states it, when it does.
    stated_size: tuple[int, int] | None = None
    split: str | None = None
    #: Points are fractions of the image's width and height (YOLO), not pixels.
    normalised: bool = False
    #: The paths that were tried, for the message when the image is missing.
    looked_for: tuple[Path, ...] = ()


@dataclass
class ParsedSource:
    """A whole import source, parsed: its images, what parsing left out, and warnings."""

    images: list[SourceImage] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def split_from_name(name: str | None) -> str | None:
    """Our split for a folder or subset name (``Train``, ``valid``...), else None."""
    if not name:
        return None
    key = name.strip().lower()
    key = SPLIT_ALIASES.get(key, key)
    return key if key in SPLITS else None


def first_existing(
    candidates: Iterable[Path], within: Path
) -> tuple[Path | None, tuple[Path, ...]]:
    """The first candidate that is a file inside ``within`` (the source's folder: a name
    like ``../../private.jpg`` in a label file must not pull in files from elsewhere), and
    every candidate tried (for messages)."""
    tried: list[Path] = []
    root = within.resolve()
    for candidate in candidates:
        if candidate in tried or not candidate.resolve().is_relative_to(root):
            continue
        tried.append(candidate)
        if candidate.is_file():
            return candidate, tuple(tried)
    return None, tuple(tried)


def finite_number(text: object, origin: Path, where: str) -> float:
    """A finite float from a source's text or number, else an AnnotationError."""
    shown = repr(text) if len(repr(text)) <= 40 else repr(text)[:37] + "..."
    if isinstance(text, bool):
        raise AnnotationError(origin, f"{where}: expected a number, got {shown}")
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise AnnotationError(origin, f"{where}: expected a number, got {shown}") from None
    if not math.isfinite(value):
        raise AnnotationError(origin, f"{where}: expected a finite number, got {shown}")
    return value


def rectangle(
    label: str, x0: float, y0: float, x1: float, y1: float, flags: dict[str, bool] | None = None
) -> Shape:
    """A labelme rectangle from its corners, whichever way round the source gave them."""
    corners = ((min(x0, x1), min(y0, y1)), (max(x0, x1), max(y0, y1)))
    return Shape(label, corners, "rectangle", dict(flags or {}))


def write_into_project(project: Project, parsed: ParsedSource) -> ImportReport:
    """Copy the parsed images into ``project.root / "images"`` and write their sidecars."""
    images_dir = project.root / "images"
    if not images_dir.is_dir() and project.image_paths():
        # Creating images/ would make the project stop seeing the photographs in its top folder.
        raise AnnotationError(
            project.root,
            "keeps its images in its top folder; importing would create images/ and hide "
            "them. Move them into images/ first",
        )
    skipped = list(parsed.skipped)
    warnings = list(parsed.warnings)
    unknown: Counter[str] = Counter()
    imported_from: dict[str, Path] = {}
    images = shapes = 0
    for item in parsed.images:
        problem = _placement_problem(item, images_dir, imported_from)
        if problem:
            skipped.append(problem)
            continue
        destination = images_dir / item.name
        if item.source is not None and not destination.exists():
            _copy_image(item.source, destination)
        height, width = read_image_size(destination)
        record = ImageRecord(
            image_path=destination.resolve(),
            height=height,
            width=width,
            shapes=tuple(_scaled(item.shapes, width, height) if item.normalised else item.shapes),
            billet=BilletInfo(split=item.split),
        )
        project.save_record(record)
        imported_from[item.name] = item.origin
        images += 1
        shapes += len(record.shapes)
        unknown.update(s.label for s in record.shapes if s.label not in project.config.classes)
        warnings.extend(record.geometry_warnings)
    for label, count in sorted(unknown.items()):
        warnings.append(
            f"label {label!r} ({count} shape{'s' if count != 1 else ''}) is not one of the "
            "project's classes; imported as it is (add it to project.toml or relabel it)"
        )
    return ImportReport(images, shapes, tuple(skipped), tuple(warnings))


def _placement_problem(
    item: SourceImage, images_dir: Path, imported_from: dict[str, Path]
) -> str | None:
    """Why this image cannot go into the project (None when it can)."""
    where = f"{item.origin}: image {item.name!r}"
    if Path(item.name).name != item.name or not is_image_file(Path(item.name)):
        return f"{where} is not an image file name the project can hold; skipped"
    if item.source is None:
        tried = ", ".join(str(p) for p in item.looked_for) or "nowhere to look"
        return f"{where} was not found (looked for {tried}); skipped"
    if item.name in imported_from:
        return (f"{where} was already imported from {imported_from[item.name]} in this "
                "import; skipped")
    try:
        height, width = read_image_size(item.source)
    except AnnotationError as error:
        return f"{where}: {error}; skipped"
    if item.stated_size is not None and item.stated_size != (height, width):
        stated_h, stated_w = item.stated_size
        return (f"{where} is stated as {stated_w}x{stated_h} (width x height) but "
                f"{item.source} is {width}x{height}; skipped (the labels may not fit it)")
    destination = images_dir / item.name
    sidecar = Project.sidecar_path(destination)
    if sidecar.exists():
        return f"{where}: {sidecar} already holds labels; kept as it is, image skipped"
    twin = _same_stem_image(destination)
    if twin is not None:
        return (f"{where}: {twin} has the same stem and would share its labels file "
                f"{sidecar.name}; skipped")
    if destination.exists() and not _same_bytes(destination, item.source):
        return (f"{where}: a different file {destination} is already in the project; "
                "not overwritten, skipped")
    return None


def _copy_image(source: Path, destination: Path) -> None:
    # Copied under a hidden name and renamed, so a failed copy never leaves half an image.
    partial = destination.with_name(f".{destination.name}.importing")
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, partial)
        with open(partial, "rb+") as stream:  # on disk before its sidecar points at it
            os.fsync(stream.fileno())
        os.replace(partial, destination)
    except OSError as error:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise SaveError(destination, f"could not copy {source} here "
                                     f"({error.strerror or error})") from error


def _same_stem_image(destination: Path) -> Path | None:
    if not destination.parent.is_dir():
        return None
    for other in destination.parent.glob(f"{glob.escape(destination.stem)}.*"):
        if other.name != destination.name and other.stem == destination.stem \
                and is_image_file(other):
            return other
    return None


def _same_bytes(a: Path, b: Path, chunk: int = 1 << 20) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with a.open("rb") as left, b.open("rb") as right:
        while True:
            block = left.read(chunk)
            if block != right.read(chunk):
                return False
            if not block:
                return True


def _scaled(shapes: Sequence[Shape], width: int, height: int) -> list[Shape]:
    return [
        Shape(s.label, tuple((x * width, y * height) for x, y in s.points), s.shape_type,
              s.flags, s.group_id, s.description, s.extra)
        for s in shapes
    ]
