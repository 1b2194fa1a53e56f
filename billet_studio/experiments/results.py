"""The grid's results in the paper's Table 3 layout (experiment x test subset x TP, MC,
FN, FP, CB), with each cell's 95 % interval, the spread over seeds, and CB with the format
prior; plus plots of every metric against the synthetic fraction and an HTML report."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from billet_studio.annotations import AnnotationError, atomic_write_bytes, atomic_write_json
from billet_studio.evaluation.scoring import SUBSET_TITLES, SUBSETS

#: Table 3's columns, then CB with the format prior.
METRICS = ("TP", "MC", "FN", "FP", "CB", "CB_prior")


def _cell_groups(summary_path: Path) -> dict[str, dict[str, Any]]:
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise AnnotationError(summary_path, f"cannot be read ({error})") from None
    return {g["name"]: g for g in summary["groups"]}


def collect_results(folder: Path, cells: Sequence[Any]) -> list[dict[str, Any]]:
    """One row per (experiment, subset): mean over seeds, seed sd, mean 95 % interval."""
    by_experiment: dict[str, list[Any]] = {}
    for cell in cells:
        by_experiment.setdefault(cell.experiment, []).append(cell)
    rows = []
    for experiment, members in by_experiment.items():
        summaries = [folder / "cells" / c.name / "evaluation" / "summary.json" for c in members]
        rows += summary_rows({"experiment": experiment, "synthetic": members[0].synthetic,
                              "images": members[0].images}, summaries)
    return rows


def summary_rows(fields: dict[str, Any], summaries: Sequence[Path]) -> list[dict[str, Any]]:
    """One experiment's rows, one per test subset, from its evaluations (one per seed):
    ``fields`` plus each metric's mean over seeds, seed sd and mean 95 % interval."""
    groups = [_cell_groups(path) for path in summaries]
    rows = []
    for subset in SUBSETS:
        present = [g[subset] for g in groups if subset in g]
        if not present:
            continue
        row: dict[str, Any] = {**fields, "subset": subset, "billets": present[0]["billets"],
                               "digits": present[0]["digits"], "seeds": len(present)}
        for metric in METRICS:
            values = [p["rates"][metric] for p in present if metric in p["rates"]]
            if not values:
                continue
            centre = [v["value"] for v in values if v["value"] is not None]
            low = [v["low"] for v in values if v.get("low") is not None]
            high = [v["high"] for v in values if v.get("high") is not None]
            row[metric] = {
                "value": float(np.mean(centre)) if centre else None,
                "low": float(np.mean(low)) if low else None,
                "high": float(np.mean(high)) if high else None,
                "seed_sd": float(np.std(centre, ddof=1)) if len(centre) > 1 else None}
        rows.append(row)
    return rows


def _percent(cell: dict[str, Any] | None) -> str:
    if not cell or cell.get("value") is None:
        return "–"
    text = f"{100 * cell['value']:.1f}"
    if cell.get("low") is not None:
        text += f" [{100 * cell['low']:.1f}–{100 * cell['high']:.1f}]"
    if cell.get("seed_sd") is not None:
        text += f" ±{100 * cell['seed_sd']:.1f}"
    return text


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The results as a terminal table (percent; [95 % interval] ±seed sd)."""
    width = max([14, *(len(r["experiment"]) + 1 for r in rows)])
    head = f"{'experiment':<{width}} {'subset':<28}" + "".join(f"{m:>22}" for m in METRICS)
    lines = [head, "-" * len(head)]
    for row in rows:
        lines.append(f"{row['experiment']:<{width}} {SUBSET_TITLES[row['subset']]:<28}"
                     + "".join(f"{_percent(row.get(m)):>22}" for m in METRICS))
    return "\n".join(lines)


def format_markdown(rows: Sequence[dict[str, Any]], first: str = "Experiment") -> str:
    """The results as a Markdown table (percent; [95 % interval] ±seed sd)."""
    lines = [f"| {first} | Test subset | Billets | Digits | " + " | ".join(METRICS) + " |",
             "|---|---|--:|--:|" + "--:|" * len(METRICS)]
    for row in rows:
        lines.append(f"| {row['experiment']} | {SUBSET_TITLES[row['subset']]} | "
                     f"{row['billets']} | {row['digits']} | "
                     + " | ".join(_percent(row.get(m)) for m in METRICS) + " |")
    return "\n".join(lines) + "\n"


def results_csv(rows: Sequence[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["experiment", "synthetic", "subset", "billets", "digits", "seeds"]
    for metric in METRICS:
        header += [metric, f"{metric}_low", f"{metric}_high", f"{metric}_seed_sd"]
    writer.writerow(header)
    for row in rows:
        line = [row["experiment"], row.get("synthetic"), row["subset"], row["billets"],
                row["digits"], row["seeds"]]
        for metric in METRICS:
            cell = row.get(metric) or {}
            line += [_round(cell.get(k)) for k in ("value", "low", "high", "seed_sd")]
        writer.writerow(line)
    return buffer.getvalue().encode("utf-8")


def _round(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def plot_metrics(rows: Sequence[dict[str, Any]], out: Path) -> list[Path]:
    """One PNG per metric: the value against the synthetic fraction, one line per subset
    (the experiments with a full-size dataset; the small real-only one is marked apart).
    Rows with a ``grid`` key are joined per grid; ``grid`` None marks a point alone."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    small = small_real_only(rows)
    for metric in METRICS:
        figure = Figure(figsize=(5.2, 3.4), dpi=110)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        for subset in SUBSETS:
            mine = sorted((r for r in rows if r["subset"] == subset and r.get(metric)
                           and r[metric]["value"] is not None and r["experiment"] != small),
                          key=lambda r: r["synthetic"])
            if not mine:
                continue
            colour = None
            # A line per grid ("grid" absent: these rows are one grid); rows marked as
            # outside any grid (grid None) are points alone.
            families = sorted({r.get("grid", "") for r in mine} - {None})
            for family in [*families, None]:
                part = [r for r in mine if r.get("grid", "") == family]
                if not part:
                    continue
                handle = axes.errorbar(
                    [r["synthetic"] for r in part], [100 * r[metric]["value"] for r in part],
                    yerr=_error_bars(part, metric), marker="o", capsize=3, color=colour,
                    linestyle="-" if family is not None else "none",
                    label=SUBSET_TITLES[subset] if colour is None else None)
                colour = handle[0].get_color()
            extra = [r for r in rows if r["experiment"] == small and r["subset"] == subset
                     and r.get(metric) and r[metric]["value"] is not None]
            if extra:
                axes.plot([0.0], [100 * extra[0][metric]["value"]], marker="x", color="k",
                          linestyle="none")
        axes.set_xlabel("synthetic fraction of the training set")
        axes.set_ylabel(f"{metric} (%)")
        axes.set_title(f"{metric} against the synthetic fraction" +
                       (f" (x: {small})" if small else ""), fontsize=9)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
        figure.tight_layout()
        path = out / f"{metric}.png"
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        atomic_write_bytes(path, buffer.getvalue())
        paths.append(path)
    return paths


