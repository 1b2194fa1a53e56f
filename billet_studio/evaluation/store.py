"""The error store: ``records.sqlite`` with one row per billet and one per box.

``billets`` holds what the error browser lists and filters (subset facts, IDs and reads,
counts, CB flags); ``boxes`` holds every digit and every prediction (kind TP/MC/FN/FP, or
``ignored`` under the score threshold, so the matching can be re-run at another
threshold); ``meta`` holds the classes and the settings as JSON. Written to a temporary
file and moved into place, so a reader never sees half a store.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from billet_studio.annotations.errors import AnnotationError, SaveError
from billet_studio.evaluation.matching import FP_TYPES
from billet_studio.evaluation.scoring import BilletScore

STORE_FILE = "records.sqlite"
SCHEMA_VERSION = 1
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
    top_classes TEXT
);
CREATE INDEX billets_visibility ON billets(visibility);
CREATE INDEX billets_site ON billets(site);
CREATE INDEX billets_errors ON billets(errors);
CREATE INDEX billets_true_id ON billets(true_id);
CREATE INDEX boxes_billet ON boxes(billet);
CREATE INDEX boxes_kind ON boxes(kind, fp_type);
CREATE INDEX boxes_true_label ON boxes(true_label);
CREATE INDEX boxes_pred_label ON boxes(pred_label);
"""


def _billet_row(row_id: int, billet: BilletScore) -> tuple[Any, ...]:
    image, read = billet.image, billet.read
    counts = [int(v) for v in billet.counts]
    errors = counts[2] + counts[3] + counts[4]  # MC + FN + FP
    prior_score = read.constrained_score if read.constrained is not None else None
    return (row_id, image.image_id, image.file_name, image.width, image.height, image.site,
            image.visibility, billet.true_id, read.raw, read.constrained, read.raw_score,
            prior_score, len(read.skipped), read.inserted, *counts, errors)


def _top_classes(vector: np.ndarray | None, classes: Sequence[str]) -> str | None:
    if vector is None:
        return None
    best = np.argsort(-vector, kind="stable")[:3]
    return json.dumps([[classes[i], round(float(vector[i]), 4)] for i in best])


def _box_rows(row_id: int, billet: BilletScore, classes: Sequence[str]
              ) -> Iterable[tuple[Any, ...]]:
    image, preds, match = billet.image, billet.predictions, billet.match
    for g, kind in enumerate(match.truth_kind):
        t = [float(v) for v in image.boxes[g]]
        p_index = int(match.truth_match[g])
        if p_index < 0:
            yield (row_id, "FN", None, classes[image.labels[g]], None, None, None, *t,
                   None, None, None, None, None)
            continue
        vector = None if preds.class_scores is None else preds.class_scores[p_index]
        yield (row_id, kind, None, classes[image.labels[g]], classes[preds.labels[p_index]],
               float(preds.scores[p_index]), float(match.pred_iou[p_index]), *t,
               *(float(v) for v in preds.boxes[p_index]), _top_classes(vector, classes))
    for p, kind in enumerate(match.pred_kind):
        if kind not in ("FP", "ignored"):
            continue
        vector = None if preds.class_scores is None else preds.class_scores[p]
        yield (row_id, kind, match.pred_fp_type[p] or None, None, classes[preds.labels[p]],
               float(preds.scores[p]), float(match.pred_iou[p]), None, None, None, None,
               *(float(v) for v in preds.boxes[p]), _top_classes(vector, classes))


def write_store(path: Path, billets: Sequence[BilletScore], classes: Sequence[str],
                meta: dict[str, Any]) -> Path:
    """Write the store for ``billets`` at ``path`` (atomically)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    try:
        with sqlite3.connect(temporary) as db:
            db.executescript(_SCHEMA)
            document = {"schema": SCHEMA_VERSION, "classes": list(classes), **meta}
            db.executemany("INSERT INTO meta VALUES (?, ?)",
                           [(key, json.dumps(value)) for key, value in document.items()])
            db.executemany(f"INSERT INTO billets VALUES ({', '.join('?' * (15 + len(_COUNTS)))})",
                           (_billet_row(i, b) for i, b in enumerate(billets, start=1)))
            db.executemany(
                "INSERT INTO boxes (billet, kind, fp_type, true_label, pred_label, score, iou,"
                " tx0, ty0, tx1, ty1, px0, py0, px1, py1, top_classes) VALUES "
                f"({', '.join('?' * 16)})",
                (row for i, b in enumerate(billets, start=1) for row in _box_rows(i, b, classes)))
        db.close()
        os.replace(temporary, path)
    except (OSError, sqlite3.Error) as error:
        temporary.unlink(missing_ok=True)
        raise SaveError(path, f"could not be written ({error})") from None
    return path


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
    if schema is None or json.loads(schema[0]) != SCHEMA_VERSION:
        db.close()
        raise AnnotationError(path, f"has store schema {schema and schema[0]}, this version "
                                    f"reads {SCHEMA_VERSION}")
    return db


def read_meta(db: sqlite3.Connection) -> dict[str, Any]:
    return {row[0]: json.loads(row[1]) for row in db.execute("SELECT key, value FROM meta")}
