"""Browsing an evaluation's billets: filtered, sorted pages of ``records.sqlite`` (the
studio's error browser reads only what it shows), a billet's boxes, the characters a read
got wrong, and where a billet's photograph is.

Filters are SQL over the store's indexed columns, so a page of the 100,000-billet
evaluation comes back in milliseconds and holds only the rows asked for.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from billet_studio.evaluation.matching import FP_TYPES
from billet_studio.evaluation.rematch import load_billets, match_config_of, rematched_rows
from billet_studio.evaluation.scoring import SUBSETS
from billet_studio.evaluation.store import (
    BILLET_COLUMNS,
    BOX_COLUMNS,
    STORE_FILE,
    open_store,
    read_meta,
)

#: Error kinds a billet can be filtered by: it has at least one of them.
ERROR_KINDS = ("MC", "FN", "FP", *(f"FP {t}" for t in FP_TYPES), "CB wrong", "needs review")
_KIND_SQL = {"MC": "mc > 0", "FN": "fn > 0", "FP": "fp > 0",
             **{f"FP {t}": f"fp_{t.lower()} > 0" for t in FP_TYPES},
             "CB wrong": "{cb} = 0", "needs review": "needs_review > 0"}
_SUBSET_SQL = {"all": "1", "well": "visibility = 'well'",
               "poor_or_partial": "visibility IN ('poor', 'partial')",
               "poor": "visibility = 'poor'", "partial": "visibility = 'partial'"}
#: Columns the table sorts by (what the user sees -> SQL).
SORT_KEYS = {"errors": "errors", "file": "file_name", "true ID": "true_id",
             "raw score": "raw_score", "prior score": "prior_score", "MC": "mc", "FN": "fn",
             "FP": "fp", "TP": "tp", "site": "site", "subset": "visibility", "CB": "cb",
             "review": "needs_review"}
#: What a page holds per billet.
#: ``cb``: the billet read right, with the format prior when the evaluation had one.
COLUMNS = ("id", "file_name", "visibility", "site", "true_id", "raw_read", "prior_read",
           "raw_score", "prior_score", "tp", "mc", "fn", "fp", "cb", "needs_review",
           "errors")


@dataclass(frozen=True)
class BilletFilter:
    """Which billets to list, and in which order.

    A billet passes when it has every error kind in ``kinds``; ``character`` keeps the
    billets where that character is misread, missed or falsely found; ``text`` matches
    the true ID, the raw read, the prior read or the file name (case-insensitive);
    ``confusion`` (true, predicted) keeps the billets with a digit in that cell of the
    confusion matrix (None: background as the true side, missed as the predicted side).
    """

    kinds: frozenset[str] = frozenset()
    subset: str = "all"
    site: str | None = None
    character: str | None = None
    text: str = ""
    sort: str = "errors"
    descending: bool = True
    confusion: tuple[str | None, str | None] | None = None

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(ERROR_KINDS)
        if unknown:
            raise ValueError(f"unknown error kinds {sorted(unknown)}; known: {ERROR_KINDS}")
        if self.subset not in SUBSETS:
            raise ValueError(f"subset must be one of {SUBSETS}, got {self.subset!r}")
        if self.sort not in SORT_KEYS:
            raise ValueError(f"sort must be one of {tuple(SORT_KEYS)}, got {self.sort!r}")

    def where(self, character_table: str | None = None, confusion_table: str | None = None,
              cb: str = "cb_prior") -> tuple[str, list[Any]]:
        """The SQL condition on ``billets`` and its parameters (``character_table``,
        ``confusion_table``: tables of the billet ids those filters keep, made ahead;
        ``cb``: the column that says a billet was read right)."""
        clauses = [_SUBSET_SQL[self.subset],
                   *(_KIND_SQL[k].format(cb=cb) for k in sorted(self.kinds))]
        params: list[Any] = []
        if self.site is not None:
            clauses.append("site IS ?")
            params.append(self.site)
        if self.character is not None:
            if character_table is None:
                raise ValueError("a character filter needs its table of billets "
                                 "(BilletBrowser makes it)")
            clauses.append(f"id IN (SELECT billet FROM {character_table})")
        if self.confusion is not None:
            if confusion_table is None:
                raise ValueError("a confusion filter needs its table of billets "
                                 "(BilletBrowser makes it)")
            clauses.append(f"id IN (SELECT billet FROM {confusion_table})")
        if self.text.strip():
            pattern = f"%{escape_like(self.text.strip())}%"
            clauses.append("(true_id LIKE ? ESCAPE '\\' OR raw_read LIKE ? ESCAPE '\\' OR "
                           "prior_read LIKE ? ESCAPE '\\' OR file_name LIKE ? ESCAPE '\\')")
            params += [pattern] * 4
        return " AND ".join(f"({c})" for c in clauses), params

    def order(self, cb: str = "cb_prior") -> str:
        direction = "DESC" if self.descending else "ASC"
        column = cb if self.sort == "CB" else SORT_KEYS[self.sort]
        return f"ORDER BY {column} {direction}, id ASC"


def escape_like(text: str) -> str:
    """``text`` for a LIKE pattern with ESCAPE '\\': matched as typed (% and _ are no
    wildcards)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def confusion_condition(true: str | None, predicted: str | None) -> tuple[str, list[Any]]:
    """The boxes in one cell of the confusion matrix (SQL on ``boxes``)."""
    if true is None and predicted is None:
        raise ValueError("a confusion cell needs a true or a predicted class")
    if true is None:
        return "kind = 'FP' AND pred_label = ?", [predicted]
    if predicted is None:
        return "kind = 'FN' AND true_label = ?", [true]
    return "kind IN ('TP', 'MC') AND true_label = ? AND pred_label = ?", [true, predicted]


