"""Exporting masks: a full-image mask per photograph and square (mask, stamp) crop pairs
for pix2pix. Test-split images are left out unless asked for: nothing trains on them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from billet_studio import __version__
from billet_studio.annotations.atomic import atomic_write_json
from billet_studio.annotations.images import read_image, write_png
from billet_studio.annotations.output_folder import checked_output_folder, staged_output
from billet_studio.annotations.project import Project
from billet_studio.geometry import paired_crop, rasterize_polygons
from billet_studio.jobs import CancelToken, JobCancelled, Progress


@dataclass(frozen=True)
class MaskExportConfig:
    """Crop pairs default to pix2pix's 256x256 (the paper's unet_256)."""

    size: int = 256
    margin: float = 0.15
    include_test: bool = False


def export_masks(
    project: Project, out: Path, config: MaskExportConfig = MaskExportConfig(),
    cancel: CancelToken | None = None,
) -> Iterator[Progress]:
    """Job: write ``out/masks/…png``, ``out/pairs/{mask,image}/…png`` and a manifest.

    Output paths keep the images' subfolders. The folder is replaced whole when the job
    finishes; a cancelled job (JobCancelled) leaves any earlier output as it was.
    """
    if config.size < 8:
        raise ValueError(f"crop size must be at least 8 pixels, got {config.size}")
    if not 0.0 <= config.margin <= 2.0:
        raise ValueError(f"crop margin must be between 0 and 2, got {config.margin}")
    out = checked_output_folder(project, out)
    records = [r for r in project.load_records() if r.json_path is not None]
    chosen = [r for r in records if config.include_test or r.split != "test"]
    pairs: list[dict[str, object]] = []
    skipped_boxes = 0
    with staged_output(out, "masks") as stage:
        for step, record in enumerate(chosen, start=1):
            if cancel is not None and cancel.cancelled:
                raise JobCancelled("mask export cancelled; nothing was written")
            name = project.relative_to_images(record.image_path).with_suffix("")
            polygons = [p for stamp in record.stamps for p in stamp.polygons]
            write_png(stage / "masks" / f"{name}.png",
                       rasterize_polygons(polygons, record.height, record.width))
            image = read_image(record.image_path) if record.stamps else None
            for index, stamp in enumerate(record.stamps):
                if not stamp.polygons or image is None:
                    skipped_boxes += 1
                    continue
                mask, crop = paired_crop(image, stamp.polygons, config.size, config.margin)
                pair_name = f"{name}__{index:03d}"
                write_png(stage / "pairs" / "mask" / f"{pair_name}.png", mask)
                write_png(stage / "pairs" / "image" / f"{pair_name}.png", crop)
                pairs.append({"name": pair_name, "image": project.relative(record.image_path),
                              "label": stamp.label, "visibility": stamp.visibility,
                              "split": record.split})
            yield Progress(step, len(chosen), f"{name}: {len(record.stamps)} stamps")
        atomic_write_json(stage / "manifest.json", {
            "project": str(project.root),
            "config": asdict(config),
            "code_version": __version__,
            "images": len(chosen),
            "left_out_test_images": len(records) - len(chosen),
            "box_only_stamps_without_pairs": skipped_boxes,
            "pairs": pairs,
        })
