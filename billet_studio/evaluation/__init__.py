"""Scoring an ID reader: box matching, per-billet and per-subset metrics, ID reading."""

from billet_studio.evaluation.matching import (
    FP_TYPES,
    MatchConfig,
    MatchResult,
    box_iou,
    match_detections,
)

__all__ = ["FP_TYPES", "MatchConfig", "MatchResult", "box_iou", "match_detections"]
