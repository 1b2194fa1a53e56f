"""One-click dataset export: the dialog runs ``billet-studio dataset build`` (the command a
server would run, shown in the dialog) as a child process with the project's synthesis
settings, follows its progress log with a bar and an ETA, cancels it through its STOP
file (finished images are kept; exporting again under the same name resumes), and opens
the result as a contact sheet."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from billet_studio.annotations import AnnotationError, Project
from billet_studio.gui.child_runs import console_tail, start_detached
from billet_studio.gui.contact_sheet_view import ContactSheetView
from billet_studio.jobs import request_stop
from billet_studio.synthesis.dataset_build import BUILD_LOG
from billet_studio.synthesis.preview import CONTACT_SHEET
from billet_studio.synthesis.settings import SynthesisSettings, load_synthesis_settings
from billet_studio.training.run_status import LogTail

POLL_MS = 300
MODES = ("fraction", "paper-table1")


def eta_text(seconds: float | None) -> str:
    if seconds is None:
        return "ETA —"
    return f"ETA {seconds / 60:.1f} min" if seconds >= 90 else f"ETA {seconds:.0f} s"


class ExportDialog(QDialog):
    """Export a real + synthetic dataset of the project."""

    #: (dataset folder, "finished" | "cancelled" | "failed").
    ended = Signal(Path, str)

    def __init__(self, project: Project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.process: subprocess.Popen | None = None
        self.tail: LogTail | None = None
        #: (time, step) of the first report of this start: the ETA's baseline.
        self.baseline: tuple[float, int] | None = None
        #: The dataset folder of the export running (the name field may change meanwhile).
        self.running: Path | None = None
        self.sheets: list[ContactSheetView] = []
        self.cancel_requested = False
        self.console: Path | None = None
        self.setWindowTitle("Export Dataset")
        self.name = QLineEdit(time.strftime("dataset-%Y%m%d-%H%M"))
        self.mode = QComboBox()
        self.mode.addItems(["N images, synthetic fraction", "the paper's Table 1 (six)"])
        self.mode.currentIndexChanged.connect(self._mode_changed)
        self.images = QSpinBox()
        self.images.setRange(1, 10_000_000)
        self.images.setValue(2540)
        self.synthetic = QDoubleSpinBox()
        self.synthetic.setRange(0.0, 1.0)
        self.synthetic.setSingleStep(0.25)
        self.synthetic.setValue(0.5)
        self.scale = QDoubleSpinBox()
        self.scale.setDecimals(3)
        self.scale.setRange(0.001, 1.0)
        self.scale.setSingleStep(0.05)
        self.scale.setValue(1.0)
        self.val = QDoubleSpinBox()
        self.val.setRange(0.0, 0.9)
        self.val.setSingleStep(0.05)
        self.val.setValue(0.25)
        self.image_format = QComboBox()
        self.image_format.addItems(["png", "jpg"])
        self.workers = QSpinBox()
        self.workers.setRange(1, 256)
        self.workers.setValue(max(1, (os.cpu_count() or 2) - 1))
        self.renderer = QLabel()
        self.renderer.setWordWrap(True)
        form = QFormLayout()
        for label, widget in (("Name", self.name), ("Dataset", self.mode),
                              ("Images (N)", self.images), ("Synthetic fraction", self.synthetic),
                              ("Scale (Table 1)", self.scale), ("Validation fraction", self.val),
                              ("Image format", self.image_format), ("Processes", self.workers),
                              ("Synthesis", self.renderer)):
            form.addRow(label, widget)
        self.command = QPlainTextEdit()
        self.command.setReadOnly(True)
        self.command.setMaximumHeight(96)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.state = QLabel("")
        self.state.setWordWrap(True)
        self.state.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.export_button = QPushButton("Export")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel export")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.export_button, self.cancel_button, self.close_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Command"))
        layout.addWidget(self.command)
        layout.addWidget(self.progress)
        layout.addWidget(self.state)
        layout.addLayout(buttons)
        for signal in (self.name.textChanged, self.images.valueChanged,
                       self.synthetic.valueChanged, self.scale.valueChanged,
                       self.val.valueChanged, self.image_format.currentIndexChanged,
                       self.workers.valueChanged):
            signal.connect(self._show_command)
        self.form = [self.name, self.mode, self.images, self.synthetic, self.scale, self.val,
                     self.image_format, self.workers]
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self._mode_changed()
        self.resize(720, 620)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.process is None:
            self._show_command()  # the synthesis settings may have changed meanwhile

    # -- the command ----------------------------------------------------------------------

    def folder(self) -> Path:
        return self.project.root / "datasets" / self.name.text().strip()

    def arguments(self, settings: SynthesisSettings | None = None) -> list[str]:
        """The ``dataset build`` command for the form and the project's synthesis settings
        (raises AnnotationError or ValueError for a bad name or settings)."""
        name = self.name.text().strip()
        if not name or name in (".", "..") or "/" in name or "\\" in name:
            raise ValueError("the dataset name must be a plain folder name")
        if settings is None:
            settings = load_synthesis_settings(self.project)
        arguments = ["dataset", "build", str(self.project.root), "--out", name]
        if self.mode.currentIndex() == 1:
            arguments += ["--preset", "paper-table1", "--scale", f"{self.scale.value():g}"]
        else:
            arguments += ["-n", str(self.images.value()),
                          "--synthetic", f"{self.synthetic.value():g}"]
        arguments += ["--val", f"{self.val.value():g}", "--format",
                      self.image_format.currentText(), "--workers", str(self.workers.value())]
        return arguments + settings.cli_arguments(self.project.root)

    def _mode_changed(self) -> None:
        table = self.mode.currentIndex() == 1
        self.images.setEnabled(not table)
        self.synthetic.setEnabled(not table)
        self.scale.setEnabled(table)
        self._show_command()

    def _show_command(self) -> None:
        try:
            settings = load_synthesis_settings(self.project)
            pool = ", ".join(f"{e.checkpoint} ×{e.weight:g}" for e in settings.pool)
            self.renderer.setText(
                (f"GAN pool: {pool}" if settings.renderer == "gan" else "classical shading")
                + f"; {settings.size} px, Poisson {'on' if settings.poisson else 'off'} "
                  "(tuned on the Synthesize page)")
            self.command.setPlainText("billet-studio " + shlex.join(self.arguments(settings)))
            self.export_button.setEnabled(self.process is None)
        except (AnnotationError, ValueError) as error:
            self.command.setPlainText(f"⚠ {error}")
            self.export_button.setEnabled(False)

    # -- running ----------------------------------------------------------------------------

    def start(self) -> bool:
        """Start the export as a child process."""
        if self.process is not None:
            return False
        try:
            arguments = self.arguments()
        except (AnnotationError, ValueError) as error:
            self.state.setText(f"⚠ {error}")
            return False
        folder = self.folder()
        console = self.project.root / "datasets" / f".{folder.name}.console.log"
        try:  # what an earlier export left: its log, a stop request never honoured
            for stale in (console, folder / BUILD_LOG):
                stale.unlink(missing_ok=True)
            self.process = start_detached(arguments, folder, console)
        except OSError as error:
            self.state.setText(f"⚠ could not start the export: {error}")
            return False
        self.command.setPlainText("billet-studio " + shlex.join(arguments))  # as it runs
        self.console, self.running = console, folder
        self.tail, self.baseline = LogTail(folder / BUILD_LOG), None
        self.cancel_requested = False
        for widget in self.form:
            widget.setEnabled(False)
        self.progress.setRange(0, 0)  # busy until the first report
        self.state.setText("starting…")
        self.export_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.timer.start()
        return True

    def cancel(self) -> None:
        """Ask the export to stop (its finished images stay; exporting again resumes)."""
        if self.process is None or self.process.poll() is not None or self.running is None:
            return
        self.cancel_requested = True
        if self.running.is_dir():
            request_stop(self.running)  # checked after every image
        else:
            self.process.terminate()  # still starting: nothing made yet
        self.state.setText("cancelling after the images in progress…")
        self.cancel_button.setEnabled(False)

    def poll(self) -> None:
        if self.process is None or self.tail is None or self.running is None:
            return
        records = self.tail.read_new()
        if records:
            last = records[-1]
            step, total = int(last.get("step", 0)), int(last.get("total") or 0)
            now = float(last.get("time", time.time()))
            if self.baseline is None:
                self.baseline = (now, step)
            eta = None
            start_time, start_step = self.baseline
            if step > start_step and total:
                eta = (now - start_time) / (step - start_step) * (total - step)
            if total:
                self.progress.setRange(0, total)
                self.progress.setValue(step)
                self.progress.setFormat(f"%v / %m synthetic images · {eta_text(eta)}")
            self.state.setText(str(last.get("message", "")))
        code = self.process.poll()
        if code is None:
            return
        self.timer.stop()
        folder, self.process, self.running = self.running, None, None
        self.cancel_button.setEnabled(False)
        for widget in self.form:
            widget.setEnabled(True)
        self._mode_changed()
        counted = self.progress.maximum() > 0  # the log gave a total
        if not counted:
            self.progress.setRange(0, 1)
        if code == 0:
            self.progress.setValue(self.progress.maximum())
            self.progress.setFormat("%m synthetic images · done" if counted else "done")
            self.state.setText(f"Exported {folder}")
            self.show_sheets(folder)
            self.ended.emit(folder, "finished")
        elif code == 130 or self.cancel_requested:
            self.progress.setFormat("%v of %m synthetic images kept" if counted else "cancelled")
            self.state.setText("Cancelled; the finished images are kept. Export again with "
                               "the same name to resume.")
            self.ended.emit(folder, "cancelled")
        else:
            self.progress.setFormat("failed")
            tail = "\n".join(console_tail(folder, 5, self.console))
            self.state.setText(f"⚠ the export failed:\n{tail}")
            self.ended.emit(folder, "failed")

    def show_sheets(self, folder: Path) -> None:
        """Open the contact sheet of each dataset the export made (windows of the studio:
        they stay open when this dialog closes)."""
        sheets = ([folder / CONTACT_SHEET] if (folder / CONTACT_SHEET).is_file()
                  else sorted(folder.glob(f"*/{CONTACT_SHEET}")))
        for path in sheets:
            view = ContactSheetView(path, self.parentWidget())
            view.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            view.show()
            self.sheets.append(view)

    def closeEvent(self, event) -> None:
        """Closing leaves a running export going (it is a detached process)."""
        self.timer.stop()
        super().closeEvent(event)
