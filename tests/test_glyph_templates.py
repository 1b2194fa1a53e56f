"""Glyph templates: the bundled block punch font, its file format, and the script behind it."""

from __future__ import annotations

import importlib.util
import json
import string
import sys
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest

from billet_studio.annotations import AnnotationError
from billet_studio.glyphs import (
    GlyphSet,
    GlyphTemplate,
    glyph_set_document,
    load_glyph_set,
    project_glyph_set,
    save_glyph_set,
)
from billet_studio.glyphs.templates import bundled_glyphs_path

REPO = Path(__file__).resolve().parents[1]
HOLES = {"0": 1, "4": 1, "6": 1, "8": 2, "9": 1, "A": 1, "B": 2, "D": 1, "O": 1, "P": 1,
         "Q": 1, "R": 1}


@pytest.fixture(scope="module")
def glyphs() -> GlyphSet:
    return load_glyph_set()


@pytest.fixture(scope="module")
def make_glyphs() -> ModuleType:
    name = "make_glyphs_under_test"
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / "make_glyphs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # @dataclass looks the defining module up while it runs
    spec.loader.exec_module(module)
    return module


def _bundled_document() -> dict:
    return json.loads(bundled_glyphs_path().read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------
# The bundled font


def test_bundled_set_has_exactly_the_digits_and_capitals(glyphs):
    assert glyphs.chars == tuple(string.digits + string.ascii_uppercase)
    assert len(glyphs) == 36
    assert glyphs.style == "block punch" and glyphs.stroke_width == pytest.approx(0.14)


def test_exactly_the_characters_with_counters_have_holes(glyphs):
    holes = {char: sum(len(p.holes) for p in glyphs[char].polygons) for char in glyphs.chars}
    assert {char: n for char, n in holes.items() if n} == HOLES


def test_every_polygon_is_valid_and_inside_its_box(glyphs):
    for glyph in glyphs:
        assert glyph.polygons, glyph.char
        for polygon in glyph.polygons:
            assert polygon.to_shapely().is_valid, glyph.char
            assert len(polygon.exterior) <= 120, glyph.char
        box = glyph.bounds()
        assert box.x0 >= 0 and box.y0 >= 0, glyph.char
        assert box.x1 <= glyph.width and box.y1 <= 1.0, glyph.char
        # Every glyph is a full-height character that nearly fills its width.
        assert box.height > 0.99 and box.width > 0.9 * glyph.width, glyph.char


def test_character_widths_suit_a_block_font(glyphs):
    widths = {glyph.char: glyph.width for glyph in glyphs}
    assert all(0.35 <= width <= 0.85 for width in widths.values())
    assert widths["I"] < 0.5 and widths["1"] < 0.5
    assert widths["M"] > 0.7 and widths["W"] > 0.7


def test_stroke_width_is_uniform(glyphs):
    # The distance transform's ridge (local maxima) runs along each stroke's centre line,
    # where the distance is half the stroke width; a font with thick and thin strokes
    # spreads these values far beyond 25 % either side.
    height = 160
    stroke_px = glyphs.stroke_width * height
    for char in "0238AGKMQSWX":
        mask = glyphs[char].mask(height, margin_px=4)
        distance = cv2.distanceTransform(mask, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        ridge = (distance >= cv2.dilate(distance, np.ones((3, 3), np.uint8))) & (mask > 0)
        # A pixel centre sits half a pixel inside the stroke edge, hence the - 1.
        widths = 2 * distance[ridge] - 1
        low, median, high = np.percentile(widths, [5, 50, 95])
        assert median == pytest.approx(stroke_px, rel=0.1), char
        assert low > 0.75 * stroke_px and high < 1.25 * stroke_px, (char, low, high)


def test_zero_and_letter_o_differ(glyphs):
    zero, letter = glyphs["0"].mask(64), glyphs["O"].mask(64)
    width = max(zero.shape[1], letter.shape[1])

    def centred(mask: np.ndarray) -> np.ndarray:
        pad = width - mask.shape[1]
        return np.pad(mask, ((0, 0), (pad // 2, pad - pad // 2)))

    assert glyphs["0"].width < glyphs["O"].width
    assert np.mean(centred(zero) != centred(letter)) > 0.10


def test_mask_scales_the_unit_height(glyphs):
    glyph = glyphs["H"]
    mask = glyph.mask(50, margin_px=3)
    assert mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 255}
    assert mask.shape == (56, 30 + 6)
    rows, cols = np.nonzero(mask)
    # OpenCV also sets the pixels an outline runs along, so the far edges may gain a pixel.
    assert rows.min() == 3 and rows.max() in (52, 53)
    assert cols.min() == 3 and cols.max() in (32, 33)
    area = sum(polygon.area for polygon in glyph.polygons) * 50**2
    outline = sum(polygon.to_shapely().length for polygon in glyph.polygons) * 50
    assert np.count_nonzero(mask) == pytest.approx(area + outline / 2, rel=0.05)


def test_placed_applies_the_matrix(glyphs):
    glyph = glyphs["L"]
    placed = glyph.placed(np.array([[10.0, 0.0, 5.0], [0.0, 10.0, 7.0]]))
    box = placed[0].bounds()
    assert (box.x0, box.y0, box.y1) == pytest.approx((5.0, 7.0, 17.0))
    projective = glyph.placed(np.array([[10.0, 0, 5], [0, 10.0, 7], [0, 0, 1]]))
    assert np.allclose(projective[0].exterior, placed[0].exterior)


def test_missing_character_lists_what_is_available(glyphs):
    assert "A" in glyphs and "a" not in glyphs and "-" not in glyphs
    with pytest.raises(KeyError, match="0123456789ABC"):
        glyphs["a"]


# ---------------------------------------------------------------------------------------
# The file


def test_save_then_load_gives_an_equal_set(glyphs, tmp_path):
    path = tmp_path / "glyphs.json"
    save_glyph_set(glyphs, path)
    again = load_glyph_set(path)
    assert again == glyphs
    assert glyph_set_document(again) == glyph_set_document(glyphs)
    assert path.read_text(encoding="utf-8") == bundled_glyphs_path().read_text(encoding="utf-8")


def test_saving_rounds_coordinates_to_four_decimals(tmp_path):
    glyph = GlyphTemplate("T", 0.5, (load_glyph_set()["T"].polygons[0].transformed(
        np.array([[1.0, 0.0, 1e-7], [0.0, 1.0, 0.0]])),))
    path = tmp_path / "glyphs.json"
    save_glyph_set(GlyphSet({"T": glyph}), path)
    loaded = load_glyph_set(path)["T"]
    assert np.array_equal(loaded.polygons[0].exterior,
                          np.round(glyph.polygons[0].exterior, 4))


def test_project_uses_its_own_glyphs_or_the_bundled_set(glyphs, tmp_path):
    assert project_glyph_set(tmp_path) == glyphs
    own = GlyphSet({"X": glyphs["X"]}, style="plant B")
    save_glyph_set(own, tmp_path / "glyphs.json")
    assert project_glyph_set(tmp_path) == own


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "glyphs.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_corrupt_json_names_the_file(tmp_path):
    path = tmp_path / "glyphs.json"
    path.write_text('{"format": "billet-studio-glyphs", ', encoding="utf-8")
    with pytest.raises(AnnotationError, match="not valid JSON") as caught:
        load_glyph_set(path)
    assert caught.value.path == path and str(path) in str(caught.value)


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.update(format="labelme"), "is not a glyph file"),
    (lambda d: d.update(version=2), "version 2"),
    (lambda d: d.update(glyphs={}), "'glyphs' is not a non-empty object"),
    (lambda d: d["glyphs"]["B"]["polygons"][0]["holes"][1].__delitem__(slice(2, None)),
     "glyph 'B': hole 2 has 2 points"),
    (lambda d: d["glyphs"]["E"].update(polygons=[]), "glyph 'E': 'polygons' is not a non-empty"),
    (lambda d: d["glyphs"]["H"].update(width=-1), "glyph 'H': 'width' is not a positive"),
    (lambda d: d["glyphs"]["L"]["polygons"][0]["exterior"][0].__setitem__(0, "x"),
     "glyph 'L': exterior has a point that is not a pair of finite numbers"),
    (lambda d: d["glyphs"]["L"]["polygons"][0].update(
        exterior=[[0, 0], [1, 1], [1, 0], [0, 1]]),
     r"glyph 'L': the polygon is not a valid polygon \(Self-intersection"),
    (lambda d: d["glyphs"]["O"]["polygons"][0]["holes"][0].__setitem__(
        slice(None), [[-1, -1], [2, -1], [2, 2], [-1, 2]]),
     "glyph 'O': the polygon is not a valid polygon"),
])
def test_invalid_file_names_the_file_and_the_glyph(tmp_path, change, message):
    document = _bundled_document()
    change(document)
    path = _write(tmp_path, document)
    with pytest.raises(AnnotationError, match=message) as caught:
        load_glyph_set(path)
    assert caught.value.path == path


def test_second_polygon_is_named_in_messages(glyphs, tmp_path):
    document = glyph_set_document(GlyphSet({"I": glyphs["I"]}))
    polygons = document["glyphs"]["I"]["polygons"]
    polygons.append({"exterior": [[0, 0], [0.1, 0]], "holes": []})
    with pytest.raises(AnnotationError, match="glyph 'I': polygon 2, exterior has 2 points"):
        load_glyph_set(_write(tmp_path, document))


# ---------------------------------------------------------------------------------------
# The script that makes the font


def test_script_is_deterministic(make_glyphs):
    first = glyph_set_document(make_glyphs.build_glyph_set())
    second = glyph_set_document(make_glyphs.build_glyph_set())
    assert json.dumps(first) == json.dumps(second)


def test_committed_glyphs_match_the_script(make_glyphs):
    # Edit the skeletons in scripts/make_glyphs.py, then rerun it; never edit the JSON.
    made = glyph_set_document(make_glyphs.build_glyph_set())
    assert made == _bundled_document(), "resources/glyphs.json is stale: run " \
                                    "python scripts/make_glyphs.py --sheet docs/images/glyphs.png"
