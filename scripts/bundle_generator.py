"""Copy a trained generator checkpoint into models/ as fp16 safetensors with a sidecar.

Run: python scripts/bundle_generator.py RUN_DIR/checkpoints/step_0016000.safetensors
The sidecar keeps the run's config, step, losses and wall time, plus the SHA-256 of the
new file, so the renderer checks it like any checkpoint.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from safetensors.torch import load_file, save_file

MODELS = Path(__file__).resolve().parents[1] / "models"
NAME = "pix2pix-small-demo"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--command", default="", help="the command that trained it")
    args = parser.parse_args()
    sidecar = json.loads(args.checkpoint.with_suffix(".json").read_text())
    tensors = {k: (v.half() if v.is_floating_point() else v)
               for k, v in load_file(str(args.checkpoint)).items()}
    target = MODELS / f"{NAME}.safetensors"
    save_file(tensors, str(target))
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    document = {
        "step": sidecar["step"],
        "config": sidecar["config"],
        "losses": sidecar.get("losses", {}),
        "quality": sidecar.get("quality", {}),
        "wall_time_s": sidecar.get("wall_time_s"),
        "train_pairs": sidecar.get("train_pairs"),
        "code_version": sidecar.get("code_version"),
        "dtype": "float16",
        "trained_with": args.command,
        "sha256": {"weights": digest},
    }
    (MODELS / f"{NAME}.json").write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
