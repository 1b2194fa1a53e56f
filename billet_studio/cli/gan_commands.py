"""Commands over the pix2pix GAN: gan train, gan checkpoints."""

from __future__ import annotations

import argparse
import contextlib
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from billet_studio.cli.progress import ProgressBar
from billet_studio.cli.project_commands import open_project


@contextlib.contextmanager
def first_interrupt_cancels(cancel) -> Iterator[None]:
    """The first Ctrl-C asks the job to stop cleanly (it saves a checkpoint); a second
    one interrupts at once."""
    def handler(signum, frame) -> None:
        if cancel.cancelled:
            raise KeyboardInterrupt
        cancel.cancel()
        print("\nstopping after this step (Ctrl-C again to abort)…", flush=True)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def stoppable(folder: Path) -> Iterator[Any]:
    """The cancel token of a job working in ``folder``: its STOP file or a first Ctrl-C
    stops the job; the STOP file is removed as the command ends (the next run starts
    afresh)."""
    from billet_studio.jobs import STOP_REQUEST_NAME, CancelToken

    cancel = CancelToken(folder / STOP_REQUEST_NAME)
    try:
        with first_interrupt_cancels(cancel):
            yield cancel
    finally:
        (folder / STOP_REQUEST_NAME).unlink(missing_ok=True)


def drive_training(label: str, run_dir: Path, start_job: Callable[[Any], Iterator[Any]],
                   context: Any, describe: Callable[[Any], str],
                   announce: Callable[[Any], str | None] = lambda progress: None) -> None:
    """Run a training job with a progress bar on rank 0; Ctrl-C or the run's STOP file
    stops it after the current step (the STOP file is removed after). Rank 0 holds the
    run's lock meanwhile: a second process is refused, and the studio sees it is live."""
    from contextlib import nullcontext

    from billet_studio.jobs import STOP_REQUEST_NAME, CancelToken, JobCancelled, stop_reason
    from billet_studio.training.run_lock import RunLock
    from billet_studio.training.run_status import clear_exit, write_exit

    cancel = CancelToken(stop_file=run_dir / STOP_REQUEST_NAME)
    bar = ProgressBar(label) if context.is_main else None
    last, ending = 0, ("failed", "")
    with RunLock(run_dir) if context.is_main else nullcontext(), \
            first_interrupt_cancels(cancel):
        if context.is_main:
            clear_exit(run_dir)
        try:
            for progress in start_job(cancel):
                last = progress.step
                if bar is not None:
                    bar.update(progress.step, progress.total, describe(progress))
                    line = announce(progress)
                    if line:
                        print(line)
            ending = ("stopped", f"at step {last}") if cancel.cancelled else ("finished", "")
        except BaseException as error:  # recorded, then passed on unchanged
            interrupted = isinstance(error, (KeyboardInterrupt, JobCancelled))
            ending = ("stopped" if interrupted else "failed",
                      str(error) or type(error).__name__)
            raise
        finally:
            if bar is not None:
                bar.close()
            if context.is_main:
                if ending[0] == "stopped" and stop_reason(run_dir) == "cancel":
                    ending = ("cancelled", ending[1])
                (run_dir / STOP_REQUEST_NAME).unlink(missing_ok=True)
                write_exit(run_dir, *ending)
    if context.active:
        print(f"rank {context.rank} of {context.world_size}: trained to step {last}")
    if context.is_main:
        print(f"finished; checkpoints in {run_dir / 'checkpoints'}")


def cmd_gan_train(args: argparse.Namespace) -> int:
    from billet_studio.training.distributed import from_environment, shutdown

    context = from_environment()  # one process, or one of torchrun's
    try:
        return _train(args, context)
    finally:
        shutdown(context)


