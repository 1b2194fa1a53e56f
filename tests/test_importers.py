"""Tests for importing COCO, YOLO, Pascal VOC and CVAT XML labels into a project."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask

from billet_studio.annotations import AnnotationError, Project
from billet_studio.annotations.importers import IMPORT_FORMATS, import_annotations


def make_png(path: Path, width: int, height: int, shade: int = 90) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), (shade, shade, shade)).save(path)
    return path


def shapes_of(project: Project, name: str) -> list[tuple]:
    record = project.load_record(project.root / "images" / name)
    return [(s.label, s.shape_type, s.points, s.group_id, s.flags) for s in record.shapes]


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project.create(tmp_path / "proj")


def ring_rle() -> dict:
    """A compressed RLE of a 9x9 block at (30, 20) with a 3x3 hole, on a 40x30 image."""
    mask = np.zeros((30, 40), dtype=np.uint8)
    mask[20:29, 30:39] = 1
    mask[23:26, 33:36] = 0
    rle = coco_mask.encode(np.asfortranarray(mask))
    return {"size": rle["size"], "counts": rle["counts"].decode("ascii")}


def coco_source(folder: Path) -> Path:
    make_png(folder / "a.png", 40, 30)
    make_png(folder / "b.png", 20, 10)
    document = {
        "images": [
            {"id": 1, "file_name": "a.png", "width": 40, "height": 30},
            # Not at this relative path: found by its base name instead.
            {"id": 2, "file_name": "elsewhere/b.png", "width": 20, "height": 10},
        ],
        "categories": [{"id": 1, "name": "3"}, {"id": 2, "name": "A"}, {"id": 9, "name": "foo"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 3, 6, 6],
             "segmentation": [[2, 3, 8, 3, 8, 9, 2, 9]], "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 2, "bbox": [10, 2, 15, 8], "iscrowd": 0,
             "segmentation": [[10, 2, 14, 2, 14, 6], [20, 5, 25, 5, 25, 10]],
             "attributes": {"partial": True, "poor": False}},
            {"id": 3, "image_id": 1, "category_id": 2, "bbox": [30, 20, 9, 9],
             "segmentation": ring_rle(), "iscrowd": 0},
            {"id": 4, "image_id": 2, "category_id": 9, "bbox": [1.5, 2.5, 3, 4]},
            {"id": 5, "image_id": 2, "category_id": 1, "bbox": [0, 0, 5, 5], "iscrowd": 1,
             "segmentation": {"size": [10, 20], "counts": "xyz"}},
        ],
    }
    path = folder / "instances.json"
    path.write_text(json.dumps(document))
    return path


def test_coco_polygons_rings_and_boxes(project: Project, tmp_path: Path) -> None:
    source = coco_source(tmp_path / "coco")
    report = import_annotations(project, "coco", source)
    assert (report.images_imported, report.shapes_imported, report.skipped) == (2, 6, ())
    assert shapes_of(project, "a.png")[:3] == [
        ("3", "polygon", ((2, 3), (8, 3), (8, 9), (2, 9)), None, {}),
        ("A", "polygon", ((10, 2), (14, 2), (14, 6)), 1, {"partial": True}),
        ("A", "polygon", ((20, 5), (25, 5), (25, 10)), 1, {"partial": True}),
    ]
    # The RLE ring is traced back into an outline and a hole of one group.
    outline, hole = shapes_of(project, "a.png")[3:]
    assert (outline[0], outline[1], outline[3], outline[4]) == ("A", "polygon", 2, {})
    assert sorted(outline[2]) == [(30, 20), (30, 29), (39, 20), (39, 29)]
    assert (hole[3], hole[4]) == (2, {"hole": True})
    assert sorted(hole[2]) == [(33, 23), (33, 26), (36, 23), (36, 26)]
    assert shapes_of(project, "b.png") == [("foo", "rectangle", ((1.5, 2.5), (4.5, 6.5)), None, {})]
    record = project.load_record(project.root / "images" / "a.png")
    # The two rings of annotation 2 form one stamp; its box spans both.
    assert [s.box.xyxy() for s in record.stamps] == [
        (2, 3, 8, 9), (10, 2, 25, 10), (30, 20, 39, 29),
    ]
    assert record.stamps[2].polygons[0].area == 81 - 9
    assert any("iscrowd" in w for w in report.warnings)
    assert any("'foo'" in w and "not one of the project's classes" in w for w in report.warnings)
    copied = project.root / "images" / "a.png"
    assert copied.read_bytes() == (tmp_path / "coco" / "a.png").read_bytes()


def test_coco_images_folder_argument_and_missing_image(project: Project, tmp_path: Path) -> None:
    make_png(tmp_path / "pics" / "a.png", 40, 30)
    document = {
        "images": [{"id": 1, "file_name": "a.png"}, {"id": 2, "file_name": "gone.png"}],
        "categories": [{"id": 1, "name": "7"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]}],
    }
    source = tmp_path / "labels" / "train.json"
    source.parent.mkdir()
    source.write_text(json.dumps(document))
    report = import_annotations(project, "coco", source, images=tmp_path / "pics")
    assert report.images_imported == 1
    assert len(report.skipped) == 1 and "gone.png" in report.skipped[0]
    assert "not found" in report.skipped[0]
    assert shapes_of(project, "a.png") == [("7", "rectangle", ((1, 1), (3, 3)), None, {})]
    assert not (project.root / "images" / "gone.json").exists()


def test_coco_stated_size_mismatch_is_skipped(project: Project, tmp_path: Path) -> None:
    make_png(tmp_path / "a.png", 40, 30)
    source = tmp_path / "c.json"
    source.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.png", "width": 30, "height": 40}],
        "annotations": [], "categories": [],
    }))
    report = import_annotations(project, "coco", source)
    assert report.images_imported == 0
    assert "a.png" in report.skipped[0] and "30x40" in report.skipped[0]
    assert not (project.root / "images" / "a.png").exists()


@pytest.mark.parametrize(("text", "problem"), [
    ("{not json", "is not valid JSON"),
    (json.dumps({"images": [], "categories": []}), "no 'annotations' list"),
    (json.dumps({"images": [{"id": 1, "file_name": "a.png"}], "categories": [
        {"id": 1, "name": "3"}], "annotations": [
        {"image_id": 1, "category_id": 1, "bbox": "wide"}]}), "annotations[0]"),
    (json.dumps({"images": [{"id": "1", "file_name": "a.png"}], "categories": [],
                 "annotations": []}), "images[0].id"),
])
def test_coco_malformed_names_the_file(
    project: Project, tmp_path: Path, text: str, problem: str
) -> None:
    source = tmp_path / "broken.json"
    source.write_text(text)
    with pytest.raises(AnnotationError, match=re.escape(problem)) as caught:
        import_annotations(project, "coco", source)
    assert caught.value.path == source
    assert "broken.json" in str(caught.value)
    assert not (project.root / "images").exists()


def test_existing_sidecar_and_different_image_are_kept(project: Project, tmp_path: Path) -> None:
    source = coco_source(tmp_path / "coco")
    images = project.root / "images"
    images.mkdir()
    (images / "a.png").write_bytes((tmp_path / "coco" / "a.png").read_bytes())
    sidecar = images / "a.json"
    sidecar.write_text('{"shapes": [], "imageHeight": 30, "imageWidth": 40}')
    before = sidecar.read_bytes()
    make_png(images / "b.png", 20, 10, shade=200)  # same name, different pixels
    b_before = (images / "b.png").read_bytes()

    report = import_annotations(project, "coco", source)

    assert report.images_imported == 0
    assert sidecar.read_bytes() == before
    assert (images / "b.png").read_bytes() == b_before
    assert not (images / "b.json").exists()
    assert any("a.json" in s and "already holds labels" in s for s in report.skipped)
    assert any("b.png" in s and "not overwritten" in s for s in report.skipped)


def test_identical_image_already_present_gets_labels(project: Project, tmp_path: Path) -> None:
    source = coco_source(tmp_path / "coco")
    images = project.root / "images"
    images.mkdir()
    (images / "b.png").write_bytes((tmp_path / "coco" / "b.png").read_bytes())
    report = import_annotations(project, "coco", source)
    assert report.images_imported == 2 and report.skipped == ()
    assert shapes_of(project, "b.png")[0][:3] == ("foo", "rectangle", ((1.5, 2.5), (4.5, 6.5)))


def test_images_in_project_top_folder_are_not_hidden(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "proj")
    make_png(project.root / "old.png", 10, 10)
    with pytest.raises(AnnotationError, match="top folder"):
        import_annotations(project, "coco", coco_source(tmp_path / "coco"))
    assert not (project.root / "images").exists()


def test_unknown_format_and_yolo_images_argument(project: Project, tmp_path: Path) -> None:
    assert IMPORT_FORMATS == ("coco", "yolo", "voc", "cvat-xml")
    with pytest.raises(ValueError, match="unknown import format"):
        import_annotations(project, "labelbox", tmp_path)
    with pytest.raises(ValueError, match="YOLO"):
        import_annotations(project, "yolo", tmp_path, images=tmp_path)


@pytest.mark.parametrize("roboflow", [False, True])
def test_yolo_mirrored_layout_with_splits(project: Project, tmp_path: Path, roboflow: bool) -> None:
    source = tmp_path / "yolo"

    def folder(kind: str, split: str) -> Path:  # images/train, or Roboflow's train/images
        return source / split / kind if roboflow else source / kind / split

    make_png(folder("images", "train") / "a.png", 40, 20)
    make_png(folder("images", "valid") / "b.png", 40, 20)
    folder("labels", "train").mkdir(parents=True)
    (folder("labels", "train") / "a.txt").write_text(
        "1 0.5 0.5 0.25 0.5\n\n0 0.25 0.25 0.5 0.25 0.5 0.75\n"
    )
    (folder("labels", "train") / "stray.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (source / "data.yaml").write_text("names:\n  0: '3'\n  1: A\n")
    report = import_annotations(project, "yolo", source)
    assert (report.images_imported, report.shapes_imported) == (2, 2)
    assert shapes_of(project, "a.png") == [
        ("A", "rectangle", ((15.0, 5.0), (25.0, 15.0)), None, {}),
        ("3", "polygon", ((10.0, 5.0), (20.0, 5.0), (20.0, 15.0)), None, {}),
    ]
    assert shapes_of(project, "b.png") == []  # an image without a label file: background
    records = {r.image_path.name: r for r in project.load_records()}
    assert (records["a.png"].split, records["b.png"].split) == ("train", "val")
    assert len(report.skipped) == 1 and "stray.txt" in report.skipped[0]


def test_yolo_files_beside_images_with_classes_txt(project: Project, tmp_path: Path) -> None:
    source = tmp_path / "flat"
    make_png(source / "a.png", 100, 50)
    (source / "a.txt").write_text("2 0.1 0.2 0.2 0.4\n")
    (source / "classes.txt").write_text("0\n1\nB\n")
    report = import_annotations(project, "yolo", source)
    assert report.images_imported == 1
    [(label, kind, points, _, _)] = shapes_of(project, "a.png")
    assert (label, kind) == ("B", "rectangle")
    assert [v for point in points for v in point] == pytest.approx([0, 0, 20, 20])


def test_yolo_falls_back_to_project_classes(project: Project, tmp_path: Path) -> None:
    source = tmp_path / "bare"
    make_png(source / "a.png", 10, 10)
    (source / "a.txt").write_text("10 0.5 0.5 0.5 0.5\n")  # index 10 of 0-9A-Z is "A"
    report = import_annotations(project, "yolo", source)
    assert shapes_of(project, "a.png")[0][:2] == ("A", "rectangle")
    assert any("project's classes in order" in w for w in report.warnings)


@pytest.mark.parametrize(("line", "problem"), [
    ("x 0.5 0.5 0.1 0.1", "line 2: class id 'x'"),
    ("0 0.5 0.5 0.1", "line 2: expected"),
    ("0 12 30 40 50", "line 2: coordinates must be fractions"),
    ("5 0.5 0.5 0.1 0.1", "line 2: class id 5 has no name"),
])
def test_yolo_bad_line_names_file_and_line(
    project: Project, tmp_path: Path, line: str, problem: str
) -> None:
    source = tmp_path / "bad"
    make_png(source / "a.png", 10, 10)
    (source / "a.txt").write_text(f"0 0.5 0.5 0.1 0.1\n{line}\n")
    (source / "classes.txt").write_text("0\n1\n")
    with pytest.raises(AnnotationError, match=problem) as caught:
        import_annotations(project, "yolo", source)
    assert caught.value.path == source / "a.txt"
    assert not (project.root / "images").exists()


def test_yolo_bad_data_yaml(project: Project, tmp_path: Path) -> None:
    source = tmp_path / "y"
    source.mkdir()
    (source / "data.yaml").write_text("names: [unclosed\n")
    with pytest.raises(AnnotationError, match=r"data\.yaml: is not valid YAML"):
        import_annotations(project, "yolo", source)


VOC_XML = """<annotation>
  <folder>VOC</folder><filename>{name}</filename>
  <size><width>{w}</width><height>{h}</height><depth>3</depth></size>
  <object><name>5</name><truncated>0</truncated>
    <bndbox><xmin>1</xmin><ymin>1</ymin><xmax>40</xmax><ymax>30</ymax></bndbox></object>
  <object><name>K</name>
    <bndbox><xmin>11</xmin><ymin>6.5</ymin><xmax>20</xmax><ymax>15</ymax></bndbox></object>
