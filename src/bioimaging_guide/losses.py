"""Loss functions: how a network is told what "good" means.

During training, a loss function compares the network's output with the
target and returns one number, smaller for better outputs; training adjusts
the weights to make that number smaller. Different losses reward different
things, which is why the same network trained with two losses can behave
differently. Each function here takes PyTorch tensors of shape (N, 1, H, W)
and returns a scalar tensor.

Segmentation losses take **logits**: the raw network output before the
sigmoid that turns it into a foreground probability (applying the sigmoid
inside the loss is numerically safer). Targets are 0 (background) or 1
(foreground).

* :func:`bce` – binary cross-entropy: every pixel counts the same, so on
  images that are mostly background the background dominates.
* :func:`weighted_bce` – the same, with foreground pixels up-weighted so that
  both classes weigh equally in total.
* :func:`dice_loss` – one minus the soft Dice overlap between predicted
  probabilities and the target: it only looks at the foreground, so the
  amount of background does not matter (Milletari et al. 2016).
* :func:`bce_dice` – the sum of the two, a common compromise.

Restoration losses take predicted and target intensities:

* :func:`l2` – mean squared error: large errors cost much more than small
  ones; the best guess under uncertainty is the *mean* of the plausible
  answers, which tends to look blurred.
* :func:`l1` – mean absolute error: the best guess is the *median*, which
  keeps edges crisper and is less swayed by outliers.

:func:`dice_coefficient` is the evaluation counterpart (NumPy, hard masks).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

__all__ = [
    "LOSSES",
    "bce",
    "bce_dice",
    "dice_coefficient",
    "dice_loss",
    "l1",
    "l2",
    "weighted_bce",
]


def bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy averaged over all pixels.

    For a pixel with foreground probability ``p = sigmoid(logit)`` the cost is
    ``-log p`` if it is foreground and ``-log(1 - p)`` if it is background.
    """
    return F.binary_cross_entropy_with_logits(logits, target)


def weighted_bce(logits: torch.Tensor, target: torch.Tensor, pos_weight: float | None = None) -> torch.Tensor:
    """Binary cross-entropy with foreground pixels weighted by ``pos_weight``.

    Parameters
    ----------
    pos_weight
        Weight of foreground pixels relative to background pixels. ``None``
        (default) uses the batch's ratio of background to foreground pixels
        (at most 100), so that both classes contribute equally.
    """
    if pos_weight is None:
        n_pos = target.sum()
        n_neg = target.numel() - n_pos
        pos_weight = float(torch.clamp(n_neg / torch.clamp(n_pos, min=1.0), 1.0, 100.0))
    weight = torch.tensor(float(pos_weight), dtype=logits.dtype, device=logits.device)
    return F.binary_cross_entropy_with_logits(logits, target, pos_weight=weight)


def dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """Soft Dice loss: ``1 - (2 Σ p·t + s) / (Σ p + Σ t + s)`` over the whole batch.

    ``p`` are sigmoid probabilities, ``t`` the targets, ``s`` a small
    smoothing constant that keeps the loss defined for empty targets. The
    sums run over the whole batch, so a crop without any foreground does
    not produce a meaningless per-crop score.
    """
    p = torch.sigmoid(logits)
    intersection = (p * target).sum()
    return 1.0 - (2.0 * intersection + smooth) / (p.sum() + target.sum() + smooth)


def bce_dice(logits: torch.Tensor, target: torch.Tensor, dice_weight: float = 1.0) -> torch.Tensor:
    """``bce + dice_weight × dice_loss``: per-pixel accuracy plus overlap of the foreground."""
    return bce(logits, target) + dice_weight * dice_loss(logits, target)


def l1(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error (L1 loss)."""
    return (prediction - target).abs().mean()


def l2(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error (L2 loss)."""
    return (prediction - target).pow(2).mean()


#: The losses by the names used in the book's tables.
LOSSES = {
    "BCE": bce,
    "weighted BCE": weighted_bce,
    "Dice": dice_loss,
    "BCE + Dice": bce_dice,
    "L1": l1,
    "L2": l2,
}


def dice_coefficient(pred: np.ndarray, true: np.ndarray) -> float:
    """Pixel Dice of two binary masks: ``2|A∩B| / (|A|+|B|)`` (1.0 if both are empty)."""
    pred, true = np.asarray(pred, dtype=bool), np.asarray(true, dtype=bool)
    if pred.shape != true.shape:
        raise ValueError(f"masks differ in shape: {pred.shape} vs {true.shape}")
    total = pred.sum() + true.sum()
    return 1.0 if total == 0 else float(2.0 * np.logical_and(pred, true).sum() / total)
