"""Laying an ID out on a billet face: margins, lines, reading order, spacing, fitting."""

from __future__ import annotations

import math
import string

import numpy as np
import pytest

from billet_studio.glyphs.id_patterns import IdPattern
from billet_studio.glyphs.layout import GlyphPlacement, IdLayout, layout_id

# Mostly ~0.6 wide, with a few narrow and wide glyphs so spacing is not trivially uniform.
GLYPH_WIDTHS = {c: 0.6 for c in string.digits + string.ascii_uppercase} | {
    "1": 0.42, "I": 0.3, "M": 0.74, "W": 0.78, "-": 0.4, "/": 0.45, ".": 0.2,
}
FACE = (1024, 1024)
RANDOM_IDS = IdPattern.parse("[0-9A-Z]{10,12}")


def random_ids(count: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [RANDOM_IDS.generate(rng) for _ in range(count)]


def glyph_height(placement: GlyphPlacement) -> float:
    return float(np.hypot(placement.matrix[0, 1], placement.matrix[1, 1]))


def block_angle(placements: list[GlyphPlacement]) -> float:
    """The whole-ID rotation, read from the glyphs' x axes (exact when chars don't rotate)."""
    return float(np.mean([math.atan2(p.matrix[1, 0], p.matrix[0, 0]) for p in placements]))


def unrotated_corners(placements: list[GlyphPlacement]) -> list[np.ndarray]:
    """Each glyph's corners with the block rotation undone (x along the line, y down)."""
    angle = -block_angle(placements)
    undo = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return [p.corners(GLYPH_WIDTHS[p.char]) @ undo.T for p in placements]


def lines_of(placements: list[GlyphPlacement]) -> int:
    return max(p.line for p in placements) + 1


@pytest.mark.parametrize("face", [FACE, (900, 1300), (1300, 700)])
@pytest.mark.parametrize(
    "layout",
    [
        IdLayout(),
        IdLayout(two_lines_probability=0.0),
        IdLayout(two_lines_probability=1.0, rotation_deg=12.0),
        IdLayout(char_height=0.14, centre_jitter=0.2, margin=0.05),
    ],
)
def test_glyph_boxes_stay_inside_the_face_margin(face: tuple[int, int], layout: IdLayout):
    height, width = face
    rng = np.random.default_rng(1)
    low = np.array([width, height]) * layout.margin - 1e-6
    high = np.array([width, height]) * (1 - layout.margin) + 1e-6
    for billet_id in random_ids(200):
        placements = layout_id(billet_id, face, GLYPH_WIDTHS, rng, layout)
        assert "".join(p.char for p in placements) == billet_id
        corners = np.concatenate([p.corners(GLYPH_WIDTHS[p.char]) for p in placements])
        assert (corners >= low).all() and (corners <= high).all()


@pytest.mark.parametrize("probability", [0.5, 0.2, 0.0, 1.0])
def test_two_line_layouts_occur_with_the_set_probability(probability: float):
    layout = IdLayout(two_lines_probability=probability)
    rng = np.random.default_rng(2)
    two = [lines_of(layout_id("123456A7890", FACE, GLYPH_WIDTHS, rng, layout)) == 2
           for _ in range(1000)]
    # 4 standard deviations of a binomial proportion over 1000 draws is at most 0.064.
    assert abs(np.mean(two) - probability) <= 0.064


def test_default_split_is_even_with_the_longer_line_first():
    layout = IdLayout(two_lines_probability=1.0)
    rng = np.random.default_rng(3)
    for billet_id, first in (("123456A7890", 6), ("123456A789", 5), ("12 34", 2)):
        placements = layout_id(billet_id, FACE, GLYPH_WIDTHS, rng, layout)
        assert sum(p.line == 0 for p in placements) == first


def test_split_at_index_breaks_the_id_there():
    layout = IdLayout(two_lines_probability=1.0, split_at=7)
    placements = layout_id("123456A7890", FACE, GLYPH_WIDTHS, np.random.default_rng(4), layout)
    assert "".join(p.char for p in placements if p.line == 0) == "123456A"
    assert "".join(p.char for p in placements if p.line == 1) == "7890"
    with pytest.raises(ValueError, match="split_at=7 leaves an empty line"):
        layout_id("1234567", FACE, GLYPH_WIDTHS, np.random.default_rng(4), layout)


@pytest.mark.parametrize("char_rotation", [0.0, 2.0])
def test_characters_run_in_reading_order_along_the_line(char_rotation: float):
    layout = IdLayout(rotation_deg=15.0, char_rotation_deg=char_rotation)
    rng = np.random.default_rng(5)
    for billet_id in random_ids(200, seed=5):
        placements = layout_id(billet_id, FACE, GLYPH_WIDTHS, rng, layout)
        assert [p.index for p in placements] == list(range(len(billet_id)))
        centres = np.array([c.mean(axis=0) for c in unrotated_corners(placements)])
        lines = np.array([p.line for p in placements])
        assert (np.diff(lines) >= 0).all()
        for line in set(lines):
            assert (np.diff(centres[lines == line, 0]) > 0).all()
        if lines_of(placements) == 2:  # the second line lies below the first
            assert centres[lines == 1, 1].min() > centres[lines == 0, 1].max()


@pytest.mark.parametrize(
    ("char_rotation", "tolerance"), [(0.0, 1e-6), (2.0, 0.03)]  # in char heights
)
def test_neighbouring_boxes_on_a_line_do_not_overlap(char_rotation: float, tolerance: float):
    layout = IdLayout(char_rotation_deg=char_rotation, pitch_jitter=0.1, char_offset=0.1)
    rng = np.random.default_rng(6)
    for billet_id in [*random_ids(200, seed=6), "MWMWMWMWMW", "W1W1W1W1W1W"]:
        placements = layout_id(billet_id, FACE, GLYPH_WIDTHS, rng, layout)
        boxes = unrotated_corners(placements)
        for left, right, a, b in zip(boxes, boxes[1:], placements, placements[1:], strict=False):
            if a.line == b.line:
                slack = tolerance * glyph_height(a)
                assert left[:, 0].max() <= right[:, 0].min() + slack


def test_defaults_keep_an_eleven_character_id_at_full_size():
    rng = np.random.default_rng(7)
    nominal = 0.09 * 1024
    for _ in range(50):
        placements = layout_id("123456A7890", FACE, GLYPH_WIDTHS, rng)
        heights = [glyph_height(p) for p in placements]
        assert nominal * 0.95 - 1e-6 <= min(heights) <= max(heights) <= nominal * 1.05 + 1e-6


def test_a_very_long_id_is_scaled_down_to_fit_instead_of_leaving_the_face():
    layout = IdLayout(two_lines_probability=0.0)
    rng = np.random.default_rng(8)
    billet_id = "12345678901234567890"
    placements = layout_id(billet_id, FACE, GLYPH_WIDTHS, rng, layout)
    assert len(placements) == 20
    corners = np.concatenate([p.corners(GLYPH_WIDTHS[p.char]) for p in placements])
    assert corners.min() >= 0.1 * 1024 - 1e-6 and corners.max() <= 0.9 * 1024 + 1e-6
    # Unscaled, 20 cells at 0.72 char heights would span ~1330 px; the free face is 819 px.
    assert max(glyph_height(p) for p in placements) < 0.09 * 1024 * 0.7
    # The block fills the free width: it was shrunk only as far as needed.
    assert np.ptp(corners[:, 0]) > 0.95 * 0.8 * 1024 or np.ptp(corners[:, 1]) > 0.95 * 0.8 * 1024


def test_spaces_advance_the_pen_without_placing_a_glyph():
    layout = IdLayout(two_lines_probability=0.0, rotation_deg=0.0, char_rotation_deg=0.0,
                      pitch_jitter=0.0, char_offset=0.0, height_jitter=0.0)
    rng = np.random.default_rng(9)
    placements = layout_id("12 34", FACE, GLYPH_WIDTHS | {"2": 0.6, "3": 0.6}, rng, layout)
    assert [(p.char, p.index) for p in placements] == [("1", 0), ("2", 1), ("3", 3), ("4", 4)]
    x = [p.matrix[0, 2] for p in placements]
    pitch = 0.72 * glyph_height(placements[0])
    assert x[2] - x[1] == pytest.approx(2 * pitch)
    assert layout_id("   ", FACE, GLYPH_WIDTHS, rng, layout) == []


def test_missing_glyph_width_raises_key_error_naming_the_character():
    with pytest.raises(KeyError, match="'#'"):
        layout_id("1234#5", FACE, GLYPH_WIDTHS, np.random.default_rng(0))


def test_same_seed_gives_the_same_layout():
    def draw(seed: int) -> list[GlyphPlacement]:
        rng = np.random.default_rng(seed)
        return [p for billet_id in random_ids(20) for p in layout_id(
            billet_id, FACE, GLYPH_WIDTHS, rng)]

    assert draw(10) == draw(10)
    assert draw(10) != draw(11)


def test_placement_matrix_is_read_only_and_corners_follow_it():
    placement = layout_id("7", FACE, GLYPH_WIDTHS, np.random.default_rng(0))[0]
    with pytest.raises(ValueError, match="read-only"):
        placement.matrix[0, 0] = 2.0
    corners = placement.corners(0.6)
    assert corners.shape == (4, 2)
    assert np.allclose(corners[0], placement.matrix[:2, 2])


@pytest.mark.parametrize(
    "kwargs",
    [{"char_height": 0.0}, {"two_lines_probability": 1.5}, {"margin": 0.5},
     {"rotation_deg": -1.0}, {"height_jitter": 1.0}],
)
def test_layout_config_rejects_impossible_values(kwargs: dict):
    with pytest.raises(ValueError):
        IdLayout(**kwargs)
