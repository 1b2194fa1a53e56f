"""The crash journal: unsaved label edits written beside the project after every change, so
a studio that is killed offers them back on the next start.

One file per image under ``.billet-studio/journal/`` (hidden, so never taken for an image
folder), written atomically. A clean save or an explicit discard removes it. Each entry
keeps the SHA-256 of the sidecar the edits started from, so recovery can tell the user
when the file on disk changed since.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, replace
from pathlib import Path

from billet_studio.annotations.atomic import atomic_write_json
from billet_studio.annotations.errors import AnnotationError
from billet_studio.annotations.labelme import labelme_document, load_json_document, parse_labelme
from billet_studio.annotations.project import Project
from billet_studio.annotations.records import ImageRecord

JOURNAL_FOLDER = Path(".billet-studio") / "journal"
FORMAT = "billet-studio-journal/1"


def sidecar_digest(path: Path) -> str | None:
    """SHA-256 of a sidecar's bytes, or None when there is none."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class JournalEntry:
    """Unsaved edits of one image: when they were written and what they started from."""

    path: Path
    image_path: Path
    written_at: float
    base_digest: str | None

    def sidecar_changed(self, project: Project) -> bool:
        """Whether the sidecar on disk is no longer the one these edits started from."""
        return sidecar_digest(project.sidecar_path(self.image_path)) != self.base_digest


class CrashJournal:
    """The project's crash journal."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.folder = project.root / JOURNAL_FOLDER

    def _file(self, image_path: Path) -> Path:
        key = hashlib.sha1(self.project.relative(image_path).encode("utf-8")).hexdigest()
        return self.folder / f"{key[:20]}.json"

    def write(self, record: ImageRecord, base_digest: str | None) -> Path:
        """Journal ``record``'s unsaved state (``base_digest``: the sidecar it started from)."""
        path = self._file(record.image_path)
        sidecar = self.project.sidecar_path(record.image_path)
        # Without imageData: recovery takes it from the file on disk, and a multi-megabyte
        # base64 blob per gesture would slow every edit.
        atomic_write_json(path, {
            "format": FORMAT,
            "image": self.project.relative(record.image_path),
            "written_at": time.time(),
            "base_digest": base_digest,
            "labelme": labelme_document(replace(record, image_data=None), sidecar),
        }, indent=None)
        return path

    def discard(self, image_path: Path) -> None:
        self._file(image_path).unlink(missing_ok=True)

    def entries(self) -> tuple[list[JournalEntry], list[AnnotationError]]:
        """Pending entries, newest first, and an error for each unreadable one."""
        entries, errors = [], []
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            try:
                entries.append(self._entry(path))
            except AnnotationError as error:
                errors.append(error)
        entries.sort(key=lambda e: -e.written_at)
        return entries, errors

    def _entry(self, path: Path) -> JournalEntry:
        document = load_json_document(path)
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise AnnotationError(path, "is not a Billet Studio journal entry")
        image = document.get("image")
        written = document.get("written_at")
        if not isinstance(image, str) or not isinstance(written, (int, float)):
            raise AnnotationError(path, "lacks the image it belongs to or its time")
        image_path = self.project.root / image
        if not self.project.contains(image_path):
            raise AnnotationError(path, f"names {image!r}, outside the project folder")
        digest = document.get("base_digest")
        return JournalEntry(path, image_path, float(written),
                            digest if isinstance(digest, str) else None)

    def recover(self, entry: JournalEntry) -> ImageRecord:
        """The journalled record (not saved: the caller shows it as unsaved edits)."""
        document = load_json_document(entry.path)
        record = parse_labelme(document.get("labelme"), entry.path, entry.image_path)
        current = self.project.load_record(entry.image_path)
        return ImageRecord(
            image_path=current.image_path, height=current.height, width=current.width,
            shapes=record.shapes, billet=record.billet, json_path=current.json_path,
            flags=record.flags, version=record.version, image_data=current.image_data,
            extra=record.extra, image_path_text=current.image_path_text)
