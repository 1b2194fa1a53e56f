"""Output folders of exports: where they may go, and replacing them whole.

An export is built in a hidden staging folder beside its target and swapped in only when
it is complete, so an export never mixes with the files of an earlier one (a test image
left in an old training folder), and a failed or cancelled export leaves the old one as it
was. A folder is only replaced when an earlier export of Billet Studio made it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from billet_studio.annotations.errors import AnnotationError, SaveError
from billet_studio.annotations.project import OUTPUT_FOLDERS, Project

MARKER = ".billet-studio-output.json"


def checked_output_folder(project: Project, out: Path | str) -> Path:
    """``out`` made absolute, refused where exported files would mix with the photographs
    (the project would then list the exported copies as images of its own)."""
    out = Path(os.path.abspath(out))
    images = project.root / "images"
    if out.is_relative_to(images):
        raise AnnotationError(out, f"is inside the project's image folder {images}; export "
                                   "somewhere else (the project's datasets/ folder, say)")
    if out == project.root:
        raise AnnotationError(out, "is the project folder itself; export into a folder of "
                                   "its own (the project's datasets/ folder, say)")
    if project.image_root == project.root and out.is_relative_to(project.root):
        first = out.relative_to(project.root).parts[0]
        if first not in OUTPUT_FOLDERS:
            raise AnnotationError(
                out, "is among the project's photographs (they are in its top folder); "
                     f"export into one of {', '.join(OUTPUT_FOLDERS[:4])} or outside"
            )
    return out


@contextlib.contextmanager
def staged_output(out: Path, kind: str) -> Iterator[Path]:
    """Yield an empty staging folder; on success it replaces ``out`` whole.

    ``out`` must be missing, empty, or an earlier Billet Studio output; anything else is
    refused so that no folder of the user's is ever deleted.
    """
    if out.exists() and not out.is_dir():
        raise AnnotationError(out, "is a file; an export needs a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise AnnotationError(out, "is not empty and was not written by Billet Studio; "
                                   "choose an empty or new folder")
    stage = out.parent / f".{out.name}.staging-{os.getpid()}"
    try:
        shutil.rmtree(stage, ignore_errors=True)
        stage.mkdir(parents=True)
    except OSError as error:
        raise SaveError(out, f"cannot create a folder beside it ({error.strerror or error})"
                        ) from error
    try:
        yield stage
        (stage / MARKER).write_text(json.dumps({"kind": kind, "written": time.time()}) + "\n",
                                    encoding="utf-8")
        _swap_in(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _swap_in(stage: Path, out: Path) -> None:
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    try:
        if out.exists():
            os.replace(out, old)
        os.replace(stage, out)
    except OSError as error:
        if old.exists() and not out.exists():
            os.replace(old, out)
        raise SaveError(out, f"could not replace the earlier export ({error.strerror or error})"
                        ) from error
    shutil.rmtree(old, ignore_errors=True)
