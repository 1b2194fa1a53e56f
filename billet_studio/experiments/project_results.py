"""Every evaluation of a project in the paper's Table 3 layout: where each one came from
(its training run, that run's dataset and the dataset's synthetic share), rows averaged
over the seeds of a grid experiment, and the points the results plot draws.

Provenance is read from the folders, never guessed: walking up from the evaluation
folder (not above the project), the first ``config.json`` of a training run, in the
folder itself or in a ``run/`` child, is its run; the run's ``sources`` name its dataset
(``dataset``, or the grid's ``experiment``), whose ``manifest.json`` counts the synthetic
training images. An evaluation whose provenance is unknown has no synthetic share.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from billet_studio.evaluation.browse import find_evaluations
from billet_studio.evaluation.scoring import SUBSETS
from billet_studio.experiments.results import small_real_only, summary_rows

_CELL = re.compile(r"(?P<experiment>.+)-seed(?P<seed>\d+)")
_STEP = re.compile(r"step_(\d+)")


@dataclass(frozen=True)
class EvaluationSource:
    """One evaluation folder and what it evaluated."""

    folder: Path
    #: The folder relative to the project (without a trailing ``/evaluation``).
    label: str
    #: The training run (the folder holding its config.json), if found.
    run: Path | None = None
    dataset: Path | None = None
    #: Synthetic share of the run's training images (None: unknown).
    synthetic: float | None = None
    #: Training images of the run's dataset (None: unknown).
    images: int | None = None
    #: The checkpoint step a detector report evaluated (None: the run's final weights).
    step: int | None = None
    #: Evaluations of one grid experiment (its seeds) share this key; others their label.
    group: str = ""
    seed: int | None = None
    #: The experiment grid it is a cell of (its folder relative to the project), if any.
    grid: str | None = None

    @property
    def summary(self) -> Path:
        return self.folder / "summary.json"


@dataclass(frozen=True)
class PlotPoint:
    synthetic: float
    value: float
    low: float | None
    high: float | None
    label: str
    #: The experiment grid the evaluation belongs to (None: it stands alone).
    grid: str | None = None


@dataclass(frozen=True)
class Series:
    """One subset's points of a metric against the synthetic share. Each experiment grid
    is a line through the mean of its experiments at each share; evaluations outside a
    grid are points alone (a line through unrelated detectors would suggest a trend
    that no experiment measured)."""

    subset: str
    points: tuple[PlotPoint, ...]
    #: (grid, its line) per grid with points in this subset.
    lines: tuple[tuple[str, tuple[tuple[float, float], ...]], ...]
    #: The real-only experiment with fewer training images (the paper's exp 6), drawn
    #: apart from the line.
    apart: tuple[PlotPoint, ...] = ()


class _Reader:
    """Reads run configs and dataset manifests once each, collecting warnings."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.warnings: dict[str, None] = {}  # ordered and without repeats
        self._json: dict[Path, dict[str, Any] | None] = {}

    def warn(self, text: str) -> None:
        self.warnings[text] = None

    def name(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def json(self, path: Path) -> dict[str, Any] | None:
        """A JSON object from ``path``; None (with a warning) when it cannot be read."""
        if path not in self._json:
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(document, dict):
                    raise ValueError("not a JSON object")
                self._json[path] = document
            except (OSError, ValueError) as error:
                self.warn(f"{self.name(path)} cannot be read ({error})")
                self._json[path] = None
        return self._json[path]


def summary_problem(path: Path) -> str | None:
    """Why a summary.json cannot give Table 3 rows (None: it can)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "is missing"
    except (OSError, ValueError) as error:
        return f"cannot be read ({error})"
    groups = document.get("groups") if isinstance(document, dict) else None
    if not isinstance(groups, list) or not all(
            isinstance(g, dict) and isinstance(g.get("name"), str)
            and isinstance(g.get("rates"), dict) and "billets" in g and "digits" in g
            and all(isinstance(r, dict) and "value" in r for r in g["rates"].values())
            for g in groups):
        return "is not an evaluation summary (no list of groups with rates)"
    return None


def find_sources(project_root: Path | str) -> tuple[list[EvaluationSource], list[str]]:
    """Every evaluation of the project with its provenance (sorted by label), and a
    warning for each file that could not be used: an evaluation without a readable
    summary.json is left out, an unreadable run config or manifest leaves its share
    unknown."""
    root = Path(project_root).resolve()
    reader = _Reader(root)
    sources = []
    for folder in sorted(find_evaluations(root)):  # warnings in a stable order
        problem = summary_problem(folder / "summary.json")
        if problem is not None:
            reader.warn(f"{reader.name(folder / 'summary.json')} {problem}; "
                        "this evaluation is left out")
            continue
        sources.append(_source(reader, folder))
    sources.sort(key=lambda s: s.label)
    return sources, list(reader.warnings)


def _source(reader: _Reader, folder: Path) -> EvaluationSource:
    root = reader.root
    parts = folder.relative_to(root).parts
    label = "/".join(parts[:-1] if len(parts) > 1 and parts[-1] == "evaluation" else parts)
    steps = [int(m.group(1)) for p in parts if (m := _STEP.fullmatch(p))]
    group, seed, grid_dataset, grid_label = label, None, None, None
    # A grid cell's own evaluation is exactly <grid>/cells/<exp>-seed<k>/evaluation; a
    # report on the cell's checkpoints (…/run/report/steps/…) is an evaluation of its own.
    index = len(parts) - 3
    if index >= 0 and parts[index] == "cells" and parts[-1] == "evaluation":
        cell = _CELL.fullmatch(parts[index + 1])
        grid = root.joinpath(*parts[:index])
        if cell and (grid / "experiment.json").is_file():
            grid_label = "/".join(parts[:index])
            group = f"{grid_label}/{cell['experiment']}"
            seed = int(cell["seed"])
            grid_dataset = grid / "datasets" / cell["experiment"]
    run = _run_folder(reader, folder)
    dataset = _dataset(reader, run) if run is not None else None
    dataset = dataset or grid_dataset
    images, synthetic = _train_counts(reader, dataset) if dataset else (None, None)
    return EvaluationSource(folder, label, run, dataset, synthetic, images,
                            steps[-1] if steps else None, group, seed, grid_label)


def _run_folder(reader: _Reader, folder: Path) -> Path | None:
    """The training run above an evaluation: the first folder (the evaluation's own, then
    each parent inside the project) that holds, or has a ``run/`` child holding, the
    config.json of a run."""
    current = folder
    while current != reader.root and reader.root in current.parents:
        for candidate in (current, current / "run"):
            config = candidate / "config.json"
            if config.is_file():
                document = reader.json(config)
                if document is None:
                    return None  # unreadable: warned, provenance unknown
                if "sources" in document or "model" in document:
                    return candidate
        current = current.parent
    return None


def _dataset(reader: _Reader, run: Path) -> Path | None:
    """The dataset a run trained on, from its config's sources (a path, or a grid
    experiment), else a ``dataset/`` folder beside the run (the main job's layout)."""
    sources = (reader.json(run / "config.json") or {}).get("sources") or {}
    named = sources.get("dataset") if isinstance(sources, dict) else None
    if isinstance(named, str) and named:
        path = Path(named)
        candidates = [path] if path.is_absolute() else [reader.root / path, run / path]
        candidates.append(reader.root / "datasets" / path.name)  # the project was moved
        for candidate in candidates:
            if (candidate / "manifest.json").is_file():
                return candidate
        reader.warn(f"the dataset {named} of {reader.name(run)} was not found; its "
                    "synthetic share is unknown")
        return None
    experiment = sources.get("experiment") if isinstance(sources, dict) else None
    if isinstance(experiment, str):
        for grid in run.parents:
            if (grid / "experiment.json").is_file():
                return grid / "datasets" / experiment
            if grid == reader.root:
                break
    beside = run.parent / "dataset"
    return beside if run.name == "run" and (beside / "manifest.json").is_file() else None


def _train_counts(reader: _Reader, dataset: Path) -> tuple[int | None, float | None]:
    """(training images, synthetic share) from a dataset's manifest.json."""
    path = dataset / "manifest.json"
    if not path.is_file():
        reader.warn(f"{reader.name(path)} is missing; the synthetic share is unknown")
        return None, None
    manifest = reader.json(path)
    if manifest is None:
        return None, None
    try:
        train = manifest["counts"]["train"]
        images, synthetic = int(train["images"]), int(train["synthetic"])
    except (KeyError, TypeError, ValueError):
        reader.warn(f"{reader.name(path)} has no training counts (counts.train.images, "
                    "counts.train.synthetic); the synthetic share is unknown")
        return None, None
    return images, (synthetic / images if images else None)


def project_rows(sources: Sequence[EvaluationSource], group_seeds: bool = True
                 ) -> list[dict[str, Any]]:
    """Rows as ``experiments.results.summary_rows`` makes them (one per evaluation, or per
    grid experiment over its seeds, and test subset) plus ``step``, ``run`` and
    ``folders`` (the evaluation folders a row averages)."""
    groups: dict[str, list[EvaluationSource]] = {}
    for source in sources:
        groups.setdefault(source.group if group_seeds else source.label, []).append(source)
    rows = []
    for key, members in groups.items():
        first = members[0]
        fields = {"experiment": key, "grid": first.grid, "synthetic": first.synthetic,
                  "images": first.images,
                  "step": first.step if len(members) == 1 else None,
                  "run": None if first.run is None or len(members) > 1 else str(first.run),
                  "folders": tuple(str(m.folder) for m in members)}
        rows += summary_rows(fields, [m.summary for m in members])
    return rows


def plot_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows a plot against the synthetic share draws: those with a known share, and of
    a detector report's checkpoints only the last (its earlier steps are the same data,
    less trained)."""
    known = [r for r in rows if r.get("synthetic") is not None and r.get("images")]
    last: dict[tuple[str, str], int] = {}
    for row in known:
        if row.get("step") is not None:
            key = (row["experiment"].rsplit("/steps/", 1)[0], row["subset"])
            last[key] = max(last.get(key, -1), row["step"])
    return [r for r in known if r.get("step") is None or r["step"] == last[
        (r["experiment"].rsplit("/steps/", 1)[0], r["subset"])]]


def plot_series(rows: Sequence[dict[str, Any]], metric: str) -> list[Series]:
    """One series per test subset (in the paper's order) of ``metric`` against the
    synthetic share, over ``plot_rows(rows)``."""
    kept = plot_rows(rows)
    small = small_real_only(kept)
    series = []
    for subset in SUBSETS:
        points, apart = [], []
        for row in sorted((r for r in kept if r["subset"] == subset),
                          key=lambda r: (r["synthetic"], r["experiment"])):
            cell = row.get(metric)
            if not cell or cell.get("value") is None:
                continue
            point = PlotPoint(row["synthetic"], cell["value"], cell.get("low"),
                              cell.get("high"), row["experiment"], row.get("grid"))
            (apart if row["experiment"] == small else points).append(point)
        if not points and not apart:
            continue
        lines = []
        for grid in sorted({p.grid for p in points if p.grid is not None}):
            mine = [p for p in points if p.grid == grid]
            shares = sorted({p.synthetic for p in mine})
            lines.append((grid, tuple((x, float(np.mean([p.value for p in mine
                                                         if p.synthetic == x])))
                                      for x in shares)))
        series.append(Series(subset, tuple(points), tuple(lines), tuple(apart)))
    return series
