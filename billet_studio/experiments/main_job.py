"""The main job, headless: the bundled detector scored on a freshly generated demo test
set it never saw, then every pipeline stage once with smoke budgets (render with the
bundled GAN, synthesise, train a few steps, detect, evaluate): a plumbing check, not a
result.

Writes under ``out``: ``fresh-test/`` (a test-only demo world of a new seed),
``bundled/`` (predictions and evaluation of the bundled detector), ``smoke/`` (preview,
dataset, run, predictions, evaluation; made afresh each time).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from billet_studio.annotations import Project
from billet_studio.demo import DemoConfig, build_demo_project
from billet_studio.detection import PRESETS
from billet_studio.evaluation.matching import REPORT_SCORE
from billet_studio.experiments.grid import (
    detect_split,
    evaluate_split,
    train_on_dataset,
    write_test_truth,
)
from billet_studio.jobs import Progress
from billet_studio.synthesis import CompositeConfig
from billet_studio.synthesis.dataset_build import build_dataset
from billet_studio.synthesis.dataset_plan import DatasetConfig
from billet_studio.synthesis.preview import PreviewConfig, preview_synthesis

SMOKE_LABEL = "plumbing check, not a result"


@dataclass(frozen=True)
class MainJobConfig:
    #: The fresh test world: its seed is one no bundled model was trained on.
    fresh_test: int = 80
    fresh_seed: int = 20261125
    fresh_size: int = 1024
    smoke_images: int = 12
    smoke_steps: int = 6
    smoke_size: int = 256
    bootstrap: int = 200
    #: Detections below this score are ignored when scoring (as ``evaluate run``).
    score: float = REPORT_SCORE
    workers: int = 2


def run_main_job(project: Project, out: Path, bundled_detector: Path | None,
                 renderer_factory: Callable[[], Any], renderer_name: str,
                 config: MainJobConfig = MainJobConfig()) -> Iterator[Progress]:
    """Job: the bundled detector's honest score, then the smoke run of every stage."""
    out = Path(out)
    if bundled_detector is not None:
        fresh_root = out / "fresh-test"
        if not (fresh_root / "demo.json").exists():
            demo = DemoConfig(billets=0, test=config.fresh_test, size=config.fresh_size,
                              seed=config.fresh_seed, surfaces=0, workers=config.workers)
            for progress in build_demo_project(fresh_root, demo):
                yield Progress(0, None, f"fresh test world: {progress.message}")
        fresh = Project.open(fresh_root)
        truth = out / "bundled" / "test.json"
        write_test_truth(fresh, truth)
        predictions = out / "bundled" / "predictions.json"
        for progress in detect_split(bundled_detector, truth, fresh, predictions):
            yield Progress(0, None, f"bundled detector: {progress.message}")
        yield from evaluate_split(truth, predictions, fresh, out / "bundled" / "evaluation",
                             config.bootstrap, score=config.score)
    smoke = out / "smoke"
    if smoke.exists():  # made by an earlier main job (perhaps with another renderer)
        shutil.rmtree(smoke)
    composite = CompositeConfig(size=config.smoke_size, characters=None)
    preview = PreviewConfig(count=4, seed=1, composite=composite)
    for progress in preview_synthesis(project, smoke / "preview", renderer_factory(), preview):
        yield Progress(0, None, f"smoke: rendering and compositing: {progress.message}")
    dataset = DatasetConfig(images=config.smoke_images, synthetic=0.5, seed=1,
                            image_format="jpg", composite=composite)
    dataset_dir = smoke / "dataset"
    for progress in build_dataset(project, dataset_dir, dataset, renderer_factory,
                                  renderer_name, workers=config.workers):
        yield Progress(0, None, f"smoke: synthesising: {progress.message}")
    train_config = replace(PRESETS["tiny"].train, steps=config.smoke_steps,
                           eval_every=config.smoke_steps, checkpoint_every=config.smoke_steps)
    run_dir = smoke / "run"
    for progress in train_on_dataset(dataset_dir, run_dir, tuple(project.config.classes),
                                     PRESETS["tiny"], config.smoke_size,
                                     train_config):
        yield Progress(0, None, f"smoke: training {progress.message}")
    truth = smoke / "test.json"
    write_test_truth(project, truth)
    for progress in detect_split(run_dir, truth, project, smoke / "predictions.json"):
        yield Progress(0, None, f"smoke: detecting {progress.message}")
    yield from evaluate_split(truth, smoke / "predictions.json", project, smoke / "evaluation",
                         config.bootstrap, score=config.score)


@dataclass(frozen=True)
class ExampleRead:
    """One billet's true ID against what the reader made of it."""

    file_name: str
    visibility: str
    true_id: str
    raw_read: str
    prior_read: str | None

    @property
    def right(self) -> bool:
        return (self.prior_read if self.prior_read is not None else self.raw_read) == \
            self.true_id


def example_reads(store: Path, count: int = 3) -> list[ExampleRead]:
    """A few reads from an evaluation's store that show what the reader does: the first
    billet read right, the first read wrong, then one of each visibility class not yet
    shown (fewer when the store has fewer billets)."""
    from billet_studio.evaluation.store import open_store

    db = open_store(store)
    try:
        rows = db.execute("SELECT file_name, visibility, true_id, raw_read, prior_read "
                          "FROM billets ORDER BY id").fetchall()
    finally:
        db.close()
    reads = [ExampleRead(*row) for row in rows]
    chosen: list[ExampleRead] = []
    for wanted in (lambda r: r.right, lambda r: not r.right):
        found = next((r for r in reads if wanted(r) and r not in chosen), None)
        if found is not None:
            chosen.append(found)
    for visibility in ("partial", "poor", "well"):
        if len(chosen) >= count:
            break
        if all(r.visibility != visibility for r in chosen):
            found = next((r for r in reads if r.visibility == visibility), None)
            if found is not None:
                chosen.append(found)
    for read in reads:
        if len(chosen) >= count:
            break
        if read not in chosen:
            chosen.append(read)
    return chosen[:count]
