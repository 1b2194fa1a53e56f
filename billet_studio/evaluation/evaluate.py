"""The evaluation job: score every test billet, aggregate, and write the evaluation folder
(``records.sqlite``, ``summary.json``, ``report.html``)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from billet_studio.annotations.atomic import atomic_write_json
from billet_studio.annotations.id_format import IdFormat
from billet_studio.annotations.output_folder import staged_output
from billet_studio.annotations.project import Project
from billet_studio.evaluation.collector import paused_collector
from billet_studio.evaluation.inputs import PredictionSet, TruthSet, load_predictions, load_truth
from billet_studio.evaluation.metrics import (
    BootstrapConfig,
    confusion_matrix,
    grouped_rates,
    map50,
    per_class,
)
from billet_studio.evaluation.scoring import (
    COUNT_NAMES,
    SUBSET_TITLES,
    SUBSETS,
    BilletScore,
    ScoringConfig,
    in_subset,
    score_billets,
)
from billet_studio.evaluation.store import STORE_FILE, write_store
from billet_studio.glyphs.id_automaton import IdAutomaton
from billet_studio.jobs import CancelToken, Progress

SUMMARY_FILE = "summary.json"
#: Billets scored together between progress reports (and cancel checks).
_CHUNK = 2000
REPORT_FILE = "report.html"


@dataclass(frozen=True)
class EvaluationConfig:
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)
    #: How many of the worst billets the report shows.
    worst: int = 12
    report: bool = True


@dataclass(frozen=True)
class EvaluationInputs:
    """What is evaluated; ``id_format`` None reads IDs without a format prior."""

    truth: Path
    predictions: Path
    id_format: IdFormat | None = None
    expected_ids: tuple[str, ...] = ()
    #: Where the truth's ``file_name`` entries are found (for the report's thumbnails).
    image_root: Path | None = None
    project: Path | None = None


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Everything an evaluation found, in memory."""

    classes: tuple[str, ...]
    billets: tuple[BilletScore, ...]
    counts: np.ndarray
    groups: list[dict[str, Any]]
    confusion: np.ndarray
    per_class: list[dict[str, Any]]
    map50: dict[str, Any]
    warnings: tuple[str, ...]

    def worst(self, n: int) -> list[BilletScore]:
        """The billets with the most errors (MC + FN + FP); misread IDs and low read
        scores first among equals."""
        index = {name: i for i, name in enumerate(COUNT_NAMES)}
        errors = self.counts[:, index["MC"]] + self.counts[:, index["FN"]] + self.counts[
            :, index["FP"]]
        misread = 1 - self.counts[:, index["cb_prior"]]
        raw = np.array([b.read.raw_score for b in self.billets])
        order = np.lexsort((raw, -misread, -errors))
        return [self.billets[i] for i in order[:n] if errors[i] or misread[i]]


def automaton_for(classes: Sequence[str], id_format: IdFormat | None,
                  expected_ids: Sequence[str] = ()) -> IdAutomaton:
    if expected_ids:
        return IdAutomaton.from_ids(expected_ids, classes)
    if id_format is None:
        return IdAutomaton.anything(classes)
    return IdAutomaton.from_format(id_format, classes)


def with_project_facts(truth: TruthSet, project: Project) -> TruthSet:
    """Site, visibility and true ID from the project's sidecars, matched by the path the
    COCO export writes (relative to the project), else by unique file stem."""
    by_path: dict[str, Any] = {}
    by_stem: dict[str, list[Any]] = {}
    for record in project.load_records():
        by_path[project.relative(record.image_path)] = record
        by_stem.setdefault(record.image_path.stem, []).append(record)
    images, unmatched = [], 0
    for image in truth.images:
        record = by_path.get(image.file_name)
        if record is None:
            candidates = by_stem.get(Path(image.file_name).stem, [])
            record = candidates[0] if len(candidates) == 1 else None
        if record is None:
            unmatched += 1
            images.append(image)
            continue
        images.append(replace(image, site=record.billet.site or image.site,
                              visibility=record.visibility,
                              billet_id=record.billet.id or image.billet_id))
    warnings = list(truth.warnings)
    if unmatched:
        warnings.append(f"{truth.path}: {unmatched} images are not in the project "
                        f"{project.root}; their facts come from the file alone")
    return replace(truth, images=tuple(images), warnings=tuple(warnings))


def group_masks(billets: Sequence[BilletScore]) -> dict[str, np.ndarray]:
    """One mask per subset, and per subset and site ("partial@A")."""
    visibility = [b.image.visibility for b in billets]
    sites = np.array([b.image.site or "" for b in billets])
    masks = {}
    for subset in SUBSETS:
        mask = np.array([in_subset(v, subset) for v in visibility], dtype=bool)
        masks[subset] = mask
        for site in sorted(set(sites) - {""}):
            masks[f"{subset}@{site}"] = mask & (sites == site)
    return masks


