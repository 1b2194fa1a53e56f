"""Dataset export of synthetic 1024x1024 PNG billets with 2 spawned workers: images/s and
peak memory at N=200 and N=2000 with the classical renderer (memory must stay flat), and
at N=200 with the bundled `small` pix2pix generator.

Goal (synthesis issue): >= 15 images/s on 2 cores; peak memory flat as N grows.
"""

from __future__ import annotations

import functools
import resource
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.table import print_table
from billet_studio.annotations import Project
from billet_studio.demo import DemoConfig, build_demo_project
from billet_studio.synthesis import ClassicalRenderer
from billet_studio.synthesis.dataset_build import Shard, build_dataset
from billet_studio.synthesis.dataset_plan import DatasetConfig

RUNS = (("classical", 200), ("classical", 2000), ("gan", 200))


def peak_mib() -> tuple[float, float]:
    """(this process, the largest child) peak resident memory in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def run() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "demo"
        for _ in build_demo_project(root, DemoConfig(billets=8, test=4, surfaces=8,
                                                     size=1024)):
            pass
        project = Project.open(root)
        for renderer, count in RUNS:
            out = root / "datasets" / f"{renderer}{count}"
            config = DatasetConfig(images=count, synthetic=1.0)
            factory = ClassicalRenderer
            if renderer == "gan":
                from billet_studio.cli.synth_commands import gan_renderer
                from billet_studio.gan.bundled import bundled_generator_path

                path = bundled_generator_path()
                if path is None:
                    continue
                factory = functools.partial(gan_renderer, [(path, 1.0)])
            start = time.perf_counter()
            for _ in build_dataset(project, out, config, factory, renderer, Shard(),
                                   workers=2):
                pass
            seconds = time.perf_counter() - start
            own, child = peak_mib()
            rows.append([renderer, f"{count:,}", f"{seconds:.1f}", f"{count / seconds:.1f}",
                         f"{own:.0f}", f"{child:.0f}"])
            shutil.rmtree(out)
    print_table(["renderer", "synthetic images", "seconds", "images/s (2 workers)",
                 "peak MiB, main (so far)", "peak MiB, a worker (so far)"], rows)
