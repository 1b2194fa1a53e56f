"""The evaluation's ``report.html``: one self-contained page (tables, matplotlib figures and
the worst billets' thumbnails, all embedded as PNG) for a plant engineer."""

from __future__ import annotations

import base64
import html
import io
import math
import textwrap
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PIL import Image

from billet_studio.annotations.atomic import atomic_write_text
from billet_studio.annotations.errors import AnnotationError
from billet_studio.annotations.images import read_image
from billet_studio.evaluation.scoring import SUBSETS, BilletScore

if TYPE_CHECKING:
    from billet_studio.evaluation.evaluate import Evaluation

#: Table columns: (rate in the groups, heading, what it means, higher is better).
COLUMNS: tuple[tuple[str, str, str, bool], ...] = (
    ("TP", "TP", "digits found with the right class, of all digits", True),
    ("MC", "MC", "digits found but given the wrong class, of all digits", False),
    ("FN", "FN", "digits missed, of all digits", False),
    ("FP", "FP", "false detections, per digit (can exceed 100%)", False),
    ("CB", "CB", "correct billets: every digit found right and no false detection", True),
    ("CB_raw", "CB raw", "billets whose raw read (best class per slot) is the true ID", True),
    ("CB_prior", "CB prior", "billets whose read with the ID format prior is the true ID",
     True),
)
FIGURE_RATES = ("TP", "MC", "FN", "FP", "CB")
COLOURS = {"TP": "#2ca02c", "MC": "#ff7f0e", "FN": "#d62728", "FP": "#d020d0", "CB": "#1f77b4"}
THUMB_WIDTH, THUMB_MAX_HEIGHT = 320, 480
_DASH = "–"

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:8px 0}td,th{padding:4px 8px;border:1px solid #ddd}
th{background:#f4f4f4;text-align:left}td.num{text-align:right}
table.facts th{width:140px}table.small{font-size:12px}
td.rate{min-width:92px;white-space:nowrap}td.rate small{color:#777;font-size:10px}
.bar{height:5px;background:#eee;margin-top:2px}.bar i{display:block;height:5px}
.good i{background:#2ca02c}.bad i{background:#d62728}
img.fig{max-width:100%;height:auto}.grid{display:flex;flex-wrap:wrap;gap:14px}
figure{margin:0;width:322px;font-size:12px}figure img{border:1px solid #ccc}
code{background:#f4f4f4;padding:0 3px}.ok{color:#1a7f1a}.wrong{color:#c01818}
.warn{color:#a15c00}.note{color:#555;font-size:12px}
.key{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:-1px}
"""


def _e(value: Any) -> str:
    """HTML-escaped text of a value."""
    return html.escape(str(value))


def _pct(value: float | None) -> str:
    """A fraction as a percentage with one decimal; '–' for None or NaN."""
    if value is None or not math.isfinite(value):
        return _DASH
    return f"{100 * value:.1f}"


def _figure_uri(figure: Figure, dpi: int = 100) -> str:
    """Render a figure to a PNG data URI (figures made this way need no closing)."""
    buffer = io.BytesIO()
    FigureCanvasAgg(figure)  # the Agg canvas, without pyplot's global figure registry
    figure.savefig(buffer, format="png", dpi=dpi)
    figure.clear()
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _rate_cell(rate: dict[str, float] | None, good: bool) -> str:
    """A table cell: percentage, 95% interval and a bar proportional to the value."""
    if rate is None or not math.isfinite(rate["value"]):
        return f'<td class="rate">{_DASH}</td>'
    value, low, high = rate["value"], rate["low"], rate["high"]
    interval = (f" <small>[{_pct(low)}{_DASH}{_pct(high)}]</small>"
                if math.isfinite(low) and math.isfinite(high) else "")
    width = min(100.0, max(0.0, 100 * value))
    return (f'<td class="rate">{_pct(value)}%{interval}<div class="bar '
            f'{"good" if good else "bad"}"><i style="width:{width:.1f}%"></i></div></td>')


def _rate_table(groups: Sequence[dict[str, Any]], with_site: bool) -> str:
    """The paper-style table of rates, one row per group."""
    site_head = "<th>Site</th>" if with_site else ""
    head = "".join(f'<th title="{_e(text)}">{_e(name)}</th>' for _, name, text, _ in COLUMNS)
    rows = []
    for group in groups:
        site = f"<td>{_e(group['site'])}</td>" if with_site else ""
        cells = "".join(_rate_cell(group["rates"].get(rate), good)
                        for rate, _, _, good in COLUMNS)
        rows.append(f'<tr data-group="{_e(group["name"])}"><th>{_e(group["title"])}</th>'
                    f'{site}{cells}<td class="num">{group["billets"]}</td>'
                    f'<td class="num">{group["digits"]}</td></tr>')
    css = ' class="small"' if with_site else ""
    return (f"<table{css}><tr><th>Subset</th>{site_head}{head}<th>Billets</th>"
            f"<th>Digits</th></tr>\n" + "\n".join(rows) + "\n</table>")


def _rates_figure(groups: Sequence[dict[str, Any]]) -> str:
    """Grouped bars per subset for TP, MC, FN, FP and CB, with their 95% intervals."""
    figure = Figure(figsize=(9, 3.8), layout="constrained")
    axes = figure.add_subplot()
    x = np.arange(len(groups))
    width = 0.8 / len(FIGURE_RATES)
    for i, rate in enumerate(FIGURE_RATES):
        value, low, high = (100 * np.array([g["rates"][rate][k] for g in groups], dtype=float)
                            for k in ("value", "low", "high"))
        shown = np.isfinite(value)
        err = np.array([np.where(shown & np.isfinite(low), value - low, 0.0),
                        np.where(shown & np.isfinite(high), high - value, 0.0)])
        axes.bar(x + (i - (len(FIGURE_RATES) - 1) / 2) * width, np.where(shown, value, 0.0),
                 width, yerr=np.clip(np.nan_to_num(err), 0, None), capsize=2, label=rate,
                 color=COLOURS[rate], error_kw={"elinewidth": 0.8})
    axes.set_xticks(x, [textwrap.fill(g["title"], 16) for g in groups], fontsize=9)
    axes.set_ylabel("% of digits (CB: of billets)")
    axes.set_ylim(bottom=0)
    axes.grid(axis="y", alpha=0.3)
    axes.legend(ncols=len(FIGURE_RATES), fontsize=8, loc="upper center",
                bbox_to_anchor=(0.5, 1.12), frameon=False)
    return _figure_uri(figure)


def _confusion_figure(matrix: np.ndarray, classes: Sequence[str]) -> str:
    """The confusion matrix on a log colour scale, non-zero cells annotated."""
    size = len(matrix)
    side = min(14.0, max(4.5, 0.32 * size + 1.5))
    figure = Figure(figsize=(side + 0.8, side), layout="constrained")
    axes = figure.add_subplot()
    top = max(2, int(matrix.max(initial=0)))
    norm = LogNorm(vmin=1, vmax=top)
    image = axes.imshow(np.ma.masked_equal(matrix, 0), cmap="Blues", norm=norm,
                        interpolation="nearest")
    font = 9 if size <= 15 else 7.5 if size <= 30 else 6.5
    for row, col in zip(*np.nonzero(matrix), strict=True):
        count = int(matrix[row, col])
        axes.text(col, row, str(count), ha="center", va="center", fontsize=font,
                  color="white" if norm(count) > 0.6 else "black")
    ticks = np.arange(size)
    axes.set_xticks(ticks, [*classes, "missed"], fontsize=font + 1.5)
    axes.set_yticks(ticks, [*classes, "background"], fontsize=font + 1.5)
    for label in axes.get_xticklabels():
        label.set_rotation(90 if len(label.get_text()) > 2 else 0)
    axes.set_xticks(ticks[:-1] + 0.5, minor=True)
    axes.set_yticks(ticks[:-1] + 0.5, minor=True)
    axes.grid(which="minor", color="#e4e4e4", linewidth=0.5)
    axes.tick_params(which="minor", length=0)
    axes.axhline(size - 1.5, color="#888", linewidth=1)
    axes.axvline(size - 1.5, color="#888", linewidth=1)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    bar = figure.colorbar(image, ax=axes, shrink=0.6, label="digits (log scale)")
    ticks = [m * 10**e for e in range(len(str(top))) for m in (1, 2, 5) if m * 10**e <= top]
    bar.set_ticks(ticks, labels=[str(t) for t in ticks])
    bar.minorticks_off()
    return _figure_uri(figure, dpi=110)


def _per_class_table(evaluation: Evaluation) -> str:
    """Precision, recall and AP@0.5 per class."""
    ap = evaluation.map50.get("per_class", {})
    rows = []
    for index, entry in enumerate(evaluation.per_class):
        cells = "".join(f'<td class="num">{entry[k]}</td>' for k in ("digits", "predicted", "TP"))
        rates = "".join(f'<td class="num">{_pct(v)}</td>'
                        for v in (entry["precision"], entry["recall"], ap.get(index)))
        rows.append(f"<tr><th>{_e(entry['class'])}</th>{cells}{rates}</tr>")
    return ('<table class="small"><tr><th>Class</th><th>Digits</th><th>Predicted</th>'
            "<th>TP</th><th>Precision %</th><th>Recall %</th><th>AP@0.5 %</th></tr>\n"
            + "\n".join(rows) + "\n</table>")


def _load_thumbnail(path: Path, width: int, height: int) -> tuple[np.ndarray, str | None]:
    """The image scaled to (height, width), or a grey canvas and why it is missing."""
    try:
        pixels = read_image(path)
    except (AnnotationError, OSError, ValueError) as error:
        return np.full((height, width, 3), 150, dtype=np.uint8), str(error)
    resized = Image.fromarray(pixels).resize((width, height), Image.Resampling.BILINEAR,
                                             reducing_gap=2.0)
    return np.asarray(resized), None


def _draw_box(axes: Any, box: np.ndarray, kind: str, label: str, room: float,
              height: float) -> None:
    """One box in its kind's colour with a small label above it (FN: dashed, label below);
    the label goes inside the box where the image has no ``room`` for it outside."""
    x0, y0, x1, y1 = (float(v) for v in box)
    colour = COLOURS[kind]
    axes.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=colour,
                             linewidth=1.3, linestyle="--" if kind == "FN" else "-"))
    below = kind == "FN"
    inside = y1 + room > height if below else y0 < room
    axes.text(x0, y1 if below else y0, label, fontsize=6.5, color="white", clip_on=True,
              va="top" if below != inside else "bottom",
              bbox={"facecolor": colour, "edgecolor": "none", "pad": 0.8, "alpha": 0.85})


def _thumbnail(billet: BilletScore, classes: Sequence[str], image_root: Path | None
               ) -> tuple[str, str | None]:
    """A thumbnail data URI with the billet's boxes drawn, and why the image is missing."""
    image, match, preds = billet.image, billet.match, billet.predictions
    width, height = max(1, image.width), max(1, image.height)
    scale = min(THUMB_WIDTH / width, THUMB_MAX_HEIGHT / height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    path = Path(image.file_name) if image_root is None else Path(image_root) / image.file_name
    pixels, problem = _load_thumbnail(path, *size)
    figure = Figure(figsize=(size[0] / 100, size[1] / 100), dpi=100)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.imshow(pixels, extent=(0, width, height, 0), interpolation="nearest")
    axes.set_xlim(0, width)
    axes.set_ylim(height, 0)
    axes.axis("off")
    draw = partial(_draw_box, axes, room=11 / scale, height=height)
    for g in np.flatnonzero(match.truth_kind == "FN"):
        draw(image.boxes[g], "FN", classes[image.labels[g]])
    for p, kind in enumerate(match.pred_kind):
        predicted = classes[preds.labels[p]]
        if kind == "TP":
            draw(preds.boxes[p], kind, predicted)
        elif kind == "MC":
            true = classes[image.labels[match.pred_match[p]]]
            draw(preds.boxes[p], kind, f"{true}→{predicted}")
        elif kind == "FP":
            draw(preds.boxes[p], kind, f"{predicted} {match.pred_fp_type[p]}")
    return _figure_uri(figure), problem


def _read_html(value: str | None, true_id: str) -> str:
    """A read in code, green when it is the true ID, red otherwise."""
    if value is None:
        return '<span class="wrong">no ID fits the format</span>'
    css = "ok" if value == true_id else "wrong"
    return f'<code class="{css}">{_e(value) or "(empty)"}</code>'


def _worst_section(evaluation: Evaluation, image_root: Path | None, worst: int) -> str:
    """Thumbnails and captions of the billets with the most errors."""
    billets = evaluation.worst(worst) if worst > 0 else []
    if not billets:
        return '<p class="note">No billet has a detection error or a misread ID.</p>'
    keys = "".join(f'<span class="key" style="background:{COLOURS[k]}"></span>{k}'
                   for k in ("TP", "MC", "FN", "FP"))
    cards = []
    for billet in billets:
        uri, problem = _thumbnail(billet, evaluation.classes, image_root)
        image, read, counts = billet.image, billet.read, billet.match.counts()
        review = ' <span class="warn">⚠ needs review</span>' if read.needs_review else ""
        missing = ("" if problem is None else
                   f'<br><span class="warn" title="{_e(problem)}">image not found</span>')
        tally = " · ".join(f"{k} {counts[k]}" for k in ("TP", "MC", "FN", "FP"))
        cards.append(
            f'<figure><img src="{uri}" alt="{_e(image.file_name)}"><figcaption>'
            f"<b>{_e(image.file_name)}</b><br>site {_e(image.site or _DASH)} · "
            f"{_e(image.visibility or 'visibility unknown')}<br>true ID "
            f"<code>{_e(billet.true_id) or '(empty)'}</code><br>raw "
            f"{_read_html(read.raw, billet.true_id)} · with format "
            f"{_read_html(read.constrained, billet.true_id)}{review}<br>{tally}{missing}"
            "</figcaption></figure>")
    return (f'<p class="note">The {len(billets)} billets with the most errors (MC + FN + FP), '
            f"misread IDs first among equals. Boxes:{keys} (FN dashed; MC shows "
            "true→predicted; FP shows its type).</p>\n<div class=\"grid\">\n"
            + "\n".join(cards) + "\n</div>")


def _header(evaluation: Evaluation, summary: dict[str, Any]) -> str:
    """The inputs, the totals, mAP@0.5 and the warnings."""
    inputs = summary.get("inputs", {})
    id_format = inputs.get("id_format")
    match = summary.get("config", {}).get("scoring", {}).get("match", {})
    if inputs.get("expected_ids"):
        format_text = f"{inputs['expected_ids']} expected IDs"
    elif id_format:
        format_text = ", ".join(f"{k} {v}" for k, v in id_format.items() if v is not None)
    else:
        format_text = "none (any sequence of classes)"
    facts = [("Ground truth", inputs.get("truth")), ("Predictions", inputs.get("predictions")),
             ("Project", inputs.get("project") or _DASH), ("ID format", format_text),
             ("Images", inputs.get("image_root") or "file names as given"),
             ("Matching", f"IoU ≥ {match.get('iou', _DASH)}, score ≥ {match.get('score', _DASH)}"),
             ("Billets", summary.get("billets", len(evaluation.billets))),
             ("Digits", summary.get("digits", int(evaluation.counts[:, 0].sum()))),
             ("mAP@0.5", f"{_pct(summary.get('map50'))}%" if summary.get("map50") is not None
              else _DASH),
             ("Version", summary.get("version", _DASH))]
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts)
    warnings = summary.get("warnings", list(evaluation.warnings))
    notes = ("<ul>" + "".join(f'<li class="warn">{_e(w)}</li>' for w in warnings) + "</ul>"
             if warnings else '<p class="note">No warnings.</p>')
    return f'<table class="facts">{rows}</table>\n<h2>Warnings</h2>\n{notes}'


def render_report(evaluation: Evaluation, summary: dict[str, Any], image_root: Path | None,
                  worst: int) -> str:
    """The report as one HTML document."""
    order = {subset: i for i, subset in enumerate(SUBSETS)}
    main = sorted((g for g in evaluation.groups if g["site"] is None),
                  key=lambda g: order.get(g["subset"], len(order)))
    by_site = sorted((g for g in evaluation.groups if g["site"] is not None),
                     key=lambda g: (order.get(g["subset"], len(order)), str(g["site"])))
    confidence = summary.get("config", {}).get("bootstrap", {}).get("confidence", 0.95)
    legend = "".join(f"<li><b>{_e(name)}</b>: {_e(text)}</li>" for _, name, text, _ in COLUMNS)
    parts = [
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>Billet ID reader evaluation</title><style>{_STYLE}</style></head><body>",
        "<h1>Billet ID reader evaluation</h1>", _header(evaluation, summary),
        "<h2>Results per test subset</h2>", _rate_table(main, with_site=False),
        f'<ul class="note">{legend}<li>Cells: value in %, {confidence:.0%} bootstrap '
        f"interval over billets in brackets; {_DASH} where the subset is empty.</li></ul>",
    ]
    if by_site:
        parts += ["<h3>Per subset and site</h3>", _rate_table(by_site, with_site=True)]
    plotted = [g for g in main if all(rate in g["rates"] for rate in FIGURE_RATES)]
    if plotted:
        parts.append(f'<img class="fig" src="{_rates_figure(plotted)}" alt="rates per subset">')
    confusion = _confusion_figure(evaluation.confusion, evaluation.classes)
    parts += ["<h2>Confusion matrix</h2>",
              '<p class="note">Rows: true class, then background (false detections); '
              "columns: predicted class, then missed digits. Counts of digits.</p>",
              f'<img class="fig" src="{confusion}" alt="confusion matrix">',
              "<h2>Per class</h2>", _per_class_table(evaluation),
              "<h2>Worst billets</h2>", _worst_section(evaluation, image_root, worst),
              "</body></html>\n"]
    return "\n".join(parts)


def write_report(path: Path, evaluation: Evaluation, summary: dict[str, Any],
                 image_root: Path | None, worst: int) -> Path:
    """Write the self-contained ``report.html`` atomically and return its path."""
    path = Path(path)
    atomic_write_text(path, render_report(evaluation, summary, image_root, worst))
    return path