def _train(args: argparse.Namespace, context) -> int:
    from billet_studio.gan import PRESETS, GanTrainConfig, collect_pairs, load_size, train_gan
    project = open_project(args.project)
    if args.resume:
        run_dir = Path(args.resume)
        if not run_dir.is_absolute() and not run_dir.exists():
            run_dir = project.root / "runs" / "gan" / args.resume
    else:
        if context.active and not args.run_name:
            raise ValueError("under torchrun, name the run with --run-name so every process "
                             "writes to the same folder")
        name = args.run_name or f"{time.strftime('%Y%m%d-%H%M%S')}-{args.preset}"
        run_dir = project.root / "runs" / "gan" / name
    preset_name, steps = args.preset, args.steps or 40_000
    if args.resume:  # the run keeps its preset, and its budget unless --steps extends it
        saved = _saved_config(run_dir)
        preset_name, steps = saved.get("preset", preset_name), args.steps or saved.get(
            "steps", steps)
    config = GanTrainConfig(preset=preset_name, steps=steps, checkpoint_every=args.every,
                            seed=args.seed, batch_size=args.batch_size)
    preset = PRESETS[config.preset]
    say = print if context.is_main else (lambda *a, **k: None)
    say(f"collecting (mask, stamp) pairs from {project.root} (test split left out)…")
    train, val = collect_pairs(project, load_size(preset.image_size))
    say(f"{len(train)} training pairs, {len(val)} held-out pairs; run folder {run_dir}")
    legibility = None
    if context.is_main and not args.no_legibility:
        legibility = _legibility(project, train, val, preset.image_size, args.seed)
        if legibility is not None:
            say(f"legibility reader: {len(legibility.classes)} characters, "
                f"{legibility.real_accuracy:.0%} on held-out real stamps; "
                f"{len(legibility.masks)} fresh template masks to read at each checkpoint")
    drive_training(
        "gan", run_dir,
        lambda cancel: train_gan(run_dir, train, val, config, cancel,
                                 resume=bool(args.resume), context=context,
                                 legibility=legibility),
        context,
        lambda progress: " ".join(f"{k} {v:.3f}" for k, v in progress.metrics.items()))
    return 0


def _saved_config(run_dir: Path) -> dict:
    """The training config a run folder recorded ({} when it has none yet)."""
    import json

    try:
        document = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        from billet_studio.annotations import AnnotationError

        raise AnnotationError(run_dir / "config.json", f"cannot be read ({error})") from None
    config = document.get("config") if isinstance(document, dict) else None
    return config if isinstance(config, dict) else {}


def _legibility(project, train, val, size: int, seed: int, per_char: int = 4):
    """The legibility reader: trained on the real training crops, given fresh template
    masks (about a third partial) of every character it knows."""
    import numpy as np

    from billet_studio.gan.quality import train_legibility
    from billet_studio.glyphs import project_glyph_set
    from billet_studio.glyphs.variation import StampVariation, framed_mask, vary_glyph

    glyphs = project_glyph_set(project.root)
    classes = tuple(c for c in glyphs.chars if c in set(train.labels))
    if len(classes) < 2:
        return None
    index = {c: i for i, c in enumerate(classes)}

    def real(pairs):
        keep = [i for i, label in enumerate(pairs.labels) if label in index]
        offset = (pairs.images.shape[1] - size) // 2
        images = pairs.images[keep, offset:offset + size, offset:offset + size]
        return images, np.array([index[pairs.labels[i]] for i in keep], dtype=np.int64)

    rng = np.random.default_rng(seed + 7)
    variation = StampVariation(partial_probability=0.3)
    masks, labels = [], []
    for char in classes:
        for _ in range(per_char):
            varied = vary_glyph(glyphs[char], rng, variation, glyphs.stroke_width)
            masks.append(framed_mask(varied.polygons, size))
            labels.append(index[char])
    train_images, train_labels = real(train)
    val_images, val_labels = real(val)
    return train_legibility(train_images, train_labels, val_images, val_labels, classes,
                            np.stack(masks), np.array(labels), seed=seed)


def cmd_gan_checkpoints(args: argparse.Namespace) -> int:
    from billet_studio.gan import CheckpointStore

    store = CheckpointStore(Path(args.run))
    checkpoints = store.list()
    if not checkpoints:
        print(f"{args.run}: no checkpoints")
        return 1
    columns = ("G_GAN", "G_L1", "D_real", "D_fake", "heldout_l1", "heldout_psnr",
               "heldout_ssim", "legibility")
    titles = ("G_GAN", "G_L1", "D_real", "D_fake", "L1", "PSNR", "SSIM", "legible")
    print(f"{'step':>8} " + " ".join(f"{t:>8}" for t in titles) + f" {'time':>8}")
    for info in checkpoints:
        values = {**info.metadata.get("losses", {}), **info.metadata.get("quality", {})}
        cells = " ".join(f"{values.get(k, float('nan')):>8.3f}" for k in columns)
        print(f"{info.step:>8} {cells} {info.metadata.get('wall_time_s', 0):>7.0f}s")
    reference = checkpoints[-1].metadata.get("quality", {}).get("legibility_real")
    if reference is not None:
        print(f"(legible: share of fresh template masks whose render the reader gets right; "
              f"on real held-out stamps it gets {reference:.3f})")
    return 0


