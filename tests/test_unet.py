"""The book's small U-Net: shapes, parameter count, receptive field."""

import numpy as np
import pytest
import torch

from bioimaging_guide.common import seed_everything
from bioimaging_guide.unet import UNet, count_parameters, empirical_receptive_field, predict_image


def set_seed(seed):
    seed_everything(seed, frameworks=("torch",), threads=2, deterministic=True)


@pytest.mark.parametrize("shape", [(37, 50), (64, 64), (5, 3), (129, 97)])
@pytest.mark.parametrize("depth", [0, 1, 2, 3])
def test_output_has_input_size_for_any_size(shape, depth):
    set_seed(0)
    net = UNet(in_channels=2, out_channels=3, depth=depth, base_channels=4)
    out = net(torch.randn(2, 2, *shape))
    assert out.shape == (2, 3, *shape)


def _expected_parameters(c_in, c_out, depth, base, batch_norm=True):
    """Parameter count written out by hand from the architecture."""

    def block(a, b):  # two 3x3 convs (+ batch norm: 2 params per channel, no conv bias)
        if batch_norm:
            return 9 * a * b + 2 * b + 9 * b * b + 2 * b
        return 9 * a * b + b + 9 * b * b + b

    widths = [base * 2**i for i in range(depth + 1)]
    n = block(c_in, widths[0])
    n += sum(block(widths[i], widths[i + 1]) for i in range(depth))
    n += sum(block(widths[i + 1] + widths[i], widths[i]) for i in range(depth))
    return n + widths[0] * c_out + c_out  # 1x1 output conv


@pytest.mark.parametrize("depth,base,bn", [(0, 4, True), (1, 8, False), (2, 16, True), (3, 8, True)])
def test_parameter_count(depth, base, bn):
    net = UNet(1, 1, depth=depth, base_channels=base, batch_norm=bn)
    assert count_parameters(net) == _expected_parameters(1, 1, depth, base, bn)


def test_default_network_size_is_stable():
    # the number quoted in chapter 4
    assert count_parameters(UNet()) == 118_305


@pytest.mark.parametrize("depth", [0, 1, 2, 3])
def test_receptive_field_formula_matches_gradients(depth):
    set_seed(0)
    net = UNet(depth=depth, base_channels=4)
    measured = empirical_receptive_field(net, size=161)
    # the formula ignores where a pixel sits relative to the pooling grid
    assert abs(measured - net.receptive_field()) <= 2**depth
    assert net.receptive_field() == {0: 5, 1: 20, 2: 50, 3: 110}[depth]


def test_final_activation_and_predict_image():
    set_seed(0)
    net = UNet(depth=1, base_channels=4, final_activation="sigmoid")
    out = predict_image(net, np.random.default_rng(0).random((33, 21), dtype=np.float32))
    assert out.shape == (33, 21) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1
    assert net.training  # mode restored
    with pytest.raises(ValueError):
        UNet(final_activation="softmax")
    with pytest.raises(ValueError):
        net(torch.zeros(1, 8, 8))


def test_seeded_initialisation_is_reproducible():
    set_seed(3)
    a = UNet(depth=1, base_channels=4)
    set_seed(3)
    b = UNet(depth=1, base_channels=4)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_random_crops_and_a_short_training_reduce_the_loss():
    from bioimaging_guide.losses import bce_dice
    from bioimaging_guide.unet import random_crops, train

    set_seed(0)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:48, :48]
    target = ((yy - 24) ** 2 + (xx - 24) ** 2 < 100).astype(np.float32)
    image = target + 0.2 * rng.standard_normal(target.shape).astype(np.float32)
    ramp = (yy * 48 + xx).astype(np.float32)
    x, y = random_crops([2 * ramp], [ramp], size=32, n=6, rng=rng)
    assert x.shape == y.shape == (6, 1, 32, 32) and x.dtype == torch.float32
    assert torch.equal(x, 2 * y)  # input and target are cut, rotated and flipped together
    with pytest.raises(ValueError):
        random_crops([image], [target], size=64, n=1, rng=rng)
    net = UNet(depth=1, base_channels=4)
    history = train(net, lambda: random_crops([image], [target], 32, 4, rng), bce_dice, steps=40, lr=1e-2)
    assert len(history) == 40 and np.mean(history[-5:]) < np.mean(history[:5])
    set_seed(0)
    net = UNet(depth=1, base_channels=4)
    history = train(net, lambda: random_crops([image], [target], 32, 4, rng), bce_dice, steps=40, lr=1e-2, decay=True)
    assert len(history) == 40 and np.mean(history[-5:]) < np.mean(history[:5])


def test_training_loop_validates_keeps_the_best_weights_and_records_history():
    from bioimaging_guide.unet import train

    set_seed(1)
    net = torch.nn.Linear(1, 1)
    x = torch.linspace(-1, 1, 32)[:, None]
    values, snapshots = iter([5.0, 1.0, 3.0]), []

    def validate(model):
        assert not model.training and not torch.is_grad_enabled()
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        return next(values)

    history = train(
        net,
        lambda: (x, 2 * x),
        torch.nn.functional.mse_loss,
        steps=30,
        lr=0.05,
        milestones=(10, 20),
        validate=validate,
        eval_every=10,
    )
    assert len(history) == 30 and history.step == [10, 20, 30] and history.val_loss == [5.0, 1.0, 3.0]
    assert history.train_loss[0] == pytest.approx(np.mean(history[:10]))
    assert all(torch.equal(v, snapshots[1][k]) for k, v in net.state_dict().items())  # the best, not the last
    assert not net.training and history.as_dict()["stopped_early"] is False
    stopped = train(
        torch.nn.Linear(1, 1), lambda: (x, 2 * x), torch.nn.functional.mse_loss, steps=1000, max_seconds=0.0
    )
    assert stopped.stopped_early and len(stopped) == 1
    with pytest.raises(ValueError, match="either decay"):
        train(net, lambda: (x, x), torch.nn.functional.mse_loss, steps=2, decay=True, milestones=(1,))
