"""The training page: start a GAN or detector run with a preset, follow every run of the
project live (loss curve, latest preview, step, steps/s, ETA, device), pause one (a
checkpoint, then stop) and resume it, or cancel it. Runs are child processes
(``child_runs``); their state is read from their folders (``training.run_status``), so
runs started before the studio opened are followed too.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from billet_studio.annotations import Project
from billet_studio.gui.child_runs import console_tail, start_detached
from billet_studio.gui.contact_sheet_view import ImageDecoder
from billet_studio.gui.page_layout import split_page
from billet_studio.jobs import request_stop
from billet_studio.training.run_status import (
    LogTail,
    RunStatus,
    find_runs,
    pretraining_progress,
)

PRESETS = {"gan": ("small", "paper", "tiny"), "detector": ("cpu", "paper", "tiny")}
#: The logged metric each kind of run is followed by: the detector's summed loss, the
#: generator's L1 term (what pix2pix's quality follows; its GAN terms oscillate).
CURVE_METRIC = {"gan": "G_L1", "detector": "loss"}
REFRESH_MS = 1000


def start_arguments(kind: str, project: Path, preset: str, steps: int, name: str,
                    dataset: str = "") -> list[str]:
    """The CLI command that starts a run (the same one a server would type)."""
    if kind == "gan":
        return ["gan", "train", str(project), "--preset", preset, "--steps", str(steps),
                "--every", str(max(1, steps // 4)), "--run-name", name, "--no-legibility"]
    return ["detector", "train", str(project), "--dataset", dataset, "--preset", preset,
            "--steps", str(steps), "--eval-every", str(max(1, steps // 4)), "--workers", "0",
            "--run-name", name]


def resume_arguments(status: RunStatus, project: Path) -> list[str]:
    kind = status.run_dir.parent.name
    if kind == "gan":
        return ["gan", "train", str(project), "--resume", str(status.run_dir),
                "--no-legibility"]
    dataset = _run_dataset(status.run_dir)
    return ["detector", "train", str(project), "--dataset", dataset, "--resume",
            str(status.run_dir), "--workers", "0"]


def run_device(run_dir: Path) -> str:
    """The device a run trains on, as its config.json names it ("" before it is written)."""
    import json

    path = run_dir / "config.json"
    try:
        key = (path, path.stat().st_mtime_ns)
        if key in _DEVICES:
            return _DEVICES[key]
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    name = config.get("device_name") or config.get("device") or ""
    processes = config.get("processes", 1)
    _DEVICES[key] = f"on {name}" + (f" x{processes} processes"
                                    if processes and processes > 1 else "")
    return _DEVICES[key]


#: run_device's answers by (config.json, its modification time): refreshes read it once.
_DEVICES: dict[tuple[Path, int], str] = {}


def _run_dataset(run_dir: Path) -> str:
    import json

    try:
        config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
        return str(config["sources"]["dataset"])
    except (OSError, ValueError, KeyError, TypeError):
        return ""


class TrainPage(QWidget):
    """Training runs of the open project."""

    #: A sentence for the status bar.
    message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        #: The processes of the runs this page started.
        self.started: dict[Path, subprocess.Popen] = {}
        self.statuses: list[RunStatus] = []
        self._tail: LogTail | None = None
        self._curve: list[tuple[int, float]] = []
        #: (time, step) of the selected run's recent log records, for steps/s.
        self._times: list[tuple[float, int]] = []
        self._metrics: dict[str, float] = {}
        self._preview_path: str | None = None
        self.decoder = ImageDecoder()  # no parent: a late decode emits on a live object
        self.decoder.decoded.connect(self._show_preview)
        self.kind = QComboBox()
        self.kind.addItems(["gan", "detector"])
        self.preset = QComboBox()
        self.kind.currentTextChanged.connect(self._fill_presets)
        self._fill_presets("gan")
        self.dataset = QLineEdit()
        self.dataset.setPlaceholderText("dataset name (detector runs)")
        self.steps = QSpinBox()
        self.steps.setRange(1, 10_000_000)
        self.steps.setValue(2000)
        self.name = QLineEdit()
        self.name.setPlaceholderText("run name (default: the time)")
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start_run)
        form = QFormLayout()
        for label, widget in (("Train", self.kind), ("Preset", self.preset),
                              ("Dataset", self.dataset), ("Steps", self.steps),
                              ("Run name", self.name)):
            form.addRow(label, widget)
        form.addRow(self.start_button)
        self.runs = QTreeWidget()
        self.runs.setHeaderLabels(["Run", "Kind", "State", "Step"])
        self.runs.setRootIsDecorated(False)
        for column, width in enumerate((130, 70, 70)):
            self.runs.setColumnWidth(column, width)
        self.runs.currentItemChanged.connect(lambda *_: self._select_run())
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Save a checkpoint and stop (the run's STOP file)")
        self.pause_button.clicked.connect(self.pause_selected)
        self.resume_button = QPushButton("Resume")
        self.resume_button.clicked.connect(self.resume_selected)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the run for good (it is not offered for resuming)")
        self.cancel_button.clicked.connect(self.cancel_selected)
        buttons = QHBoxLayout()
        buttons.addWidget(self.pause_button)
        buttons.addWidget(self.resume_button)
        buttons.addWidget(self.cancel_button)
        left = QWidget()
        left.setMinimumWidth(380)
        column = QVBoxLayout(left)
        column.addLayout(form)
        column.addWidget(self.runs, 1)
        column.addLayout(buttons)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLabel("bottom", "step")
        self.plot.setLabel("left", "training loss")
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        self.line = self.plot.plot([], [], pen=pg.mkPen((40, 110, 200), width=2))
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.preview = QLabel()
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumWidth(260)
        self.preview.setToolTip("The latest checkpoint's preview (GAN: mask | render | real "
                                "stamp; detector: detections on a validation image)")
        top = QHBoxLayout()
        top.addWidget(self.plot, 1)
        top.addWidget(self.preview)
        right = QWidget()
        column = QVBoxLayout(right)
        column.addLayout(top, 1)
        column.addWidget(self.details)
        split_page(self, left, right)
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    def _fill_presets(self, kind: str) -> None:
        self.preset.clear()
        self.preset.addItems(list(PRESETS[kind]))

    def set_project(self, project: Project | None) -> None:
        self.project = project
        self._tail, self._curve = None, []
        self.refresh()

    # -- runs ------------------------------------------------------------------------------

    def start_run(self) -> Path | None:
        """Start the run the form describes as a child process; returns its folder."""
        if self.project is None:
            return None
        kind = self.kind.currentText()
        name = self.name.text().strip() or time.strftime("%Y%m%d-%H%M%S")
        if kind == "detector" and not self.dataset.text().strip():
            self.message.emit("Name the dataset the detector trains on")
            return None
        arguments = start_arguments(kind, self.project.root, self.preset.currentText(),
                                    self.steps.value(), name, self.dataset.text().strip())
        run_dir = self.project.root / "runs" / kind / name
        self._launch(run_dir, arguments)
        return run_dir

    def _launch(self, run_dir: Path, arguments: list[str]) -> None:
        try:
            process = start_detached(arguments, run_dir)
        except OSError as error:
            self.message.emit(f"⚠ could not start {' '.join(arguments[:2])}: {error}")
            return
        self.started[run_dir] = process
        self.message.emit(f"Started {run_dir.name} (process {process.pid})")
        self.refresh()

    def selected(self) -> RunStatus | None:
        item = self.runs.currentItem()
        if item is None:
            return None
        index = self.runs.indexOfTopLevelItem(item)
        return self.statuses[index] if 0 <= index < len(self.statuses) else None

    def select_run(self, run_dir: Path) -> None:
        for index, status in enumerate(self.statuses):
            if status.run_dir == run_dir:
                self.runs.setCurrentItem(self.runs.topLevelItem(index))

    def pause_selected(self) -> None:
        status = self.selected()
        if status is not None and status.state == "running":
            request_stop(status.run_dir)
            self.message.emit(f"Pausing {status.run_dir.name} after this step")

    def cancel_selected(self) -> None:
        status = self.selected()
        if status is not None and status.state in ("running", "starting"):
            request_stop(status.run_dir, "cancel")
            self.message.emit(f"Cancelling {status.run_dir.name}")

    def resume_selected(self) -> None:
        status = self.selected()
        if status is None or self.project is None or status.state == "running":
            return
        self._launch(status.run_dir, resume_arguments(status, self.project.root))

    # -- following -------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read every run's state and the selected run's new log records."""
        current = self.selected()
        found = find_runs(self.project.root) if self.project is not None else []
        # A process this page started may still be importing torch: not failed, starting.
        self.statuses = [replace(s, state="starting", detail="")
                         if s.state in ("new", "failed") and s.step == 0
                         and s.run_dir in self.started
                         and self.started[s.run_dir].poll() is None else s
                         for s in found]
        self.runs.blockSignals(True)
        self.runs.clear()
        for status in self.statuses:
            step = f"{status.step}/{status.total}" if status.total else str(status.step)
            self.runs.addTopLevelItem(QTreeWidgetItem(
                [status.run_dir.name, status.run_dir.parent.name, status.state, step]))
        self.runs.blockSignals(False)
        if current is not None:
            self.select_run(current.run_dir)
        elif self.statuses:
            self.runs.setCurrentItem(self.runs.topLevelItem(0))
        self._select_run()

    def _select_run(self) -> None:
        status = self.selected()
        if status is None:
            self._tail, self._curve, self._times, self._metrics = None, [], [], {}
            self.line.setData([], [])
            self.details.setText("")
            self._set_preview(None)
            return
        log = status.run_dir / "log.jsonl"
        metric = CURVE_METRIC.get(status.run_dir.parent.name, "loss")
        if self._tail is None or self._tail.path != log:
            self._tail, self._curve, self._times, self._metrics = LogTail(log), [], [], {}
            self._set_preview(None)
            self.plot.setLabel("left", f"training {metric}")
        records = self._tail.read_new()
        self._curve += [(int(r["step"]), float(r["metrics"][metric])) for r in records
                        if metric in (r.get("metrics") or {})]
        self._times = (self._times + [(float(r["time"]), int(r["step"])) for r in records
                                      if "time" in r and "step" in r])[-30:]
        if records:
            self._metrics = records[-1].get("metrics") or {}
        previews = [r["preview"] for r in records if r.get("preview")]
        if previews:
            self._set_preview(previews[-1])
        if self._curve:
            steps, losses = zip(*self._curve, strict=True)
            self.line.setData(list(steps), list(losses))
        self.details.setText(self._describe(status))
        live = status.state in ("running", "starting")
        self.pause_button.setEnabled(status.state == "running")
        self.cancel_button.setEnabled(live)
        self.resume_button.setEnabled(status.state in ("stopped", "failed"))

    def steps_per_second(self) -> float | None:
        """The selected run's speed over its recent log records."""
        if len(self._times) < 2:
            return None
        (t0, s0), (t1, s1) = self._times[0], self._times[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 and s1 > s0 else None

    def _set_preview(self, path: str | None) -> None:
        if path == self._preview_path:
            return
        self._preview_path = path
        if path is None:
            self.preview.clear()
        else:
            self.decoder.decode(Path(path))

    def _show_preview(self, path: Path, image) -> None:
        if str(path) != self._preview_path or image.isNull():
            return
        from PySide6.QtGui import QPixmap

        pixmap = QPixmap.fromImage(image)
        width = self.preview.width() - 8
        if pixmap.width() > width > 0:
            pixmap = pixmap.scaledToWidth(width, Qt.TransformationMode.SmoothTransformation)
        if pixmap.height() > 420:
            pixmap = pixmap.scaledToHeight(420, Qt.TransformationMode.SmoothTransformation)
        self.preview.setPixmap(pixmap)
        self.preview.setToolTip(f"{path.name}: the latest checkpoint's preview")

    def _describe(self, status: RunStatus) -> str:
        lines = [f"{status.run_dir.name}: {status.state}, step {status.step}"
                 + (f" of {status.total}" if status.total else "")]
        pretraining = pretraining_progress(status.run_dir) if status.step == 0 else None
        if pretraining is not None:
            eta = (pretraining.get("metrics") or {}).get("eta_s")
            lines[0] = (f"{status.run_dir.name}: {status.state}, "
                        f"{pretraining.get('message', 'pretraining the backbone')}"
                        + (f" · ETA {eta / 60:.1f} min" if eta else ""))
        metrics = self._metrics
        rate = self.steps_per_second()
        if rate is not None:
            lines.append(f"{rate:.2f} steps/s")
        if "images_per_s" in metrics:
            lines.append(f"{metrics['images_per_s']:.2f} images/s")
        eta = metrics.get("eta_s")
        if not eta and rate and status.total and status.state == "running":
            eta = (status.total - status.step) / rate
        if eta:
            lines.append(f"ETA {eta / 60:.1f} min")
        device = run_device(status.run_dir)
        if device:
            lines.append(device)
        if status.holder:
            lines.append(f"process {status.holder.get('pid')} on {status.holder.get('host')}")
        if status.state == "failed":
            tail = console_tail(status.run_dir) or list(status.last_lines)
            lines.append(f"{status.detail}\n" + "\n".join(tail))
        elif status.detail:
            lines.append(status.detail)
        return " · ".join(lines[:3]) + ("\n" + " · ".join(lines[3:]) if len(lines) > 3 else "")

    def shutdown(self) -> None:
        """The studio closes; runs keep going (detached) and are followed on the next start."""
        self.timer.stop()
