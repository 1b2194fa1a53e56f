"""The surface bank: stamp-free billet faces that synthetic stamps are composited onto.

Faces come from the project's ``surfaces/`` folder (a sub-folder named like one of the
project's sites gives its faces that site), and optionally from training photographs
with their stamps inpainted away (``cv2.inpaint``), which grows the bank with the plant's
own faces. Test images are never used. A face that cannot be read is skipped with a
warning naming it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from billet_studio.annotations.errors import AnnotationError
from billet_studio.annotations.images import is_image_file, read_image
from billet_studio.annotations.project import Project
from billet_studio.annotations.records import ImageRecord
from billet_studio.geometry import Box, rasterize_polygons

SURFACES_FOLDER = "surfaces"


@dataclass(frozen=True)
class Surface:
    """One face: a surface photograph, or a training photograph to inpaint."""

    path: Path
    site: str | None = None
    #: For an inpainted photograph: its record (the stamps to remove).
    record: ImageRecord | None = None

    @property
    def kind(self) -> str:
        return "inpainted" if self.record is not None else "surface"


def find_surfaces(project: Project, inpaint_training: bool = False) -> list[Surface]:
    """The project's faces, sorted by path (a fixed order, so seeds reproduce)."""
    folder = project.root / SURFACES_FOLDER
    sites = set(project.config.sites)
    surfaces = []
    if folder.is_dir():
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and is_image_file(p)):
            parts = path.relative_to(folder).parts
            site = parts[0] if len(parts) > 1 and parts[0] in sites else None
            surfaces.append(Surface(path, site))
    if inpaint_training:
        for record in project.load_records():
            if record.split == "train" and record.stamps:
                surfaces.append(Surface(record.image_path, record.billet.site, record))
    return surfaces


def inpaint_stamps(image: np.ndarray, record: ImageRecord, grow_px: int = 4) -> np.ndarray:
    """``image`` with the record's stamps painted over from their surroundings."""
    polygons = [p for stamp in record.stamps for p in stamp.polygons]
    mask = rasterize_polygons(polygons, image.shape[0], image.shape[1])
    for stamp in record.stamps:
        if not stamp.polygons:  # a box label: clear the whole box
            box = stamp.box
            mask[int(box.y0):int(np.ceil(box.y1)), int(box.x0):int(np.ceil(box.x1))] = 255
    if grow_px > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow_px + 1,) * 2)
        mask = cv2.dilate(mask, kernel)
    return cv2.inpaint(image, mask, 5, cv2.INPAINT_TELEA)


def load_face(surface: Surface, size: int) -> np.ndarray:
    """The face as an RGB ``size`` x ``size`` image (AnnotationError if unreadable)."""
    image = read_image(surface.path)
    if surface.record is not None:
        image = inpaint_stamps(image, surface.record)
    if image.shape[:2] != (size, size):
        interpolation = cv2.INTER_AREA if image.shape[0] > size else cv2.INTER_LINEAR
        image = cv2.resize(image, (size, size), interpolation=interpolation)
    return np.ascontiguousarray(image)


def face_region(image: np.ndarray, shrink_step: float = 0.02) -> Box:
    """An axis-aligned box inside the billet face of a photograph (the face is brighter
    than the background around it), where stamps may go; the whole image when no face
    stands out from a background."""
    height, width = image.shape[:2]
    whole = Box(0.0, 0.0, float(width), float(height))
    grey = cv2.GaussianBlur(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), (0, 0), 3)
    _, bright = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Close the face's own dark spots (scale, rust) so that it is one solid region.
    side = max(3, (min(height, width) // 24) | 1)
    bright = cv2.morphologyEx(bright, cv2.MORPH_CLOSE,
                              cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side)))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(bright)
    if count < 2:
        return whole
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if stats[largest, cv2.CC_STAT_AREA] < 0.25 * height * width:
        return whole  # no face stands out: a full-frame texture
    face = labels == largest
    if face.mean() > 0.97:
        return whole
    x, y, w, h = (int(v) for v in stats[largest, :4])
    box = [float(x), float(y), float(x + w), float(y + h)]
    for _ in range(int(0.5 / shrink_step)):
        xs = np.linspace(box[0], box[2] - 1, 9).astype(int)
        ys = np.linspace(box[1], box[3] - 1, 9).astype(int)
        edge = np.concatenate([face[ys[0], xs], face[ys[-1], xs], face[ys, xs[0]],
                               face[ys, xs[-1]]])
        if edge.all():
            return Box(*box)
        dx, dy = (box[2] - box[0]) * shrink_step / 2, (box[3] - box[1]) * shrink_step / 2
        box = [box[0] + dx, box[1] + dy, box[2] - dx, box[3] - dy]
    return whole


class SurfaceBank:
    """Draws faces at random; keeps a few decoded, and skips (and remembers) bad files."""

    def __init__(self, surfaces: Sequence[Surface], size: int, cache: int = 8) -> None:
        if not surfaces:
            raise ValueError("the surface bank is empty: put stamp-free billet photographs "
                             f"in the project's {SURFACES_FOLDER}/ folder")
        self.surfaces = list(surfaces)
        self.size = size
        self.warnings: list[str] = []
        self._bad: set[int] = set()
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._regions: dict[int, Box] = {}
        self._cache_size = cache

    def face(self, index: int) -> np.ndarray | None:
        """Face ``index`` (a read-only array), or None if its file cannot be used."""
        if index in self._bad:
            return None
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        try:
            image = load_face(self.surfaces[index], self.size)
        except (AnnotationError, OSError, cv2.error) as error:
            self._bad.add(index)
            self.warnings.append(f"{self.surfaces[index].path}: skipped, cannot be used as a "
                                 f"surface ({error})")
            return None
        image.setflags(write=False)
        self._cache[index] = image
        if index not in self._regions:  # a face evicted from the cache keeps its region
            self._regions[index] = face_region(image)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return image

    def region(self, index: int) -> Box:
        """Where stamps may go on face ``index`` (after :meth:`face` loaded it)."""
        return self._regions[index]

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, Box, Surface]:
        """A random usable face, the box on it where stamps may go, and its source."""
        order = rng.permutation(len(self.surfaces))
        for index in order:
            image = self.face(int(index))
            if image is not None:
                return image, self._regions[int(index)], self.surfaces[int(index)]
        raise AnnotationError(self.surfaces[0].path.parent,
                              "holds no surface image that can be read")
