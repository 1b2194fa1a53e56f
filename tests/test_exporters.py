"""Tests for exporting a project to COCO and YOLO, and for a COCO export-import round trip."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from pycocotools.coco import COCO

from billet_studio.annotations import AnnotationError, BilletInfo, ImageRecord, Project, Shape
from billet_studio.annotations.exporters import EXPORT_FORMATS, export_coco, export_yolo
from billet_studio.annotations.importers import import_annotations

SQUARE = ((5.0, 5.0), (15.0, 5.0), (15.0, 15.0), (5.0, 15.0))
HOLE = ((8.0, 8.0), (12.0, 8.0), (12.0, 12.0), (8.0, 12.0))


def add_image(
    project: Project, name: str, size: tuple[int, int], shapes: tuple[Shape, ...],
    split: str | None = None,
) -> None:
    path = project.root / "images" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    Image.new("RGB", (width, height), (len(name) * 20, 60, 60)).save(path)
    project.save_record(ImageRecord(
        image_path=path, height=height, width=width, shapes=shapes,
        billet=BilletInfo(split=split),
    ))


@pytest.fixture
def project(tmp_path: Path) -> Project:
    project = Project.create(tmp_path / "proj")
    add_image(project, "a.png", (40, 30), (
        Shape("3", SQUARE, "polygon", group_id=1),
        Shape("3", HOLE, "polygon", {"hole": True}, group_id=1),
        Shape("A", ((20.0, 2.0), (30.0, 12.0)), "rectangle", {"partial": True}),
    ))
    add_image(project, "b.png", (20, 10), (
        Shape("7", ((2.0, 1.0), (12.0, 9.0)), "rectangle", {"poor": True}),
        Shape("foo", ((0.0, 0.0), (5.0, 5.0)), "rectangle"),
    ), split="test")
    add_image(project, "sub/c.png", (16, 16), ())
    return project


def load_coco(path: Path) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        return COCO(str(path))


def test_coco_export_loads_in_pycocotools(project: Project, tmp_path: Path) -> None:
    out = tmp_path / "coco"
    report = export_coco(project, out)
    assert EXPORT_FORMATS == ("coco", "yolo")
    assert report.files_written == (out / "train.json", out / "test.json")
    assert report.images_per_split == {"train": 2, "test": 1}
    assert not (out / "val.json").exists()
    assert any("'foo'" in w for w in report.warnings)

    train = load_coco(out / "train.json")
    assert [train.imgs[i]["file_name"] for i in sorted(train.imgs)] == [
        "images/a.png", "images/sub/c.png",
    ]
    [a_id] = [i for i, image in train.imgs.items() if image["file_name"] == "images/a.png"]
    three, letter_a = train.loadAnns(train.getAnnIds(imgIds=[a_id]))
    assert (three["category_id"], three["bbox"], three["area"]) == (4, [5, 5, 10, 10], 84)
    # A stamp with a hole is an RLE mask: exactly the pixels whose centre is in the ring.
    expected = np.zeros((train.imgs[a_id]["height"], train.imgs[a_id]["width"]), np.uint8)
    expected[5:15, 5:15] = 1
    expected[8:12, 8:12] = 0
    assert np.array_equal(train.annToMask(three), expected)
    assert (letter_a["category_id"], letter_a["bbox"], letter_a["area"]) == (
        11, [20, 2, 10, 10], 100)
    assert letter_a["segmentation"] == [[20, 2, 30, 2, 30, 12, 20, 12]]
    assert letter_a["attributes"] == {"partial": True, "poor": False}
    assert train.getAnnIds(catIds=[11]) == [letter_a["id"]]
    assert len(train.loadCats(train.getCatIds())) == len(project.config.classes)
    assert train.loadCats([11])[0] == {"id": 11, "name": "A", "supercategory": "character"}
    assert train.dataset["billet_studio"] == {"project_root": str(project.root), "split": "train"}

    test = load_coco(out / "test.json")
    [seven] = test.loadAnns(test.getAnnIds())
    assert (seven["category_id"], seven["bbox"], seven["iscrowd"]) == (8, [2, 1, 10, 8], 0)
    assert seven["attributes"] == {"partial": False, "poor": True}


def read_yolo_label(path: Path) -> list[tuple[int, list[float]]]:
    rows = [line.split() for line in path.read_text().splitlines()]
    return [(int(row[0]), [float(v) for v in row[1:]]) for row in rows]


def test_yolo_export(project: Project, tmp_path: Path) -> None:
    out = tmp_path / "yolo"
    report = export_yolo(project, out)
    assert report.images_per_split == {"train": 2, "test": 1}
    assert any("val split" in w for w in report.warnings)

    a_lines = read_yolo_label(out / "labels" / "train" / "a.txt")
    assert [cls for cls, _ in a_lines] == [3, 10]
    assert a_lines[0][1] == pytest.approx([10 / 40, 10 / 30, 10 / 40, 10 / 30], abs=1e-6)
    assert a_lines[1][1] == pytest.approx([25 / 40, 7 / 30, 10 / 40, 10 / 30], abs=1e-6)
    assert (out / "labels" / "train" / "a.txt").read_text().splitlines()[0] == (
        "3 0.250000 0.333333 0.250000 0.333333")
    b_lines = read_yolo_label(out / "labels" / "test" / "b.txt")
    assert b_lines == [(7, pytest.approx([7 / 20, 5 / 10, 10 / 20, 8 / 10], abs=1e-6))]
    assert (out / "labels" / "train" / "sub" / "c.txt").read_text() == ""

    for split, name in (("train", "a.png"), ("test", "b.png"), ("train", "sub/c.png")):
        exported = out / "images" / split / name
        assert exported.read_bytes() == (project.root / "images" / name).read_bytes()
        assert exported in report.files_written

    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["path"] == str(out.resolve())
    assert (data["train"], data["test"]) == ("images/train", "images/test")
    assert "val" not in data
    assert data["names"][0] == "0" and data["names"][10] == "A"
    assert len(data["names"]) == len(project.config.classes)


def test_yolo_export_twice_keeps_project_images(project: Project, tmp_path: Path) -> None:
    original = (project.root / "images" / "a.png").read_bytes()
    export_yolo(project, tmp_path / "yolo")
    export_yolo(project, tmp_path / "yolo")
    assert (project.root / "images" / "a.png").read_bytes() == original
    assert len(project.image_paths()) == 3


def test_coco_round_trip_keeps_boxes(project: Project, tmp_path: Path) -> None:
    export_coco(project, tmp_path / "coco")
    copy = Project.create(tmp_path / "copy")
    for split in ("train", "test"):
        import_annotations(copy, "coco", tmp_path / "coco" / f"{split}.json",
                           images=project.root)

    def summary(p: Project) -> dict[str, tuple]:
        return {
            r.image_path.name: (r.split, [(s.label, s.box.xyxy(), s.partial, s.poor)
                                          for s in r.stamps if s.label != "foo"])
            for r in p.load_records()
        }

    original, imported = summary(project), summary(copy)
    assert imported == original
    assert imported["a.png"][1][0] == ("3", (5.0, 5.0, 15.0, 15.0), False, False)


def test_yolo_round_trip_keeps_boxes(project: Project, tmp_path: Path) -> None:
    export_yolo(project, tmp_path / "yolo")
    copy = Project.create(tmp_path / "copy")
    report = import_annotations(copy, "yolo", tmp_path / "yolo")
    assert (report.images_imported, report.skipped) == (3, ())
    records = {r.image_path.name: r for r in copy.load_records()}
    assert {name: r.split for name, r in records.items()} == {
        "a.png": "train", "b.png": "test", "c.png": "train"}
    [seven] = records["b.png"].stamps
    assert seven.label == "7"
    assert seven.box.xyxy() == pytest.approx((2.0, 1.0, 12.0, 9.0), abs=1e-4)
    assert [s.label for s in records["a.png"].stamps] == ["3", "A"]


def test_export_refuses_project_image_folder(project: Project) -> None:
    for out in (project.root / "images" / "export", project.root):
        with pytest.raises(AnnotationError):
            export_coco(project, out)
        with pytest.raises(AnnotationError):
            export_yolo(project, out)
    assert not (project.root / "images" / "export").exists()
    assert not (project.root / "train.json").exists()


def test_broken_sidecar_stops_export(project: Project, tmp_path: Path) -> None:
    broken = project.root / "images" / "b.json"
    broken.write_text(json.dumps({"shapes": "none"}))
    with pytest.raises(AnnotationError, match="'shapes' is not a list") as caught:
        export_coco(project, tmp_path / "coco")
    assert caught.value.path == broken
    assert not (tmp_path / "coco").exists()


def test_re_export_after_a_split_change_leaves_no_stale_files(
    project: Project, tmp_path: Path
) -> None:
    out = tmp_path / "yolo"
    export_yolo(project, out)
    assert (out / "labels" / "train" / "a.txt").exists()
    record = project.load_record(project.root / "images" / "a.png")
    project.save_record(record.with_billet(split="test"))
    export_yolo(project, out)
    assert not (out / "labels" / "train" / "a.txt").exists()
    assert not (out / "images" / "train" / "a.png").exists()
    assert (out / "labels" / "test" / "a.txt").exists()
    coco_out = tmp_path / "coco"
    export_coco(project, coco_out)
    record = project.load_record(project.root / "images" / "a.png")
    project.save_record(record.with_billet(split=None))
    export_coco(project, coco_out)
    test = load_coco(coco_out / "test.json")
    assert [image["file_name"] for image in test.dataset["images"]] == ["images/b.png"]


def test_unlabelled_images_are_left_out_with_a_warning(project: Project, tmp_path: Path) -> None:
    Image.new("RGB", (8, 8)).save(project.root / "images" / "new.png")
    report = export_coco(project, tmp_path / "coco")
    train = load_coco(tmp_path / "coco" / "train.json")
    assert "images/new.png" not in [i["file_name"] for i in train.dataset["images"]]
    assert any("1 image(s) have no labels yet" in w for w in report.warnings)


def test_export_never_replaces_a_folder_it_did_not_write(
    project: Project, tmp_path: Path
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    with pytest.raises(AnnotationError, match="not empty and was not written"):
        export_coco(project, mine)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(AnnotationError, match="is a file"):
        export_yolo(project, a_file)
    assert (mine / "thesis.tex").read_text() == "precious" and a_file.read_text() == "x"
