"""How the canvas shows an image, never what is saved: brightness and contrast (remembered
between sessions), the stamp mask as the GAN will see it, and whether shapes are drawn."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QImage, qRgba
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QPushButton,
    QSlider,
    QWidget,
)

from billet_studio.annotations import ImageRecord
from billet_studio.geometry import rasterize_polygons
from billet_studio.gui.settings import studio_settings

#: The mask overlay's colour (RGBA): stamp pixels as the GAN's input mask marks them.
MASK_RGBA = (255, 0, 255, 110)


def level_table(brightness: int, contrast: int) -> np.ndarray:
    """A 256-entry uint8 lookup: contrast (-100..100, a factor 1/4..4 around mid-grey),
    then brightness (-100..100 grey levels added)."""
    factor = 2.0 ** (contrast / 50.0)
    values = (np.arange(256, dtype=np.float32) - 128.0) * factor + 128.0 + brightness
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def apply_levels(pixels: np.ndarray, brightness: int, contrast: int) -> np.ndarray:
    if brightness == 0 and contrast == 0:
        return pixels
    return cv2.LUT(pixels, level_table(brightness, contrast))


def mask_overlay(record: ImageRecord) -> QImage:
    """The record's rasterised stamp mask as an 8-bit indexed image (one byte a pixel,
    a quarter of RGBA for a large photograph): transparent, or the overlay colour."""
    polygons = [p for stamp in record.stamps for p in stamp.polygons]
    mask = rasterize_polygons(polygons, record.height, record.width, value=1)
    image = QImage(mask.data, record.width, record.height, mask.strides[0],
                   QImage.Format.Format_Indexed8)
    image.setColorTable([qRgba(0, 0, 0, 0), qRgba(*MASK_RGBA)])
    return image.copy()


class ViewOptions(QWidget):
    """Sliders and switches for the canvas's display (a dock of the labelling page)."""

    #: (brightness, contrast) changed.
    levels_changed = Signal(int, int)
    #: The mask preview was switched on or off.
    mask_preview_toggled = Signal(bool)

    def __init__(self, shapes_action: QAction, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        settings = studio_settings()
        self.brightness = self._slider(int(settings.value("view/brightness", 0)))
        self.contrast = self._slider(int(settings.value("view/contrast", 0)))
        reset = QPushButton("Reset")
        reset.clicked.connect(self.reset)
        self.mask_preview = QCheckBox("Mask preview (as the GAN sees it)")
        self.mask_preview.toggled.connect(self.mask_preview_toggled)
        self.show_shapes = QCheckBox("Show shapes")
        self.show_shapes.setChecked(shapes_action.isChecked())
        self.show_shapes.toggled.connect(shapes_action.setChecked)
        shapes_action.toggled.connect(self.show_shapes.setChecked)
        form = QFormLayout(self)
        form.addRow("Brightness", self.brightness)
        form.addRow("Contrast", self.contrast)
        form.addRow("", reset)
        form.addRow(self.mask_preview)
        form.addRow(self.show_shapes)

    def _slider(self, value: int) -> QSlider:
        slider = QSlider(Qt.Orientation.Horizontal)
        slider.setRange(-100, 100)
        slider.setValue(max(-100, min(100, value)))
        slider.valueChanged.connect(self._on_levels)
        return slider

    @property
    def levels(self) -> tuple[int, int]:
        return self.brightness.value(), self.contrast.value()

    def reset(self) -> None:
        self.brightness.setValue(0)
        self.contrast.setValue(0)

    def _on_levels(self) -> None:
        settings = studio_settings()
        settings.setValue("view/brightness", self.brightness.value())
        settings.setValue("view/contrast", self.contrast.value())
        self.levels_changed.emit(*self.levels)
