"""Balanced test splits, marked in the sidecars' ``billet.split``.

Like the paper's Table 2, the test split is balanced across strata: by default half well
visible and half poorly or partially visible billets, and half per production site. Images
are ranked by a hash of (seed, path), so the same seed gives the same split and adding
images to a project changes the choice as little as possible. Existing test marks are kept
and counted; they are only redrawn when the caller asks for it explicitly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from billet_studio.annotations.errors import AnnotationError
from billet_studio.annotations.project import Project
from billet_studio.annotations.records import ImageRecord

BALANCE_KEYS = ("site", "visibility")


def stratum_value(record: ImageRecord, key: str) -> str:
    """The value of one balance key for a record (visibility in the paper's two groups)."""
    if key == "site":
        return record.billet.site or "unknown"
    if key == "visibility":
        return "well" if record.visibility == "well" else "poor_or_partial"
    raise ValueError(f"cannot balance on {key!r}; use {', '.join(BALANCE_KEYS)}")


@dataclass(frozen=True)
class StratumCount:
    stratum: tuple[str, ...]
    wanted: int
    chosen: int
    available: int


@dataclass(frozen=True)
class SplitPlan:
    """The test images chosen, how each stratum was filled, and what fell short."""

    test: tuple[Path, ...]
    released: tuple[Path, ...]
    strata: tuple[StratumCount, ...]
    warnings: tuple[str, ...]


def seeded_rank(seed: int, record: ImageRecord, root: Path, purpose: str = "") -> str:
    """A stable pseudo-random sort key of an image: a hash of seed and relative path
    (``purpose`` keeps orders for different uses independent)."""
    key = f"{purpose}{seed}:{record.image_path.relative_to(root).as_posix()}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def plan_test_split(
    records: Sequence[ImageRecord],
    n_test: int,
    root: Path,
    balance: Sequence[str] = BALANCE_KEYS,
    seed: int = 0,
    reassign: bool = False,
) -> SplitPlan:
    """Choose ``n_test`` labelled images for the test split, balanced over ``balance``."""
    for key in balance:
        if key not in BALANCE_KEYS:
            raise ValueError(f"cannot balance on {key!r}; use {', '.join(BALANCE_KEYS)}")
    if n_test < 0:
        raise ValueError("the test split size cannot be negative")
    labelled = [r for r in records if r.json_path is not None and r.shapes]
    existing = [r for r in labelled if r.billet.split == "test"] if not reassign else []
    if len(existing) > n_test:
        raise ValueError(
            f"{len(existing)} images are already marked test, more than the {n_test} asked "
            "for; existing test marks are never moved silently (use --reassign to redraw)"
        )
    # Validation images stay validation images; only training images can move to test.
    pool = [r for r in labelled if r.billet.split in (None, "train")
            or (reassign and r.billet.split == "test")]

    def stratum(record: ImageRecord) -> tuple[str, ...]:
        return tuple(stratum_value(record, key) for key in balance)

    strata = sorted({stratum(r) for r in labelled})
    wanted = {s: n_test // max(1, len(strata)) for s in strata}
    for s in strata[: n_test - sum(wanted.values())]:
        wanted[s] += 1
    chosen: dict[tuple[str, ...], list[ImageRecord]] = {s: [] for s in strata}
    for record in existing:
        chosen[stratum(record)].append(record)
    candidates = {s: sorted((r for r in pool if stratum(r) == s and r not in existing),
                            key=lambda r: seeded_rank(seed, r, root)) for s in strata}
    warnings: list[str] = []
    needs = {s: max(0, wanted[s] - len(chosen[s])) for s in strata}
    surplus = sum(max(0, len(chosen[s]) - wanted[s]) for s in strata)
    if surplus:
        crowded = [s for s in strata if len(chosen[s]) > wanted[s]]
        warnings.append(
            f"existing test marks exceed the share of {', '.join('/'.join(s) for s in crowded)}"
            f" by {surplus}; other strata get fewer so the total stays {n_test}"
        )
    while surplus > 0 and any(needs.values()):
        largest = max(strata, key=lambda k: (needs[k], k))
        needs[largest] -= 1
        surplus -= 1
    for s in strata:
        need = needs[s]
        take = candidates[s][:need]
        chosen[s].extend(take)
        candidates[s] = candidates[s][need:]
        if len(take) < need:
            warnings.append(f"stratum {'/'.join(s)}: only {len(take)} of {need} more "
                            "images available; the rest comes from other strata")
    short = n_test - sum(len(c) for c in chosen.values())
    if short > 0:
        spare = sorted((r for s in strata for r in candidates[s]),
                       key=lambda r: seeded_rank(seed, r, root))
        for record in spare[:short]:
            chosen[stratum(record)].append(record)
        if len(spare) < short:
            warnings.append(f"only {n_test - short + len(spare)} labelled images can be in the "
                            f"test split, fewer than the {n_test} asked for")
    test = [r for s in strata for r in chosen[s]]
    test_paths = {r.image_path for r in test}
    released = [r.image_path for r in labelled
                if r.billet.split == "test" and r.image_path not in test_paths]
    counts = tuple(
        StratumCount(s, wanted[s], len(chosen[s]), sum(1 for r in labelled if stratum(r) == s))
        for s in strata
    )
    return SplitPlan(tuple(sorted(test_paths)), tuple(sorted(released)), counts, tuple(warnings))


def apply_split(project: Project, records: Sequence[ImageRecord], plan: SplitPlan) -> int:
    """Write the plan into the sidecars that change; returns how many files were written."""
    test = set(plan.test)
    released = set(plan.released)
    written = 0
    for record in records:
        if record.image_path in test and record.billet.split != "test":
            new_split: str | None = "test"
        elif record.image_path in released:
            new_split = "train"
        else:
            continue
        if record.json_path is None:
            raise AnnotationError(record.image_path, "has no sidecar to mark")
        project.save_record(replace(record, billet=replace(record.billet, split=new_split)))
        written += 1
    return written
