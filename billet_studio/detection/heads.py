"""Box heads that keep, for every detection, the full per-class score vector the ID decoder
needs (torchvision's heads keep only the winning class's score)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.ops import boxes as box_ops


class ScoredRoIHeads(RoIHeads):
    """``RoIHeads`` whose detections also carry ``class_scores``: the softmax over the
    foreground classes of the proposal each detection came from."""

    _class_scores: list[Tensor]

    @classmethod
    def replacing(cls, heads: RoIHeads) -> ScoredRoIHeads:
        """The same heads (shared modules, same thresholds) with score vectors."""
        return cls(
            heads.box_roi_pool, heads.box_head, heads.box_predictor,
            heads.proposal_matcher.high_threshold, heads.proposal_matcher.low_threshold,
            heads.fg_bg_sampler.batch_size_per_image, heads.fg_bg_sampler.positive_fraction,
            heads.box_coder.weights, heads.score_thresh, heads.nms_thresh,
            heads.detections_per_img)

    def postprocess_detections(self, class_logits: Tensor, box_regression: Tensor,
                               proposals: list[Tensor], image_shapes: list[tuple[int, int]]
                               ) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        device = class_logits.device
        num_classes = class_logits.shape[-1]
        per_image = [len(p) for p in proposals]
        pred_boxes = self.box_coder.decode(box_regression, proposals).split(per_image, 0)
        pred_scores = F.softmax(class_logits.float(), -1).split(per_image, 0)
        all_boxes, all_scores, all_labels, vectors = [], [], [], []
        for boxes, scores, shape in zip(pred_boxes, pred_scores, image_shapes, strict=True):
            boxes = box_ops.clip_boxes_to_image(boxes, shape)[:, 1:].reshape(-1, 4)
            foreground = scores[:, 1:]
            labels = torch.arange(1, num_classes, device=device).expand_as(foreground)
            source = torch.arange(len(scores), device=device)[:, None].expand_as(foreground)
            flat_scores = foreground.reshape(-1)
            keep = torch.where(flat_scores > self.score_thresh)[0]
            keep = keep[box_ops.remove_small_boxes(boxes[keep], min_size=1e-2)]
            labels, source = labels.reshape(-1), source.reshape(-1)
            keep = keep[box_ops.batched_nms(boxes[keep], flat_scores[keep], labels[keep],
                                            self.nms_thresh)][:self.detections_per_img]
            all_boxes.append(boxes[keep])
            all_scores.append(flat_scores[keep])
            all_labels.append(labels[keep])
            vectors.append(foreground[source[keep]])
        self._class_scores = vectors
        return all_boxes, all_scores, all_labels

    def forward(self, features, proposals, image_shapes, targets=None):  # type: ignore[override]
        result, losses = super().forward(features, proposals, image_shapes, targets)
        if not self.training:
            for detections, vector in zip(result, self._class_scores, strict=True):
                detections["class_scores"] = vector
            self._class_scores = []
        return result, losses
