"""Learning glyph templates from labelled stamp polygons: shape, counters, splits, and
the label files that cannot be used."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest
import shapely
from PIL import Image
from project_builder import add_image, write_image

from billet_studio.annotations import BilletInfo, Project, ProjectConfig, Shape
from billet_studio.geometry import StampPolygon, bounds_of, rasterize_polygons
from billet_studio.glyphs import GlyphSet, load_glyph_set, save_glyph_set
from billet_studio.glyphs.learning import (
    LearningReport,
    TemplateLearning,
    learn_glyph_set,
    templates_from_polygons,
)
from billet_studio.glyphs.variation import StampVariation, vary_glyph

#: Whole, well stamps, deformed a little: stroke width, a gentle warp, slight shear.
MILD = StampVariation(partial_probability=0, poor_probability=0, rotation_deg=1.0,
                      shear_jitter=0.03, elastic_amplitude=0.01, stroke_change=0.15,
                      scale_jitter=0.03, aspect_jitter=0.03)
SQUARE = (StampPolygon([(0, 0), (1, 0), (1, 1), (0, 1)]),)


@pytest.fixture(scope="module")
def glyphs() -> GlyphSet:
    return load_glyph_set()


def stamp(glyphs: GlyphSet, char: str, rng: np.random.Generator,
          height: tuple[float, float] = (60, 120), origin: Sequence[float] | None = None
          ) -> tuple[StampPolygon, ...]:
    """A varied stamp of ``char`` in image pixels: scaled, tilted by up to ±4°, moved."""
    varied = vary_glyph(glyphs[char], rng, MILD, glyphs.stroke_width)
    scale = rng.uniform(*height)
    angle = math.radians(rng.uniform(-4, 4))
    x, y = rng.uniform(0, 400, 2) if origin is None else origin
    cos, sin = scale * math.cos(angle), scale * math.sin(angle)
    matrix = np.array([[cos, -sin, x], [sin, cos, y]])
    return tuple(polygon.transformed(matrix) for polygon in varied.polygons)


def scaled(polygons: Sequence[StampPolygon], size: float, origin=(0.0, 0.0)
           ) -> tuple[StampPolygon, ...]:
    matrix = np.array([[size, 0, origin[0]], [0, size, origin[1]]])
    return tuple(polygon.transformed(matrix) for polygon in polygons)


def normalised_mask(polygons: Sequence[StampPolygon], height: int = 64) -> np.ndarray:
    """Height scaled to ``height`` px, the centroid at a fixed point of the canvas.

    The centroid rather than the box corner: a box corner moves with any stray stroke end,
    and would count the same shape as different.
    """
    scale = height / bounds_of(polygons).height
    centroid = shapely.union_all([p.to_shapely() for p in polygons]).centroid
    matrix = np.array([[scale, 0, height - scale * centroid.x],
                       [0, scale, 0.75 * height - scale * centroid.y]])
    return rasterize_polygons(scaled_by(polygons, matrix), int(1.5 * height), 2 * height) > 0


def scaled_by(polygons: Sequence[StampPolygon], matrix: np.ndarray) -> list[StampPolygon]:
    return [polygon.transformed(matrix) for polygon in polygons]


def mask_iou(a: Sequence[StampPolygon], b: Sequence[StampPolygon]) -> float:
    mask_a, mask_b = normalised_mask(a), normalised_mask(b)
    return float((mask_a & mask_b).sum() / (mask_a | mask_b).sum())


def holes(polygons: Sequence[StampPolygon]) -> int:
    return sum(len(polygon.holes) for polygon in polygons)


def stamp_shapes(label: str, polygons: Sequence[StampPolygon], group_id: int,
                 **flags: bool) -> list[Shape]:
    """The labelme shapes of one stamp: an outline per piece and a hole shape per hole."""
    shapes = []
    for polygon in polygons:
        shapes.append(Shape(label, tuple(map(tuple, polygon.exterior.tolist())),
                            flags=dict(flags), group_id=group_id))
        shapes.extend(Shape(label, tuple(map(tuple, hole.tolist())), flags={"hole": True},
                            group_id=group_id) for hole in polygon.holes)
    return shapes


def row_of_stamps(glyphs: GlyphSet, chars: str, rng: np.random.Generator,
                  wrong: dict[str, dict[str, bool]] | None = None) -> list[Shape]:
    """Shapes of stamps in a row, 45-55 px high, inside a 100 x 80*len(chars) image.

    Characters named in ``wrong`` are drawn as squares instead, with those shape flags.
    """
    shapes: list[Shape] = []
    for index, char in enumerate(chars):
        origin = (20 + 80 * index, 20)
        if wrong is not None and char in wrong:
            polygons = scaled(SQUARE, 50, origin)
            shapes += stamp_shapes(char, polygons, index + 1, **wrong[char])
        else:
            polygons = stamp(glyphs, char, rng, (45, 55), origin)
            shapes += stamp_shapes(char, polygons, index + 1)
    return shapes


def make_project(tmp_path, glyphs: GlyphSet, trains: int = 6) -> Project:
    """Train images of '8', '0', 'B' (and one val image); test images of squares labelled
    '8'; train images also carry partial squares labelled '8'."""
    project = Project.create(tmp_path / "plant", ProjectConfig(name="plant-7"))
    rng = np.random.default_rng(11)
    for index in range(trains):
        shapes = row_of_stamps(glyphs, "80B8", rng, wrong={"8": {"partial": True}}
                               if index % 2 else None)
        add_image(project, f"train_{index}.png", shapes, BilletInfo(split="train"),
                  size=(100, 320))
    add_image(project, "val_0.png", row_of_stamps(glyphs, "80B", rng),
              BilletInfo(split="val"), size=(100, 240))
    for index in range(3):
        add_image(project, f"test_{index}.png", row_of_stamps(glyphs, "888", rng, {"8": {}}),
                  BilletInfo(split="test"), size=(100, 240))
    return project


# ---------------------------------------------------------------------------------------
# Learning from polygons


def test_learned_templates_match_the_font_the_stamps_were_punched_with(glyphs):
    rng = np.random.default_rng(2024)
    examples = {char: [stamp(glyphs, char, rng) for _ in range(16)] for char in "08BA"}
    learned = templates_from_polygons(examples)
    assert set(learned) == set("08BA")
    for char, template in learned.items():
        assert template.char == char
        iou = mask_iou(template.polygons, glyphs[char].polygons)
        assert iou > 0.9, (char, iou)
        # In glyph units: the box at the origin, unit height, the width is the box's.
        box = template.bounds()
        assert box.x0 == pytest.approx(0, abs=1e-9) and box.y0 == pytest.approx(0, abs=1e-9)
        assert box.height == pytest.approx(1.0)
        assert template.width == pytest.approx(box.width)
        # The ink's width: a learned glyph has no side bearings, the bundled ones have.
        assert template.width == pytest.approx(glyphs[char].bounds().width, abs=0.03)
        assert all(polygon.to_shapely().is_valid for polygon in template.polygons)


def test_counters_survive_learning(glyphs):
    rng = np.random.default_rng(8)
    examples = {char: [stamp(glyphs, char, rng) for _ in range(8)] for char in "80B"}
    learned = templates_from_polygons(examples)
    assert {char: holes(learned[char].polygons) for char in "80B"} == {"8": 2, "0": 1, "B": 2}


def test_untilted_exact_examples_give_the_template_back(glyphs):
    # Only size and position differ: what is left is the rasterising, at 128 px.
    examples = {"8": [scaled(glyphs["8"].polygons, size, (size, 2 * size))
                      for size in (40, 57, 83, 120)]}
    learned = templates_from_polygons(examples)["8"]
    assert mask_iou(learned.polygons, glyphs["8"].polygons) > 0.95


def test_a_character_with_too_few_examples_is_not_learned(glyphs):
    rng = np.random.default_rng(3)
    examples = {"8": [stamp(glyphs, "8", rng) for _ in range(2)],
                "0": [stamp(glyphs, "0", rng) for _ in range(3)]}
    assert set(templates_from_polygons(examples)) == {"0"}
    assert templates_from_polygons(examples, TemplateLearning(min_examples=4)) == {}


def test_config_refuses_nonsense():
    with pytest.raises(ValueError, match="threshold"):
        TemplateLearning(threshold=0.0)
    with pytest.raises(ValueError, match="min_examples"):
        TemplateLearning(min_examples=0)


# ---------------------------------------------------------------------------------------
# Learning from a project


def test_project_learning_ignores_test_images_and_partial_stamps(tmp_path, glyphs):
    project = make_project(tmp_path, glyphs)
    learned_set, report = learn_glyph_set(project, glyphs)
    assert isinstance(report, LearningReport)
    assert report.skipped_test_images == 3
    # Two '8's on each train image, on every other image both partial squares; one of
    # each character on the val image.
    assert report.learned == {"8": 7, "0": 7, "B": 7}
    assert report.kept == tuple(c for c in glyphs.chars if c not in "80B")
    assert report.warnings == ()
    eight = learned_set["8"]
    assert holes(eight.polygons) == 2
    assert mask_iou(eight.polygons, glyphs["8"].polygons) > 0.9
    assert learned_set.style == "learned from plant-7"
    assert learned_set.stroke_width == glyphs.stroke_width
    assert learned_set["7"] is glyphs["7"]
    assert learned_set.chars == glyphs.chars


def test_learning_reads_no_image_at_all(tmp_path, glyphs, monkeypatch):
    project = make_project(tmp_path, glyphs, trains=3)

    def refuse(*args, **kwargs):
        raise AssertionError(f"an image was opened: {args[0]}")

    monkeypatch.setattr(Image, "open", refuse)
    _, report = learn_glyph_set(project, glyphs)
    assert report.skipped_test_images == 3 and "8" in report.learned


def test_poor_stamps_count_unless_told_not_to(tmp_path, glyphs):
    project = Project.create(tmp_path / "p")
    rng = np.random.default_rng(5)
    for index in range(3):
        shapes = row_of_stamps(glyphs, "0", rng)
        shapes = [Shape(s.label, s.points, flags={**s.flags, "poor": not s.is_hole},
                        group_id=s.group_id) for s in shapes]
        add_image(project, f"poor_{index}.png", shapes, size=(100, 100))
    assert learn_glyph_set(project, glyphs)[1].learned == {"0": 3}
    _, report = learn_glyph_set(project, glyphs, TemplateLearning(use_poor=False))
    assert report.learned == {} and "0" in report.kept


def test_examples_that_disagree_keep_the_base_template_with_a_warning(tmp_path, glyphs):
    project = Project.create(tmp_path / "p")
    rng = np.random.default_rng(6)
    # Six different characters all labelled '7': a labelling mistake, not a font.
    for index, char in enumerate("17AMW0"):
        polygons = stamp(glyphs, char, rng, (45, 55), (20, 20))
        add_image(project, f"img_{index}.png", stamp_shapes("7", polygons, 1),
                  size=(100, 100))
    learned_set, report = learn_glyph_set(project, glyphs)
    assert report.learned == {} and "7" in report.kept
    assert learned_set["7"] is glyphs["7"]
    assert len(report.warnings) == 1 and "'7'" in report.warnings[0]


def test_broken_label_files_are_warnings_not_crashes(tmp_path, glyphs):
    project = make_project(tmp_path, glyphs, trains=3)
    write_image(project.root / "images" / "broken.png", 20, 20)
    broken = project.root / "images" / "broken.json"
    broken.write_text("{ not json", encoding="utf-8")
    add_image(project, "odd.png", stamp_shapes("#", scaled(SQUARE, 20, (5, 5)), 1),
              size=(40, 40))
    _, report = learn_glyph_set(project, glyphs)
    assert "8" in report.learned
    assert any("broken.json" in warning for warning in report.warnings)
    assert any("'#'" in warning for warning in report.warnings)


def test_a_learned_set_saves_and_loads(tmp_path, glyphs):
    rng = np.random.default_rng(9)
    learned = templates_from_polygons({c: [stamp(glyphs, c, rng) for _ in range(4)]
                                       for c in "8B"})
    glyph_set = GlyphSet({**glyphs.glyphs, **learned}, "learned", glyphs.stroke_width)
    save_glyph_set(glyph_set, tmp_path / "glyphs.json")
    loaded = load_glyph_set(tmp_path / "glyphs.json")
    assert holes(loaded["8"].polygons) == 2
    assert mask_iou(loaded["8"].polygons, learned["8"].polygons) > 0.99
