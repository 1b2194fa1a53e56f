"""The generator bundled in models/: small enough, checked on load, renders stamps."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from billet_studio.gan.bundled import bundled_generator_path
from billet_studio.gan.render import StampRenderer
from billet_studio.glyphs import load_glyph_set
from billet_studio.glyphs.variation import StampVariation, framed_mask, vary_glyph

path = bundled_generator_path()
pytestmark = pytest.mark.skipif(path is None, reason="no bundled generator in models/")


def test_bundled_generator_is_fp16_small_and_documented():
    assert path.stat().st_size <= 25 * 1024 * 1024
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["config"]["preset"] == "small" and sidecar["dtype"] == "float16"
    assert sidecar["trained_with"].startswith("billet-studio gan train")
    assert (path.parent / "README.md").read_text().count(str(sidecar["step"])) >= 1


def test_bundled_generator_renders_dark_stamps_where_the_mask_is():
    renderer = StampRenderer([(path, 1.0)])
    glyphs = load_glyph_set()
    rng = np.random.default_rng(0)
    masks = np.stack([
        framed_mask(vary_glyph(glyphs[c], rng, StampVariation(partial_probability=0.0)).polygons,
                    renderer.size) for c in "08AK"])
    stamps, _ = renderer.render(masks)
    grey = stamps.astype(float).mean(axis=3)
    inside, outside = grey[masks > 0].mean(), grey[masks == 0].mean()
    # Stamps are impressions: the GAN learned to draw them darker than the face around.
    assert inside < outside - 5


def test_gan_render_with_the_bundled_generator(tmp_path):
    import cv2

    from billet_studio.cli import main

    masks = tmp_path / "masks"
    masks.mkdir()
    glyphs = load_glyph_set()
    varied = vary_glyph(glyphs["7"], np.random.default_rng(1), StampVariation())
    cv2.imwrite(str(masks / "seven.png"), framed_mask(varied.polygons, 96))
    assert main(["gan", "render", "--checkpoint", "bundled", "--masks", str(masks),
                 "--out", str(tmp_path / "out")]) == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["checkpoints"][0]["path"] == str(path)
    assert cv2.imread(str(tmp_path / "out" / "seven.png")).shape == (96, 96, 3)