@dataclass(frozen=True)
class BoxRecord:
    """One digit or prediction of a billet, as the store holds it."""

    kind: str
    fp_type: str | None
    true_label: str | None
    pred_label: str | None
    score: float | None
    iou: float | None
    truth_box: tuple[float, float, float, float] | None
    pred_box: tuple[float, float, float, float] | None
    top_classes: list[tuple[str, float]] = field(default_factory=list)


class BilletBrowser:
    """A read-only view of one evaluation store (one connection per thread)."""

    def __init__(self, path: Path | str) -> None:
        path = Path(path)
        self.path = path / STORE_FILE if path.is_dir() else path
        self.db = open_store(self.path)
        self.meta = read_meta(self.db)
        self.classes: tuple[str, ...] = tuple(self.meta.get("classes", ()))
        #: A billet is read right by its prior read when the evaluation had a format
        #: prior, else by its raw read.
        self.cb_column = ("cb_prior" if self.summary_inputs().get("id_format") is not None
                          else "cb_raw")
        self.match_config = match_config_of(self.meta)
        #: Temporary tables of the billets each character or confusion-cell filter keeps
        #: (made once each: the boxes are scanned once, not by every query).
        self._billet_tables: dict[tuple[Any, ...], str] = {}

    def close(self) -> None:
        self.db.close()

    def _billet_table(self, key: tuple[Any, ...], select: str, params: list[Any]) -> str:
        """A temporary table of the billet ids ``select`` finds (made once per key)."""
        if key not in self._billet_tables:
            table = f"temp.billets_{len(self._billet_tables)}"
            self.db.execute(f"CREATE TABLE {table} (billet INTEGER PRIMARY KEY)")
            self.db.execute(f"INSERT OR IGNORE INTO {table} {select}", params)
            self.db.commit()  # no transaction left open on the read-only store
            self._billet_tables[key] = table
        return self._billet_tables[key]

    def _where(self, billet_filter: BilletFilter) -> tuple[str, list[Any]]:
        char, cell = billet_filter.character, billet_filter.confusion
        character_table = confusion_table = None
        if char is not None:
            character_table = self._billet_table(
                ("character", char), "SELECT billet FROM boxes WHERE true_label = ? AND kind "
                "IN ('MC', 'FN') UNION SELECT billet FROM boxes WHERE pred_label = ? AND kind "
                "IN ('MC', 'FP')", [char, char])
        if cell is not None:
            condition, values = confusion_condition(*cell)
            confusion_table = self._billet_table(
                ("cell", *cell), f"SELECT billet FROM boxes WHERE {condition}", values)
        return billet_filter.where(character_table, confusion_table, self.cb_column)

    def _select(self) -> str:
        return ", ".join(f"{self.cb_column} AS cb" if c == "cb" else c for c in COLUMNS)

    def count(self, billet_filter: BilletFilter) -> int:
        where, params = self._where(billet_filter)
        return int(self.db.execute(f"SELECT COUNT(*) FROM billets WHERE {where}",
                                   params).fetchone()[0])

    def page(self, billet_filter: BilletFilter, offset: int = 0, limit: int = 200
             ) -> list[dict[str, Any]]:
        """Up to ``limit`` billets from ``offset`` in the filter's order."""
        where, params = self._where(billet_filter)
        rows = self.db.execute(
            f"SELECT {self._select()} FROM billets WHERE {where} "
            f"{billet_filter.order(self.cb_column)} LIMIT ? OFFSET ?", [*params, limit, offset])
        return [dict(zip(COLUMNS, row, strict=True)) for row in rows]

    def ids(self, billet_filter: BilletFilter) -> list[int]:
        """Every billet id the filter keeps, in the order the table shows them."""
        where, params = self._where(billet_filter)
        return [row[0] for row in self.db.execute(
            f"SELECT id FROM billets WHERE {where} {billet_filter.order(self.cb_column)}",
            params)]

    def billet(self, billet_id: int) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM billets WHERE id = ?", (billet_id,)).fetchone()
        return None if row is None else dict(row)

    def boxes(self, billet_id: int) -> list[BoxRecord]:
        return [box_record(row) for row in self.db.execute(
            "SELECT * FROM boxes WHERE billet = ? ORDER BY id", (billet_id,))]

    def at_score(self, billet_id: int, score: float
                 ) -> tuple[dict[str, Any], list[BoxRecord]] | None:
        """One billet re-matched at score threshold ``score``: its row (counts as the
        matching makes them there) and its boxes; None for an unknown billet."""
        billets = load_billets(self.db, self.path, self.classes, [billet_id])
        if not billets:
            return None
        (row,), boxes = rematched_rows(billets, self.classes,
                                       replace(self.match_config, score=score))
        return (dict(zip(BILLET_COLUMNS, row, strict=True)),
                [box_record(dict(zip(BOX_COLUMNS, box, strict=True))) for box in boxes])

    def write_csv(self, billet_filter: BilletFilter, path: Path | str) -> int:
        """Write every billet the filter keeps, in its order, as CSV (atomically; the
        wrong characters of each read as positions); returns how many."""
        import csv

        from billet_studio.annotations.atomic import atomic_stream

        where, params = self._where(billet_filter)
        rows = self.db.execute(f"SELECT {self._select()} FROM billets WHERE {where} "
                               f"{billet_filter.order(self.cb_column)}", params)
        count = 0
        with atomic_stream(path, text=True) as stream:
            writer = csv.writer(stream)
            writer.writerow([*COLUMNS[1:], "raw_wrong_at", "prior_wrong_at"])
            for row in rows:
                record = dict(zip(COLUMNS, row, strict=True))
                wrong = [" ".join(str(i) for i, bad in enumerate(
                    wrong_characters(record["true_id"], record[key])) if bad)
                    for key in ("raw_read", "prior_read")]
                writer.writerow([record[c] for c in COLUMNS[1:]] + wrong)
                count += 1
        return count

    def confusion(self, billet_filter: BilletFilter) -> np.ndarray:
        """The confusion matrix of the billets the filter keeps (its own confusion cell
        aside): rows the classes then background, columns the classes then missed, as
        ``metrics.confusion_matrix`` lays it out."""
        where, params = self._where(replace(billet_filter, confusion=None))
        index = {name: i for i, name in enumerate(self.classes)}
        size = len(self.classes) + 1
        matrix = np.zeros((size, size), dtype=np.int64)
        for kind, true, predicted, count in self.db.execute(
                "SELECT kind, true_label, pred_label, COUNT(*) FROM boxes WHERE kind IN "
                f"('TP', 'MC', 'FN', 'FP') AND billet IN (SELECT id FROM billets WHERE {where})"
                " GROUP BY kind, true_label, pred_label", params):
            row = index.get(true, size - 1) if kind != "FP" else size - 1
            column = index.get(predicted, size - 1) if kind != "FN" else size - 1
            matrix[row, column] += count
        return matrix

    def cell_boxes(self, billet_filter: BilletFilter, true: str | None,
                   predicted: str | None, limit: int = 48
                   ) -> list[tuple[int, str, tuple[float, float, float, float]]]:
        """(billet id, file name, box) of up to ``limit`` digits in one confusion cell,
        among the billets the filter keeps: what the crop gallery shows."""
        where, params = self._where(replace(billet_filter, confusion=None))
        condition, values = confusion_condition(true, predicted)
        rows = self.db.execute(
            "SELECT b.id, b.file_name, x.tx0, x.ty0, x.tx1, x.ty1, x.px0, x.py0, x.px1, "
            f"x.py1 FROM boxes x JOIN billets b ON b.id = x.billet WHERE {condition} AND "
            f"b.id IN (SELECT id FROM billets WHERE {where}) LIMIT ?",
            [*values, *params, limit])
        return [(row[0], row[1], tuple(row[2:6]) if row[2] is not None else tuple(row[6:10]))
                for row in rows]

    def sites(self) -> list[str]:
        return [row[0] for row in self.db.execute(
            "SELECT DISTINCT site FROM billets WHERE site IS NOT NULL ORDER BY site")]

    def summary_inputs(self) -> dict[str, Any]:
        """The evaluation's inputs (truth, predictions, project, image root) as recorded."""
        summary = self.meta.get("summary", {})
        return dict(summary.get("inputs", {})) if isinstance(summary, dict) else {}


