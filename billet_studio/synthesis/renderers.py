"""The classical stamp renderer: the glyph mask pressed into the face by light and shade.

It needs no trained GAN, so synthesis works from the first day, and it is the ablation
baseline (GAN versus classical stamps). A GAN renderer is ``gan.StampRenderer``, whose
call has the same signature.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from billet_studio.glyphs.shading import StampShading, shade_stamp


@dataclass(frozen=True)
class ClassicalRenderer:
    """Each stamp gets its own depth, softness and light direction from these ranges;
    stamps are shaded in ``size`` x ``size`` windows (the ranges are for 128)."""

    size: int = 128
    shading: StampShading = field(default_factory=StampShading)
    depth: tuple[float, float] = (0.5, 1.2)
    softness_px: tuple[float, float] = (0.6, 2.0)
    light_azimuth_deg: tuple[float, float] = (100.0, 170.0)

    def __call__(self, masks: np.ndarray, patches: np.ndarray, rng: np.random.Generator
                 ) -> np.ndarray:
        """Shade each face patch with its mask: (N, S, S) and (N, S, S, 3) -> (N, S, S, 3)."""
        out = np.empty_like(patches)
        for index, (mask, patch) in enumerate(zip(masks, patches, strict=True)):
            scale = mask.shape[0] / 128.0
            shading = replace(
                self.shading,
                depth=rng.uniform(*self.depth),
                softness_px=rng.uniform(*self.softness_px) * scale,
                bevel_px=self.shading.bevel_px * scale,
                light_azimuth_deg=rng.uniform(*self.light_azimuth_deg),
            )
            out[index] = shade_stamp(patch, mask, shading)
        return out