</annotation>"""


def test_voc_folder_converts_one_based_corners(project: Project, tmp_path: Path) -> None:
    source = tmp_path / "VOC2012"
    make_png(source / "JPEGImages" / "a.png", 40, 30)
    make_png(source / "JPEGImages" / "b.png", 40, 30)
    (source / "Annotations").mkdir()
    (source / "Annotations" / "a.xml").write_text(VOC_XML.format(name="a.png", w=40, h=30))
    (source / "Annotations" / "b.xml").write_text(VOC_XML.format(name="b.png", w=41, h=30))
    (source / "ImageSets" / "Main").mkdir(parents=True)
    (source / "ImageSets" / "Main" / "test.txt").write_text("a\n")
    report = import_annotations(project, "voc", source)
    assert report.images_imported == 1
    # xmin=1..xmax=40 covers all 40 pixels of the row: [0, 40] in our convention.
    assert shapes_of(project, "a.png") == [
        ("5", "rectangle", ((0.0, 0.0), (40.0, 30.0)), None, {}),
        ("K", "rectangle", ((10.0, 5.5), (20.0, 15.0)), None, {}),
    ]
    assert project.load_records()[0].split == "test"
    assert len(report.skipped) == 1 and "b.xml" in report.skipped[0]
    assert "41x30" in report.skipped[0]


def test_voc_flat_folder_finds_image_by_stem(project: Project, tmp_path: Path) -> None:
    source = tmp_path / "flat"
    make_png(source / "c.png", 40, 30)
    # A <filename> without its extension, as some tools write it.
    (source / "c.xml").write_text(VOC_XML.format(name="c", w=0, h=0))
    report = import_annotations(project, "voc", source)
    assert report.images_imported == 1 and report.shapes_imported == 2
    assert shapes_of(project, "c.png")[1][2] == ((10.0, 5.5), (20.0, 15.0))


@pytest.mark.parametrize(("text", "problem"), [
    ("<annotation><filename>a.png", "is not valid XML"),
    ("<annotation><filename>a.png</filename><object><name>1</name></object></annotation>",
     "object 1 \\('1'\\): <bndbox> is missing"),
    ("<annotation><object><name>1</name><bndbox><xmin>a</xmin><ymin>1</ymin><xmax>2</xmax>"
     "<ymax>2</ymax></bndbox></object></annotation>", "expected a number"),
    ("<annotations/>", "is not a Pascal VOC file"),
])
def test_voc_malformed_names_the_file(
    project: Project, tmp_path: Path, text: str, problem: str
) -> None:
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "a.xml").write_text(text)
    with pytest.raises(AnnotationError, match=problem) as caught:
        import_annotations(project, "voc", tmp_path / "v")
    assert caught.value.path == tmp_path / "v" / "a.xml"


CVAT_TASK = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta><task><name>billets</name></task></meta>
  <image id="0" name="frames/a.png" width="40" height="30" subset="Validation">
    <box label="8" occluded="0" xtl="2.5" ytl="3" xbr="10" ybr="12" z_order="0">
      <attribute name="poor">true</attribute>
    </box>
    <polygon label="C" points="20,5;30,5;30,15;20,15" z_order="0"/>
    <box label="1" xtl="10" ytl="20" xbr="20" ybr="24" rotation="90"/>
    <polyline label="scratch" points="0,0;5,5"/>
  </image>
  <image id="1" name="missing.png" width="10" height="10"/>
</annotations>
"""


