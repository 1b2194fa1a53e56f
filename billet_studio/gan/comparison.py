"""Checkpoint comparison: the same masks rendered by every checkpoint of a GAN run, cached
as PNGs in the run folder, so the studio can lay them out as a grid (one row per mask, one
column per checkpoint) without loading a single generator itself.

Layout of ``<run>/compare/<set>/``: ``set.json`` (where the masks came from, their
characters), ``masks/NNN.png`` and, for validation masks, ``targets/NNN.png`` (the real
stamp); then one folder per checkpoint, ``step_0001000/NNN.png``, finished by
``done.json`` (the checkpoint's checksum: a column is re-rendered when its checkpoint
changes) or ``error.json`` (a damaged checkpoint spoils its column, not the grid). Cells are
written atomically, so a reader sees each one whole as soon as it exists. One generator is
in memory at a time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from billet_studio.annotations import AnnotationError, Project, atomic_write_json
from billet_studio.annotations.images import write_png
from billet_studio.gan.pairs import collect_pairs, load_size
from billet_studio.glyphs import project_glyph_set
from billet_studio.glyphs.variation import StampVariation, framed_mask, vary_glyph
from billet_studio.jobs import CancelToken, JobCancelled, Progress
from billet_studio.training.checkpoint_files import CheckpointFiles, CheckpointInfo

COMPARE_FOLDER = "compare"
SET_FILE = "set.json"
DONE_FILE = "done.json"
ERROR_FILE = "error.json"
#: Built-in mask sources; anything else is a folder of PNG masks.
SOURCES = ("validation", "templates", "varied")


@dataclass(frozen=True, eq=False)
class MaskSet:
    """Masks (N, S, S) uint8 to render, the real stamps (N, S, S, 3) where known, and the
    character each shows ("" when unknown)."""

    source: str
    masks: np.ndarray
    targets: np.ndarray | None
    labels: tuple[str, ...]


def run_image_size(run_dir: Path) -> int:
    """The generator's input size of a run (from its config, else a checkpoint's)."""
    from billet_studio.gan.networks import PRESETS

    documents = [run_dir / "config.json"]
    documents += [info.sidecar for info in CheckpointFiles(run_dir).list()[-1:]]
    for path in documents:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        preset = (document.get("config", document) or {}).get("preset")
        if preset in PRESETS:
            return PRESETS[preset].image_size
    raise AnnotationError(run_dir, "is not a GAN run folder (no config.json naming a preset)")


def _spread(count: int, total: int) -> np.ndarray:
    return np.unique(np.linspace(0, total - 1, min(count, total)).round().astype(int))


def collect_mask_set(project: Project, source: str, size: int, count: int = 8,
                     seed: int = 0) -> MaskSet:
    """``count`` masks from a source: held-out validation stamps (with their real
    stamps), the project's glyph templates, templates varied and partly erased as
    synthesis varies them, or a folder of PNG masks."""
    if count < 1:
        raise ValueError("a comparison needs at least one mask")
    if source == "validation":
        _, val = collect_pairs(project, load_size(size), max_pairs=0)  # reads no train image
        if len(val) == 0:
            raise AnnotationError(project.root, "has no held-out (validation) polygon stamps; "
                                                "choose templates or varied masks")
        offset = (val.masks.shape[1] - size) // 2
        rows = _spread(count, len(val))
        window = np.s_[offset:offset + size, offset:offset + size]
        return MaskSet(source, val.masks[rows][:, window[0], window[1]],
                       val.images[rows][:, window[0], window[1]],
                       tuple(val.labels[i] for i in rows) if val.labels else ("",) * len(rows))
    if source in ("templates", "varied"):
        glyphs = project_glyph_set(project.root)
        chars = [glyphs.chars[i] for i in _spread(count, len(glyphs.chars))]
        if source == "templates":
            masks = [framed_mask(glyphs[c].polygons, size) for c in chars]
        else:
            rng = np.random.default_rng(seed)
            variation = StampVariation(partial_probability=0.5)
            masks = [framed_mask(vary_glyph(glyphs[c], rng, variation,
                                            glyphs.stroke_width).polygons, size)
                     for c in chars]
        return MaskSet(source, np.stack(masks), None, tuple(chars))
    return _folder_masks(Path(source), size, count)


def _folder_masks(folder: Path, size: int, count: int) -> MaskSet:
    paths = sorted(folder.glob("*.png")) if folder.is_dir() else []
    if not paths:
        raise AnnotationError(folder, f"holds no .png masks (or is not one of {SOURCES})")
    masks = []
    for path in [paths[i] for i in _spread(count, len(paths))]:
        mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if mask is None:
            raise AnnotationError(path, "is not a readable PNG mask")
        small = cv2.resize(mask, (size, size), interpolation=cv2.INTER_AREA)
        masks.append(np.where(small >= 128, 255, 0).astype(np.uint8))
    return MaskSet(str(folder.resolve()), np.stack(masks), None, ("",) * len(masks))


def set_name(source: str, count: int, seed: int) -> str:
    """The cache folder name of a mask set (a folder source by a hash of its path)."""
    if source in SOURCES:
        return f"{source}-{count}" + (f"-seed{seed}" if source == "varied" else "")
    digest = hashlib.sha256(str(Path(source).resolve()).encode()).hexdigest()[:8]
    return f"folder-{Path(source).name}-{digest}-{count}"


def write_mask_set(folder: Path, masks: MaskSet) -> None:
    """The set's masks (and real stamps) as PNGs, then ``set.json`` describing them."""
    for row, mask in enumerate(masks.masks):
        write_png(folder / "masks" / f"{row:03d}.png", mask)
        if masks.targets is not None:
            write_png(folder / "targets" / f"{row:03d}.png", masks.targets[row])
    atomic_write_json(folder / SET_FILE, {"source": masks.source, "rows": len(masks.masks),
                                          "labels": list(masks.labels),
                                          "targets": masks.targets is not None})


