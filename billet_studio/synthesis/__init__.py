"""Synthetic billets: stamps rendered from varied glyph masks, composited onto billet faces
with exact labels, and real-plus-synthetic datasets."""

from billet_studio.synthesis.compose import (
    CompositeConfig,
    Renderer,
    SyntheticBillet,
    SyntheticStamp,
    VisibilityMix,
    billet_text,
    compose_billet,
)
from billet_studio.synthesis.renderers import ClassicalRenderer
from billet_studio.synthesis.surfaces import Surface, SurfaceBank, find_surfaces
from billet_studio.synthesis.warp import FaceWarp

__all__ = [
    "ClassicalRenderer",
    "CompositeConfig",
    "FaceWarp",
    "Renderer",
    "Surface",
    "SurfaceBank",
    "SyntheticBillet",
    "SyntheticStamp",
    "VisibilityMix",
    "billet_text",
    "compose_billet",
    "find_surfaces",
]
