"""Test-time augmentation, effect-size simulation and plotting helpers."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from skimage.draw import disk

from bioimaging_guide.plotting import OKABE_ITO, draw_outlines, error_overlay, label_colors
from bioimaging_guide.segmentation import watershed_nuclei
from bioimaging_guide.stats import simulate_replicate_power
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


def test_replicate_power_respects_the_unit_of_replication():
    areas = np.random.default_rng(0).lognormal(0, 0.4, 500)
    # no effect: the replicate-level test keeps its 5 % false-positive rate, pseudoreplication does not
    null = simulate_replicate_power(areas, 1.0, 4, 200, replicate_cv=0.1, n_sim=1000, seed=1)
    assert 0.02 < null.power < 0.08
    assert null.pseudo_power > 0.4
    # without variation between replicates both analyses are valid
    flat = simulate_replicate_power(areas, 1.0, 4, 50, replicate_cv=0.0, n_sim=1000, seed=1)
    assert 0.02 < flat.pseudo_power < 0.08
    # more replicates buy power; more nuclei per replicate barely do once replicates dominate
    few = simulate_replicate_power(areas, 1.2, 3, 100, replicate_cv=0.1, seed=2)
    many = simulate_replicate_power(areas, 1.2, 8, 100, replicate_cv=0.1, seed=2)
    more_nuclei = simulate_replicate_power(areas, 1.2, 3, 1000, replicate_cv=0.1, seed=2)
    assert many.power > few.power + 0.3
    assert more_nuclei.power < few.power + 0.15
    assert abs(many.mean_ratio - 1.2) < 0.03
    # a measurement that shrinks every nucleus alike does not bias the ratio
    biased = simulate_replicate_power(areas, 1.2, 8, 100, replicate_cv=0.1, error_ratios=[0.8], seed=2)
    assert abs(biased.mean_ratio - 1.2) < 0.03 and biased.power == pytest.approx(many.power, abs=0.05)
    with pytest.raises(ValueError, match="at least 2 replicates"):
        simulate_replicate_power(areas, 1.2, 1, 100, replicate_cv=0.1)
    with pytest.raises(ValueError, match="cannot be negative"):
        simulate_replicate_power(areas, 1.2, 3, 100, replicate_cv=-0.1)


def test_diagram_helpers_draw_boxes_and_arrows():
    from bioimaging_guide.plotting import diagram_arrow, diagram_box, diagram_canvas

    fig, ax = diagram_canvas(4, 3)
    assert diagram_box(ax, 10, 10, 30, 20, "a box", OKABE_ITO["yellow"]) == (10, 10, 30, 20)
    diagram_arrow(ax, (40, 20), (60, 20), label="yes")
    assert [t.get_text() for t in ax.texts] == ["a box", "yes"]
    assert len(ax.patches) == 2 and ax.get_xlim() == (0, 100)
    plt.close(fig)


@pytest.mark.parametrize(("color", "halo"), [("white", "black"), ("black", "white"), ("#E69F00", "black")])
def test_scale_bar_label_has_a_contrasting_outline(color, halo):
    """A black bar on a bright image must not get a black outline that turns its label into a blob."""
    from matplotlib.colors import to_rgba
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    from bioimaging_guide.plotting import add_scale_bar

    fig, ax = plt.subplots()
    ax.imshow(np.zeros((50, 50)))
    add_scale_bar(ax, 10, "5 µm", color=color)
    (bar,) = [a for a in ax.artists if isinstance(a, AnchoredSizeBar)]
    (effect,) = bar.txt_label._text.get_path_effects()
    assert effect._gc["foreground"] == halo or to_rgba(effect._gc["foreground"]) == to_rgba(halo)
    assert bar.txt_label._text.get_text() == "5 µm"
    plt.close(fig)
