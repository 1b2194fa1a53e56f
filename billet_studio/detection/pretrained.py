"""Pretrained weights from a local file the user names (nothing is ever downloaded).

Two kinds of file are understood, as ``.pth``/``.pt`` (read with ``weights_only=True``, so
no pickled code runs) or ``.safetensors``:
- a full detector checkpoint (torchvision's COCO Faster R-CNN of the same architecture):
  everything but the class-specific box predictor is loaded;
- a backbone-only file (torchvision's ImageNet ResNet-50 or MobileNet-v3-Large): loaded
  into the backbone; the feature pyramid and heads start fresh.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import Tensor, nn

from billet_studio.annotations import AnnotationError
from billet_studio.detection.model import ModelSpec

#: Left out of a full checkpoint: their shape depends on the number of classes.
CLASS_SPECIFIC = ("roi_heads.box_predictor.",)
#: Kept from a full checkpoint only where they fit: their shape depends on the number of
#: anchors per location (fitted anchors usually differ from the checkpoint's).
ANCHOR_SPECIFIC = ("rpn.head.cls_logits.", "rpn.head.bbox_pred.")
#: Batch-norm bookkeeping that frozen batch norm does not keep.
IGNORED_SUFFIXES = ("num_batches_tracked",)


class PretrainedError(AnnotationError):
    """A pretrained-weights file that cannot be used for this detector."""


def read_state_dict(path: Path) -> dict[str, Tensor]:
    """The tensors in ``path`` (unwrapping ``{"model": …}`` / ``{"state_dict": …}``)."""
    path = Path(path)
    if not path.is_file():
        raise PretrainedError(path, "does not exist (pretrained weights come only from a "
                                    "local file)")
    try:
        if path.suffix == ".safetensors":
            document = load_file(str(path))
        else:
            document = torch.load(path, map_location="cpu", weights_only=True)
    except (SafetensorError, pickle.UnpicklingError, RuntimeError, EOFError, ValueError,
            OSError) as error:
        raise PretrainedError(path, f"is not a readable weights file ({error}); nothing in "
                                    "it was run") from None
    for key in ("model", "state_dict"):
        if isinstance(document, dict) and isinstance(document.get(key), dict):
            document = document[key]
    if not isinstance(document, dict) or not all(
            isinstance(k, str) and isinstance(v, Tensor) for k, v in document.items()):
        raise PretrainedError(path, "does not hold a state dict (names mapped to tensors)")
    return {k: v for k, v in document.items() if not k.endswith(IGNORED_SUFFIXES)}


def _fit(path: Path, source: dict[str, Tensor], target: nn.Module, what: str) -> None:
    """Load ``source`` into ``target`` strictly, or explain what does not fit."""
    expected = {k: v for k, v in target.state_dict().items()
                if not k.endswith(IGNORED_SUFFIXES)}
    missing = sorted(set(expected) - set(source))
    if missing:
        found = len(set(expected) & set(source))
        raise PretrainedError(path, f"does not fit the {what}: it holds {found} of its "
                                    f"{len(expected)} tensors (first missing: "
                                    f"{', '.join(missing[:3])}); is it made for another "
                                    "architecture?")
    for name, tensor in expected.items():
        if source[name].shape != tensor.shape:
            raise PretrainedError(path, f"tensor {name} has shape "
                                        f"{tuple(source[name].shape)}, the {what} needs "
                                        f"{tuple(tensor.shape)}")
    target.load_state_dict({k: source[k].to(v.dtype) for k, v in expected.items()},
                           strict=False)


def is_full_detector(state: dict[str, Tensor]) -> bool:
    return any(k.startswith("backbone.body.") for k in state)


def load_pretrained(model: nn.Module, spec: ModelSpec, path: Path) -> str:
    """Load ``path`` into ``model``; returns which kind of file it was. A full detector's
    class predictor, and its RPN outputs where the anchor count differs, start fresh."""
    state = read_state_dict(path)
    if is_full_detector(state):
        own = model.state_dict()
        fresh = {k: v for k, v in own.items() if k.startswith(CLASS_SPECIFIC) or (
            k.startswith(ANCHOR_SPECIFIC) and (k not in state or state[k].shape != v.shape))}
        kept = {k: v for k, v in state.items() if k not in fresh}
        _fit(path, {**kept, **fresh}, model, f"{spec.architecture} detector")
        return "detector"
    if "mobilenet" in spec.architecture:
        state = {k.removeprefix("features."): v for k, v in state.items()
                 if k.startswith("features.")}
    _fit(path, state, model.backbone.body, f"{spec.architecture} backbone")
    return "backbone"


def backbone_file_facts(path: Path) -> dict[str, str]:
    """The metadata a ``detector pretrain`` file carries (architecture, norm, accuracy…);
    empty for other files (torchvision's ImageNet weights, ``.pth`` files)."""
    path = Path(path)
    if path.suffix != ".safetensors" or not path.is_file():
        return {}
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as error:
        raise PretrainedError(path, f"is not a readable weights file ({error})") from None
    return dict(metadata) if metadata.get("format") == "billet-studio-backbone" else {}
