"""Re-running the matching on a stored evaluation, from ``records.sqlite`` alone: at another
score threshold (the error browser's slider, ``evaluate billets --score``), or against
corrected ground truth (:mod:`billet_studio.evaluation.rescore`).

The store keeps every digit and every prediction (those under the evaluation's threshold
as ``ignored``), so the matching at any threshold is the one ``evaluate run --score`` would
make. The ID reads are the evaluation's: they are decoded from full class-score vectors
the store does not keep, so CB raw and CB prior keep the evaluation's reads (compared
with the billet's true ID as it stands), while CB strict and lenient follow the matching.

Boxes are read as whole columns per chunk of billets (numpy, not a Python loop per box),
and their rows are made the same way (``store.box_rows``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from billet_studio.annotations.errors import AnnotationError
from billet_studio.evaluation.batched import match_all
from billet_studio.evaluation.inputs import ImagePredictions, TruthImage
from billet_studio.evaluation.matching import MatchConfig
from billet_studio.evaluation.scoring import COUNT_NAMES, match_count_rows
from billet_studio.evaluation.store import (
    BILLET_COLUMNS,
    MATCH_COLUMNS,
    StoreWriter,
    box_rows,
    open_store,
    read_meta,
)
from billet_studio.jobs import CancelToken, Progress

#: Billets re-matched together (one read of the store, one batched matching).
CHUNK = 5000
#: Billet ids asked for in one query.
ID_BATCH = 1000
#: How a chunk's boxes are read: numbers never NULL, with a flag for the missing side.
_BOX_SELECT = ("billet, true_label, pred_label, IFNULL(score, 0), tx0 IS NOT NULL, "
               "IFNULL(tx0, 0), IFNULL(ty0, 0), IFNULL(tx1, 0), IFNULL(ty1, 0), "
               "px0 IS NOT NULL, IFNULL(px0, 0), IFNULL(py0, 0), IFNULL(px1, 0), "
               "IFNULL(py1, 0), top_classes, {pred_index}")

Rows = list[tuple[Any, ...]]


@dataclass(frozen=True, eq=False)
class StoredBillet:
    """One billet as the store holds it: its ``billets`` row, its digits and every one of
    its predictions (in the order the reader gave them), with their top class scores."""

    row: dict[str, Any]
    truth: TruthImage
    predictions: ImagePredictions
    top_classes: tuple[str | None, ...]


def match_config_of(meta: dict[str, Any]) -> MatchConfig:
    """The matching settings the evaluation used (the defaults where it did not say)."""
    try:
        match = meta["summary"]["config"]["scoring"]["match"]
        return MatchConfig(iou=float(match["iou"]),
                           background_iou=float(match["background_iou"]),
                           score=float(match["score"]))
    except (KeyError, TypeError, ValueError):
        return MatchConfig()


def _label_indices(store: Path, names: Sequence[str | None], classes: Sequence[str]
                   ) -> np.ndarray:
    index = {name: i for i, name in enumerate(classes)}
    try:
        return np.array([index[name] for name in names], dtype=np.int64)
    except KeyError as error:
        raise AnnotationError(store, f"holds a box labelled {error.args[0]!r}, which is not "
                                     "one of the evaluation's classes") from None


def _read_billets(db: sqlite3.Connection, store: Path, classes: Sequence[str],
                  where: str, params: Sequence[Any]) -> list[StoredBillet]:
    """The billets ``where`` selects (on ``billets``, in id order), with their boxes."""
    cursor = db.cursor()
    cursor.row_factory = None  # plain tuples: the rows are many
    columns = [row[1] for row in cursor.execute("PRAGMA table_info(boxes)")]
    rows = db.execute(f"SELECT * FROM billets WHERE {where} ORDER BY id", params).fetchall()
    if not rows:
        return []
    select = _BOX_SELECT.format(pred_index="pred_index" if "pred_index" in columns
                                else "NULL")
    boxes = cursor.execute(f"SELECT {select} FROM boxes WHERE billet IN (SELECT id FROM "
                           f"billets WHERE {where}) ORDER BY billet, id", params).fetchall()
    ids = np.array([row["id"] for row in rows], dtype=np.int64)
    if boxes:
        (owner_id, true_names, pred_names, scores, has_truth, *rest) = zip(*boxes, strict=True)
        tx = np.array(rest[:4], dtype=np.float64).T
        has_pred, px, top, pred_index = rest[4], np.array(rest[5:9], dtype=np.float64).T, \
            rest[9], rest[10]
    else:
        owner_id = true_names = pred_names = scores = has_truth = has_pred = top = \
            pred_index = ()
        tx = px = np.zeros((0, 4))
    owner = np.searchsorted(ids, np.array(owner_id, dtype=np.int64))
    truth = np.flatnonzero(np.array(has_truth, dtype=bool))
    preds = np.flatnonzero(np.array(has_pred, dtype=bool))
    # The reader's order of each billet's predictions (schema 1 stores: as listed).
    place = np.array([np.nan if p is None else p for p in pred_index], dtype=np.float64)
    key = np.where(np.isnan(place), 1e12 + np.arange(len(place)), place)
    preds = preds[np.lexsort((key[preds], owner[preds]))]
    t_labels = _label_indices(store, [true_names[i] for i in truth], classes)
    p_labels = _label_indices(store, [pred_names[i] for i in preds], classes)
    p_scores = np.array(scores, dtype=np.float64)[preds]
    p_top = np.array(top, dtype=object)[preds] if len(top) else np.zeros(0, object)
    t_start = np.searchsorted(owner[truth], np.arange(len(ids) + 1))
    p_start = np.searchsorted(owner[preds], np.arange(len(ids) + 1))
    billets = []
    for b, row in enumerate(rows):
        ts, ps = slice(t_start[b], t_start[b + 1]), slice(p_start[b], p_start[b + 1])
        image = TruthImage(image_id=row["image_id"], file_name=row["file_name"],
                           width=row["width"], height=row["height"], boxes=tx[truth[ts]],
                           labels=t_labels[ts], site=row["site"],
                           visibility=row["visibility"])
        predictions = ImagePredictions(px[preds[ps]], p_labels[ps], p_scores[ps])
        billets.append(StoredBillet(dict(row), image, predictions, tuple(p_top[ps])))
    return billets


def load_billets(db: sqlite3.Connection, store: Path, classes: Sequence[str],
                 ids: Sequence[int]) -> list[StoredBillet]:
    """The billets with these row ids, as stored (asked for in batches: SQLite limits
    the parameters of one query, to 32,766 in common builds)."""
    ids = sorted(ids)
    billets: list[StoredBillet] = []
    for start in range(0, len(ids), ID_BATCH):
        batch = ids[start:start + ID_BATCH]
        billets += _read_billets(db, store, classes, f"id IN ({', '.join('?' * len(batch))})",
                                 batch)
    return billets


def iter_billets(db: sqlite3.Connection, store: Path, classes: Sequence[str],
                 chunk: int = CHUNK) -> Iterator[list[StoredBillet]]:
    """Every billet of the store, ``chunk`` at a time in row-id order."""
    last = 0
    while True:
        ids = [row[0] for row in db.execute(
            "SELECT id FROM billets WHERE id > ? ORDER BY id LIMIT ?", (last, chunk))]
        if not ids:
            return
        yield _read_billets(db, store, classes, "id BETWEEN ? AND ?", (ids[0], ids[-1]))
        last = ids[-1]


def rematched_rows(billets: Sequence[StoredBillet], classes: Sequence[str],
                   config: MatchConfig) -> tuple[Rows, Rows]:
    """(billet rows, box rows) of ``billets`` matched under ``config``, in the store's
    column order; the reads are kept and CB raw/prior compared with each true ID."""
    matches = match_all([b.truth for b in billets], [b.predictions for b in billets], config)
    counts = match_count_rows(matches).tolist()
    names = [name.lower() for name in COUNT_NAMES]
    rows = []
    for billet, count in zip(billets, counts, strict=True):
        row = dict(billet.row)
        row.update((name, value) for name, value in zip(names, count, strict=True)
                   if name in MATCH_COLUMNS)
        row["cb_raw"] = int(row["raw_read"] == row["true_id"])
        row["cb_prior"] = int(row["prior_read"] == row["true_id"])
        row["errors"] = row["mc"] + row["fn"] + row["fp"]
        rows.append(tuple(row[c] for c in BILLET_COLUMNS))
    return rows, box_rows([b.row["id"] for b in billets], [b.truth for b in billets],
                          [b.predictions for b in billets],
                          [b.top_classes for b in billets], matches, classes)


def rematch_store(source: Path | str, score: float, out: Path | str,
                  cancel: CancelToken | None = None, durable: bool = True
                  ) -> Iterator[Progress]:
    """Job: write at ``out`` the store ``source`` would have been at score threshold
    ``score`` (same billet ids; nothing is written if cancelled). ``durable`` False: a
    scratch store, written without journal or syncing (faster; lost in a crash)."""
    db = open_store(source)
    store = Path(source)
    try:
        meta = read_meta(db)
        classes = tuple(meta.get("classes", ()))
        config = replace(match_config_of(meta), score=float(score))
        total = int(db.execute("SELECT COUNT(*) FROM billets").fetchone()[0])
        done = 0
        yield Progress(0, total, f"re-matching at score {score:.2f}")
        with StoreWriter(Path(out), classes, _meta_at(meta, config, store),
                         durable=durable) as writer:
            for billets in iter_billets(db, store, classes):
                if cancel is not None and cancel.cancelled:
                    break
                writer.add(*rematched_rows(billets, classes, config))
                done += len(billets)
                yield Progress(done, total, f"re-matching at score {score:.2f}")
            if cancel is not None and cancel.cancelled:  # also after the last chunk
                writer.abandon()
                return
    finally:
        db.close()
    yield Progress(total, total, f"re-matched {total} billets at score {score:.2f}")


def _meta_at(meta: dict[str, Any], config: MatchConfig, source: Path) -> dict[str, Any]:
    """The source's meta with the new threshold in its recorded scoring settings."""
    document = {key: value for key, value in meta.items() if key not in ("schema", "classes")}
    summary = dict(document.get("summary") or {})
    settings = dict(summary.get("config") or {})
    scoring = dict(settings.get("scoring") or {})
    scoring["match"] = {"iou": config.iou, "background_iou": config.background_iou,
                        "score": config.score}
    settings["scoring"] = scoring
    summary["config"] = settings
    document["summary"] = summary
    document["rematched"] = {"from": str(source), "score": config.score}
    return document
