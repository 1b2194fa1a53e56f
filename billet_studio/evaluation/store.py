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


def box_rows(row_id: int, truth_boxes: np.ndarray, truth_names: Sequence[str],
             pred_boxes: np.ndarray, pred_names: Sequence[str], pred_scores: np.ndarray,
             top_classes: Sequence[str | None], match: MatchResult
             ) -> Iterable[tuple[Any, ...]]:
    """The ``boxes`` rows of one billet (:data:`BOX_COLUMNS`): every digit (with the
    prediction it matched), then every FP and ignored prediction."""
    for g, kind in enumerate(match.truth_kind):
        t = [float(v) for v in truth_boxes[g]]
        p = int(match.truth_match[g])
        if p < 0:
            yield (row_id, "FN", None, truth_names[g], None, None, None, *t,
                   None, None, None, None, None, None)
            continue
        yield (row_id, kind, None, truth_names[g], pred_names[p], float(pred_scores[p]),
               float(match.pred_iou[p]), *t, *(float(v) for v in pred_boxes[p]),
               top_classes[p], p)
    for p, kind in enumerate(match.pred_kind):
        if kind not in ("FP", "ignored"):
            continue
        yield (row_id, kind, match.pred_fp_type[p] or None, None, pred_names[p],
               float(pred_scores[p]), float(match.pred_iou[p]), None, None, None, None,
               *(float(v) for v in pred_boxes[p]), top_classes[p], p)


def _box_rows(row_id: int, billet: BilletScore, classes: Sequence[str]
              ) -> Iterable[tuple[Any, ...]]:
    image, preds = billet.image, billet.predictions
    vectors = preds.class_scores
    top = [top_classes_json(None if vectors is None else vectors[p], classes)
           for p in range(len(preds.labels))]
    return box_rows(row_id, image.boxes, [classes[i] for i in image.labels], preds.boxes,
                    [classes[i] for i in preds.labels], preds.scores, top, billet.match)


def write_store(path: Path, billets: Sequence[BilletScore], classes: Sequence[str],
                meta: dict[str, Any]) -> Path:
    """Write the store for ``billets`` at ``path`` (atomically)."""
    with StoreWriter(path, classes, meta) as writer:
        for start in range(0, len(billets), 2000):  # rows made as they are written
            chunk = enumerate(billets[start:start + 2000], start=start + 1)
            writer.add([_billet_row(i, b) for i, b in chunk],
                       [row for i, b in enumerate(billets[start:start + 2000], start=start + 1)
                        for row in _box_rows(i, b, classes)])
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
