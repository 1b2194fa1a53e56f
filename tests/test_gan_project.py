"""The GAN on a project: pairs never come from the test split; train from the command line."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from billet_studio.annotations import Project
from billet_studio.cli import main
from billet_studio.demo import DemoConfig, build_demo_project
from billet_studio.gan import collect_pairs
from billet_studio.gan import pairs as pairs_module


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("gan") / "demo"
    list(build_demo_project(root, DemoConfig(billets=8, test=4, size=256, surfaces=0,
                                             workers=1)))
    return root


def test_no_test_split_image_is_read_for_pairs(demo, monkeypatch):
    project = Project.open(demo)
    test_images = {r.image_path for r in project.load_records() if r.split == "test"}
    assert len(test_images) == 4
    opened = []
    real_read = pairs_module.read_image

    def spy(path, *args, **kwargs):
        opened.append(path)
        return real_read(path, *args, **kwargs)

    monkeypatch.setattr(pairs_module, "read_image", spy)
    train, val = collect_pairs(project, 72, val_share=0.25)
    assert opened and not set(opened) & test_images
    sources = {s.split("#")[0] for s in (*train.sources, *val.sources)}
    assert not sources & {project.relative(p) for p in test_images}
    assert not {s.split("#")[0] for s in train.sources} & {s.split("#")[0] for s in val.sources}
    assert train.masks.shape[1:] == (72, 72) and train.images.shape[1:] == (72, 72, 3)
    assert len(train) > 40 and len(val) > 0


def test_gan_train_and_checkpoints_from_the_command_line(demo, capsys):
    import json

    assert main(["gan", "train", str(demo), "--preset", "tiny", "--steps", "6", "--every", "3",
                 "--run-name", "smoke"]) == 0
    run = demo / "runs" / "gan" / "smoke"
    assert (run / "config.json").exists()
    sidecar = json.loads((run / "checkpoints" / "step_0000003.json").read_text())
    quality = sidecar["quality"]
    assert {"heldout_l1", "heldout_psnr", "heldout_ssim", "legibility",
            "legibility_real"} <= set(quality)
    assert 0.0 <= quality["legibility"] <= 1.0 and quality["heldout_psnr"] > 0
    assert main(["gan", "checkpoints", str(run)]) == 0
    out = capsys.readouterr().out
    assert "training pairs" in out and "legibility reader" in out
    assert "legible" in out and "on real held-out stamps it gets" in out
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [row[0] for row in rows[-2:]] == ["3", "6"]
    assert main(["gan", "train", str(demo), "--preset", "tiny", "--steps", "8", "--every", "4",
                 "--resume", "smoke", "--no-legibility"]) == 0
    assert main(["gan", "checkpoints", str(run)]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()
            if line.strip()[:1].isdigit()]
    assert [row[0] for row in rows[-3:]] == ["3", "6", "8"]


def test_gan_render_from_the_command_line(demo, tmp_path, capsys):
    import cv2

    run = demo / "runs" / "gan" / "render-smoke"
    assert main(["gan", "train", str(demo), "--preset", "tiny", "--steps", "2", "--every", "2",
                 "--run-name", "render-smoke", "--no-legibility"]) == 0
    assert main(["masks", str(demo), "--out", str(tmp_path / "masks"), "--size", "48"]) == 0
    mask_dir = tmp_path / "masks" / "pairs" / "mask"
    checkpoint = run / "checkpoints" / "step_0000002.safetensors"
    out = tmp_path / "rendered"
    assert main(["gan", "render", "--checkpoint", str(checkpoint), "--masks", str(mask_dir),
                 "--out", str(out)]) == 0
    names = sorted(p.name for p in mask_dir.glob("*.png"))
    assert sorted(p.name for p in out.glob("*.png")) == names
    stamp = cv2.imread(str(out / names[0]))
    assert stamp.shape == (48, 48, 3)
    assert main(["gan", "render", "--checkpoint", str(checkpoint), "--weight", "1",
                 "--weight", "2", "--masks", str(mask_dir), "--out", str(out)]) == 2
    assert "one weight per checkpoint" in capsys.readouterr().err


def test_torchrun_with_two_gloo_processes(demo, tmp_path):
    import json

    from torchrun import run_torchrun

    result = run_torchrun(["gan", "train", str(demo), "--preset", "tiny", "--steps", "4",
                           "--every", "2", "--run-name", "ddp", "--no-legibility"], 29517, 240)
    # Both ranks stepped to the end; only rank 0 wrote the run folder.
    assert "rank 0 of 2: trained to step 4" in result.stdout
    assert "rank 1 of 2: trained to step 4" in result.stdout
    run = demo / "runs" / "gan" / "ddp"
    assert json.loads((run / "config.json").read_text())["processes"] == 2
    assert sorted(p.name for p in (run / "checkpoints").glob("*.safetensors")) == [
        "step_0000002.safetensors", "step_0000004.safetensors"]
    steps = [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))  # one writer: no line twice
