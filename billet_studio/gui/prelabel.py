"""Pre-labelling: a detector run proposes boxes with labels for the open image; accepting
turns each into its character's glyph template, snapped to the box (one undo step).

The detector runs on the page's worker pool (torch never blocks the GUI thread); the
model is loaded once per reference. Without a chosen run the bundled demo detector is used.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, QRunnable, Signal

from billet_studio.annotations import editing
from billet_studio.geometry import Box
from billet_studio.glyphs.snap import fit_template
from billet_studio.gui.settings import studio_settings

if TYPE_CHECKING:
    from billet_studio.gui.label_page import LabelPage

#: Proposals scoring below this are not shown.
MIN_SCORE = 0.3
#: Proposals overlapping a better one by this IoU (any class) are the same character.
SAME_SLOT_IOU = 0.5
SETTINGS_KEY = "labelling/detector"


@dataclass(frozen=True)
class Proposal:
    label: str
    box: Box
    score: float


def best_proposals(boxes: np.ndarray, labels: list[str], scores: np.ndarray,
                   min_score: float = MIN_SCORE) -> list[Proposal]:
    """One proposal per character slot: the best-scoring box wins its overlaps."""
    chosen: list[Proposal] = []
    for index in np.argsort(-scores, kind="stable"):
        if scores[index] < min_score:
            break
        box = Box(*map(float, boxes[index]))
        if all(box.iou(other.box) < SAME_SLOT_IOU for other in chosen):
            chosen.append(Proposal(labels[index], box, float(scores[index])))
    return chosen


IN_MEMORY = "in memory"


class _Detect(QRunnable):
    def __init__(self, prelabel: PreLabel, path: Path, reference: Path | str) -> None:
        super().__init__()
        self.prelabel, self.path, self.reference = prelabel, path, reference

    def run(self) -> None:
        try:
            proposals = self.prelabel.propose(self.path, self.reference)
        except Exception as error:  # shown to the user, never lost in a worker thread
            self.prelabel.failed.emit(f"Pre-label failed: {error}")
            return
        self.prelabel.proposed.emit(self.path, proposals)


class PreLabel(QObject):
    """Detector proposals for the labelling page."""

    #: (image path, list of Proposal), on the GUI thread.
    proposed = Signal(Path, list)
    failed = Signal(str)

    def __init__(self, page: LabelPage) -> None:
        super().__init__(page)
        self.page = page
        self.proposals: list[Proposal] = []
        #: (reference, model, spec) of the last detector loaded; a model set in memory.
        self._loaded: tuple[Any, Any, Any] | None = None
        self._memory: tuple[Any, Any] | None = None
        self._lock = threading.Lock()  # workers load and run the model one at a time
        self.proposed.connect(self._show)
        self.failed.connect(page.message)

    def reference(self) -> Path | None:
        """The chosen detector run or file, else the bundled demo detector."""
        chosen = studio_settings().value(SETTINGS_KEY, "")
        if chosen:
            return Path(str(chosen))
        from billet_studio.detection.bundled import bundled_detector_path

        return bundled_detector_path()

    def choose(self, reference: Path) -> None:
        studio_settings().setValue(SETTINGS_KEY, str(reference))
        self._memory = None

    def use_model(self, model: Any, spec: Any) -> None:
        """Propose with a detector already in memory (scripts, tests)."""
        self._memory = (model, spec)

    def propose(self, path: Path, reference: Path | str) -> list[Proposal]:
        """Run the detector named by ``reference`` on ``path`` (on a worker thread)."""
        from billet_studio.detection import load_detector, pick_device
        from billet_studio.detection.inference import ImageToRead, detect

        with self._lock:
            if reference == IN_MEMORY and self._memory is not None:
                model, spec = self._memory
            else:
                if self._loaded is None or self._loaded[0] != reference:
                    model, spec, _ = load_detector(Path(reference), pick_device())
                    self._loaded = (reference, model, spec)
                _, model, spec = self._loaded
            device = next(model.parameters()).device
            [found] = list(detect(model, spec, [ImageToRead(1, path)], device, batch_size=1))
        labels = [spec.classes[i] for i in found.labels]
        return best_proposals(found.boxes, labels, found.scores)

    def start(self) -> None:
        """Ask the detector for the open image's proposals (shown when they arrive)."""
        session = self.page.session
        if session is None:
            return
        reference = IN_MEMORY if self._memory is not None else self.reference()
        if reference is None:
            self.page.message.emit("No detector to pre-label with: choose a run (Edit ▸ "
                                   "Choose Detector…)")
            return
        self.page.message.emit(f"Pre-labelling {session.image_path.name}…")
        self.page.pool.start(_Detect(self, session.image_path, reference))

    def _show(self, path: Path, proposals: list[Proposal]) -> None:
        session = self.page.session
        if session is None or session.image_path != path:
            return  # the user moved on
        self.proposals = proposals
        self.page.canvas.show_proposals([(p.label, p.box, p.score) for p in proposals])
        self.page.message.emit(f"{len(proposals)} proposal(s): accept with Ctrl+Shift+Return, "
                               "Esc clears them" if proposals else "No proposals")

    def accept(self) -> None:
        """Each proposal becomes its character's template snapped to its box."""
        assist, stamps = self.page.assist, []
        for proposal in self.proposals:
            template = assist.glyphs[proposal.label] if (
                assist.glyphs is not None and proposal.label in assist.glyphs) else None
            if template is not None:
                stamps.append((proposal.label, fit_template(template, proposal.box), {}))
        self.clear()
        if stamps:
            self.page.canvas.apply(editing.add_stamps, stamps, (), "Accept proposals")

    def clear(self) -> None:
        self.proposals = []
        self.page.canvas.show_proposals([])
