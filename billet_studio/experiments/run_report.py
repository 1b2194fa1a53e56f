"""A training run's report: the untrained model (the 0-step baseline) and each checkpoint
scored on the project's test split in the paper's Table 3 layout, beside the learning curve
from the run's ``log.jsonl``.

Layout under ``out``: ``test.json`` (the split scored), ``steps/step_NNNNNNN/``
(``predictions.json``, ``evaluation/``; kept and skipped on a re-run while the split is
unchanged), ``learning_curve.png``, ``results.json``, ``results.csv``, ``report.md`` and
``report.html``.
"""

from __future__ import annotations

import html
import io
import json
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from billet_studio.annotations import (
    AnnotationError,
    Project,
    atomic_write_bytes,
    atomic_write_json,
)
from billet_studio.detection import load_detector, pick_device
from billet_studio.detection.inference import detect_to_coco, images_of_coco
from billet_studio.detection.run_files import initial_detector, read_run_config
from billet_studio.evaluation.matching import REPORT_SCORE
from billet_studio.experiments.grid import evaluate_split, evaluated_at, write_test_truth
from billet_studio.experiments.results import (
    format_markdown,
    html_image,
    html_page,
    html_table,
    results_csv,
    summary_rows,
)
from billet_studio.jobs import CancelToken, Progress
from billet_studio.training import CheckpointStore


@dataclass(frozen=True)
class RunReportConfig:
    #: The steps to score (0: the untrained model); None: step 0 and every checkpoint.
    steps: tuple[int, ...] | None = None
    bootstrap: int = 1000
    #: Detections below this score are ignored when scoring (as ``evaluate run``).
    score: float = REPORT_SCORE


