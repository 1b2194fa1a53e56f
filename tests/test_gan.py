"""pix2pix: reference parameter counts, training that learns, exact resume, safe loading."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from safetensors.torch import load_file  # noqa: E402

from billet_studio.gan import (  # noqa: E402
    PRESETS,
    CheckpointError,
    CheckpointStore,
    GanTrainConfig,
    PairSet,
    PatchDiscriminator,
    UnetGenerator,
    build_generator,
    load_generator_weights,
    parameter_count,
    per_sample_copy,
    render_masks,
    train_gan,
)
from billet_studio.jobs import CancelToken, JobCancelled  # noqa: E402

TINY = GanTrainConfig(preset="tiny", steps=20, checkpoint_every=10, log_every=5)


def tiny_pairs(count: int = 12, size: int = 72) -> PairSet:
    """Bars of different widths: dark stamps on a lighter face, the mask says where."""
    masks = np.zeros((count, size, size), np.uint8)
    images = np.full((count, size, size, 3), 150, np.uint8)
    for index in range(count):
        masks[index, 12:60, 16 + 2 * (index % 6):40 + 2 * (index % 4)] = 255
        images[index][masks[index] > 0] = (40, 38, 44)
    return PairSet(masks, images, tuple(f"pair{i}" for i in range(count)))


def test_networks_match_the_reference_parameter_counts():
    assert parameter_count(UnetGenerator(3, 3, num_downs=8, ngf=64)) == 54_413_955
    assert parameter_count(PatchDiscriminator(6, ndf=64, n_layers=3)) == 2_768_705
    small = parameter_count(build_generator(PRESETS["small"]))
    assert 10_000_000 < small < 11_000_000
    generator = build_generator(PRESETS["paper"])
    assert generator(torch.zeros(1, 1, 256, 256)).shape == (1, 3, 256, 256)
    dropouts = [m for m in generator.modules() if isinstance(m, torch.nn.Dropout)]
    assert len(dropouts) == 3 and all(m.p == 0.5 for m in dropouts)


def test_a_few_steps_lower_the_l1_loss(tmp_path):
    # A higher rate than the reference's 2e-4 so that a tiny net learns in 60 steps.
    config = GanTrainConfig(preset="tiny", steps=60, checkpoint_every=60, log_every=10,
                            lr=1e-3)
    reports = list(train_gan(tmp_path / "run", tiny_pairs(), tiny_pairs(4), config))
    l1 = [r.metrics["G_L1"] for r in reports]
    assert np.mean(l1[-10:]) < 0.5 * np.mean(l1[:5])
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text()
           .splitlines()]
    assert [entry["step"] for entry in log] == [10, 20, 30, 40, 50, 60]
    assert set(log[0]["metrics"]) == {"G_GAN", "G_L1", "D_real", "D_fake"}
    assert (tmp_path / "run" / "previews" / "step_0000060.png").exists()


def final_weights(run: Path, step: int) -> dict:
    return load_file(run / "checkpoints" / f"step_{step:07d}.safetensors")


def test_resume_ends_with_the_same_weights_as_an_uninterrupted_run(tmp_path):
    pairs = tiny_pairs()
    list(train_gan(tmp_path / "straight", pairs, pairs, TINY))
    half = GanTrainConfig(preset="tiny", steps=10, checkpoint_every=10, log_every=5)
    list(train_gan(tmp_path / "resumed", pairs, pairs, half))
    list(train_gan(tmp_path / "resumed", pairs, pairs, TINY, resume=True))
    straight, resumed = final_weights(tmp_path / "straight", 20), final_weights(
        tmp_path / "resumed", 20)
    assert straight.keys() == resumed.keys()
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    store = CheckpointStore(tmp_path / "resumed")
    assert [c.step for c in store.list()] == [10, 20]


def test_cancel_stops_within_one_step_and_resume_finishes(tmp_path):
    pairs = tiny_pairs()
    cancel = CancelToken()
    steps = []
    with pytest.raises(JobCancelled, match="checkpoint saved"):
        for report in train_gan(tmp_path / "run", pairs, pairs, TINY, cancel):
            steps.append(report.step)
            if report.step == 3:
                cancel.cancel()
    store = CheckpointStore(tmp_path / "run")
    assert steps[-1] <= 4 and store.latest().step == steps[-1]
    generator = build_generator(PRESETS["tiny"])
    load_generator_weights(store.latest().weights, generator, store.latest().metadata)
    list(train_gan(tmp_path / "run", pairs, pairs, TINY, resume=True))
    assert store.latest().step == 20


class Exploit:
    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
def test_pickled_code_and_tampering_are_refused(tmp_path):
    pairs = tiny_pairs()
    list(train_gan(tmp_path / "run", pairs, pairs, TINY))
    store = CheckpointStore(tmp_path / "run")
    info = store.latest()
    # A state file carrying code, with the sidecar's checksum updated to match it.
    marker = tmp_path / "pwned"
    Exploit.marker = str(marker)
    buffer = io.BytesIO()
    pickle.dump({"step": Exploit()}, buffer)
    info.state.write_bytes(buffer.getvalue())
    sidecar = json.loads(info.sidecar.read_text())
    import hashlib

    sidecar["sha256"]["state"] = hashlib.sha256(buffer.getvalue()).hexdigest()
    info.sidecar.write_text(json.dumps(sidecar))
    with pytest.raises(CheckpointError, match="cannot be loaded safely"):
        store.load_state(store.latest())
    assert not marker.exists()
    # Weights changed after writing: the checksum catches it.
    data = bytearray(info.weights.read_bytes())
    data[-1] ^= 0xFF
    info.weights.write_bytes(bytes(data))
    generator = build_generator(PRESETS["tiny"])
    with pytest.raises(CheckpointError, match="does not match the checksum"):
        load_generator_weights(info.weights, generator, store.latest().metadata)
    # A truncated file without a sidecar: a clear error, not a crash.
    info.weights.write_bytes(bytes(data[:100]))
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_generator_weights(info.weights, generator)
    # Weights of another preset.
    other = tmp_path / "other.safetensors"
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(2)}, str(other))
    with pytest.raises(CheckpointError, match="does not fit this model"):
        load_generator_weights(other, generator)


def test_batched_rendering_equals_one_at_a_time():
    torch.manual_seed(0)
    generator = per_sample_copy(build_generator(PRESETS["tiny"]))
    masks = tiny_pairs(7, 64).masks
    batched = render_masks(generator, masks, batch_size=7)
    single = np.concatenate([render_masks(generator, masks[i:i + 1]) for i in range(7)])
    assert batched.shape == (7, 64, 64, 3)
    assert np.abs(batched.astype(int) - single.astype(int)).max() <= 1
    assert len({b.tobytes() for b in batched}) > 1


def test_refuses_to_train_over_an_existing_run(tmp_path):
    pairs = tiny_pairs()
    list(train_gan(tmp_path / "run", pairs, pairs, GanTrainConfig(
        preset="tiny", steps=2, checkpoint_every=2)))
    with pytest.raises(Exception, match="already holds checkpoints"):
        list(train_gan(tmp_path / "run", pairs, pairs, TINY))


def test_renderer_pool_follows_weights_and_seeds(tmp_path):
    from billet_studio.gan.render import StampRenderer

    pairs = tiny_pairs()
    list(train_gan(tmp_path / "run", pairs, pairs, TINY))
    checkpoints = CheckpointStore(tmp_path / "run").list()
    renderer = StampRenderer([(checkpoints[0].weights, 1.0), (checkpoints[1].weights, 3.0)])
    masks = np.repeat(tiny_pairs(10, 64).masks, 20, axis=0)
    stamps, chosen = renderer.render(masks, seed=1)
    assert stamps.shape == (200, 64, 64, 3)
    assert 0.65 < chosen.mean() < 0.85  # about three quarters from the second checkpoint
    again, chosen_again = renderer.render(masks, seed=1, batch_size=1)
    assert np.array_equal(chosen, chosen_again)
    assert np.abs(again.astype(int) - stamps.astype(int)).max() <= 1
    wild, _ = renderer.render(masks, seed=1, stochastic=True)
    wild_again, _ = renderer.render(masks, seed=1, stochastic=True)
    assert np.array_equal(wild, wild_again)
    assert not np.array_equal(wild, stamps)
    with pytest.raises(ValueError, match="masks must be"):
        renderer.render(np.zeros((2, 16, 16), np.uint8))
