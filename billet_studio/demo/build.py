"""Building the demo project: a plan of billets like the paper's data, rendered in worker
processes, written as a complete project (labels, surfaces, glyphs, test split)."""

from __future__ import annotations

import multiprocessing
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from billet_studio import __version__
from billet_studio.annotations import (
    DEFAULT_CLASSES,
    AnnotationError,
    BilletInfo,
    IdFormat,
    ImageRecord,
    Project,
    ProjectConfig,
    Shape,
    atomic_write_bytes,
    atomic_write_json,
    write_labelme,
)
from billet_studio.annotations.shapes import shapes_of_stamp
from billet_studio.demo.billet import (
    DEMO_PROJECT_REGEX,
    BilletPlan,
    DemoLook,
    RenderedBillet,
    render_billet,
    render_surface,
)
from billet_studio.demo.camera import encode_jpeg
from billet_studio.glyphs.templates import GlyphSet, load_glyph_set, save_glyph_set
from billet_studio.jobs import CancelToken, JobCancelled, Progress


@dataclass(frozen=True)
class DemoConfig:
    """A demo project; the defaults give the paper's proportions at a size that builds in
    under two minutes on two cores (the paper had 2,540 training and 400 test billets)."""

    billets: int = 240  # training and validation billets
    test: int = 80
    size: int = 1024
    seed: int = 0
    site_a_share: float = 1 / 3
    #: Share of training billets with poorly or partially visible digits (24 % in the paper).
    hard_share: float = 0.24
    surfaces: int = 24
    workers: int = 2

    def __post_init__(self) -> None:
        if self.billets < 0 or self.test < 0 or self.billets + self.test == 0:
            raise ValueError("a demo needs at least one billet")
        if self.test % 4:
            raise ValueError("the test split is balanced over 2 sites x 2 visibility groups: "
                             f"--test must be a multiple of 4, got {self.test}")
        if self.size < 128:
            raise ValueError(f"--size must be at least 128 pixels, got {self.size}")


