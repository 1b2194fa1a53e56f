"""The synthesis workbench's engine: one synthetic billet at a time for a live preview.

The project's faces, glyphs and ID generator are kept between renders (per project and
size), and so is the GAN renderer (per pool), so a change of a knob re-renders at once.
Synthesis gets its renderer passed in, so the GAN loader is a parameter here: this
module imports neither torch nor ``billet_studio.gan``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from billet_studio.annotations.errors import AnnotationError
from billet_studio.annotations.project import Project
from billet_studio.glyphs.id_patterns import IdGenerator
from billet_studio.glyphs.templates import GlyphSet, project_glyph_set
from billet_studio.synthesis.compose import (
    Renderer,
    SyntheticBillet,
    billet_text,
    compose_billet,
)
from billet_studio.synthesis.renderers import ClassicalRenderer
from billet_studio.synthesis.settings import BUNDLED, PoolEntry, SynthesisSettings
from billet_studio.synthesis.surfaces import SURFACES_FOLDER, SurfaceBank, find_surfaces

#: Builds a GAN renderer from (checkpoint file, weight) pairs, e.g. ``gan.StampRenderer``.
GanLoader = Callable[[Sequence[tuple[Path, float]]], Renderer]


def resolve_pool(project: Project, pool: Sequence[PoolEntry], bundled: Path | None
                 ) -> list[tuple[Path, float]]:
    """The pool's checkpoint files (relative paths under the project root, ``bundled`` as
    ``bundled``); a missing file raises AnnotationError naming it."""
    resolved = []
    for entry in pool:
        if entry.checkpoint == BUNDLED:
            if bundled is None:
                raise AnnotationError(BUNDLED, "the bundled generator is not installed with "
                                               "this Billet Studio")
            path = bundled
        else:
            path = project.root / entry.checkpoint
        if not path.is_file():
            raise AnnotationError(path, "checkpoint file not found (named in the synthesis "
                                        "pool of project.toml)")
        resolved.append((path, entry.weight))
    return resolved


def make_renderer(project: Project, settings: SynthesisSettings, load_gan: GanLoader,
                  bundled: Path | None) -> Renderer:
    """The renderer the settings name: classical shading, or ``load_gan`` over the pool."""
    if settings.renderer == "classical":
        return ClassicalRenderer()
    return load_gan(resolve_pool(project, settings.pool, bundled))


@dataclass(frozen=True, eq=False)
class _Sources:
    """What every billet of one project and size draws from."""

    key: tuple[Path, int, str]
    bank: SurfaceBank
    glyphs: GlyphSet
    ids: IdGenerator


class BilletWorkbench:
    """Renders single billets for the studio's preview, keeping its sources and GAN
    renderer between calls (safe to call from one worker thread at a time, or several)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sources: _Sources | None = None
        self._gan: Renderer | None = None
        self._gan_key: tuple[tuple[Path, float, int], ...] | None = None

    def forget_sources(self) -> None:
        """Read the project's faces, glyphs and ID format again on the next render (the
        GAN renderer stays: it is keyed by its checkpoint files)."""
        with self._lock:
            self._sources = None

    def renderer(self, project: Project, settings: SynthesisSettings, load_gan: GanLoader,
                 bundled: Path | None) -> Renderer:
        """The settings' renderer; a GAN renderer is loaded again only when the pool (or
        a checkpoint file of it) changed."""
        if settings.renderer == "classical":
            return make_renderer(project, settings, load_gan, bundled)
        pool = resolve_pool(project, settings.pool, bundled)
        key = tuple((path, weight, path.stat().st_mtime_ns) for path, weight in pool)
        with self._lock:
            if self._gan is None or key != self._gan_key:
                self._gan, self._gan_key = None, None
                self._gan = load_gan(pool)
                self._gan_key = key
            return self._gan

    def _sources_for(self, project: Project, size: int) -> _Sources:
        key = (project.root, size, repr(project.config.id_format))
        if self._sources is None or self._sources.key != key:
            surfaces = find_surfaces(project, False)
            if not surfaces:
                raise AnnotationError(project.root / SURFACES_FOLDER,
                                      "holds no stamp-free billet photographs to put "
                                      "synthetic stamps on")
            self._sources = _Sources(key, SurfaceBank(surfaces, size),
                                     project_glyph_set(project.root),
                                     IdGenerator(project.config.id_format))
        return self._sources

    def render(self, project: Project, settings: SynthesisSettings, renderer: Renderer,
               seed: int) -> SyntheticBillet:
        """One synthetic billet; the same project, settings and seed give the same pixels."""
        config = settings.composite_config()
        with self._lock:
            sources = self._sources_for(project, settings.size)
            rng = np.random.default_rng(seed)
            face, region, _surface = sources.bank.draw(rng)
            text = billet_text(sources.ids.generate(rng), config.characters)
            return compose_billet(face, sources.glyphs, text, renderer, renderer.size, rng,
                                  config, region)
