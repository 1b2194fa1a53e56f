"""The error store: ``records.sqlite`` with one row per billet and one per box.

``billets`` holds what the error browser lists and filters (subset facts, IDs and reads,
counts, CB flags); ``boxes`` holds every digit and every prediction (kind TP/MC/FN/FP, or
``ignored`` under the score threshold, so the matching can be re-run at another
threshold; ``pred_index`` keeps each prediction's place in its image, which breaks score
ties as the first matching did); ``meta`` holds the classes and the settings as JSON.
Written to a temporary file and moved into place, so a reader never sees half a store.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from billet_studio.annotations.errors import AnnotationError, SaveError
from billet_studio.evaluation.inputs import ImagePredictions, TruthImage
from billet_studio.evaluation.matching import FP_TYPES, MatchResult
from billet_studio.evaluation.scoring import BilletScore

STORE_FILE = "records.sqlite"
SCHEMA_VERSION = 2
#: Versions this code reads: version 1 lacks ``boxes.pred_index`` (re-matching then takes
#: the predictions in the order the store lists them).
READABLE_SCHEMAS = (1, 2)
_COUNTS = ("digits", "tp", "mc", "fn", "fp", *(f"fp_{t.lower()}" for t in FP_TYPES),
           "cb_strict", "cb_lenient", "cb_raw", "cb_prior", "needs_review")
_SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE billets (
    id INTEGER PRIMARY KEY, image_id INTEGER NOT NULL, file_name TEXT NOT NULL,
    width INTEGER, height INTEGER, site TEXT, visibility TEXT,
    true_id TEXT NOT NULL, raw_read TEXT NOT NULL, prior_read TEXT,
    raw_score REAL, prior_score REAL, skipped_slots INTEGER, inserted_chars INTEGER,
    {", ".join(f"{name} INTEGER NOT NULL" for name in _COUNTS)},
    errors INTEGER NOT NULL
);
CREATE TABLE boxes (
    id INTEGER PRIMARY KEY, billet INTEGER NOT NULL REFERENCES billets(id),
    kind TEXT NOT NULL, fp_type TEXT, true_label TEXT, pred_label TEXT,
    score REAL, iou REAL,
    tx0 REAL, ty0 REAL, tx1 REAL, ty1 REAL,
    px0 REAL, py0 REAL, px1 REAL, py1 REAL,
    top_classes TEXT, pred_index INTEGER
);
"""
#: Made once the rows are in (building an index at the end is faster than keeping it).
_INDEXES = """
CREATE INDEX billets_visibility ON billets(visibility);
CREATE INDEX billets_site ON billets(site);
CREATE INDEX billets_errors ON billets(errors);
CREATE INDEX billets_true_id ON billets(true_id);
CREATE INDEX boxes_billet ON boxes(billet);
CREATE INDEX boxes_kind ON boxes(kind, fp_type);
CREATE INDEX boxes_true_label ON boxes(true_label);
CREATE INDEX boxes_pred_label ON boxes(pred_label);
"""


BILLET_COLUMNS = ("id", "image_id", "file_name", "width", "height", "site", "visibility",
                  "true_id", "raw_read", "prior_read", "raw_score", "prior_score",
                  "skipped_slots", "inserted_chars", *_COUNTS, "errors")
BOX_COLUMNS = ("billet", "kind", "fp_type", "true_label", "pred_label", "score", "iou",
               "tx0", "ty0", "tx1", "ty1", "px0", "py0", "px1", "py1", "top_classes",
               "pred_index")
INSERT_BOX = (f"INSERT INTO boxes ({', '.join(BOX_COLUMNS)}) VALUES "
              f"({', '.join('?' * len(BOX_COLUMNS))})")
#: Columns of ``billets`` that the matching decides (the rest are facts and reads).
MATCH_COLUMNS = ("digits", "tp", "mc", "fn", "fp", *(f"fp_{t.lower()}" for t in FP_TYPES),
                 "cb_strict", "cb_lenient")


def _billet_row(row_id: int, billet: BilletScore) -> tuple[Any, ...]:
    image, read = billet.image, billet.read
    counts = [int(v) for v in billet.counts]
    errors = counts[2] + counts[3] + counts[4]  # MC + FN + FP
    prior_score = read.constrained_score if read.constrained is not None else None
    return (row_id, image.image_id, image.file_name, image.width, image.height, image.site,
            image.visibility, billet.true_id, read.raw, read.constrained, read.raw_score,
            prior_score, len(read.skipped), read.inserted, *counts, errors)


