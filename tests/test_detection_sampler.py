"""The training batch plan: epochs in natural mode, the synthetic-share schedule, and
stateless batches (resume and torchrun ranks)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")  # the detection package needs it (the plan itself is numpy)

from billet_studio.detection.sampler import BatchPlan, MixSchedule


def test_natural_mode_visits_every_image_once_per_epoch_across_ranks():
    flags = [i % 3 == 0 for i in range(12)]
    plans = [BatchPlan(flags, 2, 30, seed=5, rank=r, world_size=2) for r in range(2)]
    # 3 steps x 2 ranks x 2 images = one epoch of 12
    seen = [i for step in range(1, 4) for plan in plans for i in plan.batch(step)]
    assert sorted(seen) == list(range(12))
    next_epoch = [i for step in range(4, 7) for plan in plans for i in plan.batch(step)]
    assert sorted(next_epoch) == list(range(12)) and next_epoch != seen


def test_batches_are_a_pure_function_of_the_step():
    plan = BatchPlan([False, True] * 10, 4, 50, MixSchedule(0.25, 0.75), seed=1)
    whole = list(plan.batches(1))
    resumed = list(BatchPlan([False, True] * 10, 4, 50, MixSchedule(0.25, 0.75),
                             seed=1).batches(21))
    assert whole[20:] == resumed and len(whole) == 50


def test_a_ramp_moves_the_synthetic_share_from_f0_to_f1():
    flags = [i < 50 for i in range(100)]
    plan = BatchPlan(flags, 16, 400, MixSchedule.parse("0.1:0.9"), seed=0)
    early = np.mean([plan.synthetic_share(plan.batch(s)) for s in range(1, 41)])
    late = np.mean([plan.synthetic_share(plan.batch(s)) for s in range(361, 401)])
    assert early == pytest.approx(0.14, abs=0.06) and late == pytest.approx(0.86, abs=0.06)
    constant = BatchPlan(flags, 16, 400, MixSchedule.parse("0.75"), seed=0)
    share = np.mean([constant.synthetic_share(constant.batch(s)) for s in range(1, 401)])
    assert share == pytest.approx(0.75, abs=0.02)
    only = BatchPlan(flags, 8, 10, MixSchedule.parse("1"), seed=0)
    assert all(only.synthetic_share(only.batch(s)) == 1.0 for s in range(1, 11))


def test_schedule_parsing_and_validation():
    assert MixSchedule.parse("natural").natural
    assert MixSchedule.parse("0.2:0.8").fraction(1, 11) == pytest.approx(0.2)
    assert MixSchedule.parse("0.2:0.8").fraction(11, 11) == pytest.approx(0.8)
    assert MixSchedule.parse("0.2:0.8").describe() == "0.2:0.8"
    for text in ("lots", "0.1:0.2:0.3", "1.5"):
        with pytest.raises(ValueError):
            MixSchedule.parse(text)
    with pytest.raises(ValueError, match="has none"):
        BatchPlan([False] * 4, 2, 10, MixSchedule(0.5, 0.5))
    with pytest.raises(ValueError, match="empty"):
        BatchPlan([], 2, 10)
