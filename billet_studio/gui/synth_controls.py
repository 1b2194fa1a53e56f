"""The synthesis workbench's controls: the renderer, the pool it would use (read-only;
the pool is edited on the GAN page), and a slider with a spin box per compositing knob."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QWidget,
)

from billet_studio.synthesis.settings import SynthesisSettings

RENDERER_CHOICES = (("Classical shading", "classical"), ("GAN pool", "gan"))
NO_POOL_TIP = "The GAN pool is empty: tick generator checkpoints into it on the Compare page"


@dataclass(frozen=True)
class Knob:
    """A numeric setting: its field, its label, range, step and decimals."""

    name: str
    label: str
    maximum: float
    step: float
    decimals: int
    tip: str


KNOBS = (
    Knob("rotation_deg", "Rotation ±°", 90.0, 0.5, 1, "Face warp rotation range"),
    Knob("deformation", "Deformation", 0.2, 0.005, 3,
         "Elastic deformation of each stamp (largest displacement, in glyph heights)"),
    Knob("blur_px", "Edge blur (px)", 10.0, 0.1, 1,
         "Gaussian sigma of the stamp's blending edge"),
    Knob("hue_jitter_deg", "Hue jitter ±°", 45.0, 0.5, 1, "Per-stamp hue jitter"),
    Knob("saturation_jitter", "Saturation jitter", 1.0, 0.01, 2,
         "Per-stamp saturation jitter (a factor, ±)"),
    Knob("value_jitter", "Value jitter", 1.0, 0.01, 2,
         "Per-stamp brightness jitter (a factor, ±)"),
    Knob("partial", "Partial share", 1.0, 0.05, 2,
         "Share of billets with partially visible digits"),
    Knob("poor", "Poor share", 1.0, 0.05, 2,
         "Share of billets with shallow, poorly stamped digits (partial + poor ≤ 1)"),
)


class KnobSlider(QWidget):
    """A slider and a spin box showing one value; ``value_changed`` when the user moves
    either (not when :meth:`set_value` sets it)."""

    value_changed = Signal(float)

    def __init__(self, knob: Knob, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.knob = knob
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, round(knob.maximum / knob.step))
        self.spin = QDoubleSpinBox()
        self.spin.setRange(0.0, knob.maximum)
        self.spin.setSingleStep(knob.step)
        self.spin.setDecimals(knob.decimals)
        self.spin.setKeyboardTracking(False)
        for widget in (self.slider, self.spin):
            widget.setToolTip(knob.tip)
        self.slider.valueChanged.connect(self._slid)
        self.spin.valueChanged.connect(self._typed)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.spin)

    def value(self) -> float:
        return round(self.spin.value(), self.knob.decimals)

    def set_value(self, value: float) -> None:
        """Show ``value`` (clamped to the range) without emitting ``value_changed``."""
        for widget in (self.slider, self.spin):
            widget.blockSignals(True)
        self.spin.setValue(value)
        self.slider.setValue(round(self.spin.value() / self.knob.step))
        for widget in (self.slider, self.spin):
            widget.blockSignals(False)

    def _slid(self, position: int) -> None:
        self.spin.blockSignals(True)
        self.spin.setValue(position * self.knob.step)
        self.spin.blockSignals(False)
        self.value_changed.emit(self.value())

    def _typed(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(round(value / self.knob.step))
        self.slider.blockSignals(False)
        self.value_changed.emit(self.value())


class SynthControls(QWidget):
    """The workbench's settings form; ``changed`` whenever the user edits a setting."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.renderer = QComboBox()
        for text, value in RENDERER_CHOICES:
            self.renderer.addItem(text, value)
        #: The fields the user changed since the settings were last shown: only these are
        #: written back, so a value the form cannot show exactly is never rewritten.
        self.edited: set[str] = set()
        self.renderer.currentIndexChanged.connect(lambda _index: self._edit("renderer"))
        self.pool = QLabel()
        self.pool.setWordWrap(True)
        self.pool.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.pool.setToolTip("The generator checkpoints the GAN renderer mixes, with their "
                             "weights (picked on the Compare page)")
        self.knobs: dict[str, KnobSlider] = {}
        form = QFormLayout(self)
        form.addRow("Renderer", self.renderer)
        form.addRow("GAN pool", self.pool)
        for knob in KNOBS:
            slider = KnobSlider(knob)
            slider.value_changed.connect(lambda _value, n=knob.name: self._edit(n))
            self.knobs[knob.name] = slider
            form.addRow(knob.label, slider)
        self.poisson = QCheckBox("Poisson blending")
        self.poisson.setToolTip("Blend stamps with cv2.seamlessClone instead of a soft mask")
        self.poisson.toggled.connect(lambda _on: self._edit("poisson"))
        form.addRow(self.poisson)

    def set_settings(self, settings: SynthesisSettings) -> None:
        """Show ``settings`` (without emitting ``changed``); the GAN choice is enabled
        only when the pool has a checkpoint."""
        self.blockSignals(True)
        self.edited = set()
        try:
            has_pool = bool(settings.pool)
            model = self.renderer.model()
            if isinstance(model, QStandardItemModel):
                gan = model.item(self.renderer.findData("gan"))
                gan.setEnabled(has_pool)
                gan.setToolTip("" if has_pool else NO_POOL_TIP)
            self.renderer.setToolTip("" if has_pool else NO_POOL_TIP)
            self.renderer.setCurrentIndex(self.renderer.findData(settings.renderer))
            self.pool.setText("\n".join(f"{entry.checkpoint} ×{entry.weight:g}"
                                        for entry in settings.pool)
                              or "(empty: pick checkpoints on the Compare page)")
            for name, slider in self.knobs.items():
                slider.set_value(getattr(settings, name))
            self.poisson.setChecked(settings.poisson)
        finally:
            self.blockSignals(False)

    def gan_available(self) -> bool:
        model = self.renderer.model()
        return not isinstance(model, QStandardItemModel) or model.item(
            self.renderer.findData("gan")).isEnabled()

    def _edit(self, name: str) -> None:
        self.edited.add(name)
        self.changed.emit()

    def values(self) -> dict[str, Any]:
        """The settings fields this form edits, as shown."""
        values: dict[str, Any] = {name: slider.value() for name, slider in self.knobs.items()}
        values["renderer"] = self.renderer.currentData()
        values["poisson"] = self.poisson.isChecked()
        return values

    def edited_values(self) -> dict[str, Any]:
        """The fields the user changed, as shown."""
        return {name: value for name, value in self.values().items() if name in self.edited}
