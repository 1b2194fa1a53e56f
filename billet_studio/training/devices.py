"""The device a run trains on: CUDA when present, else the CPU; and a name for people."""

from __future__ import annotations

import os
import platform

import torch


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def describe_device(device: torch.device) -> str:
    """E.g. "NVIDIA H200 (cuda:0, 139 GiB)" or "CPU x86_64, 2 threads"."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        properties = torch.cuda.get_device_properties(index)
        return f"{properties.name} (cuda:{index}, {properties.total_memory / 2**30:.0f} GiB)"
    machine = platform.machine() or "CPU"
    threads = torch.get_num_threads()
    cores = os.cpu_count() or threads
    return f"CPU {machine}, {threads} threads of {cores} cores"
