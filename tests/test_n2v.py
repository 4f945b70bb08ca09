"""The book's Noise2Void: blind-spot masking, masked loss, and learning on a tiny synthetic case."""

import numpy as np
import pytest
import torch

from bioimaging_guide.n2v import augment_batch, blind_spot_mask, masked_mse, predict, train_n2v
from bioimaging_guide.restoration_models import load_n2v, save_n2v


def test_mask_statistics():
    g = torch.Generator().manual_seed(0)
    batch = torch.rand(32, 1, 64, 64, generator=g)
    masked, mask = blind_spot_mask(batch, fraction=0.01, radius=2, generator=g)
    per_image = mask.sum(dim=(1, 2, 3))
    # one pixel per 10×10 box: 7×7 boxes of a 64×64 image (the last row/column of boxes is partial)
    assert torch.all(per_image == 49)
    assert 0.005 < float(mask.mean()) < 0.02
    # only masked pixels change, and every one of them takes a value present in its 5×5 window
    assert torch.equal(masked[mask == 0], batch[mask == 0])
    n, _, ys, xs = torch.nonzero(mask, as_tuple=True)
    for i, y, x in list(zip(n.tolist(), ys.tolist(), xs.tolist()))[:300]:
        window = batch[i, 0, max(y - 2, 0) : y + 3, max(x - 2, 0) : x + 3]
        assert torch.any(window == masked[i, 0, y, x])
    # the replacement comes from another pixel: (almost) never the original value
    changed = (masked != batch)[mask == 1].float().mean()
    assert float(changed) > 0.99
    # masked positions are spread over the whole image, not clustered
    assert ys.min() < 10 and ys.max() > 53 and xs.min() < 10 and xs.max() > 53


def test_median_replacement_is_the_median_of_the_window_without_the_centre():
    g = torch.Generator().manual_seed(2)
    batch = torch.rand(4, 1, 32, 32, generator=g)
    masked, mask = blind_spot_mask(batch, fraction=0.02, radius=1, generator=g, replacement="median")
    assert torch.equal(masked[mask == 0], batch[mask == 0])
    n, _, ys, xs = torch.nonzero(mask, as_tuple=True)
    checked = 0

    def reflect(k):  # -1 -> 1 and 32 -> 30
        return abs(k) if k < 32 else 62 - k

    for i, y, x in zip(n.tolist(), ys.tolist(), xs.tolist()):
        values = [
            float(batch[i, 0, reflect(y + dy), reflect(x + dx)])
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
            if (dy, dx) != (0, 0)
        ]
        expected = sorted(values)[3]  # torch's median of 8 values is the lower middle one
        assert float(masked[i, 0, y, x]) == pytest.approx(expected)
        checked += 1
    assert checked == int(mask.sum()) > 50
    # on a constant image with one bright pixel, the median never copies that pixel into its neighbours
    spike = torch.zeros(1, 1, 16, 16)
    spike[0, 0, 8, 8] = 1.0
    masked, mask = blind_spot_mask(spike, fraction=0.5, radius=2, generator=g, replacement="median")
    assert float(masked[mask == 1].max()) == 0.0


def test_mask_rejects_bad_input():
    with pytest.raises(ValueError):
        blind_spot_mask(torch.zeros(2, 64, 64))
    with pytest.raises(ValueError):
        blind_spot_mask(torch.zeros(2, 1, 8, 8), fraction=0)
    with pytest.raises(ValueError, match="replacement must be one of"):
        blind_spot_mask(torch.zeros(2, 1, 8, 8), replacement="mean")


def test_loss_counts_only_masked_pixels():
    target = torch.zeros(1, 1, 8, 8)
    mask = torch.zeros_like(target)
    mask[0, 0, 2, 3] = 1
    mask[0, 0, 5, 5] = 1
    pred = torch.full_like(target, 100.0)  # terrible everywhere ...
    pred[0, 0, 2, 3] = 1.0  # ... except at the two masked pixels
    pred[0, 0, 5, 5] = -3.0
    assert float(masked_mse(pred, target, mask)) == pytest.approx((1 + 9) / 2)
    # gradients reach only the masked pixels
    pred.requires_grad_(True)
    masked_mse(pred, target, mask).backward()
    assert torch.count_nonzero(pred.grad) == 2
    with pytest.raises(ValueError):
        masked_mse(pred, target, torch.zeros_like(mask))


def test_augmentation_keeps_values():
    g = torch.Generator().manual_seed(1)
    batch = torch.rand(8, 1, 16, 16, generator=g)
    out = augment_batch(batch, g)
    assert out.shape == batch.shape
    for a, b in zip(out, batch):
        assert torch.equal(torch.sort(a.flatten()).values, torch.sort(b.flatten()).values)


def _blobs(n, size, rng):
    from scipy import ndimage as ndi

    imgs = np.zeros((n, size, size), np.float32)
    for k in range(n):
        pts = rng.integers(0, size, (12, 2))
        imgs[k][pts[:, 0], pts[:, 1]] = 1.0
        imgs[k] = ndi.gaussian_filter(imgs[k], 2.5) * 25
    return imgs


def test_n2v_learns_to_denoise_a_tiny_synthetic_case(tmp_path):
    rng = np.random.default_rng(0)
    clean = _blobs(96, 32, rng)
    noisy = (clean + 0.3 * rng.standard_normal(clean.shape)).astype(np.float32)
    model, history, seconds = train_n2v(
        noisy[:80],
        noisy[80:],
        steps=300,
        batch_size=16,
        fraction=0.03,
        depth=1,
        base_channels=8,
        learning_rate=3e-3,
        eval_every=50,
        seed=0,
        threads=1,
    )
    assert history["val_loss"][-1] < history["val_loss"][0]
    test_clean = _blobs(4, 32, np.random.default_rng(9))
    test_noisy = test_clean + 0.3 * np.random.default_rng(10).standard_normal(test_clean.shape)
    err_noisy = np.mean((test_noisy - test_clean) ** 2)
    err_n2v = np.mean([(predict(model, x) - c) ** 2 for x, c in zip(test_noisy, test_clean)])
    assert err_n2v < 0.5 * err_noisy, (err_n2v, err_noisy)
    # save / load round trip gives identical predictions
    save_n2v(model, tmp_path / "m", {"depth": 1, "base_channels": 8})
    again = load_n2v(tmp_path / "m")
    assert np.allclose(predict(again, test_noisy[0]), predict(model, test_noisy[0]), atol=1e-6)