def test_cvat_for_images(project: Project, tmp_path: Path) -> None:
    source = tmp_path / "task"
    make_png(source / "images" / "frames" / "a.png", 40, 30)
    (source / "annotations.xml").write_text(CVAT_TASK)
    report = import_annotations(project, "cvat-xml", source)
    assert report.images_imported == 1
    shapes = shapes_of(project, "a.png")
    assert shapes[:2] == [
        ("8", "rectangle", ((2.5, 3.0), (10.0, 12.0)), None, {"poor": True}),
        ("C", "polygon", ((20.0, 5.0), (30.0, 5.0), (30.0, 15.0), (20.0, 15.0)), None, {}),
    ]
    # A 10x4 box turned a quarter about its centre (15, 22) stands 4 wide and 10 high.
    label, kind, points, _, _ = shapes[2]
    assert (label, kind) == ("1", "polygon")
    corners = sorted((round(x, 6), round(y, 6)) for x, y in points)
    assert corners == [(13, 17), (13, 27), (17, 17), (17, 27)]
    assert project.load_records()[0].split == "val"
    assert any("<polyline>" in w for w in report.warnings)
    assert len(report.skipped) == 1 and "missing.png" in report.skipped[0]


LABELME3 = """<annotation>
  <filename>{name}</filename><folder>{folder}</folder>
  <imagesize><nrows>30</nrows><ncols>40</ncols></imagesize>
  <object><name>4</name><deleted>0</deleted><id>0</id>
    <polygon><pt><x>1</x><y>2</y></pt><pt><x>9</x><y>2</y></pt><pt><x>5</x><y>8</y></pt>
    <username/></polygon></object>
  <object><name>Q</name><deleted>1</deleted><id>1</id>
    <polygon><pt><x>0</x><y>0</y></pt><pt><x>3</x><y>0</y></pt><pt><x>3</x><y>3</y></pt>
    </polygon></object>
  <object><name>M</name><deleted>0</deleted><id>2</id><type>bounding_box</type>
    <polygon><pt><x>20.5</x><y>4</y></pt><pt><x>31</x><y>4</y></pt><pt><x>31</x><y>14</y></pt>
    <pt><x>20.5</x><y>14</y></pt></polygon></object>
</annotation>"""


