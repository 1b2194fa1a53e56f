"""The paper's experiment grid (its Table 1) run end to end, resumable stage by stage.

For every experiment (a dataset of the grid) and seed: build the nested dataset, train the
detector on it, detect on the project's test split, and evaluate. A stage whose output is
complete is skipped on a re-run; a training run that stopped is resumed.

Layout under ``PROJECT/experiments/<name>/``:
``experiment.json`` (the config), ``test.json`` (the test split as COCO),
``datasets/<exp>/`` (shared by all seeds), ``cells/<exp>-seed<k>/`` (``run/``,
``predictions.json``, ``evaluation/``), and the results (``results.json``,
``results.csv``, ``plots/``, ``report.html``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from billet_studio import __version__
from billet_studio.annotations import AnnotationError, Project, atomic_write_json
from billet_studio.annotations.exporters.coco import coco_document
from billet_studio.annotations.exporters.report import labelled_records
from billet_studio.detection import PRESETS as DETECTOR_PRESETS
from billet_studio.detection import (
    DetectorTrainConfig,
    load_detector,
    pick_device,
)
from billet_studio.detection.data import image_size_of, training_samples
from billet_studio.detection.inference import detect_to_coco, images_of_coco
from billet_studio.detection.recipe import preset_run
from billet_studio.detection.trainer import Preset
from billet_studio.evaluation.evaluate import EvaluationConfig, EvaluationInputs, run_evaluation
from billet_studio.evaluation.matching import REPORT_SCORE, MatchConfig
from billet_studio.evaluation.metrics import BootstrapConfig
from billet_studio.evaluation.scoring import ScoringConfig
from billet_studio.experiments.results import write_results
from billet_studio.jobs import CancelToken, Progress
from billet_studio.synthesis.dataset_build import build_dataset
from billet_studio.synthesis.dataset_plan import DatasetConfig, paper_table1
from billet_studio.training import CheckpointStore

GRID_PRESETS = ("paper-table1",)


@dataclass(frozen=True)
class ExperimentConfig:
    """A grid run; the defaults are the paper's (full-size Table 1, 165,000 steps)."""

    preset: str = "paper-table1"
    scale: float = 1.0
    #: The detector preset that sets model, image size and step budget.
    budget: str = "paper"
    seeds: int = 1
    #: Overrides of the budget's step count (None: the budget's).
    steps: int | None = None
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    bootstrap: int = 1000
    #: Detections below this score are ignored when scoring (as ``evaluate run``).
    score: float = REPORT_SCORE

    def __post_init__(self) -> None:
        if self.preset not in GRID_PRESETS:
            raise ValueError(f"unknown grid {self.preset!r}; use {', '.join(GRID_PRESETS)}")
        if self.budget not in DETECTOR_PRESETS:
            raise ValueError(f"unknown budget {self.budget!r}; use "
                             f"{', '.join(DETECTOR_PRESETS)}")
        if self.seeds < 1:
            raise ValueError("seeds must be at least 1")


@dataclass(frozen=True)
class Cell:
    experiment: str
    images: int
    synthetic: float
    seed: int

    @property
    def name(self) -> str:
        return f"{self.experiment}-seed{self.seed}"


def grid_cells(config: ExperimentConfig) -> list[Cell]:
    return [Cell(name, images, synthetic, seed)
            for name, images, synthetic in paper_table1(config.scale)
            for seed in range(config.seeds)]


def write_test_truth(project: Project, path: Path) -> int:
    """The project's test split as a COCO file (file names relative to the project)."""
    warnings: list[str] = []
    records = [r for r in labelled_records(project, warnings) if r.split == "test"]
    if not records:
        raise AnnotationError(project.root, "has no test split to evaluate on; mark one with "
                                            "`billet-studio split PROJECT --test N`")
    atomic_write_json(path, coco_document(project, "test", records, warnings))
    return len(records)


def _train_config(config: ExperimentConfig, seed: int):
    preset = DETECTOR_PRESETS[config.budget]
    train = replace(preset.train, seed=seed)
    return replace(train, steps=config.steps) if config.steps else train


