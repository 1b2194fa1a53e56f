"""The project folder on disk: ``project.toml``, images with LabelMe sidecars, paths kept
inside the folder.

Images and sidecars are paired by file stem (``images/x.jpg`` with ``images/x.json``), so a
project still opens after its folder moves. A plain labelme folder (no ``project.toml``) is a
valid project whose classes come from its labels.
"""

from __future__ import annotations

import os
import string
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import tomli_w

from billet_studio.annotations.atomic import atomic_write_text
from billet_studio.annotations.errors import AnnotationError
from billet_studio.annotations.id_format import IdFormat
from billet_studio.annotations.images import is_image_file, read_image_size
from billet_studio.annotations.labelme import read_labelme, write_labelme
from billet_studio.annotations.records import ImageRecord

PROJECT_FILE = "project.toml"
#: The paper reads digits and capital letters.
DEFAULT_CLASSES = tuple(string.digits + string.ascii_uppercase)
#: Folders of a project that hold outputs, never labelled photographs.
OUTPUT_FOLDERS = ("runs", "datasets", "evaluations", "experiments", "surfaces", ".venv")


@dataclass(frozen=True)
class ProjectConfig:
    """What ``project.toml`` holds; the defaults reproduce the paper's setting."""

    name: str = "billet-project"
    classes: tuple[str, ...] = DEFAULT_CLASSES
    id_format: IdFormat = field(default_factory=IdFormat)
    sites: tuple[str, ...] = ("A", "B")
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


def order_classes(labels: set[str]) -> tuple[str, ...]:
    """Digits, then letters, then anything else, each in natural order."""
    return tuple(sorted(labels, key=lambda s: (
        not s.isdigit(), not s.isalpha(), int(s) if s.isdigit() else 0, s
    )))