def test_cvat_labelme3_folder(project: Project, tmp_path: Path) -> None:
    source = tmp_path / "lm"
    make_png(source / "default" / "a.png", 40, 30)
    make_png(source / "b.png", 40, 30)
    (source / "item_000000001.xml").write_text(LABELME3.format(name="a.png", folder="default"))
    (source / "item_000000002.xml").write_text(LABELME3.format(name="b.png", folder=""))
    report = import_annotations(project, "cvat-xml", source)
    assert (report.images_imported, report.shapes_imported) == (2, 4)
    expected = [
        ("4", "polygon", ((1.0, 2.0), (9.0, 2.0), (5.0, 8.0)), None, {}),
        ("M", "rectangle", ((20.5, 4.0), (31.0, 14.0)), None, {}),
    ]
    assert shapes_of(project, "a.png") == expected
    assert shapes_of(project, "b.png") == expected


@pytest.mark.parametrize(("text", "problem"), [
    ("<annotations><image name='a.png'><polygon label='1' points='1,2;3'/></image>"
     "</annotations>", "point '3' is not 'x,y'"),
    ("<annotations><image name='a.png'><box label='1' xtl='1' ytl='1' xbr='2'/></image>"
     "</annotations>", "attribute 'ybr' is missing"),
    ("<dataset/>", "neither CVAT for images"),
    ("<annotations><image", "is not valid XML"),
])
def test_cvat_malformed_names_the_file(
    project: Project, tmp_path: Path, text: str, problem: str
) -> None:
    source = tmp_path / "annotations.xml"
    source.write_text(text)
    with pytest.raises(AnnotationError, match=problem) as caught:
        import_annotations(project, "cvat-xml", source)
    assert caught.value.path == source


