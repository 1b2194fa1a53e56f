"""Reading a project's images and labels for display: the one place the studio decodes.

Everything here is Qt-free and synchronous, so a later worker thread can call the same
functions unchanged. Nothing here writes: a broken sidecar is reported, never repaired.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from billet_studio.annotations import AnnotationError, ImageRecord, Project


@dataclass(frozen=True)
class ImageSummary:
    """One line of the image list: enough to choose an image without decoding it."""

    path: Path
    name: str
    split: str | None = None
    site: str | None = None
    stamp_count: int | None = None
    error: str | None = None
    #: The labeller marked the image finished (LabelMe image flag ``done``).
    done: bool = False

    @property
    def description(self) -> str:
        """Split, site and stamp count, then what went wrong (one line each)."""
        lines = []
        if self.stamp_count is not None:
            stamps = "1 stamp" if self.stamp_count == 1 else f"{self.stamp_count} stamps"
            lines.append(f"split {self.split} · site {self.site or '?'} · {stamps}")
        if self.error is not None:
            lines.append(f"⚠ {self.error}")
        return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """An image ready to show: its pixels and record, or why either could not be read.

    ``pixels`` is None when the image does not decode; ``record`` is None when its sidecar
    (or the image's header) is broken. ``errors`` holds one message per broken file.
    """

    path: Path
    pixels: np.ndarray | None
    record: ImageRecord | None
    errors: tuple[str, ...] = ()

    @property
    def size(self) -> tuple[int, int] | None:
        """(width, height) in pixels, if known."""
        if self.pixels is not None:
            return int(self.pixels.shape[1]), int(self.pixels.shape[0])
        if self.record is not None:
            return self.record.width, self.record.height
        return None


def describe_error(error: AnnotationError) -> str:
    """The error with the file's name instead of its full path (the list and panel are narrow)."""
    return f"{error.path.name}: {error.problem}"


def display_name(project: Project, image_path: Path) -> str:
    """The image's path below the image folder, so images in subfolders stay distinct."""
    try:
        return image_path.resolve().relative_to(project.image_root.resolve()).as_posix()
    except ValueError:
        return image_path.name


def _summary(
    project: Project, path: Path, record: ImageRecord | None, error: str | None
) -> ImageSummary:
    name = display_name(project, path)
    if record is None:
        return ImageSummary(path, name, error=error or "labels not loaded")
    return ImageSummary(path, name, record.split, record.billet.site, len(record.stamps),
                        error, bool(record.flags.get("done", False)))


def summarize_image(project: Project, image_path: Path) -> ImageSummary:
    """The image's list entry, from its sidecar and image header (no decoding)."""
    try:
        record = project.load_record(image_path)
    except AnnotationError as error:
        return _summary(project, image_path, None, describe_error(error))
    return _summary(project, image_path, record, None)


def summarize_loaded(project: Project, loaded: LoadedImage) -> ImageSummary:
    """The list entry of an image that was just loaded for display."""
    error = loaded.errors[0] if loaded.errors else None
    return _summary(project, loaded.path, loaded.record, error)


def with_record(project: Project, image_path: Path, pixels: np.ndarray | None,
                pixel_error: str | None) -> LoadedImage:
    """An image decoded elsewhere (a worker thread), with its record read now: the record
    is always fresh from disk, the slow part (decoding) may come from a cache.

    The pixels are still returned when only the sidecar is broken, so the user sees the
    photograph whose labels need fixing.
    """
    errors = [pixel_error] if pixel_error else []
    record: ImageRecord | None = None
    try:
        record = project.load_record(image_path)
    except AnnotationError as error:
        # An undecodable image fails here too (the record reads the image header); one
        # message per broken file is enough.
        if pixels is not None or error.path.resolve() != image_path.resolve():
            errors.append(describe_error(error))
    return LoadedImage(image_path, pixels, record, tuple(errors))
