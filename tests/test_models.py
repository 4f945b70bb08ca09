"""Pure helpers of the model module (no training)."""

import numpy as np
import pytest

from bioimaging_guide.models import augment, load_model, normalize_percentile, pad_to_size


def test_normalize_percentile_gray_and_rgb():
    x = np.linspace(0, 1000, 10000).reshape(100, 100)
    n = normalize_percentile(x)
    assert n.dtype == np.float32 and abs(np.percentile(n, 1)) < 1e-6 and abs(np.percentile(n, 99.8) - 1) < 1e-5
    rgb = np.stack([x, 2 * x, x + 5], axis=-1)
    nr = normalize_percentile(rgb)
    assert np.allclose(nr[..., 0], nr[..., 1], atol=1e-5)  # per-channel


def test_augment_keeps_image_and_labels_aligned():
    rng = np.random.default_rng(0)
    y = np.zeros((20, 30), int)
    y[2:5, 3:9] = 7
    x = (y > 0).astype(np.float32)
    for _ in range(20):
        xa, ya = augment(x, y, rng)
        assert xa.shape == ya.shape
        assert set(np.unique(ya)) == {0, 7}
        inside, outside = xa[ya == 7].mean(), xa[ya == 0].mean()
        assert inside > outside + 0.4  # the bright object moved with its label


def test_pad_to_size():
    x, y = np.arange(12.0).reshape(3, 4), np.ones((3, 4), int)
    xp, yp = pad_to_size(x, y, (5, 4))
    assert xp.shape == yp.shape == (5, 4) and yp[3:].sum() == 0 and xp[3:].max() == x.min()
    same = pad_to_size(x, y, (2, 2))
    assert same[0] is x


def test_unknown_model_name():
    with pytest.raises(ValueError, match="unknown model"):
        load_model("not-a-model")
