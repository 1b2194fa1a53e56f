"""Classical stamp shading: bevelled height maps, light only where the stamp is."""

from __future__ import annotations

import numpy as np

from billet_studio.glyphs.shading import StampShading, shade_stamp, stamp_height_map


def square_mask(size: int = 64) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    mask[20:44, 20:44] = 255
    return mask


def test_height_map_is_flat_outside_and_reaches_the_depth_inside():
    shading = StampShading(depth=0.8, bevel_px=3.0, softness_px=0.0)
    height = stamp_height_map(square_mask(), shading)
    assert height[:15].max() == 0.0 and height[:, 50:].max() == 0.0
    assert height[32, 32] == np.float32(-0.8)
    # The wall slopes down over the bevel width.
    assert 0 > height[32, 20] > height[32, 21] > height[32, 23] == np.float32(-0.8)


def test_shading_changes_only_the_stamp_and_its_rim():
    image = np.full((64, 64, 3), 120, np.uint8)
    shaded = shade_stamp(image, square_mask(), StampShading(softness_px=0.8))
    changed = np.abs(shaded.astype(int) - image.astype(int)).sum(axis=2) > 0
    assert changed[20:44, 20:44].any()
    rim = np.zeros_like(changed)
    rim[16:48, 16:48] = True
    assert not changed[~rim].any()


def test_light_side_walls_are_brighter_than_shadow_side_walls():
    image = np.full((64, 64, 3), 120, np.uint8)
    # Light from the left (azimuth 180): the wall facing it is the right-hand wall.
    shaded = shade_stamp(image, square_mask(), StampShading(light_azimuth_deg=180.0,
                                                            softness_px=0.0))
    lit = shaded[25:40, 42].astype(float).mean()
    shadow = shaded[25:40, 21].astype(float).mean()
    assert lit > 120 > shadow


def test_a_deep_stamp_has_more_contrast_than_a_shallow_one():
    image = np.full((64, 64, 3), 120, np.uint8)
    deep = shade_stamp(image, square_mask(), StampShading(depth=1.0))
    shallow = shade_stamp(image, square_mask(), StampShading(depth=0.3))
    assert np.abs(deep.astype(int) - 120).sum() > 2 * np.abs(shallow.astype(int) - 120).sum()


def test_float_images_stay_float():
    image = np.full((32, 32, 3), 100.0, np.float32)
    mask = np.zeros((32, 32), np.uint8)
    mask[8:24, 8:24] = 1
    assert shade_stamp(image, mask).dtype == np.float32