def parse_project_toml(path: Path) -> ProjectConfig:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise AnnotationError(path, f"cannot be read ({error.strerror or error})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise AnnotationError(path, f"is not valid TOML ({error})") from None
    section = document.get("project", {})
    id_section = document.get("id_format", {})
    if not isinstance(section, dict) or not isinstance(id_section, dict):
        raise AnnotationError(path, "[project] and [id_format] must be tables")
    defaults = ProjectConfig()
    name = section.get("name", defaults.name)
    classes = section.get("classes", list(defaults.classes))
    sites = section.get("sites", list(defaults.sites))
    if not isinstance(name, str):
        raise AnnotationError(path, "project.name must be text")
    for key, values in (("classes", classes), ("sites", sites)):
        if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
            raise AnnotationError(path, f"project.{key} must be a list of non-empty texts")
        if len(set(values)) != len(values):
            raise AnnotationError(path, f"project.{key} lists a name twice")
    if not classes:
        raise AnnotationError(path, "project.classes is empty")
    try:
        id_format = IdFormat(
            regex=id_section.get("regex", defaults.id_format.regex),
            check_digit=id_section.get("check_digit"),
        )
    except (TypeError, ValueError) as error:
        raise AnnotationError(path, f"[id_format]: {error}") from None
    extra = {k: v for k, v in document.items() if k not in ("project", "id_format")}
    return ProjectConfig(name, tuple(classes), id_format, tuple(sites), extra)


def project_toml_text(config: ProjectConfig) -> str:
    id_format: dict[str, Any] = {"regex": config.id_format.regex}
    if config.id_format.check_digit is not None:
        id_format["check_digit"] = config.id_format.check_digit
    document = {
        "project": {
            "name": config.name, "classes": list(config.classes), "sites": list(config.sites),
        },
        "id_format": id_format,
        **config.extra,
    }
    return tomli_w.dumps(document, multiline_strings=False)


class Project:
    """A project folder: its configuration and its labelled images."""

    def __init__(self, root: Path, config: ProjectConfig, has_config_file: bool) -> None:
        self.root = root.resolve()
        self.config = config
        self.has_config_file = has_config_file

    @classmethod
    def open(cls, root: Path | str) -> Project:
        root = Path(root)
        if not root.is_dir():
            raise AnnotationError(root, "is not a folder")
        config_path = root / PROJECT_FILE
        if config_path.exists():
            return cls(root, parse_project_toml(config_path), True)
        project = cls(root, ProjectConfig(name=root.resolve().name), False)
        labels = project.labels_in_use()
        if labels:
            project.config = replace(project.config, classes=order_classes(labels))
        return project

    @classmethod
    def create(cls, root: Path | str, config: ProjectConfig | None = None) -> Project:
        """Start a project in ``root`` (existing labelme files in it are kept as they are)."""
        root = Path(root)
        config_path = root / PROJECT_FILE
        if config_path.exists():
            raise AnnotationError(config_path, "already exists; open the project instead")
        root.mkdir(parents=True, exist_ok=True)
        project = cls(root, config or ProjectConfig(name=root.resolve().name), True)
        project.save_config()
        return project

    def save_config(self) -> None:
        atomic_write_text(self.root / PROJECT_FILE, project_toml_text(self.config))
        self.has_config_file = True

    @property
    def image_root(self) -> Path:
        images = self.root / "images"
        return images if images.is_dir() else self.root

    def _files(self) -> Iterator[Path]:
        """Files under the image folder; hidden and output folders are not entered."""
        for folder, subfolders, files in os.walk(self.image_root):
            here = Path(folder)
            subfolders[:] = sorted(
                name for name in subfolders
                if not name.startswith(".")
                and not (here == self.root and name in OUTPUT_FOLDERS)
            )
            yield from (here / name for name in files if not name.startswith("."))

    def image_paths(self) -> list[Path]:
        """Every photograph of the project, sorted; output folders are skipped."""
        return sorted(path for path in self._files() if is_image_file(path))

    @staticmethod
    def sidecar_path(image_path: Path) -> Path:
        return image_path.with_suffix(".json")

    def orphan_sidecars(self) -> list[Path]:
        """JSON files beside the images that no image pairs with (by stem)."""
        stems = {(p.parent, p.stem) for p in self.image_paths()}
        return sorted(
            path for path in self._files()
            if path.suffix.lower() == ".json" and (path.parent, path.stem) not in stems
        )

    def contains(self, path: Path) -> bool:
        """Whether ``path`` is inside the project folder, links followed."""
        return Path(path).resolve().is_relative_to(self.root)

    def relative(self, path: Path) -> str:
        """``path`` relative to the project folder (as written, links not followed)."""
        absolute = Path(os.path.abspath(path))
        if not absolute.is_relative_to(self.root):
            raise AnnotationError(path, f"is not inside the project folder {self.root}")
        return absolute.relative_to(self.root).as_posix()

    def relative_to_images(self, path: Path) -> Path:
        """``path`` relative to the project's image folder."""
        return Path(os.path.abspath(path)).relative_to(self.image_root)

    def load_record(self, image_path: Path) -> ImageRecord:
        """The record of one image (an empty one if it has no sidecar yet).

        Raises AnnotationError when the sidecar is broken, names an image outside the
        project, or disagrees with the image's size, and when the image is a link to a file
        outside the project folder.
        """
        image_path = Path(os.path.abspath(image_path))
        real = image_path.resolve()
        if not real.is_relative_to(self.root):
            raise AnnotationError(image_path, f"is a link to {real}, outside the project "
                                              "folder; copy the image in instead")
        json_path = self.sidecar_path(image_path)
        height, width = read_image_size(image_path)
        if not json_path.exists():
            return ImageRecord(image_path=image_path, height=height, width=width)
        record = read_labelme(json_path, image_path)
        self._check_image_path(record, json_path)
        if (record.height or height, record.width or width) != (height, width):
            raise AnnotationError(
                json_path,
                f"says the image is {record.width}x{record.height} (width x height) but "
                f"{image_path.name} is {width}x{height}; the labels may not fit this image",
            )
        return replace(record, height=height, width=width)

    def _check_image_path(self, record: ImageRecord, json_path: Path) -> None:
        raw = record.image_path_text
        if not raw:
            return
        target = (json_path.parent / raw).resolve()
        if not target.is_relative_to(self.root):
            raise AnnotationError(
                json_path, f"imagePath {raw!r} points outside the project folder {self.root}"
            )

    def iter_records(self) -> Iterator[ImageRecord | AnnotationError]:
        """Every image's record, or the error that stopped it loading."""
        paths = self.image_paths()
        by_stem: dict[tuple[Path, str], list[Path]] = {}
        for path in paths:
            by_stem.setdefault((path.parent, path.stem), []).append(path)
        for image_path in paths:
            twins = by_stem[(image_path.parent, image_path.stem)]
            if len(twins) > 1:
                others = ", ".join(p.name for p in twins if p != image_path)
                yield AnnotationError(image_path, f"shares its label file "
                                                  f"{image_path.stem}.json with {others}; "
                                                  "rename one of them")
                continue
            try:
                yield self.load_record(image_path)
            except AnnotationError as error:
                yield error

    def load_records(self) -> list[ImageRecord]:
        """All records, labelled or not; the first broken file raises (``check`` lists
        them all)."""
        records = []
        for item in self.iter_records():
            if isinstance(item, AnnotationError):
                raise item
            records.append(item)
        return records

    def save_record(self, record: ImageRecord) -> Path:
        if not self.contains(record.image_path):
            raise AnnotationError(record.image_path, "is outside the project folder")
        return write_labelme(record, self.sidecar_path(record.image_path))

    def labels_in_use(self) -> set[str]:
        labels: set[str] = set()
        for item in self.iter_records():
            if isinstance(item, ImageRecord):
                labels.update(s.label for s in item.shapes if not s.is_hole)
        return labels
