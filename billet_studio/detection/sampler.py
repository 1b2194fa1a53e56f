"""Which images each training step sees: a stateless plan, so a resumed run sees exactly
the batches an uninterrupted one would, and every torchrun process its own share.

Two modes:
- natural: epochs over the whole dataset, each a fresh permutation (the dataset's own
  real/synthetic fractions, as in the paper);
- scheduled: each sample is synthetic with a probability that follows a schedule over
  training (constant, or a linear ramp from f0 to f1: the paper's proposed curriculum).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MixSchedule:
    """The synthetic share of each batch over training; ``None`` start: natural sampling."""

    start: float | None = None
    end: float | None = None

    def __post_init__(self) -> None:
        for value in (self.start, self.end):
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"synthetic fractions must lie in [0, 1], got {value}")
        if self.end is not None and self.start is None:
            raise ValueError("a ramp needs a start fraction")

    @classmethod
    def parse(cls, text: str) -> MixSchedule:
        """``natural``, ``0.5`` (constant) or ``0.2:0.8`` (linear ramp)."""
        if text in ("", "natural"):
            return cls()
        try:
            parts = [float(p) for p in text.split(":")]
        except ValueError:
            raise ValueError(f"mix {text!r}: use natural, a fraction such as 0.5, or a ramp "
                             "such as 0.2:0.8") from None
        if len(parts) == 1:
            return cls(parts[0], parts[0])
        if len(parts) == 2:
            return cls(parts[0], parts[1])
        raise ValueError(f"mix {text!r} has more than two fractions")

    @property
    def natural(self) -> bool:
        return self.start is None

    def fraction(self, step: int, total: int) -> float | None:
        """The synthetic share at ``step`` (1-based) of ``total``."""
        if self.start is None:
            return None
        end = self.start if self.end is None else self.end
        progress = (step - 1) / max(1, total - 1)
        return self.start + (end - self.start) * progress

    def describe(self) -> str:
        if self.start is None:
            return "natural"
        if self.end is None or self.end == self.start:
            return f"{self.start:g}"
        return f"{self.start:g}:{self.end:g}"


class BatchPlan:
    """Image indices for every (step, rank): a pure function of the seed."""

    def __init__(self, synthetic: Sequence[bool], batch_size: int, total_steps: int,
                 schedule: MixSchedule = MixSchedule(), seed: int = 0, rank: int = 0,
                 world_size: int = 1) -> None:
        flags = np.asarray(synthetic, dtype=bool)
        if len(flags) == 0:
            raise ValueError("the training set is empty")
        self.size = len(flags)
        self.real = np.flatnonzero(~flags)
        self.synthetic = np.flatnonzero(flags)
        self.batch_size, self.total_steps = batch_size, total_steps
        self.schedule, self.seed = schedule, seed
        self.rank, self.world_size = rank, world_size
        if not schedule.natural:
            wants = {schedule.start, schedule.end} - {None}
            if any(f > 0 for f in wants) and not len(self.synthetic):
                raise ValueError("the mix asks for synthetic images but the training set "
                                 "has none")
            if any(f < 1 for f in wants) and not len(self.real):
                raise ValueError("the mix asks for real images but the training set has none")

    def _permutation(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(self.size)

    def batch(self, step: int) -> list[int]:
        """This rank's indices at ``step`` (1-based)."""
        if self.schedule.natural:
            first = ((step - 1) * self.world_size + self.rank) * self.batch_size
            positions = range(first, first + self.batch_size)
            epochs: dict[int, np.ndarray] = {}
            picked = []
            for position in positions:
                epoch = position // self.size
                if epoch not in epochs:
                    epochs[epoch] = self._permutation(epoch)
                picked.append(int(epochs[epoch][position % self.size]))
            return picked
        rng = np.random.default_rng([self.seed, step, self.rank, 1])
        share = self.schedule.fraction(step, self.total_steps)
        synthetic = rng.random(self.batch_size) < share
        return [int(rng.choice(self.synthetic if s else self.real)) for s in synthetic]

    def batches(self, first_step: int) -> Iterator[list[int]]:
        """Batches from ``first_step`` to the end (a DataLoader ``batch_sampler``)."""
        for step in range(first_step, self.total_steps + 1):
            yield self.batch(step)

    def synthetic_share(self, indices: Sequence[int]) -> float:
        return float(np.isin(indices, self.synthetic).mean()) if len(indices) else 0.0
