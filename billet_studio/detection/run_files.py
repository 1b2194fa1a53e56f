"""Finding a trained detector on disk: a run folder (its latest checkpoint), one checkpoint
file, or an exported model (fp16 safetensors plus a JSON sidecar), and rebuilding it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save as save_safetensors
from torch import nn

from billet_studio import __version__
from billet_studio.annotations import AnnotationError, atomic_write_bytes, atomic_write_json
from billet_studio.detection.model import ModelSpec, build_detector, seeded_detector
from billet_studio.detection.pretrained import load_pretrained
from billet_studio.training import CheckpointStore, load_weights, read_sidecar
from billet_studio.training.checkpoints import sha256_of


def read_run_config(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / "config.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AnnotationError(run_dir, "is not a detector run (no config.json)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AnnotationError(path, f"cannot be read ({error})") from None
    if not isinstance(document, dict) or "model" not in document or "config" not in document:
        raise AnnotationError(path, "is not a detector run's config (no 'model'/'config')")
    return document


def resolve_weights(reference: Path) -> tuple[Path, dict[str, Any]]:
    """(weights file, sidecar) for a run folder (latest checkpoint) or a weights file."""
    reference = Path(reference)
    if reference.is_dir():
        latest = CheckpointStore(reference).latest()
        if latest is None:
            raise AnnotationError(reference, "holds no checkpoints yet")
        return latest.weights, latest.metadata
    if reference.suffix != ".safetensors":
        raise AnnotationError(reference, "is neither a run folder nor a .safetensors file")
    sidecar = reference.with_suffix(".json")
    if not sidecar.exists():
        raise AnnotationError(sidecar, f"is missing: {reference.name} needs its sidecar, "
                                       "which says what model it is")
    metadata = read_sidecar(sidecar)
    if "model" not in metadata:
        raise AnnotationError(sidecar, "does not describe a detector (no 'model')")
    return reference, metadata


def load_detector(reference: Path, device: torch.device | None = None
                  ) -> tuple[nn.Module, ModelSpec, dict[str, Any]]:
    """The trained detector in eval mode, its spec and its sidecar."""
    weights, metadata = resolve_weights(reference)
    try:
        spec = ModelSpec.from_json(metadata["model"])
    except (TypeError, ValueError, KeyError) as error:
        raise AnnotationError(weights, f"has a sidecar with an unusable model spec ({error})"
                              ) from None
    model = build_detector(spec)
    load_weights(weights, model, metadata)
    model.eval()
    if device is not None:
        model.to(device)
    return model, spec, metadata


def initial_detector(run_dir: Path, device: torch.device | None = None
                     ) -> tuple[nn.Module, ModelSpec, dict[str, Any]]:
    """The run's detector before its first step (its seed's initialisation, plus the
    pretrained weights it started from), in eval mode: the 0-step baseline."""
    saved = read_run_config(run_dir)
    try:
        spec = ModelSpec.from_json(saved["model"])
        seed = int(saved["config"]["seed"])
    except (TypeError, ValueError, KeyError) as error:
        raise AnnotationError(Path(run_dir) / "config.json",
                              f"has an unusable model spec or seed ({error})") from None
    with torch.random.fork_rng(devices=[]):  # the caller's random state stays as it was
        model = seeded_detector(spec, seed)
    if saved.get("pretrained"):
        pretrained = Path(saved["pretrained"])
        if not pretrained.is_file():
            raise AnnotationError(pretrained, "is missing: the run started from these "
                                              "pretrained weights")
        load_pretrained(model, spec, pretrained)
    model.eval()
    if device is not None:
        model.to(device)
    return model, spec, {"model": saved["model"], "step": 0}


def export_detector(reference: Path, out: Path, half: bool = True,
                    facts: dict[str, Any] | None = None) -> Path:
    """Write a run's latest (or a given) checkpoint as one standalone weights file."""
    model, spec, metadata = load_detector(reference)
    dtype = torch.float16 if half else torch.float32
    tensors = {k: (v.to(dtype) if v.is_floating_point() else v).contiguous()
               for k, v in model.state_dict().items()}
    out = Path(out)
    atomic_write_bytes(out, save_safetensors(tensors))
    atomic_write_json(out.with_suffix(".json"), {
        "model": {**metadata["model"], "classes": list(spec.classes)},
        "step": int(metadata.get("step", 0)), "metrics": metadata.get("metrics", {}),
        "wall_time_s": metadata.get("wall_time_s"), "dtype": str(dtype).split(".")[-1],
        "code_version": __version__, "sha256": {"weights": sha256_of(out)},
        **(facts or {})})
    return out