def plan_billets(config: DemoConfig) -> list[BilletPlan]:
    """Which billet is which: site, visibility class and split, shuffled by the seed.

    The test split follows the paper's Table 2: half well visible, half poorly or
    partially visible (those two halves evenly), half per site. Training billets are a
    third from site A and about 24 % hard, like the paper's real data.
    """
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 99]))
    plans: list[tuple[str, str, str]] = []
    quarter = config.test // 4
    for site in ("A", "B"):
        plans += [(site, "well", "test")] * quarter
        hard = ["partial", "poor"] * (quarter // 2) + ["partial"] * (quarter % 2)
        plans += [(site, visibility, "test") for visibility in hard]
    n_a = round(config.billets * config.site_a_share)
    sites = ["A"] * n_a + ["B"] * (config.billets - n_a)
    n_hard = round(config.billets * config.hard_share)
    classes = (["partial", "poor"] * n_hard)[:n_hard] + ["well"] * (config.billets - n_hard)
    rng.shuffle(classes)
    plans += [(site, visibility, "train") for site, visibility in zip(sites, classes,
                                                                       strict=True)]
    order = rng.permutation(len(plans))
    return [BilletPlan(index=number, site=plans[i][0], visibility=plans[i][1],
                       split=plans[i][2]) for number, i in enumerate(order)]


def billet_shapes(rendered: RenderedBillet) -> tuple[Shape, ...]:
    """LabelMe shapes of a rendered billet: outlines, holes grouped with them, flags."""
    shapes: list[Shape] = []
    for number, stamp in enumerate(rendered.stamps, start=1):
        flags = {name: True for name, on in (("partial", stamp.partial), ("poor", stamp.poor))
                 if on}
        shapes.extend(shapes_of_stamp(stamp.char, stamp.polygons, flags, number))
    return tuple(shapes)


_WORKER_GLYPHS: GlyphSet | None = None


def _init_worker(glyphs_path: str) -> None:
    global _WORKER_GLYPHS
    _WORKER_GLYPHS = load_glyph_set(Path(glyphs_path))


def _write_billet(task: tuple[BilletPlan, int, DemoLook, str]) -> tuple[int, int]:
    """Render and save one billet (runs in a worker); returns (index, stamps)."""
    plan, seed, look, root = task
    assert _WORKER_GLYPHS is not None
    rendered = render_billet(plan, seed, _WORKER_GLYPHS, look)
    path = Path(root) / "images" / f"billet_{plan.index + 1:05d}.jpg"
    atomic_write_bytes(path, encode_jpeg(rendered.image, rendered.jpeg_quality))
    record = ImageRecord(path, look.size, look.size, billet_shapes(rendered),
                         BilletInfo(site=plan.site, split=plan.split, id=rendered.billet_id))
    write_labelme(record, path.with_suffix(".json"))
    return plan.index, len(rendered.stamps)


def _write_surface(task: tuple[int, int, str, DemoLook, str]) -> int:
    index, seed, site, look, root = task
    image, quality = render_surface(index, seed, site, look)
    path = Path(root) / "surfaces" / f"surface_{index + 1:03d}.jpg"
    atomic_write_bytes(path, encode_jpeg(image, quality))
    return index


def build_demo_project(root: Path, config: DemoConfig = DemoConfig(),
                       cancel: CancelToken | None = None) -> Iterator[Progress]:
    """Job: write a complete demo project into ``root`` (which must be new or empty).

    The project is built in a hidden folder beside ``root`` and moved into place when it
    is complete, so ``root`` never holds half a demo (after a crash, a cancel or Ctrl-C).
    """
    root = Path(os.path.abspath(root))
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise AnnotationError(root, "is not empty; the demo is built into a new folder")
    stage = root.parent / f".{root.name}.building-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    try:
        yield from _build(stage, config, cancel)
        if root.exists():
            root.rmdir()
        os.replace(stage, root)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _build(root: Path, config: DemoConfig, cancel: CancelToken | None) -> Iterator[Progress]:
    glyphs = load_glyph_set()
    look = replace(DemoLook(), size=config.size)
    project = Project.create(root, ProjectConfig(
        name="billet-demo", classes=DEFAULT_CLASSES,
        id_format=IdFormat(DEMO_PROJECT_REGEX), sites=("A", "B")))
    save_glyph_set(glyphs, root / "glyphs.json")
    plans = plan_billets(config)
    tasks = [(plan, config.seed, look, str(project.root)) for plan in plans]
    surfaces = [(i, config.seed, "AB"[i % 2], look, str(project.root))
                for i in range(config.surfaces)]
    total = len(tasks) + len(surfaces)
    done = 0
    for _ in _map(_write_billet, tasks, config.workers, str(root / "glyphs.json")):
        done += 1
        if cancel is not None and cancel.cancelled:
            raise JobCancelled(f"demo build cancelled after {done} billets; nothing was kept")
        yield Progress(done, total, f"billet {done}/{len(tasks)}")
    for _ in _map(_write_surface, surfaces, config.workers, str(root / "glyphs.json")):
        done += 1
        yield Progress(done, total, f"surface {done - len(tasks)}/{len(surfaces)}")
    settings = asdict(config)
    del settings["workers"]  # how fast it was built, not what was built
    atomic_write_json(root / "demo.json", {
        "config": settings, "code_version": __version__,
        "billets": [asdict(plan) for plan in plans],
    })


def _map(function, tasks: list, workers: int, glyphs_path: str) -> Iterator:
    """Run tasks in ``workers`` spawned processes (one: in this process), in order."""
    if workers <= 1 or len(tasks) < 4:
        _init_worker(glyphs_path)
        yield from map(function, tasks)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(glyphs_path,)) as pool:
        yield from pool.map(function, tasks, chunksize=4)
