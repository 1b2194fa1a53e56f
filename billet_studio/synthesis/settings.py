"""The project's synthesis settings: the renderer (a weighted pool of GAN checkpoints, or
classical shading) and the compositing knobs the studio tunes by eye, kept in the
``[synthesis]`` table of ``project.toml``. They turn into a ``CompositeConfig`` for the
library and into the CLI options that reproduce them, so the studio's export runs the
very command a server would."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from billet_studio.annotations.errors import AnnotationError
from billet_studio.annotations.project import (
    PROJECT_FILE,
    Project,
    ProjectConfig,
    parse_project_toml,
)
from billet_studio.synthesis.compose import CompositeConfig, VisibilityMix

SECTION = "synthesis"
RENDERERS = ("classical", "gan")
#: ``PoolEntry.checkpoint`` value for the generator that ships with Billet Studio.
BUNDLED = "bundled"


@dataclass(frozen=True)
class PoolEntry:
    """A generator checkpoint (path relative to the project, or ``bundled``) and its share
    of the stamps."""

    checkpoint: str
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not (self.weight > 0 and math.isfinite(self.weight)):
            raise ValueError(f"pool weight of {self.checkpoint} must be positive, "
                             f"got {self.weight}")


@dataclass(frozen=True)
class SynthesisSettings:
    """What the synthesis workbench tunes; the defaults are the paper's (and the CLI's)."""

    renderer: str = "classical"
    pool: tuple[PoolEntry, ...] = ()
    #: Face warp rotation range (+- degrees).
    rotation_deg: float = 5.0
    #: Elastic deformation of each stamp (largest displacement, in glyph heights).
    deformation: float = 0.02
    #: Blur of the stamp's blending edge, in pixels.
    blur_px: float = 1.5
    hue_jitter_deg: float = 4.0
    saturation_jitter: float = 0.15
    value_jitter: float = 0.15
    #: Shares of billets with partially visible and with poorly stamped digits.
    partial: float = 0.5
    poor: float = 0.0
    poisson: bool = False
    size: int = 1024
    characters: int = 10

    def __post_init__(self) -> None:
        if self.renderer not in RENDERERS:
            raise ValueError(f"renderer must be one of {RENDERERS}, got {self.renderer!r}")
        if self.renderer == "gan" and not self.pool:
            raise ValueError("the GAN renderer needs at least one checkpoint in its pool")
        self.composite_config()  # range checks live in the library's configs

    def composite_config(self) -> CompositeConfig:
        """The library's config for these settings (other fields keep their defaults)."""
        base = CompositeConfig()
        well = 1.0 - self.partial - self.poor
        if min(self.partial, self.poor) < 0 or well < -1e-9:
            raise ValueError(f"partial ({self.partial}) and poor ({self.poor}) shares must "
                             "be >= 0 and sum to at most 1")
        for name in ("rotation_deg", "deformation", "blur_px", "hue_jitter_deg",
                     "saturation_jitter", "value_jitter"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        return replace(
            base, size=self.size, characters=self.characters or None, poisson=self.poisson,
            warp=replace(base.warp, rotation_deg=self.rotation_deg),
            variation=replace(base.variation, elastic_amplitude=self.deformation),
            alpha_blur_px=self.blur_px, hue_jitter_deg=self.hue_jitter_deg,
            saturation_jitter=self.saturation_jitter, value_jitter=self.value_jitter,
            mix=VisibilityMix(well=max(0.0, well), poor=self.poor, partial=self.partial))

    def cli_arguments(self, project_root: Path | None = None) -> list[str]:
        """The ``synth preview`` / ``dataset build`` options that reproduce these settings
        (pool checkpoints made absolute under ``project_root`` when given)."""
        arguments = ["--renderer", self.renderer]
        for entry in self.pool if self.renderer == "gan" else ():
            path = entry.checkpoint
            if project_root is not None and path != BUNDLED:
                path = str(Path(project_root) / path)
            arguments += ["--checkpoint", path, "--weight", f"{entry.weight:g}"]
        arguments += [
            "--rotation", f"{self.rotation_deg:g}", "--deformation", f"{self.deformation:g}",
            "--blur", f"{self.blur_px:g}", "--hue-jitter", f"{self.hue_jitter_deg:g}",
            "--saturation-jitter", f"{self.saturation_jitter:g}",
            "--value-jitter", f"{self.value_jitter:g}", "--partial", f"{self.partial:g}",
            "--poor", f"{self.poor:g}", "--size", str(self.size),
            "--characters", str(self.characters)]
        return arguments + (["--poisson"] if self.poisson else [])


_SCALARS = {f.name: f.type for f in fields(SynthesisSettings) if f.name != "pool"}


def settings_from_table(table: Any, source: str = PROJECT_FILE) -> SynthesisSettings:
    """Settings from a ``[synthesis]`` table; a bad value raises ValueError naming it."""
    if not isinstance(table, dict):
        raise ValueError(f"[{SECTION}] in {source} must be a table")
    values: dict[str, Any] = {}
    for name, value in table.items():
        if name == "pool":
            continue
        if name not in _SCALARS:
            continue  # a later version's key: ignored, and kept on save
        kind = _SCALARS[name]
        ok = (isinstance(value, bool) if kind == "bool" else
              isinstance(value, str) if kind == "str" else
              isinstance(value, int) and not isinstance(value, bool) if kind == "int" else
              isinstance(value, (int, float)) and not isinstance(value, bool))
        if not ok:
            raise ValueError(f"{SECTION}.{name} in {source} must be a {kind}, got {value!r}")
        values[name] = float(value) if kind == "float" else value
    pool = table.get("pool", [])
    if not isinstance(pool, list):
        raise ValueError(f"{SECTION}.pool in {source} must be a list of tables")
    entries = []
    for item in pool:
        if not (isinstance(item, dict) and isinstance(item.get("checkpoint"), str)
                and isinstance(item.get("weight", 1.0), (int, float))):
            raise ValueError(f"{SECTION}.pool in {source}: each entry needs checkpoint = "
                             f"\"path\" and weight = number, got {item!r}")
        entries.append(PoolEntry(item["checkpoint"], float(item.get("weight", 1.0))))
    return SynthesisSettings(**values, pool=tuple(entries))


def settings_to_table(settings: SynthesisSettings) -> dict[str, Any]:
    table: dict[str, Any] = {name: getattr(settings, name) for name in _SCALARS}
    table["pool"] = [{"checkpoint": e.checkpoint, "weight": e.weight} for e in settings.pool]
    return table


def _config_on_disk(project: Project) -> ProjectConfig:
    """The configuration project.toml holds now (another page or process may have changed
    it since the project was opened)."""
    path = project.root / PROJECT_FILE
    return parse_project_toml(path) if path.is_file() else project.config


def load_synthesis_settings(project: Project) -> SynthesisSettings:
    """The settings saved in project.toml (read afresh), or the defaults; a broken table
    raises AnnotationError naming project.toml."""
    table = _config_on_disk(project).extra.get(SECTION)
    if table is None:
        return SynthesisSettings()
    try:
        return settings_from_table(table, str(project.root / PROJECT_FILE))
    except ValueError as error:
        raise AnnotationError(project.root / PROJECT_FILE, f"[{SECTION}]: {error}") from None


def save_synthesis_settings(project: Project, settings: SynthesisSettings) -> None:
    """Write the settings into project.toml (atomically; its other tables untouched).

    Pool checkpoints must be ``bundled`` or inside the project folder."""
    for entry in settings.pool:
        if entry.checkpoint != BUNDLED:
            path = project.root / entry.checkpoint
            if not project.contains(path):
                raise AnnotationError(path, "is outside the project folder; a synthesis pool "
                                            "takes the project's own checkpoints")
    current = _config_on_disk(project)  # the file's other tables are kept as they are now
    old = current.extra.get(SECTION)
    table = settings_to_table(settings)
    if isinstance(old, dict):  # keys of a later version survive
        table = {**{k: v for k, v in old.items() if k not in _SCALARS}, **table}
    project.config = replace(current, extra={**current.extra, SECTION: table})
    project.save_config()
