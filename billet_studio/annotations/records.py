"""One labelled billet image: its shapes, the per-image ``billet`` facts, and derived stamps."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from billet_studio.annotations.shapes import (
    VISIBILITIES,
    Shape,
    Stamp,
    derive_visibility,
    stamps_from_shapes,
)

SPLITS = ("train", "val", "test")
LABELME_VERSION = "5.5.0"


@dataclass(frozen=True)
class BilletInfo:
    """The extra top-level ``billet`` object of a sidecar (labelme keeps it untouched).

    ``visibility`` is only an override: normally it is derived from the shapes' flags.
    """

    site: str | None = None
    split: str | None = None
    id: str | None = None
    visibility: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {}
        for key in ("site", "split", "id", "visibility"):
            value = getattr(self, key)
            if value is not None:
                document[key] = value
        document.update(self.extra)
        return document

    def is_empty(self) -> bool:
        return not self.to_json()


@dataclass(frozen=True, eq=False)
class ImageRecord:
    """An image and its labels, as read from (or about to be written to) a LabelMe sidecar."""

    image_path: Path
    height: int
    width: int
    shapes: tuple[Shape, ...] = ()
    billet: BilletInfo = field(default_factory=BilletInfo)
    json_path: Path | None = None
    flags: dict[str, bool] = field(default_factory=dict)
    version: str = LABELME_VERSION
    image_data: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    #: ``imagePath`` as the sidecar wrote it; rewritten relative to the sidecar on save.
    image_path_text: str | None = None

    @property
    def stem(self) -> str:
        return self.image_path.stem

    @property
    def split(self) -> str:
        """The split this image is in; unmarked images are training images."""
        return self.billet.split or "train"

    @cached_property
    def _stamps_and_warnings(self) -> tuple[list[Stamp], list[str]]:
        source = str(self.json_path or self.image_path)
        return stamps_from_shapes(self.shapes, self.width, self.height, source)

    @property
    def stamps(self) -> list[Stamp]:
        """The stamps, repaired and clipped to the image (computed once)."""
        return self._stamps_and_warnings[0]

    @property
    def geometry_warnings(self) -> list[str]:
        return self._stamps_and_warnings[1]

    @property
    def visibility(self) -> str:
        """The override if set, else derived from the stamps by the paper's rule."""
        if self.billet.visibility in VISIBILITIES:
            return self.billet.visibility
        return derive_visibility(self.stamps)

    def with_billet(self, **changes: Any) -> ImageRecord:
        return replace(self, billet=replace(self.billet, **changes))