def test_coco_rle_that_does_not_fit_its_image_or_bbox_is_an_error(project, tmp_path):
    make_png(tmp_path / "a.png", 40, 30)
    rle = ring_rle()
    for segmentation, bbox, problem in (
        ({**rle, "size": [300, 400]}, [30, 20, 9, 9], "RLE is 400x300 but its image is 40x30"),
        (rle, [0, 0, 5, 5], "outside its bbox"),
    ):
        source = tmp_path / "c.json"
        source.write_text(json.dumps({
            "images": [{"id": 1, "file_name": "a.png", "width": 40, "height": 30}],
            "categories": [{"id": 1, "name": "8"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": bbox,
                             "segmentation": segmentation}],
        }))
        with pytest.raises(AnnotationError, match=problem):
            import_annotations(project, "coco", source)
        assert not (project.root / "images" / "a.json").exists()


def test_coco_file_names_cannot_reach_outside_the_source_folder(project, tmp_path):
    make_png(tmp_path / "private" / "secret.png", 20, 10)
    (tmp_path / "coco").mkdir()
    source = tmp_path / "coco" / "c.json"
    source.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "../private/secret.png"},
                   {"id": 2, "file_name": str(tmp_path / "private" / "secret.png")}],
        "categories": [], "annotations": [],
    }))
    report = import_annotations(project, "coco", source)
    assert report.images_imported == 0
    assert all("not found" in line for line in report.skipped)
    assert not (project.root / "images" / "secret.png").exists()


def test_huge_numbers_are_an_error_not_a_crash(project, tmp_path):
    make_png(tmp_path / "a.png", 40, 30)
    source = tmp_path / "c.json"
    source.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.png"}],
        "categories": [{"id": 1, "name": "8"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
                         "bbox": [10**400, 0, 5, 5]}],
    }))
    with pytest.raises(AnnotationError, match=r"bbox: expected a number, got 1000.*\.\.\.$"):
        import_annotations(project, "coco", source)
