"""Test-time augmentation, effect-size simulation and plotting helpers."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from skimage.draw import disk

from bioimaging_guide.plotting import draw_outlines, error_overlay, label_colors
from bioimaging_guide.segmentation import watershed_nuclei
from bioimaging_guide.stats import cohens_d, simulate_experiment_power
from bioimaging_guide.uncertainty import (
    default_augmentations,
    foreground_frequency,
    object_agreement,
    tta_predictions,
)


def test_geometric_augmentations_are_inverted_exactly():
    img = np.arange(12 * 20, dtype=np.float32).reshape(12, 20)
    rng = np.random.default_rng(0)
    for aug in default_augmentations():
        if aug.name in ("identity", "flip left-right", "flip up-down", "rotate 90°", "rotate 270°"):
            assert np.array_equal(aug.inverse(aug.forward(img, rng)), img), aug.name


def test_tta_agreement_separates_stable_from_borderline_objects():
    img = np.zeros((64, 96), np.float32)
    img[disk((32, 24), 10)] = 1.0  # bright: always found
    img[disk((32, 72), 10)] = 0.33  # near the threshold: comes and goes with gamma/noise
    img += 0.02 * np.random.default_rng(1).standard_normal(img.shape).astype(np.float32)

    def segment(x):
        return watershed_nuclei(x, min_distance=8, min_size=20)

    ref = segment(img)
    runs = tta_predictions(img, segment, seed=0)
    assert len(runs) == len(default_augmentations()) and all(r.shape == img.shape for r in runs)
    freq = foreground_frequency(runs)
    assert freq.min() >= 0 and freq.max() <= 1 and freq[32, 24] == 1.0
    agreement = object_agreement(ref, runs)
    bright = ref[32, 24]
    assert agreement[bright] > 0.9
    assert object_agreement(np.zeros_like(ref), runs) == {}


def test_tta_refuses_shape_changing_segmenter():
    with pytest.raises(ValueError, match="map back"):
        tta_predictions(np.ones((8, 8)), lambda x: np.ones((4, 4), int))


def test_cohens_d_and_power_simulation():
    a, b = np.array([1.0, 2, 3, 4]), np.array([2.0, 3, 4, 5])
    assert cohens_d(a, b) == pytest.approx(1 / np.std([1, 2, 3, 4], ddof=1))
    with pytest.raises(ValueError):
        cohens_d([1.0], [2.0])
    values = np.random.default_rng(0).lognormal(0, 0.3, 500)
    none = simulate_experiment_power(values, 1.0, 50, n_sim=1000)
    big = simulate_experiment_power(values, 1.3, 50, n_sim=1000)
    noisy = simulate_experiment_power(
        values, 1.3, 50, error_ratios=np.random.default_rng(1).lognormal(0, 0.4, 300), n_sim=1000
    )
    assert none.power < 0.1  # no effect: false-positive rate near alpha
    assert big.power > 0.95  # a 30 % effect with 50 per group is found
    assert noisy.power < big.power  # measurement error costs power
    assert big.mean_ratio == pytest.approx(1.3, abs=0.03)


def test_overlay_and_outlines_draw_without_error():
    gt = np.zeros((40, 40), int)
    gt[disk((20, 12), 6)] = 1
    gt[disk((20, 30), 6)] = 2
    pred = np.zeros_like(gt)
    pred[disk((20, 12), 6)] = 1
    pred[disk((5, 5), 3)] = 2
    fig, ax = plt.subplots()
    error_overlay(ax, gt.astype(float), gt, pred, [1], [2], [2], title="t")
    draw_outlines(ax, gt)
    assert len(ax.lines) >= 4 and ax.get_legend() is not None
    assert label_colors(gt).shape == (40, 40, 3)
    plt.close(fig)
