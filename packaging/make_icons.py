"""Render the studio's icon (packaging/desktop/icons/billet-studio.svg) into the PNG sizes
of the freedesktop hicolor theme and a Windows .ico. Run after editing the SVG:

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/make_icons.py
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QBuffer, QIODevice, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ICONS = Path(__file__).resolve().parent / "desktop" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)


def render(renderer: QSvgRenderer, size: int) -> bytes:
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(buffer.data())


def main() -> int:
    QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(ICONS / "billet-studio.svg"))
    if not renderer.isValid():
        print(f"error: {ICONS / 'billet-studio.svg'} is not a valid SVG", file=sys.stderr)
        return 1
    pngs = {}
    for size in SIZES:
        pngs[size] = render(renderer, size)
        target = ICONS / "hicolor" / f"{size}x{size}" / "apps" / "billet-studio.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(pngs[size])
        print(f"wrote {target}")
    largest = Image.open(io.BytesIO(pngs[max(ICO_SIZES)]))
    ico = ICONS / "billet-studio.ico"
    largest.save(ico, format="ICO", sizes=[(s, s) for s in ICO_SIZES])
    print(f"wrote {ico}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
