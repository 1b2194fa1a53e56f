"""Learning glyph templates from a project's labelled stamp polygons, so that synthetic
stamps are drawn in the plant's own punch font."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np
import shapely
from shapely.geometry import Polygon

from billet_studio.annotations import AnnotationError, ImageRecord, Project, read_labelme
from billet_studio.geometry import (
    StampPolygon,
    bounds_of,
    polygonal_parts,
    rasterize_polygons,
    trace_mask,
)
from billet_studio.glyphs.templates import GlyphSet, GlyphTemplate

#: Coarse step of the tilt search; a finer pass then looks around the best coarse angle.
_COARSE_STEP_DEG = 1.0
_FINE_STEPS_DEG = (-0.75, -0.5, -0.25, 0.25, 0.5, 0.75)
#: Rounds of "align every example to the average, then average again".
_ALIGN_ROUNDS = 2


@dataclass(frozen=True)
class TemplateLearning:
    """How templates are learned from labelled stamps (lengths in glyph heights)."""

    #: A character needs at least this many usable stamps to be learned.
    min_examples: int = 3
    #: Height in pixels of the masks that are aligned and averaged.
    raster_height: int = 128
    #: Share of the examples that must cover a pixel for it to belong to the template.
    threshold: float = 0.5
    #: Douglas-Peucker tolerance of the traced outline.
    simplify: float = 0.004
    #: Whether poorly stamped (but complete) stamps count; partial ones never do.
    use_poor: bool = True
    #: Largest tilt corrected when an example is aligned to the others.
    max_tilt_deg: float = 6.0
    #: A character whose examples overlap its learned template less than this (mean IoU)
    #: is not learned: its labels are probably wrong or its stamps differ too much.
    min_agreement: float = 0.5

    def __post_init__(self) -> None:
        if self.min_examples < 1:
            raise ValueError(f"min_examples must be at least 1, got {self.min_examples}")
        if self.raster_height < 16:
            raise ValueError(f"raster_height must be at least 16 px, got {self.raster_height}")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.simplify < 0 or self.max_tilt_deg < 0:
            raise ValueError("simplify and max_tilt_deg must not be negative")
        if not 0.0 <= self.min_agreement <= 1.0:
            raise ValueError(f"min_agreement must be in [0, 1], got {self.min_agreement}")


@dataclass(frozen=True)
class LearningReport:
    """What :func:`learn_glyph_set` did: characters learned (with their example counts),
    characters kept from the base set, test images skipped unread, and warnings."""

    learned: dict[str, int]
    kept: tuple[str, ...]
    skipped_test_images: int
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class _Learned:
    template: GlyphTemplate | None  # None when thresholding left nothing
    examples: int
    agreement: float  # mean IoU of the aligned examples to the learned mask


def templates_from_polygons(
    examples: Mapping[str, Sequence[Sequence[StampPolygon]]],
    config: TemplateLearning = TemplateLearning(),
) -> dict[str, GlyphTemplate]:
    """Templates for the characters with at least ``config.min_examples`` examples.

    Each example is the polygon pieces of one stamp in image pixels (any size, position
    and small tilt). A character whose examples leave nothing after thresholding is left
    out; the agreement check is :func:`learn_glyph_set`'s.
    """
    templates = {}
    for char, stamps in examples.items():
        learned = _learn_char(char, stamps, config)
        if learned is not None and learned.template is not None:
            templates[char] = learned.template
    return templates


def learn_glyph_set(
    project: Project, base: GlyphSet, config: TemplateLearning = TemplateLearning()
) -> tuple[GlyphSet, LearningReport]:
    """``base`` with every character that has enough labelled polygon stamps in the
    project's train and val images replaced by a template learned from them.

    Only label files are read, never an image: test images are not even opened.
    """
    records, skipped_test, warnings = _training_records(project)
    examples: dict[str, list[tuple[StampPolygon, ...]]] = {}
    unknown: Counter[str] = Counter()
    for record in records:
        for stamp in record.stamps:
            if not stamp.polygons or stamp.partial or (stamp.poor and not config.use_poor):
                continue
            if stamp.label not in base:
                unknown[stamp.label] += 1
                continue
            examples.setdefault(stamp.label, []).append(stamp.polygons)
    if unknown:
        names = ", ".join(f"{label!r} ({n})" for label, n in sorted(unknown.items()))
        warnings.append(f"labels not in the glyph set {base.style!r} were ignored: {names}")
    glyphs = dict(base.glyphs)
    learned: dict[str, int] = {}
    for char in base.chars:
        result = _learn_char(char, examples.get(char, ()), config)
        if result is None:
            continue
        if result.template is None or result.agreement < config.min_agreement:
            warnings.append(
                f"{char!r}: its {result.examples} examples disagree (mean IoU "
                f"{result.agreement:.2f} to the learned template, below "
                f"{config.min_agreement:.2f}); kept the base template - check their labels"
            )
            continue
        glyphs[char] = result.template
        learned[char] = result.examples
    glyph_set = GlyphSet(glyphs=glyphs, style=f"learned from {project.config.name}",
                         stroke_width=base.stroke_width)
    kept = tuple(char for char in base.chars if char not in learned)
    return glyph_set, LearningReport(learned, kept, skipped_test, tuple(warnings))


# ---------------------------------------------------------------------------------------
# Reading the labels only


def _training_records(project: Project) -> tuple[list[ImageRecord], int, list[str]]:
    """The labelled records outside the test split, read from their sidecars alone; the
    number of test images skipped; warnings for the files that could not be used.

    Not ``project.iter_records()``: it reads every image's size first, and for a PNG
    Pillow decodes the whole image while looking for EXIF data, test images included.
    """
    records: list[ImageRecord] = []
    warnings: list[str] = []
    skipped_test = 0
    paths = project.image_paths()
    stems = Counter((path.parent, path.stem) for path in paths)
    for image_path in paths:
        json_path = project.sidecar_path(image_path)
        if not json_path.exists():
            continue  # not labelled
        if stems[(image_path.parent, image_path.stem)] > 1:
            warnings.append(f"{json_path}: shared by several images named "
                            f"{image_path.stem!r}; skipped")
            continue
        if not project.contains(image_path):
            warnings.append(f"{image_path}: is a link outside the project folder; skipped")
            continue
        try:
            record = read_labelme(json_path, image_path)
        except AnnotationError as error:
            warnings.append(f"{error}; skipped")
            continue
        if record.split == "test":
            skipped_test += 1
            continue
        if record.width <= 0 or record.height <= 0:
            # The sidecar gives no size: take the labels' extent, so that clipping the
            # stamps to the image (which needs a size) keeps them whole.
            points = [p for shape in record.shapes for p in shape.points] or [(1.0, 1.0)]
            record = replace(record, width=math.ceil(max(x for x, _ in points)) + 1,
                             height=math.ceil(max(y for _, y in points)) + 1)
        records.append(record)
    return records, skipped_test, warnings


# ---------------------------------------------------------------------------------------
# Learning one character


@dataclass(frozen=True, eq=False)
class _Example:
    """One stamp's pieces and the centroid of its area, the point it is turned about and
    aligned on (unlike the box centre, the centroid does not move when the stamp turns)."""

    pieces: tuple[StampPolygon, ...]
    centroid: tuple[float, float]

    @classmethod
    def of(cls, pieces: Sequence[StampPolygon]) -> _Example | None:
        if not pieces:
            return None
        area = shapely.union_all([piece.to_shapely() for piece in pieces])
        box = bounds_of(pieces)
        if area.area <= 0 or box.height <= 0:
            return None
        return cls(tuple(pieces), (area.centroid.x, area.centroid.y))


@dataclass(frozen=True)
class _Frame:
    """The canvas every example is drawn on: ``size`` px per stamp height, centroids at
    ``anchor`` (x, y)."""

    size: int
    shape: tuple[int, int]
    anchor: tuple[float, float]

    @classmethod
    def around(cls, examples: Sequence[_Example], size: int, max_tilt: float) -> _Frame:
        reach = np.zeros(4)  # left, up, right, down of the centroid, in stamp heights
        for example in examples:
            box = bounds_of(example.pieces)
            cx, cy = example.centroid
            reach = np.maximum(reach, np.array([cx - box.x0, cy - box.y0, box.x1 - cx,
                                                box.y1 - cy]) / box.height)
        # Room for the largest turn (a corner moves by about reach * angle) and the blur.
        radius = math.hypot(max(reach[0], reach[2]), max(reach[1], reach[3]))
        margin = (radius * math.radians(max_tilt) + 0.05) * size + 2
        left, up, right, down = np.ceil(reach * size + margin)
        return cls(size, (int(up + down), int(left + right)), (float(left), float(up)))


def _learn_char(char: str, stamps: Sequence[Sequence[StampPolygon]],
                config: TemplateLearning) -> _Learned | None:
    """None when there are too few usable examples."""
    examples = [e for e in map(_Example.of, stamps) if e is not None]
    if len(examples) < config.min_examples:
        return None
    frame = _Frame.around(examples, config.raster_height, config.max_tilt_deg)
    angles = [0.0] * len(examples)
    masks = [_normalised_mask(e, 0.0, frame) for e in examples]
    for _ in range(_ALIGN_ROUNDS):
        reference = np.mean(masks, axis=0)
        angles = [_best_tilt(e, reference, frame, config.max_tilt_deg) for e in examples]
        masks = [_normalised_mask(e, a, frame) for e, a in zip(examples, angles, strict=True)]
    # Aligning to the average fixes the tilts relative to each other, not the template's
    # own: the stamps lean both ways, so the upright template is the one the corrections
    # average to zero around, not whichever way the first average happened to lean.
    drift = float(np.mean(angles))
    if abs(drift) > 1e-9:
        masks = [_normalised_mask(e, a - drift, frame)
                 for e, a in zip(examples, angles, strict=True)]
    average = np.mean(masks, axis=0, dtype=np.float32)
    # A slight blur before thresholding smooths the staircase the few discrete levels of
    # a mean of binary masks leave along the outline.
    average = cv2.GaussianBlur(average, (0, 0), sigmaX=max(0.5, frame.size / 128))
    template_mask = average >= config.threshold - 1e-6
    agreement = float(np.mean([_iou(mask, template_mask) for mask in masks]))
    template = _trace_template(char, template_mask, config)
    return _Learned(template, len(examples), agreement if template is not None else 0.0)


def _normalised_mask(example: _Example, angle_deg: float, frame: _Frame) -> np.ndarray:
    """The stamp turned by ``angle_deg`` about its centroid, scaled to ``frame.size`` px
    high, its centroid on the frame's anchor; a bool mask."""
    cx, cy = example.centroid
    cos, sin = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    rotation = np.array([[cos, -sin, cx - cos * cx + sin * cy],
                         [sin, cos, cy - sin * cx - cos * cy]])
    turned = [p.transformed(rotation) for p in example.pieces] if angle_deg else example.pieces
    scale = frame.size / bounds_of(turned).height
    ax, ay = frame.anchor
    placing = np.array([[scale, 0.0, ax - scale * cx], [0.0, scale, ay - scale * cy]])
    return rasterize_polygons([p.transformed(placing) for p in turned], *frame.shape,
                              value=1).astype(bool)