def small_real_only(rows: Sequence[dict[str, Any]]) -> str | None:
    """The real-only experiment (no synthetic images) trained on fewer images than the
    largest training set (the paper's exp 6): plotted apart from the lines."""
    sizes = {r["experiment"]: r["images"] for r in rows if r.get("images")}
    if not sizes:
        return None
    largest = max(sizes.values())
    smaller = [r["experiment"] for r in rows if r.get("synthetic") == 0
               and r["experiment"] in sizes and sizes[r["experiment"]] < largest]
    return smaller[0] if smaller else None


def _error_bars(rows: Sequence[dict[str, Any]], metric: str) -> np.ndarray | None:
    cells = [r[metric] for r in rows]
    if any(c["low"] is None for c in cells):
        return None
    return np.array([[100 * (c["value"] - c["low"]) for c in cells],
                     [100 * (c["high"] - c["value"]) for c in cells]])


def write_results(folder: Path, cells: Sequence[Any], config: Any) -> list[dict[str, Any]]:
    """results.json, results.csv, plots/*.png and report.html under ``folder``."""
    rows = collect_results(folder, cells)
    atomic_write_json(folder / "results.json", {"rows": rows, "metrics": list(METRICS)})
    atomic_write_bytes(folder / "results.csv", results_csv(rows))
    plots = plot_metrics(rows, folder / "plots")
    atomic_write_bytes(folder / "report.html", _report(rows, plots, config).encode("utf-8"))
    return rows


def _report(rows: Sequence[dict[str, Any]], plots: Sequence[Path], config: Any) -> str:
    body = ["<h1>Experiment grid: the paper's Table 3 layout</h1>",
            f"<p>Grid {html.escape(config.preset)} at scale {config.scale:g}, detector budget "
            f"{html.escape(config.budget)}, {config.seeds} seed(s). Rates in percent of "
            "digits (TP, MC, FN, FP) or billets (CB); [95 % bootstrap interval over billets]"
            " ±standard deviation over seeds. CB_prior reads IDs with the format prior.</p>",
            ("<p><b>Tiny budget: a plumbing check, not a result.</b> A detector trained for "
             "a handful of steps reads nothing yet.</p>" if config.budget == "tiny" else ""),
            html_table(rows, "Experiment", synthetic=True),
            "<h2>Against the synthetic fraction</h2>"]
    body += [html_image(path) for path in plots]
    return html_page("Experiment grid", body)


def html_table(rows: Sequence[dict[str, Any]], first: str, synthetic: bool = False) -> str:
    """The Table 3 layout as an HTML table (with a synthetic-share column if asked)."""
    head = (f"<tr><th>{html.escape(first)}</th>" + ("<th>Synthetic</th>" if synthetic else "")
            + "<th>Test subset</th>" + "".join(f"<th>{m}</th>" for m in METRICS) + "</tr>")
    lines = ["<table>", head]
    for row in rows:
        share = f"<td>{100 * row['synthetic']:.0f} %</td>" if synthetic else ""
        lines.append(f"<tr><td class=l>{html.escape(row['experiment'])}</td>{share}"
                     f"<td class=l>{SUBSET_TITLES[row['subset']]}</td>"
                     + "".join(f"<td>{_percent(row.get(m))}</td>" for m in METRICS) + "</tr>")
    return "".join(lines) + "</table>"


def html_image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def html_page(title: str, body: Sequence[str]) -> str:
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:right}"
             "td.l{text-align:left}img{margin:4px}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{style}</style></head><body>{''.join(body)}</body></html>")
