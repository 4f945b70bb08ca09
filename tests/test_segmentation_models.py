"""Pure helpers of the StarDist/Cellpose module (no training)."""

import numpy as np
import pytest

from bioimaging_guide.segmentation_models import AUGMENTATION, augment, pad_to_size


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


def test_augment_follows_its_settings():
    rng = np.random.default_rng(1)
    x, y = np.ones((16, 16), np.float32), np.zeros((16, 16), int)
    plain = [augment(x, y, rng, scale=(2.0, 2.0), shift=(0.0, 0.0), noise_sd=0.0)[0] for _ in range(5)]
    assert all(np.allclose(p, 2.0) for p in plain)
    lo, hi = AUGMENTATION["scale"]
    for _ in range(20):
        out = augment(x, y, rng, noise_sd=0.0)[0]
        assert lo + AUGMENTATION["shift"][0] - 1e-6 <= out.mean() <= hi + AUGMENTATION["shift"][1] + 1e-6


def test_pad_to_size():
    x, y = np.arange(12.0).reshape(3, 4), np.ones((3, 4), int)
    xp, yp = pad_to_size(x, y, (5, 4))
    assert xp.shape == yp.shape == (5, 4) and yp[3:].sum() == 0 and xp[3:].max() == x.min()
    same = pad_to_size(x, y, (2, 2))
    assert same[0] is x


def test_zoom_and_blur_change_size_and_sharpness_and_keep_labels_aligned():
    y = np.zeros((64, 64), int)
    y[28:36, 28:36] = 3  # an 8 x 8 nucleus
    x = (y > 0).astype(np.float32)
    rng = np.random.default_rng(2)
    for factor in (0.5, 2.0):
        xa, ya = augment(x, y, rng, zoom=(factor, factor), scale=(1, 1), shift=(0, 0), noise_sd=0)
        assert xa.shape == ya.shape == (64, 64) and set(np.unique(ya)) <= {0, 3}
        area = (ya == 3).sum()
        assert 0.8 * 64 * factor**2 <= area <= 1.2 * 64 * factor**2 or (factor > 1 and area > 0)
        if area:
            assert xa[ya == 3].mean() > xa[ya == 0].mean() + 0.5  # still aligned
    rng = np.random.default_rng(3)
    peaks = [augment(x, y, rng, blur_sigma=3.0, scale=(1, 1), shift=(0, 0), noise_sd=0)[0].max() for _ in range(10)]
    assert min(peaks) < 0.8 and max(peaks) <= 1.0  # a random sigma up to 3 px: edges softened, sometimes a lot
    # zoom and blur off (the default) draw the same random numbers as before they existed
    a = augment(x, y, np.random.default_rng(5))
    b = augment(x, y, np.random.default_rng(5), zoom=(1.0, 1.0), blur_sigma=0.0)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    with pytest.raises(ValueError, match="zoom must be"):
        augment(x, y, rng, zoom=(1.2, 0.8))
