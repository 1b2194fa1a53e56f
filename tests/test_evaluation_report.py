"""The evaluation's report.html: self-contained, the paper's table, figures, thumbnails."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from billet_studio.evaluation.evaluate import (
    EvaluationConfig,
    EvaluationInputs,
    run_evaluation,
    score_evaluation,
)
from billet_studio.evaluation.inputs import load_predictions, load_truth
from billet_studio.evaluation.metrics import BootstrapConfig
from billet_studio.evaluation.report import write_report
from billet_studio.evaluation.scoring import SUBSET_TITLES
from billet_studio.glyphs.id_automaton import IdAutomaton

CLASSES = ("0", "1", "2", "3")
CONFIG = EvaluationConfig(bootstrap=BootstrapConfig(resamples=50))


def _digit(image_id: int, category: int, x: float) -> dict:
    return {"image_id": image_id, "category_id": category, "bbox": [x, 10.0, 20.0, 30.0]}


def _write_case(root: Path) -> tuple[Path, Path]:
    """Four billets: all right; one MC; one FN + FP (corrupt file); one FN (no file).

    7 digits, 4 TP; no billet is poorly visible, so that subset is empty.
    """
    billets = [
        ("ok.png", "A", "well", "12", [2, 3]),
        ("mc.png", "A", "partial", "30", [4, 1]),
        ("corrupt.png", "B", "partial", "11", [2, 2]),
        ("missing.png", "B", "well", "2", [3]),
    ]
    images, annotations = [], []
    for image_id, (name, site, visibility, billet_id, categories) in enumerate(billets, 1):
        images.append({"id": image_id, "file_name": name, "width": 100, "height": 50,
                       "billet": {"site": site, "visibility": visibility, "id": billet_id}})
        for k, category in enumerate(categories):
            annotations.append({"id": len(annotations) + 1, "iscrowd": 0,
                                **_digit(image_id, category, 10.0 + 30 * k)})
    truth = {"images": images, "annotations": annotations,
             "categories": [{"id": i + 1, "name": c} for i, c in enumerate(CLASSES)]}
    predictions = [
        {**_digit(1, 2, 10.0), "score": 0.9}, {**_digit(1, 3, 40.0), "score": 0.9},
        {**_digit(2, 4, 10.0), "score": 0.9}, {**_digit(2, 3, 40.0), "score": 0.8},
        {**_digit(3, 2, 10.0), "score": 0.9}, {**_digit(3, 1, 75.0), "score": 0.7},
    ]
    for name, colour in (("ok.png", (90, 90, 90)), ("mc.png", (120, 100, 80))):
        Image.fromarray(np.full((50, 100, 3), colour, dtype=np.uint8)).save(root / name)
    (root / "corrupt.png").write_bytes(b"not a png at all")
    (root / "truth.json").write_text(json.dumps(truth), encoding="utf-8")
    (root / "predictions.json").write_text(json.dumps(predictions), encoding="utf-8")
    return root / "truth.json", root / "predictions.json"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("report")
    truth, predictions = _write_case(root)
    for _ in run_evaluation(EvaluationInputs(truth, predictions, image_root=root),
                            root / "eval", CONFIG):
        pass
    path = root / "eval" / "report.html"
    assert path.is_file()
    return path.read_text(encoding="utf-8")


def _row(text: str, group: str) -> str:
    match = re.search(rf'<tr data-group="{re.escape(group)}">.*?</tr>', text)
    assert match is not None, group
    return match.group(0)


def test_report_holds_the_subset_table(report: str) -> None:
    for title in SUBSET_TITLES.values():
        assert f"<th>{title}</th>" in report
    everything = _row(report, "all")
    assert "57.1%" in everything  # TP: 4 of 7 digits
    assert everything.count('class="bar') == 7
    assert ">4</td>" in everything and ">7</td>" in everything  # billets, digits
    # Nobody is poorly visible: every rate of that subset is a dash.
    assert _row(report, "poor").count('<td class="rate">–</td>') == 7
    assert 'data-group="partial@A"' in report  # the per-site table


def test_report_is_self_contained(report: str) -> None:
    assert report.startswith("<!DOCTYPE html>")
    sources = re.findall(r'<img[^>]* src="([^"]*)"', report)
    assert all(src.startswith("data:image/png;base64,") for src in sources)
    # Rates figure, confusion matrix, and a thumbnail for each of the three bad billets.
    assert len(sources) == 5
    assert "<link" not in report and "<script" not in report


def test_report_marks_missing_and_unreadable_images(report: str) -> None:
    captions = re.findall(r"<figcaption>.*?</figcaption>", report)
    assert len(captions) == 3
    by_name = {name: c for c in captions for name in re.findall(r"<b>(.*?)</b>", c)}
    assert set(by_name) == {"mc.png", "corrupt.png", "missing.png"}
    assert "image not found" not in by_name["mc.png"]
    assert "image not found" in by_name["missing.png"]
    assert "image not found" in by_name["corrupt.png"]
    assert "MC 1" in by_name["mc.png"] and "site A · partial" in by_name["mc.png"]


def test_report_escapes_text_and_handles_no_worst(tmp_path: Path) -> None:
    truth_path, predictions_path = _write_case(tmp_path)
    truth = load_truth(truth_path)
    evaluation = list(score_evaluation(truth, load_predictions(predictions_path, truth),
                                       IdAutomaton.anything(truth.classes), CONFIG))[-1]
    summary = {"inputs": {"truth": "<truth>.json", "predictions": "p&q.json"},
               "map50": None, "warnings": ["<b>careful</b>"]}
    path = write_report(tmp_path / "r.html", evaluation, summary, None, 0)
    text = path.read_text(encoding="utf-8")
    assert "&lt;truth&gt;.json" in text and "p&amp;q.json" in text
    assert "&lt;b&gt;careful&lt;/b&gt;" in text and "<b>careful</b>" not in text
    assert "<figcaption>" not in text and "No billet has" in text
