"""Stamp variations: unique, exact, deterministic outlines; erasures of the asked size."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from billet_studio.geometry import bounds_of, rasterize_polygons
from billet_studio.glyphs import load_glyph_set
from billet_studio.glyphs.variation import StampVariation, vary_glyph

WELL = StampVariation(partial_probability=0.0, poor_probability=0.0)
PARTIAL = StampVariation(partial_probability=1.0)


@pytest.fixture(scope="module")
def glyphs():
    return load_glyph_set()


def test_same_seed_same_stamp_different_seed_different_stamp(glyphs):
    a = vary_glyph(glyphs["8"], np.random.default_rng(4), PARTIAL)
    b = vary_glyph(glyphs["8"], np.random.default_rng(4), PARTIAL)
    c = vary_glyph(glyphs["8"], np.random.default_rng(5), PARTIAL)
    assert a.polygons == b.polygons and np.array_equal(a.mask, b.mask)
    assert a.polygons != c.polygons


def test_whole_stamps_keep_their_counters_and_stay_close_to_the_template(glyphs):
    rng = np.random.default_rng(0)
    for char, holes in (("8", 2), ("B", 2), ("0", 1), ("4", 1), ("7", 0)):
        template = glyphs[char]
        template_area = sum(p.area for p in template.polygons)
        for _ in range(10):
            varied = vary_glyph(template, rng, WELL, glyphs.stroke_width)
            assert varied.visibility == "well" and varied.erase_mode is None
            assert sum(len(p.holes) for p in varied.polygons) == holes
            area = sum(p.area for p in varied.polygons)
            assert 0.6 * template_area < area < 1.5 * template_area
            assert all(p.to_shapely().is_valid for p in varied.polygons)


def test_partial_stamps_lose_the_asked_share_by_every_mode(glyphs):
    rng = np.random.default_rng(1)
    for mode in ("cut", "blob", "stroke_end"):
        config = StampVariation(partial_probability=1.0, erase_modes=(mode,),
                                erase_fraction=(0.3, 0.3))
        for char in "08AK":
            varied = vary_glyph(glyphs[char], rng, config)
            assert varied.visibility == "partial" and varied.erase_mode == mode
            assert varied.erased_fraction == pytest.approx(0.3, abs=0.03)


def test_erased_share_spans_the_configured_range(glyphs):
    rng = np.random.default_rng(2)
    shares = [vary_glyph(glyphs["5"], rng, PARTIAL).erased_fraction for _ in range(60)]
    assert 0.08 < min(shares) < 0.2 and 0.5 < max(shares) < 0.62
    modes = Counter(vary_glyph(glyphs["5"], rng, PARTIAL).erase_mode for _ in range(60))
    assert set(modes) == {"cut", "blob", "stroke_end"}


def test_box_is_the_visible_extent_and_the_mask_shows_the_polygons(glyphs):
    rng = np.random.default_rng(3)
    for _ in range(10):
        varied = vary_glyph(glyphs["R"], rng, PARTIAL)
        assert varied.box == bounds_of(varied.polygons)
        scale, (ox, oy) = varied.mask_scale, varied.mask_origin
        matrix = np.array([[scale, 0, -ox * scale], [0, scale, -oy * scale]])
        height, width = varied.mask.shape
        expected = rasterize_polygons([p.transformed(matrix) for p in varied.polygons],
                                      height, width)
        assert height == PARTIAL.mask_height
        assert np.array_equal(varied.mask, expected)
        assert varied.mask.any() and not varied.mask[0].any() and not varied.mask[-1].any()


def test_poor_stamps_are_complete_and_class_shares_follow_the_config(glyphs):
    rng = np.random.default_rng(6)
    config = StampVariation(partial_probability=0.3, poor_probability=0.5)
    classes = Counter(vary_glyph(glyphs["3"], rng, config).visibility for _ in range(400))
    assert classes["partial"] == pytest.approx(120, abs=30)
    assert classes["poor"] == pytest.approx(140, abs=30)  # half of the non-partial 70 %
    poor = vary_glyph(glyphs["3"], np.random.default_rng(8),
                      StampVariation(partial_probability=0.0, poor_probability=1.0))
    assert poor.visibility == "poor" and poor.erased_fraction == pytest.approx(0.0, abs=1e-9)


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="erase_fraction"):
        StampVariation(erase_fraction=(0.5, 0.2))
    with pytest.raises(ValueError, match="erase_modes"):
        StampVariation(erase_modes=("smudge",))


def test_framed_mask_frames_a_stamp_like_a_labelled_crop(glyphs):
    from billet_studio.geometry import paired_crop
    from billet_studio.glyphs.variation import framed_mask

    varied = vary_glyph(glyphs["8"], np.random.default_rng(0), WELL)
    mask = framed_mask(varied.polygons, 128)
    # The same stamp placed at 90 px height in a photo, cropped the way GAN pairs are.
    matrix = np.array([[90.0, 0, 200], [0, 90.0, 150]])
    placed = tuple(p.transformed(matrix) for p in varied.polygons)
    crop_mask, _ = paired_crop(np.zeros((400, 500, 3), np.uint8), placed, 128)
    assert mask.shape == (128, 128)
    assert abs((mask > 0).mean() - (crop_mask > 0).mean()) < 0.01
    assert (mask > 0).mean() > 0.15
