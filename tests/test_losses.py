"""Segmentation and restoration losses."""

import math

import numpy as np
import pytest
import torch

from bioimaging_guide.losses import LOSSES, bce, bce_dice, dice_coefficient, dice_loss, l1, l2, weighted_bce


def _logits(p):
    p = torch.as_tensor(p, dtype=torch.float64)
    return torch.log(p / (1 - p))


def test_bce_matches_hand_computation():
    target = torch.tensor([[[[1.0, 0.0]]]], dtype=torch.float64)
    logits = _logits([[[[0.8, 0.4]]]])
    expected = -(math.log(0.8) + math.log(0.6)) / 2
    assert float(bce(logits, target)) == pytest.approx(expected)


def test_weighted_bce_balances_classes():
    # 1 foreground pixel, 3 background pixels: foreground weight 3 by default
    target = torch.tensor([[[[1.0, 0.0, 0.0, 0.0]]]], dtype=torch.float64)
    logits = _logits([[[[0.5, 0.5, 0.5, 0.5]]]])
    expected = (3 * math.log(2) + 3 * math.log(2)) / 4
    assert float(weighted_bce(logits, target)) == pytest.approx(expected)
    assert float(weighted_bce(logits, target, pos_weight=1.0)) == pytest.approx(float(bce(logits, target)))


def test_dice_loss_perfect_and_disjoint():
    target = torch.zeros(1, 1, 8, 8, dtype=torch.float64)
    target[..., 2:5, 2:5] = 1
    perfect = torch.where(target > 0, 50.0, -50.0)
    assert float(dice_loss(perfect, target)) == pytest.approx(0.0, abs=1e-9)
    disjoint = torch.where(target > 0, -50.0, 50.0)
    assert float(dice_loss(disjoint, target, smooth=0.0)) == pytest.approx(1.0, abs=1e-9)
    # the amount of background does not change the Dice loss of a good prediction
    big = torch.zeros(1, 1, 64, 64, dtype=torch.float64)
    big[..., 2:5, 2:5] = 1
    assert float(dice_loss(torch.where(big > 0, 50.0, -50.0), big)) == pytest.approx(0.0, abs=1e-9)


def test_bce_dice_is_the_sum():
    rng = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 1, 6, 6, generator=rng)
    target = (torch.rand(2, 1, 6, 6, generator=rng) > 0.7).float()
    assert float(bce_dice(logits, target)) == pytest.approx(float(bce(logits, target) + dice_loss(logits, target)))


def test_l1_l2_and_their_best_constant():
    x = torch.tensor([0.0, 0.0, 0.0, 10.0])
    assert float(l1(torch.full_like(x, 1.0), x)) == pytest.approx((1 + 1 + 1 + 9) / 4)
    assert float(l2(torch.full_like(x, 1.0), x)) == pytest.approx((1 + 1 + 1 + 81) / 4)
    # the best constant guess is the mean under L2 and the median under L1
    grid = torch.linspace(0, 10, 1001)
    best_l2 = grid[torch.argmin(torch.stack([l2(torch.full_like(x, c), x) for c in grid]))]
    best_l1 = grid[torch.argmin(torch.stack([l1(torch.full_like(x, c), x) for c in grid]))]
    assert float(best_l2) == pytest.approx(2.5, abs=0.01)
    assert float(best_l1) <= 0.01


def test_losses_table_and_gradients():
    assert set(LOSSES) == {"BCE", "weighted BCE", "Dice", "BCE + Dice", "L1", "L2"}
    logits = torch.zeros(1, 1, 4, 4, requires_grad=True)
    target = torch.zeros(1, 1, 4, 4)
    target[..., :2, :2] = 1
    for name in ("BCE", "weighted BCE", "Dice", "BCE + Dice"):
        (g,) = torch.autograd.grad(LOSSES[name](logits, target), logits)
        # the loss pushes foreground logits up and background logits down
        assert g[..., :2, :2].max() < 0 and g[..., 2:, 2:].min() > 0, name


def test_dice_coefficient():
    a = np.zeros((4, 4), bool)
    b = a.copy()
    assert dice_coefficient(a, b) == 1.0
    a[0, :2] = True
    b[0, 1:3] = True
    assert dice_coefficient(a, b) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        dice_coefficient(a, b[:3])
