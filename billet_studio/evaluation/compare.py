"""Comparing two evaluations of the same test billets: which got better, which worse."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from billet_studio.annotations.errors import AnnotationError
from billet_studio.evaluation.store import open_store, read_meta

_FIELDS = ("file_name", "true_id", "raw_read", "prior_read", "tp", "mc", "fn", "fp",
           "cb_strict", "cb_prior", "errors")


@dataclass(frozen=True)
class BilletChange:
    """One billet in both evaluations; ``before``/``after`` hold its store rows."""

    file_name: str
    before: dict[str, Any]
    after: dict[str, Any]

    @property
    def change(self) -> int:
        """+1 better, -1 worse, 0 same: a read that became right (CB with the prior) or
        wrong decides; else fewer or more errors (MC + FN + FP)."""
        cb = self.after["cb_prior"] - self.before["cb_prior"]
        if cb:
            return 1 if cb > 0 else -1
        errors = self.after["errors"] - self.before["errors"]
        return (errors < 0) - (errors > 0)


@dataclass(frozen=True)
class Comparison:
    before: Path
    after: Path
    better: tuple[BilletChange, ...]
    worse: tuple[BilletChange, ...]
    unchanged: int
    only_before: tuple[str, ...]
    only_after: tuple[str, ...]
    rates_before: dict[str, float]
    rates_after: dict[str, float]


def _rows(folder: Path) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    db = open_store(folder)
    try:
        rows = {row["file_name"]: {k: row[k] for k in _FIELDS}
                for row in db.execute(f"SELECT {', '.join(_FIELDS)} FROM billets")}
        meta = read_meta(db)
    finally:
        db.close()
    return rows, meta


def _rates(rows: dict[str, dict[str, Any]]) -> dict[str, float]:
    digits = sum(r["tp"] + r["mc"] + r["fn"] for r in rows.values())
    billets = len(rows)
    return {
        "TP": sum(r["tp"] for r in rows.values()) / digits if digits else float("nan"),
        "CB": sum(r["cb_strict"] for r in rows.values()) / billets if billets else float("nan"),
        "CB_prior": (sum(r["cb_prior"] for r in rows.values()) / billets
                     if billets else float("nan")),
    }


def compare_evaluations(before: Path | str, after: Path | str) -> Comparison:
    """Join two evaluation folders on the billets' file names."""
    before, after = Path(before), Path(after)
    rows_a, meta_a = _rows(before)
    rows_b, meta_b = _rows(after)
    if meta_a.get("classes") != meta_b.get("classes"):
        raise AnnotationError(after, f"scores other classes than {before}; the two "
                                     "evaluations cannot be compared billet by billet")
    shared = sorted(set(rows_a) & set(rows_b))
    changes = [BilletChange(name, rows_a[name], rows_b[name]) for name in shared]
    better = tuple(c for c in changes if c.change > 0)
    worse = tuple(c for c in changes if c.change < 0)
    return Comparison(
        before, after, better, worse, len(changes) - len(better) - len(worse),
        tuple(sorted(set(rows_a) - set(rows_b))), tuple(sorted(set(rows_b) - set(rows_a))),
        _rates({k: rows_a[k] for k in shared}), _rates({k: rows_b[k] for k in shared}),
    )
