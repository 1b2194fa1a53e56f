"""The project folder: project.toml, pairing by stem, paths kept inside, bad images."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image
from project_builder import RECTANGLE, SQUARE_WITH_HOLE, add_image, make_project, write_image

from billet_studio.annotations import (
    DEFAULT_CLASSES,
    AnnotationError,
    BilletInfo,
    IdFormat,
    Project,
    ProjectConfig,
    read_image,
    read_image_size,
)
from billet_studio.annotations.id_format import luhn_check_digit, mod11_check_digit


def test_create_writes_project_toml_and_open_reads_it_back(tmp_path):
    config = ProjectConfig(name="plant", classes=("0", "1", "A"), sites=("A", "B", "C"),
                           id_format=IdFormat(r"\d{5}", "luhn"))
    Project.create(tmp_path / "p", config)
    reopened = Project.open(tmp_path / "p")
    assert reopened.config == config and reopened.has_config_file
    with pytest.raises(AnnotationError, match="already exists"):
        Project.create(tmp_path / "p", config)


def test_default_config_reproduces_the_paper():
    config = ProjectConfig()
    assert config.classes == DEFAULT_CLASSES and len(config.classes) == 36
    assert config.sites == ("A", "B")
    assert IdFormat().matches("123456A7890")


@pytest.mark.parametrize(("text", "problem"), [
    ("[project\nname=", "is not valid TOML"),
    ('[project]\nclasses = ["1", "1"]', "lists a name twice"),
    ("[project]\nclasses = []", "classes is empty"),
    ('[id_format]\nregex = "(unclosed"', "is not valid"),
    ('[id_format]\ncheck_digit = "crc32"', "unknown check-digit rule"),
])
def test_broken_project_toml_names_the_file(tmp_path, text, problem):
    (tmp_path / "project.toml").write_text(text)
    with pytest.raises(AnnotationError) as caught:
        Project.open(tmp_path)
    assert "project.toml" in str(caught.value) and problem in str(caught.value)


def test_unknown_project_toml_tables_survive_a_save(tmp_path):
    (tmp_path / "project.toml").write_text('[project]\nname = "x"\n\n[plant]\nline = 3\n')
    project = Project.open(tmp_path)
    project.save_config()
    assert "[plant]" in (tmp_path / "project.toml").read_text()
    assert Project.open(tmp_path).config.extra == {"plant": {"line": 3}}


def test_plain_labelme_folder_is_a_project_with_classes_from_labels(tmp_path):
    project = make_project(tmp_path / "made")
    add_image(project, "a.png", (*SQUARE_WITH_HOLE, RECTANGLE))
    plain = tmp_path / "plain"
    shutil.copytree(project.root / "images", plain)  # no project.toml, no images/ folder
    opened = Project.open(plain)
    assert not opened.has_config_file
    assert opened.config.classes == ("3", "8")
    assert len(opened.load_records()[0].stamps) == 2


def test_images_pair_with_sidecars_by_stem_after_the_folder_moves(tmp_path):
    project = make_project(tmp_path / "old")
    add_image(project, "a.png")
    sidecar = project.root / "images" / "a.json"
    document = json.loads(sidecar.read_text())
    document["imagePath"] = "../images/a.png"  # still inside the project, but stale
    sidecar.write_text(json.dumps(document))
    moved = tmp_path / "new" / "place"
    shutil.move(str(project.root), moved)
    record = Project.open(moved).load_records()[0]
    assert record.image_path == (moved / "images" / "a.png").resolve()
    assert len(record.stamps) == 1


def test_image_path_escaping_the_project_is_an_error(tmp_path):
    project = make_project(tmp_path / "p")
    add_image(project, "a.png")
    sidecar = project.root / "images" / "a.json"
    document = json.loads(sidecar.read_text())
    document["imagePath"] = "../../../etc/passwd"
    sidecar.write_text(json.dumps(document))
    with pytest.raises(AnnotationError, match="points outside the project folder"):
        project.load_record(project.root / "images" / "a.png")


def test_wrong_image_size_in_sidecar_is_an_error(tmp_path):
    project = make_project(tmp_path / "p")
    add_image(project, "a.png")
    sidecar = project.root / "images" / "a.json"
    document = json.loads(sidecar.read_text())
    document["imageWidth"] = 999
    sidecar.write_text(json.dumps(document))
    before = sidecar.read_bytes()
    with pytest.raises(AnnotationError, match=r"a.json: says the image is 999x100"):
        project.load_record(project.root / "images" / "a.png")
    assert sidecar.read_bytes() == before


def test_exif_rotated_image_size_is_as_displayed(tmp_path):
    path = tmp_path / "r.jpg"
    image = Image.fromarray(np.zeros((40, 80, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees for display
    image.save(path, exif=exif)
    assert read_image_size(path) == (80, 40)
    assert read_image(path).shape == (80, 40, 3)


def test_undecodable_truncated_and_bomb_images_are_errors(tmp_path):
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"not an image at all")
    with pytest.raises(AnnotationError, match=r"garbage\.png: is not an image"):
        read_image_size(garbage)
    good = write_image(tmp_path / "good.png", 60, 60)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(AnnotationError, match=r"truncated\.png"):
        read_image(truncated)
    bomb = tmp_path / "bomb.png"
    Image.new("1", (12_000, 12_000)).save(bomb)  # 144 MP of zeros compresses to kB
    assert bomb.stat().st_size < 100_000
    with pytest.raises(AnnotationError, match="over the limit"):
        read_image(bomb)


def test_save_record_rewrites_image_path_relative_to_sidecar(tmp_path):
    project = make_project(tmp_path / "p")
    record = add_image(project, "sub/a.png", billet=BilletInfo(site="B"))
    document = json.loads((project.root / "images" / "sub" / "a.json").read_text())
    assert document["imagePath"] == "a.png"
    assert document["billet"] == {"site": "B"}
    assert project.load_record(record.image_path).billet.site == "B"


def test_output_folders_are_not_scanned_for_photographs(tmp_path):
    project = make_project(tmp_path / "p")
    add_image(project, "a.png")
    write_image(project.root / "datasets" / "x" / "images" / "s.png")
    assert [p.name for p in project.image_paths()] == ["a.png"]


@pytest.mark.parametrize(("rule", "payload", "digit"), [
    (luhn_check_digit, "7992739871", "3"),        # the textbook Luhn example
    (luhn_check_digit, "US037833100", "5"),       # ISIN US0378331005: letters expand
    (mod11_check_digit, "000000021825009", "7"),  # ORCID 0000-0002-1825-0097
    (mod11_check_digit, "000000021694233", "X"),  # ORCID 0000-0002-1694-233X
])
def test_check_digit_rules_match_published_examples(rule, payload, digit):
    assert rule(payload) == digit


def test_id_format_names_what_is_wrong():
    plain = IdFormat(r"\d{6}[A-Z]\d{4}")
    assert plain.matches("123456A7890")
    assert "does not match" in plain.problem("12345A7890")
    checked = IdFormat(r"\d{11}", "luhn")
    assert checked.matches("79927398713")
    assert "fails its luhn check digit" in checked.problem("79927398714")


def test_images_sharing_a_stem_are_an_error_for_both(tmp_path):
    project = make_project(tmp_path / "p")
    add_image(project, "x.png")
    write_image(project.root / "images" / "x.jpg")
    items = list(project.iter_records())
    assert len(items) == 2 and all(isinstance(i, AnnotationError) for i in items)
    assert "shares its label file x.json with x.png" in str(items[0])
    with pytest.raises(AnnotationError, match="shares its label file"):
        project.load_records()


def test_image_linked_from_outside_the_project_is_refused(tmp_path):
    outside = write_image(tmp_path / "elsewhere" / "x.png")
    (tmp_path / "elsewhere" / "x.json").write_text('{"shapes": []}')
    project = make_project(tmp_path / "p")
    add_image(project, "a.png")
    (project.root / "images" / "link.png").symlink_to(outside)
    with pytest.raises(AnnotationError, match=r"is a link to .*outside the project folder"):
        project.load_record(project.root / "images" / "link.png")


def test_plain_folder_classes_sort_numbers_naturally(tmp_path):
    from billet_studio.annotations import order_classes

    assert order_classes({"10", "2", "B", "A", "1", "-"}) == ("1", "2", "10", "A", "B", "-")


def test_image_size_reads_the_header_only(tmp_path, monkeypatch):
    from PIL import PngImagePlugin

    png = write_image(tmp_path / "a.png", 30, 50)
    rotated = tmp_path / "r.png"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (50, 30)).save(rotated, exif=exif)

    def no_decoding(self):
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", no_decoding)
    assert read_image_size(png) == (30, 50)
    assert read_image_size(rotated) == (50, 30)
