"""Re-scoring billets whose ground truth was corrected after their evaluation ran.

A billet's digits, true ID, site and visibility are read again from the project's labels
and matched against the predictions the store already holds, at the evaluation's own
settings; its ``billets`` row and ``boxes`` are replaced in one SQLite transaction, and
the store's ``relabelled`` meta entry names it (``summary.json`` and ``report.html`` keep
the figures of the run; ``evaluate run`` on a fresh export remakes everything).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from billet_studio.annotations.errors import AnnotationError, SaveError
from billet_studio.annotations.project import Project
from billet_studio.annotations.records import ImageRecord
from billet_studio.evaluation.browse import escape_like
from billet_studio.evaluation.rematch import (
    CHUNK,
    StoredBillet,
    load_billets,
    match_config_of,
    rematched_rows,
)
from billet_studio.evaluation.scoring import true_id_of
from billet_studio.evaluation.slots import SlotConfig
from billet_studio.evaluation.store import (
    BILLET_COLUMNS,
    INSERT_BOX,
    SCHEMA_VERSION,
    STORE_FILE,
    open_store,
    read_meta,
)


@dataclass(frozen=True)
class RescoreReport:
    """What a re-scoring did: billets re-scored, billets whose labels had not changed,
    and problems (an image gone, a broken sidecar), each naming its file."""

    changed: tuple[str, ...]
    unchanged: int
    problems: tuple[str, ...]


def relabelled(meta: dict[str, Any]) -> dict[str, Any]:
    """The billets re-scored after the evaluation ran (file name -> {"at": when})."""
    value = meta.get("relabelled")
    return value if isinstance(value, dict) else {}


def _line_gap(meta: dict[str, Any]) -> float:
    try:
        return float(meta["summary"]["config"]["scoring"]["slots"]["line_gap"])
    except (KeyError, TypeError, ValueError):
        return SlotConfig().line_gap


def truth_from_record(record: ImageRecord, stored: StoredBillet, classes: Sequence[str],
                      line_gap: float) -> StoredBillet:
    """``stored`` with its digits, true ID, site and visibility as ``record`` labels them."""
    index = {name: i for i, name in enumerate(classes)}
    stamps = [s for s in record.stamps if s.label in index]
    truth = replace(
        stored.truth,
        boxes=np.array([[s.box.x0, s.box.y0, s.box.x1, s.box.y1] for s in stamps],
                       dtype=np.float64).reshape(-1, 4),
        labels=np.array([index[s.label] for s in stamps], dtype=np.int64),
        site=record.billet.site or stored.truth.site, visibility=record.visibility,
        billet_id=record.billet.id)
    row = {**stored.row, "true_id": true_id_of(truth, classes, line_gap),
           "site": truth.site, "visibility": truth.visibility}
    return replace(stored, row=row, truth=replace(truth, billet_id=None))


def _same_truth(a: StoredBillet, b: StoredBillet) -> bool:
    return (a.truth.boxes.shape == b.truth.boxes.shape
            and bool(np.allclose(a.truth.boxes, b.truth.boxes, atol=1e-6))
            and np.array_equal(a.truth.labels, b.truth.labels)
            and all(a.row[k] == b.row[k] for k in ("true_id", "site", "visibility")))


def _targets(db: sqlite3.Connection, project: Project, images: Sequence[Path] | None
             ) -> tuple[dict[int, Path], list[str]]:
    """Store row id -> the project image of each billet to check. A billet is an image's
    when its file name is the image's path relative to the project, or ends with it
    (a store made elsewhere, e.g. ``../demo/images/b.jpg``), and no other billet's does."""
    if images is None:
        rows = db.execute("SELECT id, file_name FROM billets").fetchall()
        return {row[0]: project.root / row[1] for row in rows}, []
    targets, problems = {}, []
    for image in images:
        try:
            name = project.relative(image)
        except AnnotationError as error:
            problems.append(str(error))
            continue
        rows = db.execute("SELECT id FROM billets WHERE file_name = ? OR file_name LIKE ? "
                          "ESCAPE '\\'", (name, f"%/{escape_like(name)}")).fetchall()
        if len(rows) == 1:
            targets[rows[0][0]] = Path(image)
        elif rows:
            problems.append(f"{image}: {len(rows)} billets of the evaluation end with this "
                            "path; none was re-scored")
    return targets, problems


def rescore_from_project(evaluation: Path | str, project: Project,
                         images: Sequence[Path] | None = None) -> RescoreReport:
    """Re-score the billets of ``images`` (default: every billet) whose labels in
    ``project`` differ from the truth the evaluation scored; images that are not among its
    billets are skipped. Billets are read ``CHUNK`` at a time."""
    store = Path(evaluation)
    store = store / STORE_FILE if store.is_dir() else store
    reader = open_store(store)
    updated, unchanged = [], 0
    try:
        meta = read_meta(reader)
        classes = tuple(meta.get("classes", ()))
        config, line_gap = match_config_of(meta), _line_gap(meta)
        targets, problems = _targets(reader, project, images)
        ids = sorted(targets)
        for start in range(0, len(ids), CHUNK):
            for billet in load_billets(reader, store, classes, ids[start:start + CHUNK]):
                try:
                    record = project.load_record(targets[billet.row["id"]])
                except (AnnotationError, OSError) as error:
                    problems.append(str(error))
                    continue
                new = truth_from_record(record, billet, classes, line_gap)
                if _same_truth(new, billet):
                    unchanged += 1
                else:
                    updated.append(new)
    except sqlite3.Error as error:
        raise AnnotationError(store, f"could not be read ({error})") from None
    finally:
        reader.close()
    if updated:
        _write_rescored(store, meta, rematched_rows(updated, classes, config))
    return RescoreReport(tuple(b.row["file_name"] for b in updated), unchanged,
                         tuple(problems))


def _write_rescored(store: Path, meta: dict[str, Any],
                    rows: tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]) -> None:
    """Replace the billets' rows and boxes, and note them, in one transaction."""
    notes = dict(relabelled(meta))
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    assignments = ", ".join(f"{c} = ?" for c in BILLET_COLUMNS[1:])
    try:
        db = sqlite3.connect(store, isolation_level=None)  # transactions opened here
        try:
            db.execute("BEGIN IMMEDIATE")  # one transaction, the upgrade too: all or none
            try:
                columns = {row[1] for row in db.execute("PRAGMA table_info(boxes)")}
                if "pred_index" not in columns:  # a store of schema 1: gains the column
                    db.execute("ALTER TABLE boxes ADD COLUMN pred_index INTEGER")
                    db.execute("UPDATE meta SET value = ? WHERE key = 'schema'",
                               (json.dumps(SCHEMA_VERSION),))
                billets, boxes = rows
                for billet in billets:
                    db.execute(f"UPDATE billets SET {assignments} WHERE id = ?",
                               (*billet[1:], billet[0]))
                    db.execute("DELETE FROM boxes WHERE billet = ?", (billet[0],))
                    notes[billet[2]] = {"at": stamp}
                db.executemany(INSERT_BOX, boxes)
                db.execute("INSERT OR REPLACE INTO meta VALUES ('relabelled', ?)",
                           (json.dumps(notes),))
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()
    except sqlite3.Error as error:
        raise SaveError(store, f"could not be updated ({error}); it is unchanged") from None