def read_learning_curve(log: Path) -> list[dict[str, Any]]:
    """The run's logged metrics, one entry per step (a resumed run's later entry wins)."""
    by_step: dict[int, dict[str, Any]] = {}
    try:
        lines = log.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as error:
        raise AnnotationError(log, f"cannot be read ({error})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            step, metrics = int(entry["step"]), dict(entry.get("metrics") or {})
        except (ValueError, KeyError, TypeError):
            if number == len(lines):  # a line cut short by a kill; the rest is good
                continue
            raise AnnotationError(log, f"line {number} is not a progress record") from None
        if "loss" in metrics:
            by_step[step] = {"step": step, **metrics}
    return [by_step[s] for s in sorted(by_step)]


def report_run(project: Project, run_dir: Path, out: Path,
               config: RunReportConfig = RunReportConfig(),
               cancel: CancelToken | None = None) -> Iterator[Progress]:
    """Job: detect and evaluate each chosen step on the test split, then write the report."""
    run_dir, out = Path(run_dir), Path(out)
    read_run_config(run_dir)  # a clear error for a folder that is not a run
    checkpoints = {c.step: c for c in CheckpointStore(run_dir).list()}
    steps = sorted({0, *checkpoints} if config.steps is None else set(config.steps))
    missing = [s for s in steps if s and s not in checkpoints]
    if missing:
        raise AnnotationError(run_dir, f"has no checkpoint for step(s) "
                                       f"{', '.join(map(str, missing))}; it has "
                                       f"{', '.join(map(str, checkpoints)) or 'none'}")
    out.mkdir(parents=True, exist_ok=True)
    truth = out / "test.json"
    previous = truth.read_bytes() if truth.exists() else None
    write_test_truth(project, truth)
    if previous is not None and previous != truth.read_bytes() and (out / "steps").exists():
        shutil.rmtree(out / "steps")  # scored on another split: those scores are stale
    device = pick_device()
    for index, step in enumerate(steps):
        folder = out / "steps" / f"step_{step:07d}"
        predictions = folder / "predictions.json"  # written whole, so present = complete
        if not predictions.exists():
            if step == 0:
                model, spec, _ = initial_detector(run_dir, device)
            else:
                model, spec, _ = load_detector(checkpoints[step].weights, device)
            images, categories = images_of_coco(truth, project.root)
            for progress in detect_to_coco(model, spec, images, predictions, device,
                                           categories, cancel=cancel):
                yield Progress(index, len(steps), f"step {step}: detecting {progress.message}")
        if not evaluated_at(folder / "evaluation" / "summary.json", config.score):
            yield from (Progress(index, len(steps), f"step {step}: {p.message}")
                        for p in evaluate_split(truth, predictions, project,
                                                folder / "evaluation", config.bootstrap,
                                                cancel, config.score))
    yield Progress(len(steps), len(steps), "writing the report")
    write_run_report(run_dir, out, steps, config.score)
    yield Progress(len(steps), len(steps), f"wrote {out / 'report.html'}")


def write_run_report(run_dir: Path, out: Path, steps: Sequence[int],
                     score: float = REPORT_SCORE) -> list[dict[str, Any]]:
    """results.json/.csv, learning_curve.png, report.md and report.html from the scores."""
    rows: list[dict[str, Any]] = []
    summaries = {}
    for step in steps:
        path = out / "steps" / f"step_{step:07d}" / "evaluation" / "summary.json"
        label = "step 0 (untrained)" if step == 0 else f"step {step}"
        rows += summary_rows({"experiment": label, "step": step}, [path])
        summaries[step] = json.loads(path.read_text(encoding="utf-8"))
    curve = read_learning_curve(run_dir / "log.jsonl")
    test_points = [{"step": s, "mAP50": summaries[s].get("map50"),
                    **{m: _overall(summaries[s], m) for m in ("TP", "CB", "CB_prior")}}
                   for s in steps]
    plot = out / "learning_curve.png"
    atomic_write_bytes(plot, _learning_curve_png(curve, test_points))
    run = read_run_config(run_dir)
    atomic_write_json(out / "results.json", {"run": str(run_dir), "model": run["model"],
                                             "config": run["config"], "score": score,
                                             "rows": rows,
                                             "test_by_step": test_points})
    atomic_write_bytes(out / "results.csv", results_csv(rows))
    facts = _facts(run_dir, run, curve)
    markdown = (f"# Detector run {run_dir.name}\n\n{facts}\n\n"
                "Rates in percent of digits (TP, MC, FN, FP) or billets (CB); [95 % bootstrap "
                f"interval over billets]. Detections scoring below {score:g} are ignored. "
                "CB_prior reads IDs with the format prior.\n\n"
                + format_markdown(rows, "Checkpoint") + "\n![learning curve](learning_curve.png)\n")
    atomic_write_bytes(out / "report.md", markdown.encode("utf-8"))
    body = [f"<h1>Detector run {html.escape(run_dir.name)}</h1>", f"<p>{html.escape(facts)}</p>",
            f"<p>Rates in percent; [95 % bootstrap interval]. Detections scoring below "
            f"{score:g} are ignored.</p>",
            html_table(rows, "Checkpoint"), "<h2>Learning curve</h2>", html_image(plot)]
    atomic_write_bytes(out / "report.html",
                       html_page(f"Detector run {run_dir.name}", body).encode("utf-8"))
    return rows


def _overall(summary: dict[str, Any], metric: str) -> float | None:
    for group in summary.get("groups", []):
        if group["name"] == "all":
            return (group["rates"].get(metric) or {}).get("value")
    return None


def _facts(run_dir: Path, run: dict[str, Any], curve: list[dict[str, Any]]) -> str:
    model, config = run["model"], run["config"]
    latest = CheckpointStore(run_dir).latest()
    hours = (latest.metadata.get("wall_time_s") or 0) / 3600 if latest else 0
    return (f"{model['architecture']} at {model['image_size']} px, {model['norm']} norm, "
            f"{run.get('train_images', '?')} training images; {config['steps']} steps "
            f"planned, batch {config['batch_size']}, lr {config['lr']:g}; "
            f"{latest.step if latest else 0} steps trained in {hours:.2f} h of training time.")


def _learning_curve_png(curve: list[dict[str, Any]], test: list[dict[str, Any]]) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9.5, 3.6), dpi=110)
    FigureCanvasAgg(figure)
    losses, scores = figure.subplots(1, 2)
    losses.plot([c["step"] for c in curve], [c["loss"] for c in curve], lw=1,
                label="training loss (mean over each logged window)")
    validated = [c for c in curve if "val_loss" in c]
    losses.plot([c["step"] for c in validated], [c["val_loss"] for c in validated], "o-",
                label="validation loss")
    losses.set_xlabel("step")
    losses.set_ylabel("loss")
    losses.legend(fontsize=8)
    scores.plot([c["step"] for c in validated], [100 * c["val_mAP50"] for c in validated],
                "o-", label="validation mAP@0.5")
    for key, label in (("mAP50", "test mAP@0.5"), ("TP", "test TP"), ("CB", "test CB"),
                       ("CB_prior", "test CB with prior")):
        points = [(t["step"], 100 * t[key]) for t in test if t[key] is not None]
        if points:
            scores.plot(*zip(*points, strict=True), "s--", label=label)
    scores.set_xlabel("step")
    scores.set_ylabel("%")
    scores.set_ylim(0, max(5.0, scores.get_ylim()[1]))
    scores.legend(fontsize=8)
    for axes in (losses, scores):
        axes.grid(alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
