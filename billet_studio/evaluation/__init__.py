"""Scoring an ID reader: box matching, per-billet and per-subset metrics, ID reading."""

from billet_studio.evaluation.evaluate import (
    Evaluation,
    EvaluationConfig,
    EvaluationInputs,
    run_evaluation,
    score_evaluation,
)
from billet_studio.evaluation.id_decoding import DecodeConfig, IdRead, read_slots
from billet_studio.evaluation.inputs import load_predictions, load_truth
from billet_studio.evaluation.matching import (
    FP_TYPES,
    MatchConfig,
    MatchResult,
    box_iou,
    match_detections,
)
from billet_studio.evaluation.metrics import BootstrapConfig
from billet_studio.evaluation.scoring import SUBSETS, ScoringConfig
from billet_studio.evaluation.slots import SlotConfig, group_slots

__all__ = [
    "FP_TYPES",
    "SUBSETS",
    "BootstrapConfig",
    "DecodeConfig",
    "Evaluation",
    "EvaluationConfig",
    "EvaluationInputs",
    "IdRead",
    "MatchConfig",
    "MatchResult",
    "ScoringConfig",
    "SlotConfig",
    "box_iou",
    "group_slots",
    "load_predictions",
    "load_truth",
    "match_detections",
    "read_slots",
    "run_evaluation",
    "score_evaluation",
]
