"""`check`: every problem in a project listed, each naming its file; nothing rewritten."""

from __future__ import annotations

import json

from project_builder import SQUARE_WITH_HOLE, add_image, make_project, write_image

from billet_studio.annotations import BilletInfo, Shape
from billet_studio.annotations.check import check_project


def snapshot(root):
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_clean_project_has_no_problems(tmp_path):
    project = make_project(tmp_path / "p")
    add_image(project, "a.png", billet=BilletInfo(site="A", id="123456A7890"))
    assert check_project(project) == []


def test_every_kind_of_problem_is_listed_with_its_file(tmp_path):
    project = make_project(tmp_path / "p")
    images = project.root / "images"
    add_image(project, "good.png")
    add_image(project, "label.png", (Shape("?", ((0.0, 0.0), (9.0, 0.0), (9.0, 9.0))),))
    add_image(project, "bowtie.png",
              (Shape("7", ((0.0, 0.0), (10.0, 10.0), (10.0, 0.0), (0.0, 10.0))),))
    add_image(project, "meta.png", SQUARE_WITH_HOLE, BilletInfo(site="Z", id="12"))
    add_image(project, "corrupt.png")
    (images / "corrupt.json").write_text('{"shapes": [')
    add_image(project, "escape.png")
    document = json.loads((images / "escape.json").read_text())
    document["imagePath"] = "../../outside.png"
    (images / "escape.json").write_text(json.dumps(document))
    (images / "undecodable.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (images / "orphan.json").write_text("{}")
    write_image(images / "unlabelled.png")  # an image without labels is fine
    before = snapshot(project.root)

    problems = check_project(project)

    by_file = {}
    for problem in problems:
        by_file.setdefault(problem.path.name, []).append(problem)
    assert set(by_file) == {"label.json", "bowtie.json", "meta.json", "corrupt.json",
                            "escape.json", "undecodable.png", "orphan.json"}
    assert "'?', which is not a project class" in by_file["label.json"][0].message
    assert by_file["label.json"][0].severity == "error"
    assert "repaired an invalid outline" in by_file["bowtie.json"][0].message
    meta = " ".join(p.message for p in by_file["meta.json"])
    assert "does not match the format" in meta and "site 'Z'" in meta
    assert "is not valid JSON" in by_file["corrupt.json"][0].message
    assert "points outside the project folder" in by_file["escape.json"][0].message
    assert "is not an image" in by_file["undecodable.png"][0].message
    assert "no image with the same name" in by_file["orphan.json"][0].message
    for problem in problems:
        assert str(problem.path) in problem.message
    assert snapshot(project.root) == before