def read_mask_set(folder: Path) -> MaskSet:
    try:
        document = json.loads((folder / SET_FILE).read_text(encoding="utf-8"))
        rows = int(document["rows"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise AnnotationError(folder / SET_FILE, f"cannot be read ({error})") from None
    masks, targets = [], []
    for row in range(rows):
        mask = cv2.imread(str(folder / "masks" / f"{row:03d}.png"), cv2.IMREAD_GRAYSCALE)
        if mask is None:
            raise AnnotationError(folder / "masks" / f"{row:03d}.png", "is missing or broken")
        masks.append(mask)
        if document.get("targets"):
            target = cv2.imread(str(folder / "targets" / f"{row:03d}.png"))
            targets.append(None if target is None else cv2.cvtColor(target, cv2.COLOR_BGR2RGB))
    stacked = np.stack(targets) if targets and all(t is not None for t in targets) else None
    return MaskSet(str(document.get("source", "")), np.stack(masks), stacked,
                   tuple(document.get("labels", [""] * rows)))


def column_folder(folder: Path, step: int) -> Path:
    return folder / f"step_{step:07d}"


def cell_path(folder: Path, step: int, row: int) -> Path:
    return column_folder(folder, step) / f"{row:03d}.png"


def _fingerprint(info: CheckpointInfo) -> str:
    recorded = info.metadata.get("sha256", {}).get("weights")
    if recorded:
        return str(recorded)
    try:
        stat = info.weights.stat()
    except OSError:
        return "missing"
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def column_is_current(folder: Path, info: CheckpointInfo, seed: int = 0) -> bool:
    """Whether the column was rendered from this very checkpoint with this seed."""
    try:
        done = json.loads((column_folder(folder, info.step) / DONE_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return done.get("checkpoint") == _fingerprint(info) and done.get("seed", 0) == seed


def render_comparison(run_dir: Path, folder: Path, steps: Sequence[int] | None = None,
                      seed: int = 0, cancel: CancelToken | None = None
                      ) -> Iterator[Progress]:
    """Job: render the set in ``folder`` with every checkpoint of the run (or those of
    ``steps``), oldest first; a column whose checkpoint has not changed is kept."""
    from billet_studio.gan.render import StampRenderer

    masks = read_mask_set(folder).masks
    checkpoints = CheckpointFiles(run_dir).list()
    if steps is not None:
        wanted = set(steps)
        checkpoints = [c for c in checkpoints if c.step in wanted]
    if not checkpoints:
        raise AnnotationError(run_dir, "has no checkpoints to compare")
    for index, info in enumerate(checkpoints):
        if cancel is not None and cancel.cancelled:
            raise JobCancelled(f"comparison stopped after {index} checkpoints")
        column = column_folder(folder, info.step)
        if column_is_current(folder, info, seed):
            yield Progress(index + 1, len(checkpoints), f"step {info.step}: cached")
            continue
        (column / DONE_FILE).unlink(missing_ok=True)
        (column / ERROR_FILE).unlink(missing_ok=True)
        try:
            renderer = StampRenderer([(info.weights, 1.0)])
            if renderer.size != masks.shape[1]:
                raise AnnotationError(info.weights, f"renders {renderer.size} px stamps; "
                                                    f"the masks are {masks.shape[1]} px")
            stamps, _ = renderer.render(masks, seed=seed)
        except AnnotationError as error:  # a damaged checkpoint spoils only its column
            atomic_write_json(column / ERROR_FILE, {"error": str(error)})
            yield Progress(index + 1, len(checkpoints), f"step {info.step}: {error}")
            continue
        del renderer
        for row, stamp in enumerate(stamps):
            write_png(cell_path(folder, info.step, row), stamp)
        atomic_write_json(column / DONE_FILE, {"checkpoint": _fingerprint(info),
                                               "seed": seed})
        yield Progress(index + 1, len(checkpoints), f"step {info.step}: rendered",
                       preview=str(column))
