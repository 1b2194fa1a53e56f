"""Synthetic billets: exact labels, visibility mix, clipping, surfaces, preview CLI."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from billet_studio.annotations import BilletInfo, IdFormat, ProjectConfig
from billet_studio.annotations.labelme import read_labelme
from billet_studio.cli import main
from billet_studio.geometry import Box, rasterize_polygons
from billet_studio.glyphs import load_glyph_set
from billet_studio.synthesis import (
    ClassicalRenderer,
    CompositeConfig,
    FaceWarp,
    Surface,
    SurfaceBank,
    VisibilityMix,
    compose_billet,
)
from billet_studio.synthesis.surfaces import face_region, load_face

GLYPHS = load_glyph_set()
SIZE = 256


def white_stamps(masks, patches, rng):
    """A renderer that paints every stamp pure white: its pixels are easy to find."""
    return np.repeat(masks[..., None], 3, axis=3)


def plain(**changes) -> CompositeConfig:
    base = dict(size=SIZE, hue_jitter_deg=0.0, saturation_jitter=0.0, value_jitter=0.0,
                alpha_grow_px=0.0, alpha_blur_px=0.0)
    base.update(changes)
    return CompositeConfig(**base)


@pytest.mark.parametrize("seed", range(6))
def test_labels_are_exactly_where_the_stamps_are(seed):
    rng = np.random.default_rng(seed)
    face = np.zeros((SIZE, SIZE, 3), np.uint8)
    config = plain(mix=VisibilityMix(well=0.5, partial=0.5))
    billet = compose_billet(face, GLYPHS, "12345AB890", white_stamps, 64, rng, config)
    assert len(billet.stamps) == 10 and not billet.warnings
    drawn = cv2.cvtColor(billet.image, cv2.COLOR_RGB2GRAY) > 127
    labelled = rasterize_polygons([p for s in billet.stamps for p in s.polygons], SIZE,
                                  SIZE) > 0
    overlap = (drawn & labelled).sum() / max((drawn | labelled).sum(), 1)
    assert overlap > 0.8  # the outlines trace the painted pixels (only edges differ)
    in_a_box = np.zeros_like(drawn)
    for stamp in billet.stamps:
        box = stamp.box
        assert drawn[int(box.y0):int(np.ceil(box.y1)), int(box.x0):int(np.ceil(box.x1))].any()
        in_a_box[max(int(box.y0) - 1, 0):int(np.ceil(box.y1)) + 1,
                 max(int(box.x0) - 1, 0):int(np.ceil(box.x1)) + 1] = True
        assert stamp.synthetic and stamp.label in "12345AB890"
    assert not (drawn & ~in_a_box).any()  # no stamp pixel outside every box


def test_visibility_mix_sets_partial_and_poor_stamps():
    rng = np.random.default_rng(1)
    face = np.zeros((SIZE, SIZE, 3), np.uint8)
    partial = compose_billet(face, GLYPHS, "0123456789", white_stamps, 64, rng,
                             plain(mix=VisibilityMix(well=0.0, partial=1.0)))
    kinds = [s.visibility for s in partial.stamps]
    assert partial.visibility == "partial" and 1 <= kinds.count("partial") <= 4
    poor = compose_billet(face, GLYPHS, "0123456789", white_stamps, 64, rng,
                          plain(mix=VisibilityMix(well=0.0, poor=1.0, partial=0.0)))
    assert {s.visibility for s in poor.stamps} == {"poor"}
    with pytest.raises(ValueError, match="sum to 1"):
        VisibilityMix(well=0.5, poor=0.0, partial=0.6)


def test_stamps_pushed_off_the_image_are_clipped_or_dropped():
    face = np.zeros((SIZE, SIZE, 3), np.uint8)
    # The ID is laid out in a region hanging off the left edge.
    region = Box(-150.0, 60.0, 150.0, 200.0)
    clipped = dropped = 0
    for seed in range(5):
        billet = compose_billet(face, GLYPHS, "0123456789", white_stamps, 64,
                                np.random.default_rng(seed), plain(warp=FaceWarp(0, 0, 0)),
                                region)
        dropped += len(billet.warnings)
        for stamp in billet.stamps:
            for polygon in stamp.polygons:
                assert polygon.exterior.min() >= 0 and polygon.exterior.max() <= SIZE
            clipped += stamp.box.x0 <= 1e-6
            if stamp.box.x0 <= 1e-6:
                assert stamp.visibility == "partial"
    assert dropped and clipped


def test_same_seed_same_billet_and_poisson_blending_near_borders():
    face = np.full((SIZE, SIZE, 3), 90, np.uint8)
    runs = [compose_billet(face, GLYPHS, "A1B2C3", ClassicalRenderer(), 64,
                           np.random.default_rng(7), CompositeConfig(size=SIZE))
            for _ in range(2)]
    assert np.array_equal(runs[0].image, runs[1].image)
    assert [s.box for s in runs[0].stamps] == [s.box for s in runs[1].stamps]
    corner = Box(0.0, 0.0, 80.0, 60.0)  # stamps at the image's corner
    billet = compose_billet(face, GLYPHS, "88", ClassicalRenderer(), 64,
                            np.random.default_rng(3),
                            CompositeConfig(size=SIZE, poisson=True), corner)
    assert billet.image.shape == (SIZE, SIZE, 3) and billet.stamps


def test_face_region_finds_the_face_on_a_dark_background():
    image = np.full((400, 400, 3), 15, np.uint8)
    square = cv2.boxPoints(((200, 210), (260, 250), 8)).astype(np.int32)
    cv2.fillPoly(image, [square], (150, 140, 130))
    region = face_region(image)
    assert 60 < region.x0 < 120 and 280 < region.x1 < 340
    for x in (region.x0 + 1, region.x1 - 2):
        for y in (region.y0 + 1, region.y1 - 2):
            assert image[int(y), int(x), 0] == 150  # every corner is on the face
    texture = np.random.default_rng(0).integers(60, 200, (400, 400, 3), dtype=np.uint8)
    assert face_region(texture) == Box(0.0, 0.0, 400.0, 400.0)


def test_a_corrupt_surface_is_skipped_with_a_warning(tmp_path):
    good = tmp_path / "good.png"
    cv2.imwrite(str(good), np.full((64, 64, 3), 120, np.uint8))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff not really a jpeg")
    bank = SurfaceBank([Surface(bad), Surface(good)], 64)
    for seed in range(4):
        face, _, surface = bank.draw(np.random.default_rng(seed))
        assert surface.path == good and face.shape == (64, 64, 3)
    assert len(bank.warnings) == 1 and "bad.jpg" in bank.warnings[0]


def make_project(tmp_path):
    from project_builder import add_image, make_project, write_image

    from billet_studio.annotations import Shape

    project = make_project(tmp_path / "proj", ProjectConfig(
        id_format=IdFormat(r"\d{4}[A-Z]\d{2}")))
    for index in range(2):
        write_image(project.root / "surfaces" / "A" / f"face_{index}.png", 200, 200, index)
    shape = Shape("8", ((30.0, 30.0), (60.0, 30.0), (60.0, 70.0), (30.0, 70.0)))
    add_image(project, "train.png", (shape,), BilletInfo(site="B", split="train"),
              size=(120, 120))
    return project


def test_inpainting_a_training_photo_changes_only_its_stamps(tmp_path):
    project = make_project(tmp_path)
    record = project.load_records()[0]
    original = load_face(Surface(record.image_path), 120)
    inpainted = load_face(Surface(record.image_path, record=record), 120)
    changed = np.any(original != inpainted, axis=2)
    assert changed[35:65, 35:55].any()
    assert not changed[:20].any() and not changed[:, 90:].any()


def test_synth_preview_cli_writes_billets_sidecars_and_a_contact_sheet(tmp_path, capsys):
    project = make_project(tmp_path)
    out = tmp_path / "preview"
    code = main(["synth", "preview", str(project.root), "--out", str(out), "-n", "3",
                 "--size", "256", "--characters", "7", "--inpaint-training"])
    assert code == 0, capsys.readouterr().err
    assert (out / "contact_sheet.png").is_file()
    record = read_labelme(out / "images" / "synthetic_0001.json",
                          out / "images" / "synthetic_0001.png")
    assert record.width == 256 and record.billet.extra["synthetic"] is True
    assert record.stamps and all(s.label.isalnum() for s in record.stamps)
    assert all(shape.flags.get("synthetic") for shape in record.shapes)
    document = json.loads((out / "images" / "synthetic_0001.json").read_text())
    assert document["imagePath"] == "synthetic_0001.png"


def test_the_gan_renderer_plugs_in():
    pytest.importorskip("torch")
    from billet_studio.gan.bundled import bundled_generator_path
    from billet_studio.gan.render import StampRenderer

    path = bundled_generator_path()
    if path is None:
        pytest.skip("no bundled generator in this checkout")
    renderer = StampRenderer([(path, 1.0)])
    face = np.full((SIZE, SIZE, 3), 100, np.uint8)
    billet = compose_billet(face, GLYPHS, "4711", renderer, renderer.size,
                            np.random.default_rng(0), CompositeConfig(size=SIZE))
    assert len(billet.stamps) == 4
    assert np.abs(billet.image.astype(int) - 100).sum() > 0
