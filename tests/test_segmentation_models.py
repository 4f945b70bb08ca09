"""Pure helpers of the StarDist/Cellpose module (no training)."""

import numpy as np

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
