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
    """One billet in both evaluations; ``before``/``after`` hold its store rows and
    ``before_id``/``after_id`` its row id in each store (what ``BilletBrowser.boxes``
    takes; billet ids differ between stores)."""

    file_name: str
    before: dict[str, Any]
    after: dict[str, Any]
    before_id: int | None = None
    after_id: int | None = None

    @property
    def cb_changed(self) -> bool:
        """Whether the read with the format prior became right or wrong."""
        return self.after["cb_prior"] != self.before["cb_prior"]

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
    #: File names in both whose true IDs differ: other billets under the same name (two
    #: test worlds) or a relabelled one; never compared.
    different_truth: tuple[str, ...] = ()


def _rows(folder: Path) -> tuple[dict[str, dict[str, Any]], dict[str, int], dict[str, Any]]:
    """A store's billets by file name (the compared fields), their row ids, its meta."""
    db = open_store(folder)
    try:
        rows, ids = {}, {}
        for row in db.execute(f"SELECT id, {', '.join(_FIELDS)} FROM billets"):
            rows[row["file_name"]] = {k: row[k] for k in _FIELDS}
            ids[row["file_name"]] = int(row["id"])
        meta = read_meta(db)
    finally:
        db.close()
    return rows, ids, meta


def _rates(rows: dict[str, dict[str, Any]]) -> dict[str, float]:
    """TP, MC, FN and FP per digit, CB and CB_prior per billet, over ``rows``."""
    digits = sum(r["tp"] + r["mc"] + r["fn"] for r in rows.values())
    billets = len(rows)

    def per_digit(key: str) -> float:
        return sum(r[key] for r in rows.values()) / digits if digits else float("nan")

    return {
        "TP": per_digit("tp"), "MC": per_digit("mc"), "FN": per_digit("fn"),
        "FP": per_digit("fp"),
        "CB": sum(r["cb_strict"] for r in rows.values()) / billets if billets else float("nan"),
        "CB_prior": (sum(r["cb_prior"] for r in rows.values()) / billets
                     if billets else float("nan")),
    }


def compare_evaluations(before: Path | str, after: Path | str) -> Comparison:
    """Join two evaluation folders on the billets' file names (a name whose true ID
    differs between them is not the same billet: listed apart, not compared)."""
    before, after = Path(before), Path(after)
    rows_a, ids_a, meta_a = _rows(before)
    rows_b, ids_b, meta_b = _rows(after)
    if meta_a.get("classes") != meta_b.get("classes"):
        raise AnnotationError(after, f"scores other classes than {before}; the two "
                                     "evaluations cannot be compared billet by billet")
    named = sorted(set(rows_a) & set(rows_b))
    shared = [n for n in named if rows_a[n]["true_id"] == rows_b[n]["true_id"]]
    changes = [BilletChange(name, rows_a[name], rows_b[name], ids_a[name], ids_b[name])
               for name in shared]
    better = tuple(c for c in changes if c.change > 0)
    worse = tuple(c for c in changes if c.change < 0)
    return Comparison(
        before, after, better, worse, len(changes) - len(better) - len(worse),
        tuple(sorted(set(rows_a) - set(rows_b))), tuple(sorted(set(rows_b) - set(rows_a))),
        _rates({k: rows_a[k] for k in shared}), _rates({k: rows_b[k] for k in shared}),
        tuple(n for n in named if rows_a[n]["true_id"] != rows_b[n]["true_id"]),
    )
