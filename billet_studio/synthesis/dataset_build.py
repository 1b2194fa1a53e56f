"""Building a real-plus-synthetic dataset: synthetic images streamed to disk by a pool of
spawned processes, resumable, shardable; then COCO files that reference the real images.

Layout of ``datasets/<name>/``: ``plan.json`` (what the dataset holds, written first),
``images/syn_NNNNNN.png`` and ``labels/syn_NNNNNN.json`` per synthetic image (the label is
written after the image, so an image with a label is finished), and after the merge
``train.json``, ``val.json`` (COCO) and ``manifest.json``. Synthetic image i depends only
on the seed and i, so ``--shard k/n`` (the indices with i mod n == k) on n machines and
one unsharded build give the same files.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from billet_studio import __version__
from billet_studio.annotations.atomic import atomic_write_bytes, atomic_write_json
from billet_studio.annotations.errors import AnnotationError
from billet_studio.annotations.exporters.coco import SUPERCATEGORY, stamp_geometry
from billet_studio.annotations.output_folder import MARKER, checked_output_folder
from billet_studio.annotations.project import Project
from billet_studio.annotations.shapes import Stamp
from billet_studio.glyphs.id_patterns import IdGenerator
from billet_studio.glyphs.templates import project_glyph_set
from billet_studio.jobs import CancelToken, JobCancelled, JsonlProgressWriter, Progress
from billet_studio.synthesis.compose import Renderer, billet_text, compose_billet
from billet_studio.synthesis.dataset_coco import PLAN_FILE, synthetic_name, write_dataset_coco
from billet_studio.synthesis.dataset_plan import DatasetConfig, DatasetPlan, plan_dataset
from billet_studio.synthesis.surfaces import SurfaceBank, find_surfaces


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count``: the synthetic images with i mod count == index."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        try:
            index, count = (int(part) for part in text.split("/"))
        except ValueError:
            raise ValueError(f"--shard takes i/n (e.g. 0/4), got {text!r}") from None
        if not 0 <= index < count:
            raise ValueError(f"shard {text}: i must lie in 0..n-1")
        return cls(index, count)


def _plan_document(project: Project, config: DatasetConfig, plan: DatasetPlan,
                   renderer: str) -> dict[str, Any]:
    return {
        "config": asdict(config), "renderer": renderer,
        "classes": list(project.config.classes),
        "real": [[project.relative(record.image_path), split] for record, split in plan.real],
        "synthetic": [[index, split] for index, split in plan.synthetic],
        "real_sites": plan.site_counts,
    }


def _prepare(out: Path, document: dict[str, Any]) -> None:
    """Create the dataset folder, or check that a started one was planned the same way."""
    plan_path = out / PLAN_FILE
    if plan_path.is_file():
        try:
            started = json.loads(plan_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise AnnotationError(plan_path, f"cannot be read ({error})") from None
        if started != json.loads(json.dumps(document)):
            raise AnnotationError(out, "was started with other settings (plan.json differs); "
                                       "choose another name, or delete the folder to rebuild")
        return
    if out.exists() and any(out.iterdir()):
        raise AnnotationError(out, "is not empty and holds no plan.json; choose a new "
                                   "dataset name")
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(exist_ok=True)
    atomic_write_json(out / MARKER, {"kind": "dataset"})
    atomic_write_json(plan_path, document)


# --- workers ---------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(root: str, config: DatasetConfig, factory: Callable[[], Renderer],
                 out: str) -> None:
    cv2.setNumThreads(1)
    project = Project.open(Path(root))
    renderer = factory()
    _WORKER.update(
        project=project, config=config, out=Path(out), renderer=renderer,
        render_size=int(renderer.size),
        glyphs=project_glyph_set(project.root),
        generator=IdGenerator(project.config.id_format),
        bank=SurfaceBank(find_surfaces(project, config.inpaint_training),
                         config.composite.size),
    )


def _encode(image: np.ndarray, config: DatasetConfig) -> bytes:
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if config.image_format == "jpg":
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, config.jpeg_quality])
    else:
        ok, data = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise RuntimeError("image encoding failed")
    return data.tobytes()


def _make_synthetic(index: int) -> tuple[int, list[str]]:
    """Build, write and label synthetic image ``index`` (in a worker)."""
    w = _WORKER
    config: DatasetConfig = w["config"]
    rng = np.random.default_rng([config.seed, 0x5E17, index])
    face, region, surface = w["bank"].draw(rng)
    text = billet_text(w["generator"].generate(rng), config.composite.characters)
    billet = compose_billet(face, w["glyphs"], text, w["renderer"], w["render_size"], rng,
                            config.composite, region)
    name = synthetic_name(index, config.image_format)
    out: Path = w["out"]
    atomic_write_bytes(out / name, _encode(billet.image, config))
    size = config.composite.size
    annotations = []
    for stamp in billet.stamps:
        as_stamp = Stamp(stamp.label, stamp.box, stamp.polygons,
                         stamp.visibility == "partial", stamp.visibility == "poor")
        annotations.append({"label": stamp.label, **stamp_geometry(as_stamp, size, size),
                            "attributes": {"partial": as_stamp.partial, "poor": as_stamp.poor,
                                           "synthetic": True}})
    project: Project = w["project"]
    atomic_write_json(out / "labels" / f"syn_{index:06d}.json", {
        "index": index, "file_name": name, "width": size, "height": size,
        "billet": {"site": surface.site, "visibility": billet.visibility, "synthetic": True,
                   "text": billet.text, "surface": project.relative(surface.path)},
        "annotations": annotations,
    })
    return index, [*w["bank"].warnings, *billet.warnings]


def _finished(out: Path, index: int, config: DatasetConfig) -> bool:
    return ((out / "labels" / f"syn_{index:06d}.json").is_file()
            and (out / synthetic_name(index, config.image_format)).is_file())


def build_dataset(project: Project, out: Path | str, config: DatasetConfig,
                  renderer_factory: Callable[[], Renderer], renderer_name: str,
                  shard: Shard = Shard(), workers: int = 2,
                  cancel: CancelToken | None = None) -> Iterator[Progress]:
    """Job: make this shard's synthetic images (skipping finished ones); an unsharded build
    then writes the COCO files. ``renderer_factory`` must pickle (it runs in workers)."""
    out = checked_output_folder(project, out)
    plan = plan_dataset(project, config)
    _prepare(out, _plan_document(project, config, plan, renderer_name))
    mine = [i for i, _ in plan.synthetic if i % shard.count == shard.index]
    pending = [i for i in mine if not _finished(out, i, config)]
    done = len(mine) - len(pending)
    yield Progress(done, len(mine), f"{done} of {len(mine)} synthetic images already made")
    seen_warnings: set[str] = set()
    args = (str(project.root), config, renderer_factory, str(out))
    if pending and workers <= 1:
        _init_worker(*args)
        results: Iterator[tuple[int, list[str]]] = map(_make_synthetic, pending)
        pool = None
    elif pending:
        pool = ProcessPoolExecutor(min(workers, len(pending)),
                                   mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=args)
        results = pool.map(_make_synthetic, pending, chunksize=4)
    else:
        results, pool = iter(()), None
    try:
        for _, warnings in results:
            done += 1
            for warning in warnings:
                if warning not in seen_warnings:
                    seen_warnings.add(warning)
                    yield Progress(done, len(mine), f"warning: {warning}")
            if cancel is not None and cancel.cancelled:
                raise JobCancelled(f"stopped with {done} of {len(mine)} synthetic images "
                                   "made; run the same command again to resume")
            yield Progress(done, len(mine), f"synthetic image {done}/{len(mine)}")
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    if shard.count == 1:  # the merge reports on the same scale: synthetic images made
        for progress in merge_dataset(project, out):
            yield Progress(done, len(mine), progress.message)


#: Progress of ``dataset build`` over all its datasets, for the studio to follow.
BUILD_LOG = "build-log.jsonl"


class BuildLog:
    """Writes a build's progress to a JSONL log: step and total over every dataset of the
    command (synthetic images), the dataset's name in the message."""

    def __init__(self, path: Path, total: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)  # a resumed build logs afresh
        self.writer, self.total, self.done, self._last = JsonlProgressWriter(path), total, 0, 0.0

    def follow(self, name: str, job: Iterator[Progress]) -> Iterator[Progress]:
        """Pass ``job``'s reports on, logging them (at most two lines a second)."""
        step = 0
        for progress in job:
            step = progress.step
            now = time.monotonic()
            if now - self._last > 0.5 or progress.step == progress.total:
                self._last = now
                self.writer.write(Progress(self.done + step, self.total,
                                           f"{name}: {progress.message}"))
            yield progress
        self.done += step


def merge_dataset(project: Project, out: Path | str) -> Iterator[Progress]:
    """Job: write train.json, val.json and manifest.json once every synthetic image is
    made (by one build or by all shards)."""
    yield from write_dataset_coco(project, Path(out), SUPERCATEGORY, __version__)

