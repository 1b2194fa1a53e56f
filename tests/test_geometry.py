"""Geometry: polygons with holes, validation and repair, clipping, masks, crop pairs."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from PIL import Image, ImageDraw

from billet_studio.geometry import (
    Box,
    StampPolygon,
    clip_polygon,
    crop_window,
    paired_crop,
    rasterize_polygons,
    rasterize_polygons_exact,
    repair_polygon,
    trace_mask,
    validate_polygon,
)

RING = StampPolygon([[10, 10], [50, 10], [50, 60], [10, 60]], [[[20, 20], [40, 20], [40, 30],
                                                                [20, 30]]])


def labelme_shape_to_mask(height: int, width: int, points: np.ndarray) -> np.ndarray:
    """labelme's own shape_to_mask for a polygon (PIL ImageDraw, outline included)."""
    mask = Image.fromarray(np.zeros((height, width), dtype=np.uint8))
    ImageDraw.Draw(mask).polygon([tuple(p) for p in points], outline=1, fill=1)
    return np.array(mask, dtype=bool)


def centre_distances(polygon: StampPolygon, height: int, width: int):
    """For every pixel centre: inside the polygon?, and distance to its outline."""
    rows, cols = np.mgrid[0:height, 0:width]
    xs, ys = cols.ravel() + 0.5, rows.ravel() + 0.5
    geometry = polygon.to_shapely()
    inside = shapely.contains_xy(geometry, xs, ys).reshape(height, width)
    distance = shapely.distance(geometry.boundary, shapely.points(xs, ys)).reshape(height, width)
    return inside, distance


def random_blob(rng: np.random.Generator, centre=(50, 50), radius=30, n=40) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = radius * rng.uniform(0.8, 1.2, n)
    return np.c_[centre[0] + r * np.cos(t), centre[1] + r * np.sin(t)]


def test_box_iou_and_clip():
    a, b = Box(0, 0, 10, 10), Box(5, 0, 15, 10)
    assert a.iou(b) == pytest.approx(50 / 150)
    assert a.iou(Box(20, 20, 30, 30)) == 0.0
    assert Box(-5, -5, 5, 5).clip(100, 100) == Box(0, 0, 5, 5)
    assert Box(120, 0, 130, 10).clip(100, 100) is None


def test_polygon_area_subtracts_holes_and_drops_closing_vertex():
    closed = StampPolygon([[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]])
    assert len(closed.exterior) == 4
    assert RING.area == pytest.approx(40 * 50 - 20 * 10)
    assert RING.to_shapely().area == pytest.approx(RING.area)


def test_mask_sets_every_pixel_whose_centre_is_inside_and_cuts_holes():
    rng = np.random.default_rng(1)
    outline = random_blob(rng, radius=35)
    hole = random_blob(rng, radius=10, n=12)
    polygon = StampPolygon(outline, [hole])
    mask = rasterize_polygons([polygon], 100, 100, value=1).astype(bool)
    inside, distance = centre_distances(polygon, 100, 100)
    away_from_outline = distance > 1.0
    assert np.array_equal(mask[away_from_outline], inside[away_from_outline])
    # The hole's middle is empty, the ring is full.
    assert not mask[50, 50]
    assert abs(mask.sum() - polygon.area) < polygon.to_shapely().length


def test_mask_agrees_with_labelme_except_on_outline_pixels():
    rng = np.random.default_rng(7)
    for _ in range(20):
        points = random_blob(rng)
        ours = rasterize_polygons([StampPolygon(points)], 100, 100, value=1).astype(bool)
        theirs = labelme_shape_to_mask(100, 100, points)
        _, distance = centre_distances(StampPolygon(points), 100, 100)
        differing = ours != theirs
        assert (distance[differing] <= 1.5).all(), "masks differ away from the outline"
        assert differing.sum() < StampPolygon(points).to_shapely().length


def test_mask_of_several_polygons_paints_each():
    a = StampPolygon([[0, 0], [10, 0], [10, 10], [0, 10]])
    b = StampPolygon([[20, 0], [30, 0], [30, 10], [20, 10]])
    mask = rasterize_polygons([a, b], 12, 32, value=1)
    assert mask[5, 5] == 1 and mask[5, 25] == 1 and mask[5, 15] == 0


def test_validate_names_the_shape_and_the_problem():
    bow_tie = StampPolygon([[0, 0], [10, 10], [10, 0], [0, 10]])
    problems = validate_polygon(bow_tie, "img.json: shape 3")
    assert problems and problems[0].startswith("img.json: shape 3")
    assert "Self-intersection" in problems[0]
    assert validate_polygon(RING) == []
    assert "zero area" in validate_polygon(StampPolygon([[0, 0], [5, 5], [10, 10]]))[0]
    assert "at least 3" in validate_polygon(StampPolygon([[0, 0], [5, 5]]))[0]


