"""Render docs/images/label_page.png: the labelling page on a demo billet, mid-way through
labelling: some stamps snapped from templates (one selected, its vertex handles shown),
one refined, the rest still to do, with the docks around the canvas.

Run (after ``billet-studio demo init demo-project``):
    QT_QPA_PLATFORM=offscreen python scripts/make_label_page_shot.py [--project demo-project]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from billet_studio.annotations import Project, editing
from billet_studio.glyphs.snap import fit_template
from billet_studio.gui.app import studio_application
from billet_studio.gui.main_window import MainWindow

OUT = Path(__file__).resolve().parents[1] / "docs" / "images" / "label_page.png"


def settle(window: MainWindow) -> None:
    while not window.label_page.idle():
        QApplication.processEvents()
        time.sleep(0.01)
    QApplication.processEvents()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=Path("demo-project"))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    source = Project.open(args.project)
    record = next(r for r in source.load_records() if r.visibility == "well" and r.stamps)
    studio_application()
    window = MainWindow()
    window.resize(1500, 900)
    window.show()
    window.open_project(args.project)
    settle(window)
    page = window.label_page
    window.select_image([s.path for s in page.image_list.summaries].index(record.image_path))
    settle(window)
    # Start from a bare photograph (in memory only: nothing is saved), then snap the first
    # seven stamps from their true boxes, as a labeller holding each key would.
    page.canvas.apply(editing.delete_shapes, range(len(page.canvas.shapes)))
    glyphs = page.assist.glyphs
    stamps = sorted(record.stamps, key=lambda s: s.box.x0)
    snapped = [(s.label, fit_template(glyphs[s.label], s.box), {}) for s in stamps[:7]]
    page.canvas.apply(editing.add_stamps, snapped, ())
    page.canvas.select([len(page.canvas.shapes) - 1])
    page.assist.refine_selection()
    box = stamps[7].box
    page.canvas.preview_path([(box.x0, box.y0), (box.x1, box.y0), (box.x1, box.y1),
                              (box.x0, box.y1)], None, closed=True)
    centre = ((stamps[0].box.x0 + stamps[-1].box.x1) / 2, (stamps[0].box.y0 + box.y1) / 2)
    page.canvas.set_scale(page.canvas.fit_scale() * 2.2)
    page.canvas.centerOn(*centre)
    QApplication.processEvents()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(args.out)):
        print(f"could not write {args.out}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}")
    page.close_session(discard=True)  # the demo's labels stay as they were
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