def run_experiment(project: Project, folder: Path, config: ExperimentConfig,
                   renderer_factory: Callable[[], Any], renderer_name: str,
                   cancel: CancelToken | None = None, workers: int = 2
                   ) -> Iterator[Progress]:
    """Job: every stage of every cell that is not done yet, then the results."""
    folder = Path(folder)
    saved = folder / "experiment.json"
    document = {"config": asdict(config), "renderer": renderer_name,
                "code_version": __version__}
    if saved.exists():
        previous = json.loads(saved.read_text(encoding="utf-8"))
        if previous.get("config") != json.loads(json.dumps(asdict(config))):
            raise AnnotationError(saved, "describes a different grid; choose another "
                                         "--name, or delete the folder to start over")
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(saved, document)
    cells = grid_cells(config)
    total = len({c.experiment for c in cells}) + 3 * len(cells) + 1
    done = 0
    truth = folder / "test.json"
    if not truth.exists():
        write_test_truth(project, truth)
    for name, images, synthetic in paper_table1(config.scale):
        dataset_dir = folder / "datasets" / name
        if not (dataset_dir / "manifest.json").exists():
            dataset = replace(config.dataset, images=images, synthetic=synthetic)
            for progress in build_dataset(project, dataset_dir, dataset, renderer_factory,
                                          renderer_name, workers=workers, cancel=cancel):
                yield Progress(done, total, f"{name}: {progress.message}")
        done += 1
        yield Progress(done, total, f"{name}: dataset ready")
    for cell in cells:
        yield from _run_cell(project, folder, cell, config, truth, cancel, done, total)
        done += 3
    yield Progress(done, total, "writing the results table and report")
    write_results(folder, cells, config)
    yield Progress(total, total, f"wrote {folder / 'report.html'}")


def train_on_dataset(dataset_dir: Path, run_dir: Path, classes: tuple[str, ...],
                     preset: Preset, image_size: int | None, config: DetectorTrainConfig,
                     cancel: CancelToken | None = None, resume: bool = False,
                     sources: dict[str, Any] | None = None) -> Iterator[Progress]:
    """Job: train a detector with ``preset``'s recipe (fitted anchors, its pyramid, its
    pretraining) on a dataset folder (``image_size`` None: the dataset's own size)."""
    train, val = training_samples(dataset_dir, classes)
    size = image_size or image_size_of(train)
    yield from preset_run(run_dir, train, val, preset, config, classes, size, cancel, resume,
                          sources)


def detect_split(reference: Path, truth: Path, project: Project, out: Path,
                 cancel: CancelToken | None = None) -> Iterator[Progress]:
    """Job: a trained detector over a COCO split whose names are relative to the project."""
    device = pick_device()
    model, spec, _ = load_detector(reference, device)
    images, categories = images_of_coco(truth, project.root)
    yield from detect_to_coco(model, spec, images, out, device, categories, cancel=cancel)


def evaluate_split(truth: Path, predictions: Path, project: Project, out: Path,
                   bootstrap: int, cancel: CancelToken | None = None,
                   score: float = REPORT_SCORE) -> Iterator[Progress]:
    """Job: score predictions on a project split with its ID format, sites and visibility,
    ignoring detections below ``score``."""
    inputs = EvaluationInputs(truth, predictions, project.config.id_format,
                              image_root=project.root, project=project.root)
    config = EvaluationConfig(scoring=ScoringConfig(match=MatchConfig(score=score)),
                              bootstrap=BootstrapConfig(resamples=bootstrap))
    yield from run_evaluation(inputs, out, config, cancel)


def evaluated_at(summary: Path, score: float) -> bool:
    """Whether ``summary`` exists and was scored at this score threshold."""
    try:
        document = json.loads(summary.read_text(encoding="utf-8"))
        return float(document["config"]["scoring"]["match"]["score"]) == score
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _run_cell(project: Project, folder: Path, cell: Cell, config: ExperimentConfig,
              truth: Path, cancel: CancelToken | None, done: int, total: int
              ) -> Iterator[Progress]:
    cell_dir = folder / "cells" / cell.name
    run_dir = cell_dir / "run"
    train_config = _train_config(config, cell.seed)
    latest = CheckpointStore(run_dir).latest()
    if latest is None or latest.step < train_config.steps:
        preset = DETECTOR_PRESETS[config.budget]
        size = preset.image_size if config.budget != "paper" else None
        job = train_on_dataset(folder / "datasets" / cell.experiment, run_dir,
                               tuple(project.config.classes), preset, size,
                               train_config, cancel, resume=latest is not None,
                               sources={"experiment": cell.experiment, "seed": cell.seed})
        for progress in job:
            if progress.step % 10 == 0 or progress.step == progress.total:
                yield Progress(done, total, f"{cell.name}: training {progress.message}",
                               progress.metrics)
    yield Progress(done + 1, total, f"{cell.name}: trained")
    predictions = cell_dir / "predictions.json"
    if not predictions.exists():
        for progress in detect_split(run_dir, truth, project, predictions, cancel):
            yield Progress(done + 1, total, f"{cell.name}: detecting {progress.message}")
    yield Progress(done + 2, total, f"{cell.name}: detected")
    evaluation = cell_dir / "evaluation"
    if not evaluated_at(evaluation / "summary.json", config.score):
        for _ in evaluate_split(truth, predictions, project, evaluation, config.bootstrap,
                                cancel, config.score):
            pass
    yield Progress(done + 3, total, f"{cell.name}: evaluated")