def test_repair_splits_a_bow_tie_and_reports_it():
    bow_tie = StampPolygon([[0, 0], [10, 10], [10, 0], [0, 10]])
    result = repair_polygon(bow_tie, "bow")
    assert len(result.polygons) == 2
    assert sum(p.area for p in result.polygons) == pytest.approx(50.0)
    assert all(p.to_shapely().is_valid for p in result.polygons)
    assert any("bow: repaired" in w for w in result.warnings)


def test_repair_drops_slivers_and_keeps_valid_polygons_untouched():
    assert repair_polygon(RING).polygons == (RING,) and not repair_polygon(RING).changed
    # A bow tie with one tiny lobe: the lobe is a sliver under the minimum area.
    lopsided = StampPolygon([[0, 0], [20, 20], [20, 0], [-0.5, 0.5]])
    result = repair_polygon(lopsided, "lop", min_area=1.0)
    assert len(result.polygons) == 1
    assert any("sliver" in w for w in result.warnings)
    empty = repair_polygon(StampPolygon([[0, 0], [1, 1], [2, 2]]), "line")
    assert empty.polygons == () and "zero area" in empty.warnings[-1]


def test_clip_polygon_to_image():
    inside = clip_polygon(RING, 100, 100)
    assert inside.polygons == (RING,) and not inside.changed
    half_out = StampPolygon([[-10, 0], [10, 0], [10, 10], [-10, 10]])
    clipped = clip_polygon(half_out, 100, 100, "s")
    assert clipped.polygons[0].area == pytest.approx(100.0)
    assert clipped.polygons[0].bounds() == Box(0, 0, 10, 10)
    assert clip_polygon(StampPolygon([[200, 0], [210, 0], [210, 5]]), 100, 100).polygons == ()


def test_transform_affine_and_projective():
    shift = np.array([[1.0, 0, 5], [0, 1.0, -2]])
    moved = RING.transformed(shift)
    assert moved.bounds() == Box(15, 8, 55, 58)
    assert len(moved.holes) == 1
    projective = np.array([[2.0, 0, 0], [0, 2.0, 0], [0, 0, 1.0]])
    assert RING.transformed(projective).area == pytest.approx(4 * RING.area)


def test_crop_window_is_square_with_margin():
    window = crop_window(Box(10, 20, 30, 60), margin=0.25)
    assert window.side == pytest.approx(40 * 1.5)
    assert (window.x0 + window.side / 2, window.y0 + window.side / 2) == (20.0, 40.0)


def test_paired_crop_aligns_mask_with_image():
    # An image that is bright exactly where the stamp is: the crop must show the stamp
    # where the mask says it is.
    image = np.zeros((120, 160, 3), dtype=np.uint8)
    stamp = StampPolygon([[40, 30], [90, 30], [90, 100], [40, 100]],
                         [[[55, 50], [75, 50], [75, 80], [55, 80]]])
    full = rasterize_polygons([stamp], 120, 160)
    image[full > 0] = 255
    mask, crop = paired_crop(image, stamp, size=128, margin=0.1)
    assert mask.shape == (128, 128) and crop.shape == (128, 128, 3)
    on = mask > 0
    assert crop[on].mean() > 200 and crop[~on].mean() < 40
    assert 0.3 < on.mean() < 0.7


def test_paired_crop_near_border_replicates_edge():
    image = np.full((50, 50, 3), 90, dtype=np.uint8)
    corner = StampPolygon([[0, 0], [20, 0], [20, 20], [0, 20]])
    mask, crop = paired_crop(image, corner, size=64, margin=0.5)
    assert (crop == 90).all()
    assert mask[32, 32] == 255 and mask[2, 2] == 0


def test_exact_rasterizer_sets_only_pixels_whose_centre_is_inside():
    rng = np.random.default_rng(3)
    polygon = StampPolygon(random_blob(rng, radius=35), [random_blob(rng, radius=10, n=12)])
    mask = rasterize_polygons_exact([polygon], 100, 100).astype(bool)
    inside, _ = centre_distances(polygon, 100, 100)
    assert np.array_equal(mask, inside)


def test_trace_mask_gives_exact_outlines_with_holes():
    mask = np.zeros((30, 40), dtype=np.uint8)
    mask[20:29, 30:39] = 1
    mask[23:26, 33:36] = 0
    mask[2, 2] = 1
    mask[14:17, 14] = 1  # a one-pixel-wide L
    mask[16, 14:18] = 1
    polygons = trace_mask(mask)
    assert sorted(p.area for p in polygons) == [1.0, 6.0, 72.0]
    ring = max(polygons, key=lambda p: p.area)
    assert ring.bounds() == Box(30, 20, 39, 29) and len(ring.holes) == 1
    assert np.array_equal(rasterize_polygons_exact(polygons, 30, 40), mask)


def test_trace_then_rasterize_round_trips_random_masks():
    rng = np.random.default_rng(5)
    for _ in range(5):
        noise = rng.random((20, 20)).repeat(3, 0).repeat(3, 1)
        mask = (noise > 0.55).astype(np.uint8)
        assert np.array_equal(rasterize_polygons_exact(trace_mask(mask), 60, 60), mask)
    assert trace_mask(np.zeros((5, 5))) == []
