"""Demo billets per second at 1024x1024 (two worker processes against one).

Goal (glyphs/demo issue): the default demo (320 billets, 24 surfaces) in under two minutes
on two cores, i.e. about 3 billets/s including writing JPEGs and labels.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.table import print_table
from billet_studio.demo import DemoConfig, build_demo_project

BILLETS = 16


def _rate(workers: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        config = DemoConfig(billets=BILLETS, test=0, size=1024, surfaces=0, workers=workers)
        start = time.perf_counter()
        for _ in build_demo_project(Path(folder) / "demo", config):
            pass
        return BILLETS / (time.perf_counter() - start)


def run() -> None:
    single = _rate(1)
    double = _rate(2)
    print_table(("workers", "billets/s", "x one worker"),
                [("1 (baseline)", single, 1.0), ("2", double, double / single)])
    print(f"   default demo (344 images) would take about {344 / double:.0f} s with 2 workers")
