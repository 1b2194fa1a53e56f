"""The bundled demo world: simulated billet photographs with exact labels."""

from billet_studio.demo.billet import (
    DEMO_PROJECT_REGEX,
    BilletPlan,
    DemoLook,
    DemoStamp,
    RenderedBillet,
    render_billet,
    render_surface,
)
from billet_studio.demo.build import DemoConfig, billet_shapes, build_demo_project, plan_billets
from billet_studio.demo.sites import SITE_A, SITE_B, SITES, SiteLook

__all__ = [
    "DEMO_PROJECT_REGEX",
    "SITES",
    "SITE_A",
    "SITE_B",
    "BilletPlan",
    "DemoConfig",
    "DemoLook",
    "DemoStamp",
    "RenderedBillet",
    "SiteLook",
    "billet_shapes",
    "build_demo_project",
    "plan_billets",
    "render_billet",
    "render_surface",
]
