"""Errors raised for bad input; every message names the file and the problem."""

from __future__ import annotations

from pathlib import Path


class AnnotationError(Exception):
    """A file that cannot be used as it is (the file is left untouched)."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class SaveError(AnnotationError):
    """A write that failed; the previous version of the file is intact."""
