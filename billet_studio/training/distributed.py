"""Training on several processes under ``torchrun`` (DistributedDataParallel).

Every rank trains on its own random batches; gradients are averaged across ranks; rank 0
alone writes the run folder. A stop request seen by any rank stops all of them at the same
step, so the checkpoint rank 0 saves is consistent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistributedContext:
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def from_environment() -> DistributedContext:
    """The context torchrun describes in the environment (a single process otherwise)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistributedContext()
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    rank = dist.get_rank()
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", rank)))
    return DistributedContext(rank, dist.get_world_size())


def any_rank(flag: bool, context: DistributedContext) -> bool:
    """True on every rank when ``flag`` is true on any of them."""
    if not context.active:
        return flag
    tensor = torch.tensor([1.0 if flag else 0.0])
    if torch.cuda.is_available():
        tensor = tensor.cuda()
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item() > 0)


def shutdown(context: DistributedContext) -> None:
    if context.active and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