def checkpoint_pool(texts: list[str], weights: list[float] | None
                    ) -> list[tuple[Path, float]]:
    """(checkpoint file, weight) pairs from repeated --checkpoint/--weight options."""
    weights = weights or [1.0] * len(texts)
    if len(weights) != len(texts):
        raise ValueError(f"{len(texts)} --checkpoint but {len(weights)} --weight; "
                         "give one weight per checkpoint or none")
    return [(checkpoint_path(t), w) for t, w in zip(texts, weights, strict=True)]


def checkpoint_path(text: str) -> Path:
    """A checkpoint file, or ``bundled`` for the generator that ships in models/."""
    from billet_studio.gan.bundled import BUNDLED_GENERATOR

    return path_or_bundled(text, BUNDLED_GENERATOR, "generator")


def path_or_bundled(text: str, name: str, what: str) -> Path:
    """``text`` as a path, or for ``bundled`` the model ``models/<name>``."""
    if text != "bundled":
        return Path(text)
    from billet_studio.training.bundled import bundled_model_path

    path = bundled_model_path(name)
    if path is None:
        raise ValueError(f"this installation has no bundled {what} (models/{name} is "
                         "missing)")
    return path


def cmd_gan_render(args: argparse.Namespace) -> int:
    import cv2
    import numpy as np

    from billet_studio.annotations import AnnotationError, atomic_write_json
    from billet_studio.annotations.images import write_png
    from billet_studio.annotations.output_folder import staged_output
    from billet_studio.gan.render import StampRenderer

    pool = checkpoint_pool(args.checkpoint, args.weight)
    renderer = StampRenderer(pool)
    mask_dir = Path(args.masks)
    paths = sorted(p for p in mask_dir.glob("*.png")) if mask_dir.is_dir() else []
    if not paths:
        raise AnnotationError(mask_dir, "holds no .png masks")
    masks, sizes = [], []
    for path in paths:
        mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if mask is None:
            raise AnnotationError(path, "is not a readable PNG mask")
        sizes.append(mask.shape[::-1])
        small = cv2.resize(mask, (renderer.size, renderer.size), interpolation=cv2.INTER_AREA)
        masks.append(np.where(small >= 128, 255, 0).astype(np.uint8))
    stamps, chosen = renderer.render(np.stack(masks), seed=args.seed,
                                     stochastic=args.stochastic)
    out = Path(args.out)
    with staged_output(out, "gan-render") as stage:
        for path, stamp, size in zip(paths, stamps, sizes, strict=True):
            write_png(stage / path.name, cv2.resize(stamp, size, interpolation=cv2.INTER_LINEAR))
        atomic_write_json(stage / "manifest.json", {
            "checkpoints": [{"path": str(p), "weight": w} for p, w in pool],
            "seed": args.seed, "stochastic": args.stochastic,
            "stamps": {p.name: int(c) for p, c in zip(paths, chosen, strict=True)},
        })
    print(f"rendered {len(paths)} stamps into {out}")
    return 0


def cmd_gan_compare(args: argparse.Namespace) -> int:
    from billet_studio.cli.progress import run_job
    from billet_studio.gan.comparison import (
        COMPARE_FOLDER,
        SET_FILE,
        collect_mask_set,
        render_comparison,
        run_image_size,
        set_name,
        write_mask_set,
    )
    project = open_project(args.project)
    run_dir = Path(args.run)
    size = run_image_size(run_dir)
    folder = run_dir / COMPARE_FOLDER / set_name(args.masks, args.count, args.seed)
    if not (folder / SET_FILE).is_file():
        write_mask_set(folder, collect_mask_set(project, args.masks, size, args.count,
                                                args.seed))
    steps = None
    if args.steps:
        try:
            steps = [int(part) for part in args.steps.split(",")]
        except ValueError:
            raise ValueError(f"--steps takes comma-separated numbers, got {args.steps!r}"
                             ) from None
    with stoppable(folder) as cancel:
        run_job("compare", render_comparison(run_dir, folder, steps, args.seed, cancel))
    print(f"comparison grid in {folder}")
    return 0
