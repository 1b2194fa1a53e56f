"""Stamp geometry: polygons with holes, boxes, validation and repair, masks and GAN crops."""

from billet_studio.geometry.crops import CropWindow, crop_window, paired_crop
from billet_studio.geometry.crossings import ring_crossings
from billet_studio.geometry.raster import (
    fill_polygons,
    rasterize_polygons,
    rasterize_polygons_exact,
)
from billet_studio.geometry.repair import (
    DEFAULT_MIN_AREA,
    RepairResult,
    clip_polygon,
    repair_polygon,
    validate_polygon,
)
from billet_studio.geometry.shapes import (
    Box,
    StampPolygon,
    bounds_of,
    polygonal_parts,
    transform_points,
)
from billet_studio.geometry.trace import trace_mask

__all__ = [
    "DEFAULT_MIN_AREA",
    "Box",
    "CropWindow",
    "RepairResult",
    "StampPolygon",
    "bounds_of",
    "clip_polygon",
    "crop_window",
    "fill_polygons",
    "paired_crop",
    "polygonal_parts",
    "rasterize_polygons",
    "rasterize_polygons_exact",
    "repair_polygon",
    "ring_crossings",
    "trace_mask",
    "transform_points",
    "validate_polygon",
]
