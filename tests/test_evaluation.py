"""Tests of bioimaging_guide.evaluation.

Hand-computed tiny cases, input validation, and cross-checks against
stardist.matching and cellpose.metrics on real DSB 2018 masks.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from bioimaging_guide import evaluation as ev

# ---------------------------------------------------------------------------
# Tiny hand-computed cases
# ---------------------------------------------------------------------------


def squares(shape=(20, 20), boxes=()):
    """Label image with label i+1 filling boxes[i] = (r0, r1, c0, c1)."""
    labels = np.zeros(shape, dtype=np.int32)
    for i, (r0, r1, c0, c1) in enumerate(boxes, start=1):
        labels[r0:r1, c0:c1] = i
    return labels


def test_perfect_prediction():
    gt = squares(boxes=[(1, 5, 1, 5), (8, 12, 8, 14), (15, 19, 2, 6)])
    pred = gt.copy()
    r = ev.match(gt, pred)
    assert (r.tp, r.fp, r.fn, r.n_true, r.n_pred) == (3, 0, 0, 3, 3)
    for key in ("precision", "recall", "f1", "accuracy", "panoptic_quality", "mean_matched_iou", "mean_true_score"):
        assert getattr(r, key) == 1.0, key
    assert ev.average_precision(gt, pred) == 1.0
    assert {(g, p) for g, p, _ in r.matched_pairs} == {(1, 1), (2, 2), (3, 3)}
    assert r.unmatched_gt == () and r.unmatched_pred == ()


def test_ids_need_not_match_or_be_consecutive():
    gt = squares(boxes=[(1, 5, 1, 5), (8, 12, 8, 14)])
    pred = np.where(gt == 1, 70, np.where(gt == 2, 3, 0)).astype(np.uint16)
    r = ev.match(gt, pred)
    assert r.tp == 2 and r.f1 == 1.0
    assert sorted((g, p) for g, p, _ in r.matched_pairs) == [(1, 70), (2, 3)]
    iou = ev.iou_matrix(gt, pred)  # columns in increasing pred id: 3, 70
    np.testing.assert_array_equal(iou, [[0.0, 1.0], [1.0, 0.0]])


def test_empty_prediction():
    gt = squares(boxes=[(1, 5, 1, 5), (8, 12, 8, 14)])
    r = ev.match(gt, np.zeros_like(gt))
    assert (r.tp, r.fp, r.fn) == (0, 0, 2)
    assert r.precision == r.recall == r.f1 == r.accuracy == r.panoptic_quality == 0.0
    assert r.unmatched_gt == (1, 2)


def test_empty_ground_truth():
    pred = squares(boxes=[(1, 5, 1, 5)])
    r = ev.match(np.zeros_like(pred), pred)
    assert (r.tp, r.fp, r.fn) == (0, 1, 0)
    assert r.f1 == 0.0 and r.unmatched_pred == (1,)


def test_both_empty_scores_zero_like_stardist():
    empty = np.zeros((8, 8), np.int32)
    r = ev.match(empty, empty)
    assert (r.tp, r.fp, r.fn, r.f1, r.accuracy) == (0, 0, 0, 0.0, 0.0)


def test_shifted_object_has_known_iou():
    gt = squares(boxes=[(5, 15, 5, 15)])  # 10 x 10
    pred = np.roll(gt, 2, axis=1)  # overlap 10 x 8 = 80, union 120
    r = ev.match(gt, pred, thresh=0.5)
    assert r.tp == 1
    assert r.mean_matched_iou == pytest.approx(2 / 3, abs=1e-15)
    assert r.panoptic_quality == pytest.approx(2 / 3, abs=1e-15)
    assert ev.iou_matrix(gt, pred)[0, 0] == pytest.approx(80 / 120, abs=1e-15)
    assert ev.match(gt, pred, thresh=0.7).tp == 0
    # DSB score: matched at 0.50, 0.55, 0.60, 0.65 -> 4 of 10 thresholds
    assert ev.average_precision(gt, pred) == pytest.approx(0.4)


def test_one_merge():
    gt = squares(boxes=[(4, 8, 2, 6), (4, 8, 6, 10)])  # two touching 4x4 squares
    pred = squares(boxes=[(4, 8, 2, 10)])  # one 4x8 object covering both
    np.testing.assert_allclose(ev.iou_matrix(gt, pred), [[0.5], [0.5]])
    r = ev.match(gt, pred, thresh=0.5)  # IoU >= 0.5: one of them can be matched
    assert (r.tp, r.fp, r.fn) == (1, 0, 1)
    r = ev.match(gt, pred, thresh=0.55)
    assert (r.tp, r.fp, r.fn) == (0, 1, 2)
    eb = ev.error_breakdown(gt, pred)
    assert (eb.merges, eb.merged_gt, eb.splits, eb.missed, eb.spurious) == (1, 2, 0, 0, 0)
    assert eb.merge_ids == (1,)


def test_one_split():
    gt = squares(boxes=[(4, 8, 2, 10)])
    pred = squares(boxes=[(4, 8, 2, 6), (4, 8, 6, 10)])
    r = ev.match(gt, pred, thresh=0.55)
    assert (r.tp, r.fp, r.fn) == (0, 2, 1)
    eb = ev.error_breakdown(gt, pred)
    assert (eb.merges, eb.splits, eb.split_pred, eb.missed, eb.spurious) == (0, 1, 2, 0, 0)
    assert eb.split_ids == (1,)


def test_error_breakdown_missed_and_spurious():
    gt = squares(boxes=[(1, 5, 1, 5), (10, 14, 10, 14)])
    pred = squares(boxes=[(1, 5, 1, 5), (16, 19, 1, 4)])
    eb = ev.error_breakdown(gt, pred)
    assert (eb.missed, eb.spurious, eb.merges, eb.splits) == (1, 1, 0, 0)
    assert eb.missed_ids == (2,) and eb.spurious_ids == (2,)


def test_iou_equal_to_threshold_counts_as_match():
    gt = squares(boxes=[(0, 10, 0, 10)])  # 100 pixels
    exactly = squares(boxes=[(0, 7, 0, 10)])  # IoU = 70/100
    below = exactly.copy()
    below[6, 9] = 0  # IoU = 69/100
    assert 0.7 in ev.DSB_THRESHOLDS
    noisy_07 = np.arange(0.5, 1.0, 0.05)[4]  # 0.7000000000000002
    for thresh in (0.7, noisy_07):
        assert ev.match(gt, exactly, thresh=thresh).tp == 1
        assert ev.match(gt, below, thresh=thresh).tp == 0


def test_match_over_thresholds_and_table():
    gt = squares(boxes=[(5, 15, 5, 15)])
    pred = np.roll(gt, 2, axis=1)
    results = ev.match_over_thresholds(gt, pred)
    assert [r.thresh for r in results] == list(ev.DSB_THRESHOLDS)
    table = ev.results_table(results)
    assert list(table["tp"]) == [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    assert "matched_pairs" not in table.columns


def test_match_dataset_pools_counts():
    gt1 = squares(boxes=[(1, 5, 1, 5), (8, 12, 8, 14)])
    gt2 = squares(boxes=[(1, 5, 1, 5)])
    pred1 = gt1.copy()
    pred2 = np.zeros_like(gt2)
    d = ev.match_dataset([gt1, gt2], [pred1, pred2])
    assert (d.tp, d.fp, d.fn) == (2, 0, 1)
    assert d.f1 == pytest.approx(4 / 5)
    assert len(d.per_image) == 2
    d_img = ev.match_dataset([gt1, gt2], [pred1, pred2], by_image=True)
    assert d_img.f1 == pytest.approx((1.0 + 0.0) / 2)
    several = ev.match_dataset([gt1, gt2], [pred1, pred2], thresh=[0.5, 0.9])
    assert [x.thresh for x in several] == [0.5, 0.9]
    with pytest.raises(ValueError, match="one prediction per ground-truth"):
        ev.match_dataset([gt1], [pred1, pred2])


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def test_boolean_mask_is_rejected_with_hint():
    gt = squares(boxes=[(1, 5, 1, 5)])
    with pytest.raises(ValueError, match=r"boolean mask.*skimage\.measure\.label"):
        ev.match(gt, gt > 0)


def test_float_labels_are_rejected_with_hint():
    gt = squares(boxes=[(1, 5, 1, 5)])
    with pytest.raises(ValueError, match=r"integer dtype.*astype\(np\.int32\)"):
        ev.match(gt.astype(float), gt)


def test_negative_labels_are_rejected():
    gt = squares(boxes=[(1, 5, 1, 5)])
    with pytest.raises(ValueError, match="negative"):
        ev.iou_matrix(gt, -gt)


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match=r"shape \(4, 4\).*shape \(4, 5\)"):
        ev.match(np.zeros((4, 4), int), np.zeros((4, 5), int))


def test_error_breakdown_rejects_bad_fraction():
    with pytest.raises(ValueError, match="min_fraction"):
        ev.error_breakdown(np.zeros((3, 3), int), np.zeros((3, 3), int), min_fraction=0)


# ---------------------------------------------------------------------------
# Object statistics, pixel accuracy, bootstrap
# ---------------------------------------------------------------------------


def test_object_stats_of_a_square():
    labels = squares(boxes=[(2, 7, 2, 7), (0, 3, 15, 20)])
    table = ev.object_stats(labels)
    assert list(table["label"]) == [1, 2]
    first = table.iloc[0]
    assert first["area"] == 25
    assert first["boundary_pixels"] == 16  # the 5x5 ring
    assert first["equivalent_diameter"] == pytest.approx(np.sqrt(4 * 25 / np.pi))
    assert first["eccentricity"] == pytest.approx(0.0, abs=1e-12)
    assert (first["centroid_row"], first["centroid_col"]) == (4.0, 4.0)
    assert list(table["touches_border"]) == [False, True]


def test_pixel_accuracy_ignores_merges():
    gt = squares(boxes=[(4, 8, 2, 6), (4, 8, 6, 10)])
    merged = (gt > 0).astype(np.int32)
    assert ev.pixel_accuracy(gt, merged) == 1.0
    assert ev.match(gt, merged, thresh=0.55).f1 == 0.0
    assert ev.pixel_accuracy(gt, np.zeros_like(gt)) == pytest.approx(1 - 32 / 400)


def test_bootstrap_ci_is_reproducible_and_brackets_estimate():
    rng = np.random.default_rng(1)
    counts = np.column_stack([rng.integers(5, 50, 40), rng.integers(0, 10, 40), rng.integers(0, 10, 40)])
    ci = ev.bootstrap_ci(counts, n_boot=500, seed=3)
    tp, fp, fn = counts.sum(axis=0)
    assert ci.estimate == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert ci.low < ci.estimate < ci.high
    assert ci == ev.bootstrap_ci(counts, n_boot=500, seed=3)
    same = ev.bootstrap_ci(np.tile([10, 2, 3], (20, 1)), n_boot=200)
    assert same.low == pytest.approx(same.high)
    mean_ci = ev.bootstrap_ci(np.linspace(0, 1, 30), n_boot=500)
    assert mean_ci.statistic == "mean" and mean_ci.low < 0.5 < mean_ci.high
    with pytest.raises(ValueError, match="statistic"):
        ev.bootstrap_ci(counts, statistic="auc")


# ---------------------------------------------------------------------------
# Cross-checks with StarDist and Cellpose on real DSB 2018 masks
# ---------------------------------------------------------------------------

THRESHOLDS = [0.1, 0.3, *ev.DSB_THRESHOLDS]
# Counts and count ratios agree exactly. StarDist keeps IoUs in float32, so
# IoU-based scores (mean matched IoU, panoptic quality) agree to float32
# precision.
SCORE_TOL = 1e-6
SCORE_FIELDS = {
    "mean_matched_iou": "mean_matched_score",
    "mean_true_score": "mean_true_score",
    "panoptic_quality": "panoptic_quality",
}
COUNT_FIELDS = ("tp", "fp", "fn", "n_true", "n_pred")
RATIO_FIELDS = ("precision", "recall", "f1", "accuracy")


@pytest.fixture(scope="module")
def stardist_matching():
    return pytest.importorskip("stardist.matching")


@pytest.fixture(scope="module")
def dsb(real_data):
    from bioimaging_guide.data import load_dsb2018

    return load_dsb2018("fluorescence")


def classical_segmentation(image: np.ndarray) -> np.ndarray:
    """Otsu threshold + distance-transform watershed: a realistic, imperfect prediction."""
    from skimage.feature import peak_local_max
    from skimage.filters import gaussian, threshold_otsu
    from skimage.measure import label
    from skimage.segmentation import watershed

    smooth = gaussian(image, 1)
    foreground = smooth > threshold_otsu(smooth)
    distance = ndi.distance_transform_edt(foreground)
    peaks = peak_local_max(distance, min_distance=5, labels=label(foreground), exclude_border=False)
    markers = np.zeros(image.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return watershed(-distance, markers, mask=foreground).astype(np.int32)


def perturbed(gt: np.ndarray, seed: int) -> np.ndarray:
    """GT with typical errors: dropped, eroded, dilated, merged, shifted and spurious objects."""
    from skimage.segmentation import expand_labels

    rng = np.random.default_rng(seed)
    labels = gt.copy()
    ids = np.unique(labels)[1:]
    labels[np.isin(labels, rng.choice(ids, size=len(ids) // 10, replace=False))] = 0  # drop 10 %
    eroded = np.where(ndi.grey_erosion(labels, size=3) == labels, labels, 0)
    dilated = expand_labels(labels, distance=2)
    kind = rng.integers(0, 3, size=labels.max() + 1)  # per object: keep, erode, dilate
    labels = np.where(kind[dilated] == 2, dilated, np.where(kind[labels] == 1, eroded, labels))
    ids = np.unique(labels)[1:]
    for a, b in zip(ids[: len(ids) // 8], ids[1 : len(ids) // 8 + 1]):  # merge some neighbours in id order
        labels[labels == b] = a
    labels = np.roll(labels, shift=int(rng.integers(-1, 2)), axis=1)
    for _ in range(3):  # spurious blobs
        r, c = rng.integers(5, np.array(labels.shape) - 5)
        labels[r - 2 : r + 3, c - 2 : c + 3] = labels.max() + 1
    permutation = np.concatenate([[0], rng.permutation(np.arange(1, labels.max() + 1)) * 7 + 100])
    return permutation[labels].astype(np.int32)  # non-consecutive, shuffled ids


@pytest.fixture(scope="module")
def predictions(dsb):
    gts = [s.labels for s in dsb]
    preds = {
        "otsu_watershed": [classical_segmentation(s.image) for s in dsb],
        "perturbed_gt": [perturbed(s.labels, seed) for seed, s in enumerate(dsb)],
    }
    return gts, preds


def _assert_same(mine, theirs):
    for key in COUNT_FIELDS:
        assert getattr(mine, key) == getattr(theirs, key), key
    for key in RATIO_FIELDS:
        assert getattr(mine, key) == pytest.approx(getattr(theirs, key), abs=1e-12), key
    for key, their_key in SCORE_FIELDS.items():
        assert getattr(mine, key) == pytest.approx(float(getattr(theirs, their_key)), abs=SCORE_TOL), key


@pytest.mark.parametrize("method", ["otsu_watershed", "perturbed_gt"])
def test_per_image_matching_agrees_with_stardist(stardist_matching, predictions, method):
    gts, preds = predictions
    for gt, pred in zip(gts, preds[method]):
        mine = ev.match_over_thresholds(gt, pred, THRESHOLDS)
        theirs = stardist_matching.matching(gt, pred, thresh=THRESHOLDS)
        for m, t in zip(mine, theirs):
            _assert_same(m, t)


def test_threshold_ties_agree_with_stardist(stardist_matching):
    gt = squares(boxes=[(0, 20, 0, 10)])
    for rows in range(1, 21):  # IoU = rows / 20: every DSB threshold is hit exactly
        pred = squares(boxes=[(0, rows, 0, 10)])
        for thresh in (*ev.DSB_THRESHOLDS, *np.arange(0.5, 1.0, 0.05)):
            assert ev.match(gt, pred, thresh).tp == stardist_matching.matching(gt, pred, thresh).tp


def test_matched_pairs_agree_with_stardist(stardist_matching, predictions):
    gts, preds = predictions
    for gt, pred in zip(gts[:10], preds["perturbed_gt"][:10]):
        mine = ev.match(gt, pred, 0.5)
        theirs = stardist_matching.matching(gt, pred, thresh=0.5, report_matches=True)
        their_pairs = {theirs.matched_pairs[i] for i in theirs.matched_tps}
        assert {(g, p) for g, p, _ in mine.matched_pairs} == their_pairs


@pytest.mark.parametrize("by_image", [False, True])
@pytest.mark.parametrize("method", ["otsu_watershed", "perturbed_gt"])
def test_dataset_matching_agrees_with_stardist(stardist_matching, predictions, method, by_image):
    gts, preds = predictions
    mine = ev.match_dataset(gts, preds[method], thresh=THRESHOLDS, by_image=by_image)
    theirs = stardist_matching.matching_dataset(
        gts, preds[method], thresh=THRESHOLDS, by_image=by_image, show_progress=False
    )
    for m, t in zip(mine, theirs):
        assert m.by_image == t.by_image == by_image
        _assert_same(m, t)


def test_average_precision_agrees_with_cellpose(predictions):
    metrics = pytest.importorskip("cellpose.metrics")
    from skimage.segmentation import relabel_sequential

    gts, preds = predictions
    # cellpose counts objects as labels.max(): give it consecutive ids
    gts = [relabel_sequential(g)[0] for g in gts]
    preds = [relabel_sequential(p)[0] for p in preds["perturbed_gt"]]
    thresholds = [0.5, 0.75, 0.9]
    ap, tp, fp, fn = metrics.average_precision(gts, preds, threshold=thresholds)
    for i, (gt, pred) in enumerate(zip(gts, preds)):
        mine = ev.match_over_thresholds(gt, pred, thresholds)
        assert [r.tp for r in mine] == tp[i].tolist()
        assert [r.fp for r in mine] == fp[i].tolist()
        assert [r.fn for r in mine] == fn[i].tolist()
        np.testing.assert_allclose([r.accuracy for r in mine], ap[i], atol=1e-6)  # cellpose: float32


def test_real_prediction_error_profile(predictions):
    """Sanity of the error analysis and the pixel-accuracy demo on real masks."""
    gts, preds = predictions
    merges = sum(ev.error_breakdown(g, p).merges for g, p in zip(gts, preds["perturbed_gt"]))
    assert merges > 0
    d = ev.match_dataset(gts, preds["otsu_watershed"])
    assert 0.3 < d.f1 < 0.9
    ci = ev.bootstrap_ci(d, n_boot=300)
    assert ci.low < d.f1 < ci.high
    # predicting "no nuclei" scores high pixel accuracy on real images but F1 = 0
    accuracies = [ev.pixel_accuracy(g, np.zeros_like(g)) for g in gts]
    assert np.median(accuracies) > 0.8


def test_paired_bootstrap_cancels_what_the_images_share():
    rng = np.random.default_rng(4)
    # images of very different difficulty; method b finds 5 more of every 100 nuclei on every image
    n = rng.integers(20, 300, 12)
    hit_a = np.round(n * rng.uniform(0.4, 0.95, 12)).astype(int)
    hit_b = np.minimum(n, hit_a + np.round(0.05 * n).astype(int))
    a = np.stack([hit_a, np.full(12, 3), n - hit_a], axis=1)
    b = np.stack([hit_b, np.full(12, 3), n - hit_b], axis=1)
    paired = ev.paired_bootstrap(a, b, n_boot=2000, seed=1)
    ci_a, ci_b = ev.bootstrap_ci(a, n_boot=2000, seed=1), ev.bootstrap_ci(b, n_boot=2000, seed=1)
    assert paired.a == pytest.approx(ci_a.estimate) and paired.b == pytest.approx(ci_b.estimate)
    assert paired.difference == pytest.approx(ci_b.estimate - ci_a.estimate)
    # the separate intervals overlap, yet the paired interval excludes 0
    assert ci_a.high > ci_b.low
    assert 0 < paired.low < paired.difference < paired.high
    assert paired.high - paired.low < 0.5 * (ci_a.high - ci_a.low)
    assert paired.fraction_b_better == 1.0
    # per-image values: the mean difference; identical methods give a zero-width interval at 0
    same = ev.paired_bootstrap(np.linspace(0, 1, 10), np.linspace(0, 1, 10), n_boot=200)
    assert same.difference == same.low == same.high == 0.0 and same.fraction_b_better == 0.0
    with pytest.raises(ValueError, match="same images"):
        ev.paired_bootstrap(a, b[:5])


# ---------------------------------------------------------------------------
# shift_boundaries: a second annotator one pixel outside or inside
# ---------------------------------------------------------------------------


def _disc(shape, centre, radius):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def test_shift_boundaries_grows_and_shrinks_by_about_one_perimeter():
    from bioimaging_guide.evaluation import object_stats, shift_boundaries

    labels = _disc((80, 80), (40, 40), 15).astype(np.int32)
    area = labels.sum()
    perimeter = object_stats(labels)["perimeter"].iloc[0]
    grown, shrunk = shift_boundaries(labels, 1), shift_boundaries(labels, -1)
    # one ring of pixels is about one perimeter long (a 4-connected inner ring of a digital disc is a little shorter)
    assert abs((grown > 0).sum() - area - perimeter) < 0.2 * perimeter
    assert abs(area - (shrunk > 0).sum() - perimeter) < 0.2 * perimeter
    # the shifted outlines nest: shrunk inside original inside grown
    assert np.all(labels[shrunk > 0] == 1) and np.all(grown[labels > 0] == 1)
    assert np.array_equal(shift_boundaries(labels, 0), labels)
    assert shift_boundaries(labels, 0) is not labels


def test_shift_boundaries_keeps_ids_and_never_merges_neighbours():
    from bioimaging_guide.evaluation import shift_boundaries

    labels = np.zeros((40, 60), np.int32)
    labels[10:30, 5:30] = 3  # two rectangles that touch along a column
    labels[10:30, 30:55] = 7
    grown = shift_boundaries(labels, 2)
    assert set(np.unique(grown)) == {0, 3, 7}
    assert np.all(grown[labels == 3] == 3) and np.all(grown[labels == 7] == 7)  # nobody takes a neighbour's pixels
    shrunk = shift_boundaries(labels, -1)
    assert set(np.unique(shrunk)) == {0, 3, 7}
    # shrinking opens a gap between the two objects: each loses its ring, including the shared edge
    assert np.all(shrunk[:, 29:31] == 0)
    assert (shrunk == 3).sum() == 18 * 23 and (shrunk == 7).sum() == 18 * 23


def test_shift_boundaries_drops_objects_thinner_than_the_shrinking():
    from bioimaging_guide.evaluation import shift_boundaries

    labels = np.zeros((20, 20), np.int32)
    labels[5, 5:15] = 1  # a one-pixel-wide line
    labels[10:16, 10:16] = 2
    assert set(np.unique(shift_boundaries(labels, -1))) == {0, 2}


@pytest.mark.parametrize("bad", [0.5, "1", True, None])
def test_shift_boundaries_refuses_a_non_integer_shift(bad):
    from bioimaging_guide.evaluation import shift_boundaries

    with pytest.raises(ValueError, match="whole number of pixels"):
        shift_boundaries(np.ones((5, 5), np.int32), bad)


def test_shift_boundaries_refuses_masks_and_3d():
    from bioimaging_guide.evaluation import shift_boundaries

    with pytest.raises(ValueError, match="boolean mask"):
        shift_boundaries(np.ones((5, 5), bool), 1)
    with pytest.raises(ValueError, match="2D label image"):
        shift_boundaries(np.ones((2, 5, 5), np.int32), 1)