def score_evaluation(truth: TruthSet, predictions: PredictionSet, automaton: IdAutomaton,
                     config: EvaluationConfig = EvaluationConfig(),
                     cancel: CancelToken | None = None) -> Iterator[Progress | Evaluation]:
    """Score every billet (yielding progress), then yield the :class:`Evaluation`."""
    total = len(truth.images)
    billets: list[BilletScore] = []
    chunk = max(_CHUNK, total // 50)
    for start in range(0, total, chunk):
        images = truth.images[start:start + chunk]
        with paused_collector():
            billets.extend(score_billets(images, [predictions.of(i.image_id) for i in images],
                                         truth.classes, automaton, config.scoring))
        if cancel is not None and cancel.cancelled:
            return
        yield Progress(len(billets), total, "scoring billets")
    counts = (np.stack([b.counts for b in billets]) if billets
              else np.zeros((0, len(COUNT_NAMES)), dtype=np.int64))
    masks = group_masks(billets)
    rates = grouped_rates(counts, masks, config.bootstrap)
    groups = []
    for name, mask in masks.items():
        subset, _, site = name.partition("@")
        groups.append({
            "name": name, "subset": subset, "title": SUBSET_TITLES[subset],
            "site": site or None, "billets": int(mask.sum()),
            "digits": int(counts[mask, 0].sum()), "rates": rates[name],
        })
    n_classes = len(truth.classes)
    matrix = confusion_matrix(billets, n_classes)
    warnings = truth.warnings + predictions.warnings + _prior_warnings(billets, automaton)
    yield Evaluation(
        classes=truth.classes, billets=tuple(billets), counts=counts, groups=groups,
        confusion=matrix, per_class=per_class(matrix, truth.classes),
        map50=map50(billets, n_classes, matched_at=config.scoring.match.iou),
        warnings=warnings,
    )


def _prior_warnings(billets: Sequence[BilletScore], automaton: IdAutomaton
                    ) -> tuple[str, ...]:
    """Say so when the ID prior cannot be right: it accepts no ID over the classes, or
    true IDs do not fit it (a wrong format makes every constrained read wrong)."""
    if automaton.shortest is None:
        return ("the ID format accepts no ID written with the ground truth's classes; "
                "every constrained read fails (check --id-format / the project's format)",)
    misfits = [b.true_id for b in billets if not automaton.accepts(b.true_id)]
    if not misfits:
        return ()
    examples = ", ".join(repr(i) for i in misfits[:3])
    return (f"{len(misfits)} of {len(billets)} true IDs do not fit the ID format (e.g. "
            f"{examples}); those billets can never be read right with the prior",)


def summary_document(evaluation: Evaluation, inputs: EvaluationInputs,
                     config: EvaluationConfig, seconds: float) -> dict[str, Any]:
    from billet_studio import __version__

    return {
        "version": __version__,
        "inputs": {
            "truth": str(inputs.truth), "predictions": str(inputs.predictions),
            "project": None if inputs.project is None else str(inputs.project),
            "id_format": None if inputs.id_format is None else asdict(inputs.id_format),
            "expected_ids": len(inputs.expected_ids),
            "image_root": None if inputs.image_root is None else str(inputs.image_root),
        },
        "config": asdict(config),
        "classes": list(evaluation.classes),
        "billets": len(evaluation.billets),
        "digits": int(evaluation.counts[:, 0].sum()),
        "groups": evaluation.groups,
        "confusion": evaluation.confusion.tolist(),
        "per_class": evaluation.per_class,
        "map50": evaluation.map50["mAP50"],
        "ap50_per_class": {evaluation.classes[c]: ap
                           for c, ap in evaluation.map50["per_class"].items()},
        "worst": [b.image.file_name for b in evaluation.worst(config.worst)],
        "warnings": list(evaluation.warnings),
        "seconds": round(seconds, 3),
    }


def run_evaluation(inputs: EvaluationInputs, out: Path,
                   config: EvaluationConfig = EvaluationConfig(),
                   cancel: CancelToken | None = None) -> Iterator[Progress]:
    """Evaluate ``inputs`` into the folder ``out`` (replaced whole, only when complete)."""
    started = time.perf_counter()
    yield Progress(0, None, "reading ground truth and predictions")
    truth = load_truth(inputs.truth)
    if inputs.project is not None:
        truth = with_project_facts(truth, Project.open(inputs.project))
    predictions = load_predictions(inputs.predictions, truth)
    automaton = automaton_for(truth.classes, inputs.id_format, inputs.expected_ids)
    evaluation = None
    for item in score_evaluation(truth, predictions, automaton, config, cancel):
        if isinstance(item, Evaluation):
            evaluation = item
        else:
            yield item
    if evaluation is None:
        return
    with staged_output(Path(out), "evaluation") as stage:
        yield Progress(len(truth.images), len(truth.images), "writing records.sqlite")
        summary = summary_document(evaluation, inputs, config,
                                   time.perf_counter() - started)
        write_store(stage / STORE_FILE, evaluation.billets, evaluation.classes,
                    {"summary": {k: summary[k] for k in ("inputs", "config", "version")}})
        if config.report:
            from billet_studio.evaluation.report import write_report

            yield Progress(len(truth.images), len(truth.images), "writing report.html")
            write_report(stage / REPORT_FILE, evaluation, summary, inputs.image_root,
                         config.worst)
        atomic_write_json(stage / SUMMARY_FILE, _finite(summary))
    yield Progress(len(truth.images), len(truth.images), f"wrote {out}",
                   metrics=_headline(evaluation))


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None, so that summary.json is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _headline(evaluation: Evaluation) -> dict[str, float]:
    rates = evaluation.groups[0]["rates"] if evaluation.groups else {}
    return {name: value["value"] for name, value in rates.items()}


def load_expected_ids(path: Path) -> tuple[str, ...]:
    """One expected ID per line; blank lines and '#' comments are skipped."""
    from billet_studio.annotations.errors import AnnotationError

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise AnnotationError(path, f"cannot be read as a text list of IDs ({error})"
                              ) from None
    stripped = (line.strip() for line in lines)
    ids = tuple(line for line in stripped if line and not line.startswith("#"))
    if not ids:
        raise AnnotationError(path, "lists no IDs")
    return ids

