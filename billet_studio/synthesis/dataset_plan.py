"""Which images a real-plus-synthetic dataset holds, and in which split.

Datasets of one experiment draw from two shared pools, so they nest: real training
images in one fixed seeded order per site, and synthetic images by index (image i is made
from the seed and i alone). A dataset takes a prefix of each site's real order, in the
real pool's site ratio, and the first synthetic indices. Validation images are spread
evenly along each order, so an image keeps its split in every dataset that holds it.
Test images are never used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from billet_studio.annotations.errors import AnnotationError
from billet_studio.annotations.project import Project
from billet_studio.annotations.records import ImageRecord
from billet_studio.annotations.splits import seeded_rank
from billet_studio.synthesis.compose import CompositeConfig

IMAGE_FORMATS = ("png", "jpg")


@dataclass(frozen=True)
class DatasetConfig:
    """A dataset of ``images`` images, ``synthetic`` of them synthetic (a fraction).

    ``synthetic_per_real`` n > 1 replaces each real image left out by n synthetic ones
    (the paper's proposed ratio study): the dataset then holds more than ``images``."""

    images: int = 2540
    synthetic: float = 0.0
    val_fraction: float = 0.25
    seed: int = 0
    image_format: str = "png"
    jpeg_quality: int = 95
    inpaint_training: bool = False
    composite: CompositeConfig = field(default_factory=CompositeConfig)
    synthetic_per_real: int = 1

    def __post_init__(self) -> None:
        if self.synthetic_per_real < 1:
            raise ValueError("synthetic_per_real must be at least 1")
        if self.images < 1:
            raise ValueError("a dataset needs at least one image")
        if not 0.0 <= self.synthetic <= 1.0 or not 0.0 <= self.val_fraction < 1.0:
            raise ValueError("synthetic must lie in [0, 1] and val_fraction in [0, 1)")
        if self.image_format not in IMAGE_FORMATS:
            raise ValueError(f"image_format must be one of {IMAGE_FORMATS}")

    @property
    def replaced_count(self) -> int:
        """Real images the synthetic ones stand in for."""
        return round(self.images * self.synthetic)

    @property
    def synthetic_count(self) -> int:
        return self.replaced_count * self.synthetic_per_real

    @property
    def real_count(self) -> int:
        return self.images - self.replaced_count


@dataclass(frozen=True)
class DatasetPlan:
    """Real images (path, site, split) and synthetic indices (index, split)."""

    real: tuple[tuple[ImageRecord, str], ...]
    synthetic: tuple[tuple[int, str], ...]
    site_counts: dict[str, int]


def split_at(position: int, val_fraction: float) -> str:
    """"val" for the positions that spread ``val_fraction`` evenly along an order: the
    first n positions always hold floor(n * val_fraction) validation images."""
    crossed = math.floor((position + 1) * val_fraction) > math.floor(position * val_fraction)
    return "val" if crossed else "train"


def real_pool(project: Project, seed: int) -> dict[str, list[ImageRecord]]:
    """Labelled non-test images per site (no site: ""), each in its seeded order."""
    pools: dict[str, list[ImageRecord]] = {}
    for record in project.load_records():
        if record.split == "test" or record.json_path is None or not record.stamps:
            continue
        pools.setdefault(record.billet.site or "", []).append(record)
    image_root = project.image_root
    return {site: sorted(records, key=lambda r: seeded_rank(seed, r, image_root, "dataset:"))
            for site, records in sorted(pools.items())}


def merged_order(pools: dict[str, list[ImageRecord]]) -> list[ImageRecord]:
    """All sites' pools woven into one order in which every prefix keeps the pool's site
    ratio (within one image per site): an image at position p of a site of n images sits
    at (p + 0.5) / n."""
    keyed = [((position + 0.5) / len(records), site, position, record)
             for site, records in pools.items() for position, record in enumerate(records)]
    return [record for *_, record in sorted(keyed, key=lambda item: item[:3])]


def plan_dataset(project: Project, config: DatasetConfig) -> DatasetPlan:
    """The images of one dataset; an error says how many real images it would need."""
    order = merged_order(real_pool(project, config.seed))
    wanted = config.real_count
    if wanted > len(order):
        scale = len(order) / wanted
        raise AnnotationError(project.root, (
            f"the dataset needs {wanted} real training images but the project has "
            f"{len(order)} labelled non-test images; lower -n or raise --synthetic, or use "
            f"--scale {math.floor(scale * 100) / 100:g} or less"))
    real = tuple((record, split_at(position, config.val_fraction))
                 for position, record in enumerate(order[:wanted]))
    synthetic = tuple((index, split_at(index, config.val_fraction))
                      for index in range(config.synthetic_count))
    counts: dict[str, int] = {}
    for record, _ in real:
        counts[record.billet.site or ""] = counts.get(record.billet.site or "", 0) + 1
    return DatasetPlan(real, synthetic, counts)


#: The paper's Table 1: (name, images, synthetic fraction).
PAPER_TABLE1 = (
    ("exp1-real", 2540, 0.0),
    ("exp2-syn25", 2540, 0.25),
    ("exp3-syn50", 2540, 0.5),
    ("exp4-syn75", 2540, 0.75),
    ("exp5-syn100", 2540, 1.0),
    ("exp6-real635", 635, 0.0),
)


def paper_table1(scale: float = 1.0) -> list[tuple[str, int, float]]:
    """The six datasets of the paper's Table 1, every count times ``scale`` (exp6 = 635 at
    scale 1, the real part of exp4)."""
    if not 0.0 < scale <= 1.0:
        raise ValueError("--scale must lie in (0, 1]")
    table = [(name, max(1, round(images * scale)), synthetic)
             for name, images, synthetic in PAPER_TABLE1]
    # Experiment 6 trains on exactly Experiment 4's real images, whatever the rounding.
    exp4 = table[3][1]
    table[5] = (table[5][0], max(1, exp4 - round(exp4 * table[3][2])), 0.0)
    return table