def _best_tilt(example: _Example, reference: np.ndarray, frame: _Frame, max_tilt: float
               ) -> float:
    """The turn (within ±max_tilt degrees) that makes the example overlap ``reference`` most."""
    if max_tilt <= 0:
        return 0.0

    def score(angle: float) -> float:
        return _soft_iou(_normalised_mask(example, angle, frame), reference)

    coarse = np.arange(-max_tilt, max_tilt + 1e-9, _COARSE_STEP_DEG)
    tried = {float(angle): score(float(angle)) for angle in coarse}
    best = max(tried, key=tried.__getitem__)
    for step in _FINE_STEPS_DEG:
        if abs(best + step) <= max_tilt:
            tried[best + step] = score(best + step)
    return max(tried, key=tried.__getitem__)


def _soft_iou(mask: np.ndarray, reference: np.ndarray) -> float:
    """IoU of a binary mask with a mean of masks (each pixel weighted by its share)."""
    inside = reference[mask].sum()
    union = mask.sum() + reference.sum() - inside
    return float(inside / union) if union > 0 else 0.0


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def _trace_template(char: str, mask: np.ndarray, config: TemplateLearning
                    ) -> GlyphTemplate | None:
    """The thresholded mask as polygons with holes, in glyph units (box at the origin,
    height 1); None if nothing worth keeping is left."""
    size = config.raster_height
    # Specks and pin-holes a few examples leave near the threshold are not part of a font.
    min_area = (0.03 * size) ** 2
    traced = trace_mask(mask, tolerance=config.simplify * size, min_area=min_area)
    polygons = []
    for piece in traced:
        shape = piece.to_shapely()
        holes = [ring for ring in shape.interiors if Polygon(ring).area >= min_area]
        # The rasteriser also sets the pixels an outline runs through, so every example's
        # mask, and so the traced average, reaches about half a pixel beyond its outline.
        shape = Polygon(shape.exterior, holes).buffer(-0.5, join_style="mitre")
        polygons.extend(StampPolygon.from_shapely(part) for part in polygonal_parts(shape)
                        if part.area >= min_area)
    if not polygons:
        return None
    box = bounds_of(polygons)
    scale = 1.0 / box.height
    to_glyph = np.array([[scale, 0.0, -box.x0 * scale], [0.0, scale, -box.y0 * scale]])
    placed = tuple(polygon.transformed(to_glyph) for polygon in polygons)
    return GlyphTemplate(char=char, width=box.width * scale, polygons=placed)
