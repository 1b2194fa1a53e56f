"""Desktop integration files shipped in the wheel as ``billet_studio.desktop``: the Linux
desktop entry, the icon (SVG, hicolor PNGs, Windows .ico); ``billet-studio desktop install``
puts them in place (read with importlib.resources)."""
