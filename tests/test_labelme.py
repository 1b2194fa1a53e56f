"""LabelMe sidecars: strict reading, faithful round trips, holes, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billet_studio.annotations import (
    AnnotationError,
    BilletInfo,
    ImageRecord,
    Shape,
    labelme_document,
    parse_labelme,
    read_labelme,
    write_labelme,
)

LABELME_FILE = {
    "version": "5.4.1",
    "flags": {"reviewed": True},
    "shapes": [
        {"label": "8", "points": [[10, 10], [50, 10], [50, 60], [10, 60]], "group_id": 1,
         "description": "", "shape_type": "polygon", "flags": {"partial": True},
         "mask": None, "kept_shape_key": {"a": 1}},
        {"label": "8", "points": [[20, 20], [40, 20], [40, 30], [20, 30]], "group_id": 1,
         "description": "counter", "shape_type": "polygon", "flags": {"hole": True}},
        {"label": "3", "points": [[90, 50], [60, 10]], "group_id": None, "description": "",
         "shape_type": "rectangle", "flags": {"poor": True}},
        {"label": "dot", "points": [[5, 5], [9, 9]], "group_id": None, "description": "",
         "shape_type": "circle", "flags": {}},
    ],
    "imagePath": "a.png",
    "imageData": None,
    "imageHeight": 100,
    "imageWidth": 120,
    "billet": {"site": "A", "split": "test", "id": "123456A7890", "camera": "north"},
    "unknown_top_level": [1, 2, 3],
}


def write(path: Path, document) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_round_trip_keeps_every_key_and_value(tmp_path):
    source = write(tmp_path / "a.json", LABELME_FILE)
    record = read_labelme(source, tmp_path / "a.png")
    target = tmp_path / "b.json"
    write_labelme(record, target)
    written = json.loads(target.read_text())
    expected = json.loads(json.dumps(LABELME_FILE))
    expected["imagePath"] = "a.png"
    assert written == expected
    assert list(written)[:7] == ["version", "flags", "shapes", "imagePath", "imageData",
                                 "imageHeight", "imageWidth"]


def test_reading_builds_stamps_with_holes_and_derived_visibility(tmp_path):
    record = read_labelme(write(tmp_path / "a.json", LABELME_FILE), tmp_path / "a.png")
    assert record.billet == BilletInfo("A", "test", "123456A7890", None, {"camera": "north"})
    eight, three = record.stamps
    assert eight.label == "8" and len(eight.polygons) == 1
    assert len(eight.polygons[0].holes) == 1
    assert eight.polygons[0].area == pytest.approx(40 * 50 - 20 * 10)
    assert three.box.xyxy() == (60, 10, 90, 50) and three.polygons == ()
    assert (eight.visibility, three.visibility) == ("partial", "poor")
    assert record.visibility == "partial"
    assert any("'circle' is kept but not used" in w for w in record.warnings)


def test_visibility_override_and_rule_order(tmp_path):
    document = json.loads(json.dumps(LABELME_FILE))
    document["shapes"][0]["flags"] = {}
    record = read_labelme(write(tmp_path / "a.json", document), tmp_path / "a.png")
    assert record.visibility == "poor"
    document["billet"]["visibility"] = "well"
    record = read_labelme(write(tmp_path / "a.json", document), tmp_path / "a.png")
    assert record.visibility == "well"


def test_holes_are_plain_polygons_labelme_can_open(tmp_path):
    """A labelme reader that knows nothing of holes still sees valid polygon shapes."""
    record = ImageRecord(tmp_path / "a.png", 100, 120, (
        Shape("0", ((0.0, 0.0), (30.0, 0.0), (30.0, 40.0), (0.0, 40.0)), group_id=4),
        Shape("0", ((10.0, 10.0), (20.0, 10.0), (20.0, 30.0)), flags={"hole": True},
              group_id=4),
    ))
    document = labelme_document(record, tmp_path / "a.json")
    for shape in document["shapes"]:
        assert shape["shape_type"] == "polygon" and len(shape["points"]) >= 3
        assert all(isinstance(v, bool) for v in shape["flags"].values())
        assert set(shape) >= {"label", "points", "group_id", "description", "shape_type",
                              "flags"}


def test_hole_without_matching_outline_is_a_warning(tmp_path):
    document = json.loads(json.dumps(LABELME_FILE))
    document["shapes"][1]["group_id"] = 99
    record = read_labelme(write(tmp_path / "a.json", document), tmp_path / "a.png")
    assert record.stamps[0].polygons[0].holes == ()
    assert any("no outline with the same label and group_id" in w
               for w in record.geometry_warnings)


def test_self_intersecting_polygon_is_repaired_with_a_warning(tmp_path):
    document = {"shapes": [{"label": "7", "points": [[0, 0], [10, 10], [10, 0], [0, 10]],
                            "shape_type": "polygon"}], "imagePath": "a.png",
                "imageHeight": 20, "imageWidth": 20}
    record = read_labelme(write(tmp_path / "a.json", document), tmp_path / "a.png")
    assert len(record.stamps) == 1 and len(record.stamps[0].polygons) == 2
    assert any("a.json: shape 1 ('7', polygon): repaired" in w for w in record.geometry_warnings)


def test_zero_area_polygon_is_a_warning_and_ignored(tmp_path):
    document = {"shapes": [{"label": "1", "points": [[0, 0], [5, 5], [10, 10]]}],
                "imagePath": "a.png", "imageHeight": 20, "imageWidth": 20}
    record = read_labelme(write(tmp_path / "a.json", document), tmp_path / "a.png")
    assert record.stamps == []
    assert any("zero area" in w and "a.json" in w for w in record.geometry_warnings)


def test_shapes_outside_the_image_are_clipped(tmp_path):
    document = {"shapes": [{"label": "1", "points": [[-10, 0], [10, 0], [10, 10], [-10, 10]]},
                           {"label": "2", "points": [[15, 15], [40, 40]],
                            "shape_type": "rectangle"}],
                "imagePath": "a.png", "imageHeight": 20, "imageWidth": 20}
    record = read_labelme(write(tmp_path / "a.json", document), tmp_path / "a.png")
    assert record.stamps[0].box.xyxy() == (0, 0, 10, 10)
    assert record.stamps[1].box.xyxy() == (15, 15, 20, 20)


@pytest.mark.parametrize(("text", "problem"), [
    ('{"shapes": [', "is not valid JSON (line 1"),
    ("[1, 2]", "top level is not an object"),
    ('{"imagePath": "a.png"}', "no 'shapes' list"),
    ('{"shapes": [{"points": [[0, 0]]}]}', "shape 1 has no label"),
    ('{"shapes": [{"label": "1", "points": [[0, 0], [1, 1]]}]}', "at least 3 points"),
    ('{"shapes": [{"label": "1", "points": [[0, "x"], [1, 1], [2, 2]]}]}', "finite numbers"),
    ('{"shapes": [{"label": "1", "points": [[1' + "0" * 400 + ', 1], [1, 1], [2, 2]]}]}',
     "finite numbers"),
    ('{"shapes": [{"label": "1", "points": [[0, 0], [1, 1], [2, 0]], "flags": []}]}',
     "'flags' must map names"),
    ('{"shapes": [], "flags": 0}', "'flags' must map names"),
    ('{"shapes": [{"label": "1", "points": [[0, 0], [1, 1], [2, 0]], "flags": {"poor": 1}}]}',
     "true/false"),
    ('{"shapes": [], "imageHeight": -4}', "positive whole number"),
    ('{"shapes": [], "billet": {"split": "holdout"}}', "billet.split"),
    ('{"shapes": [], "billet": {"visibility": "bad"}}', "billet.visibility"),
])
def test_malformed_files_name_the_file_and_the_problem(tmp_path, text, problem):
    path = tmp_path / "broken.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AnnotationError) as caught:
        read_labelme(path, tmp_path / "broken.png")
    assert str(path) in str(caught.value)
    assert problem in str(caught.value)
    assert path.read_text(encoding="utf-8") == text  # never rewritten


def test_truncated_and_binary_files_are_errors(tmp_path):
    good = json.dumps(LABELME_FILE)
    truncated = write(tmp_path / "t.json", None)
    truncated.write_text(good[: len(good) // 2])
    with pytest.raises(AnnotationError, match=r"t\.json: is not valid JSON"):
        read_labelme(truncated, tmp_path / "t.png")
    binary = tmp_path / "b.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(AnnotationError, match=r"b\.json: is not UTF-8"):
        read_labelme(binary, tmp_path / "b.png")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
    | st.integers(min_value=10**308, max_value=10**400),  # too large for a float
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)
shape_like = st.fixed_dictionaries(
    {"label": json_values | st.sampled_from(["1", "A"]),
     "points": st.lists(st.lists(st.floats() | st.integers() | st.just(10**400), max_size=3),
                        max_size=5)
     | json_values},
    optional={"shape_type": st.sampled_from(["polygon", "rectangle", "circle"]) | json_values,
              "flags": json_values | st.dictionaries(st.text(max_size=4), st.booleans()),
              "group_id": json_values, "description": json_values},
)
document_like = st.fixed_dictionaries(
    {},
    optional={"shapes": st.lists(shape_like, max_size=4) | json_values,
              "imagePath": json_values, "imageHeight": json_values, "imageWidth": json_values,
              "flags": json_values, "billet": json_values, "version": json_values},
) | json_values


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=document_like)
def test_reader_returns_a_record_or_an_annotation_error(document):
    path = Path("/nonexistent/fuzz.json")
    try:
        record = parse_labelme(document, path, path.with_suffix(".png"))
    except AnnotationError as error:
        assert str(path) in str(error)
        return
    assert isinstance(record, ImageRecord)
    if record.height and record.width:
        record.stamps  # noqa: B018  (deriving stamps must not raise either)
