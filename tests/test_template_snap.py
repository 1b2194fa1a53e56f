"""Template snap: a glyph fitted to a box as grouped polygons with holes, and Refine."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import shapely

from billet_studio.annotations import Shape, editing, stamps_from_shapes
from billet_studio.geometry import Box, StampPolygon, bounds_of, rasterize_polygons
from billet_studio.glyphs import load_glyph_set
from billet_studio.glyphs.snap import RefineFailed, fit_template, refine_to_edges


def _area_iou(a, b) -> float:
    union_a = shapely.union_all([p.to_shapely() for p in a])
    union_b = shapely.union_all([p.to_shapely() for p in b])
    return union_a.intersection(union_b).area / union_a.union(union_b).area


def test_a_fitted_template_fills_its_box_and_keeps_its_holes():
    glyphs = load_glyph_set()
    box = Box(100.0, 50.0, 130.0, 96.0)
    polygons = fit_template(glyphs["8"], box)
    fitted = bounds_of(polygons)
    assert (fitted.x0, fitted.y0, fitted.x1, fitted.y1) == pytest.approx(
        (100.0, 50.0, 130.0, 96.0), abs=1e-6)
    assert sum(len(p.holes) for p in polygons) == 2  # an 8 has two cut-outs


def test_snapping_replaces_the_box_with_a_grouped_stamp_the_labels_read_back():
    glyphs = load_glyph_set()
    box = Shape("", ((10.0, 10.0), (40.0, 56.0)), "rectangle")
    other = Shape("3", ((60.0, 10.0), (90.0, 56.0)), "rectangle")
    shapes = [box, other]
    polygons = fit_template(glyphs["8"], Box(10, 10, 40, 56))
    edit = editing.add_stamps(shapes, [("8", polygons, {})], replacing=[0])
    after = [s for i, s in enumerate(shapes) if i not in {i for i, _ in edit.removed}]
    for index, shape in edit.added:
        after.insert(index, shape)
    assert after[0] == other
    assert [s.is_hole for s in after[1:]] == [False, True, True]
    assert {s.group_id for s in after[1:]} == {1} and {s.label for s in after[1:]} == {"8"}
    stamps, warnings = stamps_from_shapes(after, 200, 100)
    assert warnings == [] and [s.label for s in stamps] == ["3", "8"]
    assert len(stamps[1].polygons[0].holes) == 2
    assert editing.stamp_of(after, 2) == [1, 2, 3]


def test_refine_aligns_a_misplaced_template_with_the_stamp_in_the_photo():
    glyphs = load_glyph_set()
    truth = fit_template(glyphs["4"], Box(52.0, 40.0, 88.0, 100.0))
    mask = rasterize_polygons(truth, 150, 150)
    face = np.full((150, 150), 185, np.uint8)
    face[mask > 0] = 70
    rng = np.random.default_rng(0)
    noisy = np.clip(cv2.GaussianBlur(face, (0, 0), 1.2) + rng.normal(0, 6, face.shape),
                    0, 255).astype(np.uint8)
    pixels = np.dstack([noisy] * 3)
    guess = fit_template(glyphs["4"], Box(47.0, 44.0, 86.0, 108.0))  # off by a few px
    before = _area_iou(guess, truth)
    refined = refine_to_edges(pixels, guess)
    assert before < 0.75 < 0.9 < _area_iou(refined, truth)


def test_refine_refuses_a_blank_face_rather_than_jumping():
    glyphs = load_glyph_set()
    blank = np.full((120, 120, 3), 128, np.uint8)
    with pytest.raises(RefineFailed):
        refine_to_edges(blank, fit_template(glyphs["7"], Box(40, 30, 70, 80)))
    with pytest.raises(RefineFailed, match="too small"):
        refine_to_edges(blank, [StampPolygon(((200, 200), (203, 200), (203, 203)))])
