"""Project health check: every problem with every file, each naming the file."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from billet_studio.annotations.errors import AnnotationError
from billet_studio.annotations.images import read_image
from billet_studio.annotations.labelme import load_json_document
from billet_studio.annotations.project import Project
from billet_studio.annotations.records import ImageRecord
from billet_studio.annotations.shapes import USED_SHAPE_TYPES


@dataclass(frozen=True)
class Problem:
    path: Path
    message: str
    severity: str = "error"  # "error": unusable as is; "warning": usable, worth fixing

    def __str__(self) -> str:
        return f"{self.severity}: {self.message}"


def record_problems(project: Project, record: ImageRecord, decode: bool = True) -> list[Problem]:
    """What is wrong with one loaded record (beyond what stopped it loading)."""
    source = record.json_path or record.image_path
    problems = [Problem(source, w, "warning") for w in record.warnings]
    problems += [Problem(source, w, "warning") for w in record.geometry_warnings]
    classes = set(project.config.classes)
    for index, shape in enumerate(record.shapes):
        if shape.shape_type in USED_SHAPE_TYPES and shape.label not in classes:
            problems.append(Problem(source, f"{source}: shape {index + 1} has label "
                                            f"{shape.label!r}, which is not a project class"))
    billet = record.billet
    if billet.id is not None:
        reason = project.config.id_format.problem(billet.id)
        if reason is not None:
            problems.append(Problem(source, f"{source}: {reason}", "warning"))
    if billet.site is not None and billet.site not in project.config.sites:
        problems.append(Problem(source, f"{source}: site {billet.site!r} is not one of the "
                                        f"project's sites {list(project.config.sites)}",
                                "warning"))
    if decode:
        try:
            read_image(record.image_path)
        except AnnotationError as error:
            problems.append(Problem(error.path, str(error)))
    return problems


def iter_check(project: Project, decode: bool = True) -> Iterator[tuple[int, int, list[Problem]]]:
    """Check image by image: yields (done, total, problems of that image)."""
    images = project.image_paths()
    orphans = project.orphan_sidecars()
    total = len(images) + len(orphans)
    for done, image_path in enumerate(images, start=1):
        try:
            record = project.load_record(image_path)
        except AnnotationError as error:
            yield done, total, [Problem(error.path, str(error))]
            continue
        yield done, total, record_problems(project, record, decode)
    for done, json_path in enumerate(orphans, start=len(images) + 1):
        yield done, total, _orphan_problems(project, json_path)


def _orphan_problems(project: Project, json_path: Path) -> list[Problem]:
    try:
        document = load_json_document(json_path)
    except AnnotationError as error:
        return [Problem(json_path, str(error))]
    raw = document.get("imagePath") if isinstance(document, dict) else None
    if isinstance(raw, str) and not project.contains(json_path.parent / raw):
        return [Problem(json_path, f"{json_path}: imagePath {raw!r} points outside the "
                                   "project folder")]
    return [Problem(json_path, f"{json_path}: no image with the same name is beside this "
                               "label file (images and labels pair by file name)", "warning")]


def check_project(project: Project, decode: bool = True) -> list[Problem]:
    """Every problem in the project, errors and warnings."""
    return [p for _, _, problems in iter_check(project, decode) for p in problems]
