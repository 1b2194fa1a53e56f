"""Running a billet-studio command under torchrun with two gloo processes on the CPU."""

from __future__ import annotations

import os
import subprocess
import sys


def run_torchrun(arguments: list[str], port: int, timeout: int = 300
                 ) -> subprocess.CompletedProcess:
    """``torchrun --nproc_per_node 2 -m billet_studio ARGUMENTS``; fails the test with both
    processes' output tails when it does not exit 0."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
               "--master_addr", "127.0.0.1", "--master_port", str(port),
               "-m", "billet_studio", *arguments]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result