def box_record(row: Any) -> BoxRecord:
    """A :class:`BoxRecord` from a ``boxes`` row (a sqlite3.Row or a dict)."""
    truth = None if row["tx0"] is None else (row["tx0"], row["ty0"], row["tx1"], row["ty1"])
    pred = None if row["px0"] is None else (row["px0"], row["py0"], row["px1"], row["py1"])
    top = [(str(c), float(v)) for c, v in json.loads(row["top_classes"] or "[]")]
    return BoxRecord(row["kind"], row["fp_type"], row["true_label"], row["pred_label"],
                     row["score"], row["iou"], truth, pred, top)


def wrong_characters(true_id: str, read: str | None) -> list[bool]:
    """For each character of ``read``: whether it is wrong (replaced or inserted against
    the true ID, aligned by difflib so one missing digit does not mark the rest)."""
    if read is None:
        return []
    wrong = [True] * len(read)
    matcher = difflib.SequenceMatcher(a=true_id, b=read, autojunk=False)
    for block in matcher.get_matching_blocks():
        for index in range(block.b, block.b + block.size):
            wrong[index] = False
    return wrong


def resolve_image(file_name: str, inputs: dict[str, Any], store: Path,
                  project_root: Path | None = None) -> Path | None:
    """The photograph of a billet: under the evaluation's image root, beside its truth
    file, or under the project; relative recorded paths are tried against the project
    and the folders above the store. None when none exists."""
    bases: list[Path] = []
    anchors = [p for p in (project_root, *Path(store).resolve().parents) if p is not None]
    for key in ("image_root", "truth"):
        value = inputs.get(key)
        if not value:
            continue
        recorded = Path(value) if key == "image_root" else Path(value).parent
        bases += [recorded] if recorded.is_absolute() else [a / recorded for a in anchors]
    if inputs.get("project"):
        bases.append(Path(inputs["project"]))
    if project_root is not None:
        bases.append(project_root)
    for base in bases:
        candidate = base / file_name
        if candidate.is_file():
            return candidate
    path = Path(file_name)
    return path if path.is_absolute() and path.is_file() else None


def find_evaluations(project_root: Path) -> list[Path]:
    """Every evaluation folder of a project (holding records.sqlite), newest first."""
    found: list[tuple[float, Path]] = []
    for folder in ("evaluations", "runs", "experiments"):
        base = Path(project_root) / folder
        if base.is_dir():
            for store in base.rglob(STORE_FILE):
                try:
                    found.append((store.stat().st_mtime, store.parent))
                except OSError:
                    continue  # removed while listing
    return [folder for _, folder in sorted(found, key=lambda item: item[0], reverse=True)]


def count_confusion(path: Path, billet_filter: BilletFilter) -> np.ndarray:
    """A store's confusion matrix on a connection of the calling thread's own (for a
    worker: sqlite connections stay on the thread that made them)."""
    browser = BilletBrowser(path)
    try:
        return browser.confusion(billet_filter)
    finally:
        browser.close()