def top_classes_json(vector: np.ndarray | None, classes: Sequence[str]) -> str | None:
    """The three best classes of a score vector, as the store keeps them."""
    if vector is None:
        return None
    best = np.argsort(-vector, kind="stable")[:3]
    return json.dumps([[classes[i], round(float(vector[i]), 4)] for i in best])


def _objects(values: Any) -> np.ndarray:
    """``values`` as an object array of plain Python values (what sqlite3 binds)."""
    values = np.asarray(values)
    out = np.empty(len(values), dtype=object)
    out[:] = values.tolist() if values.dtype != object else list(values)
    return out


def _where(mask: np.ndarray, values: Any, index: np.ndarray | None = None) -> np.ndarray:
    """``values`` (at ``index``, when given) where ``mask``, None elsewhere."""
    out = np.full(len(mask), None, dtype=object)
    chosen = np.flatnonzero(mask)
    values = np.asarray(values)
    picked = values[chosen if index is None else index[chosen]]
    out[chosen] = picked.tolist() if values.dtype != object else list(picked)
    return out


def box_rows(ids: Sequence[int], truths: Sequence[TruthImage],
             predictions: Sequence[ImagePredictions],
             top_classes: Sequence[Sequence[str | None]], matches: Sequence[MatchResult],
             classes: Sequence[str]) -> list[tuple[Any, ...]]:
    """The ``boxes`` rows (:data:`BOX_COLUMNS`) of the billets with row ids ``ids``: each
    one's digits (with the prediction each matched), then its FP and ignored
    predictions; made column by column over all of them (numpy, no loop per box)."""
    names = np.array(list(classes), dtype=object)
    ids = np.asarray(ids, dtype=np.int64)
    t_count = np.array([len(t.labels) for t in truths], dtype=np.int64)
    p_count = np.array([len(p.labels) for p in predictions], dtype=np.int64)
    t_owner, p_owner = np.repeat(np.arange(len(ids)), t_count), np.repeat(
        np.arange(len(ids)), p_count)
    p_start = np.concatenate([[0], np.cumsum(p_count)])

    def joined(arrays: list[np.ndarray], shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        return np.concatenate(arrays) if arrays else np.zeros(shape, dtype=dtype)

    t_boxes = joined([t.boxes for t in truths], (0, 4), np.float64).reshape(-1, 4)
    t_labels = joined([t.labels for t in truths], (0,), np.int64)
    p_boxes = joined([p.boxes for p in predictions], (0, 4), np.float64).reshape(-1, 4)
    p_labels = joined([p.labels for p in predictions], (0,), np.int64)
    p_scores = joined([p.scores for p in predictions], (0,), np.float64)
    flat_top = [t for tops in top_classes for t in tops]
    top = np.empty(len(flat_top), dtype=object)
    top[:] = flat_top
    local = joined([m.truth_match for m in matches], (0,), np.int64).astype(np.int64)
    truth_kind = joined([m.truth_kind for m in matches], (0,), object)
    pred_kind = joined([m.pred_kind for m in matches], (0,), object).astype(str)
    fp_type = joined([m.pred_fp_type for m in matches], (0,), object).astype(str)
    pred_iou = joined([m.pred_iou for m in matches], (0,), np.float64)
    found = local >= 0
    gp = p_start[t_owner] + local  # the prediction each digit matched (where found)
    truth_columns = [
        _objects(ids[t_owner]), _objects(truth_kind), np.full(len(local), None, object),
        names[t_labels], _where(found, names[p_labels], gp), _where(found, p_scores, gp),
        _where(found, pred_iou, gp), *(_objects(t_boxes[:, k]) for k in range(4)),
        *(_where(found, p_boxes[:, k], gp) for k in range(4)), _where(found, top, gp),
        _where(found, local)]
    q = np.flatnonzero((pred_kind == "FP") | (pred_kind == "ignored"))
    none = np.full(len(q), None, object)
    pred_columns = [
        _objects(ids[p_owner[q]]), _objects(pred_kind[q]),
        _where(fp_type[q] != "", fp_type[q].astype(object)), none,
        names[p_labels[q]], _objects(p_scores[q]), _objects(pred_iou[q]), none, none, none,
        none, *(_objects(p_boxes[q, k]) for k in range(4)), top[q],
        _objects(q - p_start[p_owner[q]])]
    order = np.lexsort((np.concatenate([np.arange(len(local)), q]),
                        np.repeat([0, 1], [len(local), len(q)]),
                        np.concatenate([t_owner, p_owner[q]])))
    return list(zip(*(np.concatenate([a, b])[order]
                      for a, b in zip(truth_columns, pred_columns, strict=True)), strict=True))


def _top_classes(billet: BilletScore, classes: Sequence[str]) -> list[str | None]:
    vectors = billet.predictions.class_scores
    return [top_classes_json(None if vectors is None else vectors[p], classes)
            for p in range(len(billet.predictions.labels))]


def write_store(path: Path, billets: Sequence[BilletScore], classes: Sequence[str],
                meta: dict[str, Any]) -> Path:
    """Write the store for ``billets`` at ``path`` (atomically)."""
    with StoreWriter(path, classes, meta) as writer:
        for start in range(0, len(billets), 2000):  # rows made as they are written
            chunk = billets[start:start + 2000]
            ids = range(start + 1, start + 1 + len(chunk))
            writer.add([_billet_row(i, b) for i, b in zip(ids, chunk, strict=True)],
                       box_rows(ids, [b.image for b in chunk], [b.predictions for b in chunk],
                                [_top_classes(b, classes) for b in chunk],
                                [b.match for b in chunk], classes))
    return path


class StoreWriter:
    """Writes a store chunk by chunk into a temporary file, moved into place when the
    ``with`` block ends normally; an error or :meth:`abandon` leaves no store behind."""

    def __init__(self, path: Path, classes: Sequence[str], meta: dict[str, Any],
                 durable: bool = True) -> None:
        self.path = Path(path)
        self.temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self.temporary.unlink(missing_ok=True)
        self.db: sqlite3.Connection | None = None
        with self._saving():
            self.db = sqlite3.connect(self.temporary)
            if not durable:  # a scratch store: no journal, no syncing to disk
                self.db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")
            self.db.executescript(_SCHEMA)
            document = {"schema": SCHEMA_VERSION, "classes": list(classes), **meta}
            self.db.executemany("INSERT INTO meta VALUES (?, ?)",
                                [(key, json.dumps(value)) for key, value in document.items()])

    @contextmanager
    def _saving(self) -> Iterator[None]:
        try:
            yield
        except (OSError, sqlite3.Error) as error:
            self.abandon()
            raise SaveError(self.path, f"could not be written ({error})") from None

    def add(self, billets: Iterable[Sequence[Any]], boxes: Iterable[Sequence[Any]]) -> None:
        """Add billet rows (:data:`BILLET_COLUMNS`) and box rows (:data:`BOX_COLUMNS`)."""
        assert self.db is not None
        with self._saving():
            self.db.executemany(
                f"INSERT INTO billets VALUES ({', '.join('?' * len(BILLET_COLUMNS))})",
                billets)
            self.db.executemany(INSERT_BOX, boxes)

    def finish(self) -> Path:
        assert self.db is not None
        with self._saving():
            self.db.commit()
            self.db.executescript(_INDEXES)
            self.db.close()
            self.db = None
            os.replace(self.temporary, self.path)
        return self.path

    def abandon(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
        self.temporary.unlink(missing_ok=True)

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None and self.db is not None:  # not abandoned
            self.finish()
        else:
            self.abandon()


def open_store(path: Path | str) -> sqlite3.Connection:
    """Open a store read-only; a missing or foreign file is an error naming it."""
    path = Path(path)
    if path.is_dir():
        path = path / STORE_FILE
    if not path.is_file():
        raise AnnotationError(path, "not found; is this an evaluation folder?")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        db.row_factory = sqlite3.Row
        schema = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    except sqlite3.Error as error:
        raise AnnotationError(path, f"is not an evaluation store ({error})") from None
    if schema is None or json.loads(schema[0]) not in READABLE_SCHEMAS:
        db.close()
        raise AnnotationError(path, f"has store schema {schema and schema[0]}, this version "
                                    f"reads {', '.join(map(str, READABLE_SCHEMAS))}")
    return db


def read_meta(db: sqlite3.Connection) -> dict[str, Any]:
    return {row[0]: json.loads(row[1]) for row in db.execute("SELECT key, value FROM meta")}
