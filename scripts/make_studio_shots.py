"""Render the studio pages' screenshots in docs/images/: the checkpoint grid of a GAN run
(two checkpoints picked into the synthesis pool), the synthesis workbench rendering with
that pool, the training page on the run, the export dialog after a small export with
the contact sheet it opened, and the error browser on the bundled detector's evaluation.

Run (after ``billet-studio demo init demo-project`` and a GAN run on it, e.g.
``billet-studio gan train demo-project --preset small --steps 3000 --every 500
--run-name small-demo``):
    QT_QPA_PLATFORM=offscreen python scripts/make_studio_shots.py [--run small-demo]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from billet_studio.gui.app import studio_application
from billet_studio.gui.main_window import MainWindow

DOCS = Path(__file__).resolve().parents[1] / "docs" / "images"


def wait(condition, seconds: float = 300.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the studio did not get there in time")
        QApplication.processEvents()
        time.sleep(0.01)
    QApplication.processEvents()


def save(widget, name: str) -> None:
    path = DOCS / name
    if not widget.grab().save(str(path)):
        raise OSError(f"could not write {path}")
    print(f"wrote {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=Path("demo-project"))
    parser.add_argument("--run", default="small-demo")
    args = parser.parse_args()
    studio_application()
    window = MainWindow()
    window.resize(1500, 940)
    window.show()
    window.open_project(args.project)
    # The checkpoint grid: validation masks, the real stamp beside each.
    compare = window.compare_page
    window.pages.setCurrentWidget(compare)
    compare.run_choice.setCurrentIndex(compare.run_choice.findText(args.run))
    compare.count.setValue(6)
    wait(lambda: compare.rows and compare.columns
         and len(compare.loaded) == compare.rows * len(compare.columns))
    steps = sorted(compare.headers)
    compare.headers[steps[-1]].in_pool.setChecked(True)
    compare.headers[steps[-1]].weight.setValue(20)
    compare.headers[steps[-2]].in_pool.setChecked(True)
    compare.set_current(len(steps) - 1, 2)
    save(window, "compare_page.png")
    # The workbench with that pool.
    synth = window.synth_page
    window.pages.setCurrentWidget(synth)
    synth.reload_settings()
    wait(lambda: synth.preview is not None and synth.preview.renderer == "gan")
    save(window, "synth_page.png")
    # The training page on the run.
    train = window.train_page
    window.pages.setCurrentWidget(train)
    train.refresh()
    train.select_run(args.project.resolve() / "runs" / "gan" / args.run)
    train.refresh()
    wait(lambda: train.preview.pixmap() is not None and not train.preview.pixmap().isNull())
    save(window, "train_page.png")
    # A small export and the contact sheet it opens.
    shutil.rmtree(args.project / "datasets" / "screenshot", ignore_errors=True)
    dialog = window.export_dataset()
    dialog.name.setText("screenshot")
    dialog.images.setValue(16)
    dialog.synthetic.setValue(0.75)
    dialog.workers.setValue(2)
    dialog.start()
    wait(lambda: dialog.sheets and dialog.sheets[0].loaded(), 600)
    save(dialog, "export_dialog.png")
    save(dialog.sheets[0], "export_contact_sheet.png")
    # The error browser on the bundled detector's evaluation (made by `make run`).
    errors = window.errors_page
    evaluation = args.project.resolve() / "runs" / "main-job" / "bundled" / "evaluation"
    if (evaluation / "records.sqlite").is_file():
        window.pages.setCurrentWidget(errors)
        errors.open_evaluation(evaluation)
        wait(lambda: errors.panel.shown_request == errors.panel.request
             and bool(errors.view.overlay_items()))
        # The score slider moved down to 0.35, and the table re-matched there.
        errors.panel.threshold.slider.setValue(35)
        wait(lambda: errors.browser.match_config.score == 0.35
             and errors.panel.shown_request == errors.panel.request)
        save(window, "errors_page.png")
    # Its confusion tab on the demo detector's report at score 0.1 (many digits found),
    # the most common misread clicked.
    report = sorted((args.project.resolve() / "runs" / "detector").glob(
        "*/report-s0.1/steps/*/evaluation/records.sqlite"))
    if report:
        window.pages.setCurrentWidget(errors)
        errors.open_evaluation(report[-1].parent)
        errors.right.setCurrentIndex(1)
        panel = errors.confusion
        wait(lambda: panel.view.confusion.matrix.size > 0)
        matrix = panel.view.confusion.matrix.copy()
        classes = len(errors.browser.classes)
        matrix[range(classes), range(classes)] = 0
        row, column = divmod(int(matrix[:classes, :classes].argmax()), classes)
        panel.view.clicked.emit(panel.view.confusion.index(row, column))
        wait(lambda: panel.gallery.count() > 0 and not panel.gallery.item(0).icon().isNull())
        save(window, "errors_confusion.png")
    # The results page: every evaluation of the project (a grid there: `experiment run`),
    # then the demo detector's last two report checkpoints compared billet by billet.
    results = window.results_page
    window.pages.setCurrentWidget(results)
    wait(lambda: results.model.rowCount() > 0)
    results.subset.setCurrentIndex(results.subset.findData("all"))
    save(window, "results_page.png")
    cells = report[-2:]
    if len(cells) == 2:
        results.tabs.setCurrentWidget(results.compare)
        compare = results.compare
        compare.compare(cells[0].parent, cells[-1].parent)
        wait(lambda: compare.result is not None and (
            not compare.model.rows or compare.shown_request == compare._photo_request))
        save(window, "results_compare.png")
    window.synth_page.shutdown()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
