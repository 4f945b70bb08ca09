"""Metrics for instance segmentation (nuclei, cells, ...).

An *instance label image* has one integer per pixel: 0 for background and
a different positive id for every object. All metrics here compare a
ground-truth label image ``gt`` with a predicted one ``pred`` of the same
shape.

The central idea is **matching**: a predicted object is a true positive
(TP) if it can be paired one-to-one with a ground-truth object whose
intersection over union (IoU) with it is at least a threshold ``thresh``.
Unpaired predictions are false positives (FP), unpaired ground-truth
objects false negatives (FN). From these counts follow precision, recall,
F1 and the Data Science Bowl "average precision" ``TP / (TP + FP + FN)``.

The matching follows ``stardist.matching`` exactly (same pairing rule and
the same conventions for empty images), so numbers agree with StarDist's
(the tests check this on real data), and with ``cellpose.metrics``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = [
    "DSB_THRESHOLDS",
    "BootstrapCI",
    "DatasetMatch",
    "ErrorBreakdown",
    "MatchResult",
    "PairedBootstrap",
    "average_precision",
    "bootstrap_ci",
    "check_label_image",
    "error_breakdown",
    "iou_matrix",
    "match",
    "match_dataset",
    "match_over_thresholds",
    "paired_bootstrap",
    "object_stats",
    "pixel_accuracy",
    "results_table",
    "shift_boundaries",
]

#: IoU thresholds of the Data Science Bowl 2018 metric: 0.50, 0.55, ..., 0.95
#: (rounded, so they print as 0.7 rather than 0.7000000000000002).
DSB_THRESHOLDS: np.ndarray = np.round(np.arange(0.5, 1.0, 0.05), 2)


# ---------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------


def check_label_image(labels, name: str = "labels") -> np.ndarray:
    """Check that ``labels`` is an instance label image and return it as an array.

    Raises
    ------
    ValueError
        With a hint on how to fix the input, if it is a boolean mask, has a
        floating-point dtype, has negative values or is not an array.
    """
    labels = np.asarray(labels)
    if labels.ndim == 0:
        raise ValueError(f"{name} must be an image (an array with at least 1 dimension), got a scalar.")
    if labels.dtype == bool:
        raise ValueError(
            f"{name} is a boolean mask. Instance metrics need a label image in which "
            f"every object has its own integer id: label the mask's connected components "
            f"with skimage.measure.label({name})."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{name} has dtype {labels.dtype}, but a label image needs an integer dtype. "
            f"If its values are whole numbers, use {name}.astype(np.int32); if it is a "
            "probability map, threshold it and relabel with skimage.measure.label."
        )
    if labels.size and labels.min() < 0:
        raise ValueError(
            f"{name} contains negative values (minimum {labels.min()}); labels must be "
            "0 for background and positive for objects. Relabel with skimage.measure.label."
        )
    return labels


def _check_pair(gt, pred) -> tuple[np.ndarray, np.ndarray]:
    gt = check_label_image(gt, "gt")
    pred = check_label_image(pred, "pred")
    if gt.shape != pred.shape:
        raise ValueError(
            f"gt has shape {gt.shape} but pred has shape {pred.shape}; both must cover "
            "the same pixels. Crop or resize the prediction first (resize label images "
            "with nearest-neighbour interpolation, order=0, so ids are not mixed)."
        )
    return gt, pred


# ---------------------------------------------------------------------------
# Overlaps and IoU
# ---------------------------------------------------------------------------


def _sequential(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Relabel to 1..n (0 stays background). Returns (flat relabelled, original ids)."""
    ids, inverse = np.unique(labels.ravel(), return_inverse=True)
    inverse = inverse.ravel()
    if ids.size and ids[0] == 0:
        return inverse, ids[1:]
    return inverse + 1, ids


@dataclass(frozen=True)
class _Overlaps:
    gt_ids: np.ndarray  # original ids of the GT objects, row order of `iou`
    pred_ids: np.ndarray  # original ids of the predicted objects, column order
    intersection: np.ndarray  # (n_gt, n_pred) pixel counts
    gt_area: np.ndarray  # (n_gt,)
    pred_area: np.ndarray  # (n_pred,)
    iou: np.ndarray  # (n_gt, n_pred) float64


def _overlaps(gt: np.ndarray, pred: np.ndarray) -> _Overlaps:
    """Pixel overlaps of every GT object with every predicted object.

    Only foreground pixels are counted and each (gt, pred) id pair is
    encoded as one integer, so one ``np.bincount`` does the work.
    """
    g, gt_ids = _sequential(gt)
    p, pred_ids = _sequential(pred)
    n_gt, n_pred = len(gt_ids), len(pred_ids)
    foreground = (g > 0) | (p > 0)
    pair_code = g[foreground].astype(np.int64) * (n_pred + 1) + p[foreground]
    counts = np.bincount(pair_code, minlength=(n_gt + 1) * (n_pred + 1)).reshape(n_gt + 1, n_pred + 1)
    gt_area = counts[1:, :].sum(axis=1)
    pred_area = counts[:, 1:].sum(axis=0)
    intersection = counts[1:, 1:]
    union = gt_area[:, None] + pred_area[None, :] - intersection
    iou = np.divide(intersection, union, out=np.zeros(intersection.shape), where=union > 0)
    return _Overlaps(gt_ids, pred_ids, intersection, gt_area, pred_area, iou)


def iou_matrix(gt, pred) -> np.ndarray:
    """Intersection over union of every ground-truth with every predicted object.

    Parameters
    ----------
    gt, pred : numpy.ndarray of int
        Label images of the same shape (0 = background).

    Returns
    -------
    numpy.ndarray of float64, shape (n_gt, n_pred)
        ``iou[i, j]`` is the IoU of the ``i``-th GT object and the ``j``-th
        predicted object, objects taken in increasing order of their ids
        (``np.unique(gt)`` without 0). Most entries are 0: objects far
        apart do not overlap.
    """
    gt, pred = _check_pair(gt, pred)
    return _overlaps(gt, pred).iou


# ---------------------------------------------------------------------------
# Matching one image
# ---------------------------------------------------------------------------


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, or 0 if the denominator is 0 (StarDist's convention)."""
    return float(numerator) / denominator if denominator > 0 else 0.0


@dataclass(frozen=True)
class _Scores:
    """The counts and scores of every matching result, per image or pooled (see :class:`MatchResult`)."""

    thresh: float
    tp: int
    fp: int
    fn: int
    n_true: int
    n_pred: int
    precision: float
    recall: float
    f1: float
    accuracy: float
    panoptic_quality: float
    mean_matched_iou: float
    mean_true_score: float


@dataclass(frozen=True)
class MatchResult(_Scores):
    """Matching of one predicted label image against its ground truth.

    Attributes
    ----------
    thresh : float
        IoU threshold used.
    tp, fp, fn : int
        True positives (matched pairs), false positives (unmatched
        predictions), false negatives (unmatched ground-truth objects).
    n_true, n_pred : int
        Number of ground-truth and predicted objects.
    precision, recall, f1 : float
        ``TP/(TP+FP)``, ``TP/(TP+FN)``, ``2TP/(2TP+FP+FN)``.
    accuracy : float
        ``TP/(TP+FP+FN)``, called "average precision" in the Data Science
        Bowl and in Cellpose.
    panoptic_quality : float
        Sum of matched IoUs divided by ``TP + FP/2 + FN/2`` (Kirillov et
        al. 2019): F1 weighted by how well matched objects overlap.
    mean_matched_iou : float
        Mean IoU of the matched pairs (StarDist: ``mean_matched_score``).
    mean_true_score : float
        Sum of matched IoUs divided by the number of GT objects.
    matched_pairs : tuple of (gt_id, pred_id, iou)
        The TP pairs, with the original ids.
    unmatched_gt, unmatched_pred : tuple of int
        Ids of the FN and FP objects.

    All ratios are 0 when their denominator is 0 (e.g. for an image with
    no objects at all), as in StarDist.
    """

    matched_pairs: tuple[tuple[int, int, float], ...] = field(repr=False)
    unmatched_gt: tuple[int, ...] = field(repr=False)
    unmatched_pred: tuple[int, ...] = field(repr=False)

    @property
    def sum_matched_iou(self) -> float:
        """Sum of the IoUs of the matched pairs."""
        return float(sum(pair[2] for pair in self.matched_pairs))

    def as_dict(self, details: bool = False) -> dict:
        """The result as a plain dict (without the id lists unless ``details``)."""
        values = asdict(self)
        if not details:
            for key in ("matched_pairs", "unmatched_gt", "unmatched_pred"):
                values.pop(key)
        return values


def _scores(tp: int, fp: int, fn: int, n_true: int, sum_iou: float) -> dict:
    """Every score of :class:`MatchResult` from the counts and the summed IoU of the matched pairs."""
    return {
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "accuracy": _ratio(tp, tp + fp + fn),
        "panoptic_quality": _ratio(sum_iou, tp + fp / 2 + fn / 2),
        "mean_matched_iou": _ratio(sum_iou, tp),
        "mean_true_score": _ratio(sum_iou, n_true),
    }


#: Names of the scores of :func:`_scores`, in order.
_SCORE_NAMES = tuple(_scores(0, 0, 0, 0, 0.0))


def _match_from_iou(ov: _Overlaps, thresh: float) -> MatchResult:
    """One-to-one matching at ``thresh``, exactly like ``stardist.matching``.

    The Hungarian algorithm (``linear_sum_assignment``) pairs objects so
    that the number of pairs with IoU >= thresh is as large as possible;
    among equally large pairings it prefers the one with the larger total
    IoU. For thresh >= 0.5 this is simply "pair every object with the
    object it overlaps by more than half": two objects of one image cannot
    both overlap a third one with IoU > 0.5.

    Like StarDist, the test IoU >= thresh is made in single precision
    (float32). Besides giving identical pairings, this makes thresholds
    with rounding noise behave as intended: ``np.arange(0.5, 1, 0.05)[4]``
    is 0.7000000000000002, yet an IoU of exactly 7/10 still matches.
    The reported IoUs and scores are computed in double precision.
    """
    thresh = float(thresh)
    iou = ov.iou
    iou32 = iou.astype(np.float32)
    n_true, n_pred = iou.shape
    n_matched = min(n_true, n_pred)
    pairs: list[tuple[int, int, float]] = []
    if n_matched > 0:
        ok = iou32 >= np.float32(thresh)
        costs = -ok.astype(float) - iou32 / (2 * n_matched)
        rows, cols = linear_sum_assignment(costs)
        for r, c in zip(rows, cols):
            if ok[r, c]:
                pairs.append((int(ov.gt_ids[r]), int(ov.pred_ids[c]), float(iou[r, c])))
    tp = len(pairs)
    fp, fn = n_pred - tp, n_true - tp
    sum_iou = float(sum(p[2] for p in pairs))
    matched_gt = {p[0] for p in pairs}
    matched_pred = {p[1] for p in pairs}
    return MatchResult(
        thresh=thresh,
        tp=tp,
        fp=fp,
        fn=fn,
        n_true=n_true,
        n_pred=n_pred,
        **_scores(tp, fp, fn, n_true, sum_iou),
        matched_pairs=tuple(pairs),
        unmatched_gt=tuple(int(i) for i in ov.gt_ids if i not in matched_gt),
        unmatched_pred=tuple(int(i) for i in ov.pred_ids if i not in matched_pred),
    )


def match(gt, pred, thresh: float = 0.5) -> MatchResult:
    """Match predicted objects to ground-truth objects at an IoU threshold.

    Parameters
    ----------
    gt, pred : numpy.ndarray of int
        Label images of the same shape (0 = background). Ids need not be
        consecutive.
    thresh : float
        Minimum IoU for a pair to count as a true positive (default 0.5).

    Returns
    -------
    MatchResult
        Counts (TP, FP, FN), precision, recall, F1, accuracy (the DSB
        "AP"), panoptic quality, mean matched IoU, and the matched pairs.

    Examples
    --------
    >>> gt = np.zeros((10, 10), int); gt[2:6, 2:6] = 1
    >>> pred = np.roll(gt, 1, axis=1)         # shifted by one pixel
    >>> round(match(gt, pred).mean_matched_iou, 3)   # 12 / 20
    0.6
    """
    gt, pred = _check_pair(gt, pred)
    return _match_from_iou(_overlaps(gt, pred), thresh)


def match_over_thresholds(gt, pred, thresholds: Sequence[float] = DSB_THRESHOLDS) -> list[MatchResult]:
    """:func:`match` at several IoU thresholds (the IoUs are computed once).

    Parameters
    ----------
    gt, pred : numpy.ndarray of int
        Label images of the same shape.
    thresholds : sequence of float
        Default: :data:`DSB_THRESHOLDS`, 0.50 to 0.95 in steps of 0.05.

    Returns
    -------
    list of MatchResult
        One per threshold; :func:`results_table` turns it into a table.
    """
    gt, pred = _check_pair(gt, pred)
    ov = _overlaps(gt, pred)
    return [_match_from_iou(ov, t) for t in np.atleast_1d(thresholds)]


def average_precision(gt, pred, thresholds: Sequence[float] = DSB_THRESHOLDS) -> float:
    """The Data Science Bowl 2018 score of one image.

    The mean over IoU thresholds 0.50, 0.55, ..., 0.95 of
    ``TP / (TP + FP + FN)`` (the ``accuracy`` of :func:`match`). Despite
    its name it is not the area under a precision-recall curve.
    """
    return float(np.mean([r.accuracy for r in match_over_thresholds(gt, pred, thresholds)]))


def results_table(results: Sequence[MatchResult] | Sequence[DatasetMatch]):
    """Turn a list of match results into a pandas DataFrame (one row each)."""
    import pandas as pd

    rows = []
    for r in results:
        row = {f.name: getattr(r, f.name) for f in fields(r)}
        for key in ("matched_pairs", "unmatched_gt", "unmatched_pred", "per_image"):
            row.pop(key, None)
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# Matching a data set
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetMatch(_Scores):
    """Matching results over several images at one IoU threshold.

    With ``by_image=False`` (the default and the usual choice) TP, FP and
    FN are summed over all images and every score is computed from these
    pooled counts, so large images with many objects weigh more. With
    ``by_image=True`` the counts are still summed but the scores are the
    means of the per-image scores, each image weighing the same.
    ``per_image`` holds every image's :class:`MatchResult`.
    """

    by_image: bool
    per_image: tuple[MatchResult, ...] = field(repr=False)

    def as_dict(self) -> dict:
        """The pooled result as a plain dict (without ``per_image``)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.pop("per_image")
        return values


def _pool(per_image: Sequence[MatchResult], thresh: float, by_image: bool) -> DatasetMatch:
    tp = sum(r.tp for r in per_image)
    fp = sum(r.fp for r in per_image)
    fn = sum(r.fn for r in per_image)
    n_true = sum(r.n_true for r in per_image)
    n_pred = sum(r.n_pred for r in per_image)
    if by_image:

        def mean(key: str) -> float:
            return float(np.mean([getattr(r, key) for r in per_image])) if per_image else 0.0

        scores = {k: mean(k) for k in _SCORE_NAMES}
    else:
        sum_iou = sum(r.sum_matched_iou for r in per_image)
        scores = _scores(tp, fp, fn, n_true, sum_iou)
    return DatasetMatch(
        thresh=float(thresh),
        tp=tp,
        fp=fp,
        fn=fn,
        n_true=n_true,
        n_pred=n_pred,
        by_image=bool(by_image),
        per_image=tuple(per_image),
        **scores,
    )


def match_dataset(
    gts: Sequence, preds: Sequence, thresh: float | Sequence[float] = 0.5, by_image: bool = False
) -> DatasetMatch | list[DatasetMatch]:
    """Match a whole data set and pool the results, like ``stardist.matching.matching_dataset``.

    Parameters
    ----------
    gts, preds : sequences of numpy.ndarray of int
        Ground-truth and predicted label images, pairwise of equal shape.
    thresh : float or sequence of float
        IoU threshold(s).
    by_image : bool
        False (default): scores from TP/FP/FN pooled over all images.
        True: scores averaged over images. See :class:`DatasetMatch`.

    Returns
    -------
    DatasetMatch, or a list of them if ``thresh`` is a sequence.
    """
    if len(gts) != len(preds):
        raise ValueError(
            f"Got {len(gts)} ground-truth images but {len(preds)} predictions; "
            "pass one prediction per ground-truth image, in the same order."
        )
    thresholds = np.atleast_1d(np.asarray(thresh, dtype=float))
    per_image = [match_over_thresholds(g, p, thresholds) for g, p in zip(gts, preds)]
    pooled = [_pool([results[k] for results in per_image], t, by_image) for k, t in enumerate(thresholds)]
    return pooled[0] if np.ndim(thresh) == 0 else pooled


# ---------------------------------------------------------------------------
# Confidence intervals
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BootstrapCI:
    """A bootstrap confidence interval: ``estimate`` in [``low``, ``high``]."""

    estimate: float
    low: float
    high: float
    confidence: float
    n_boot: int
    statistic: str


_POOLED = {
    "f1": lambda tp, fp, fn: 2 * tp / (2 * tp + fp + fn),
    "precision": lambda tp, fp, fn: tp / (tp + fp),
    "recall": lambda tp, fp, fn: tp / (tp + fn),
    "accuracy": lambda tp, fp, fn: tp / (tp + fp + fn),
}


def _per_image_data(values, statistic: str):
    """Per-image data of a bootstrap and the function of its resampled sums or means.

    Returns ``(data, name, stat)``: ``data`` has one row per image; ``stat``
    maps an array of resampled images, shape (n_boot, n_images, ...), to the
    statistic of each resample, shape (n_boot,).
    """
    if isinstance(values, DatasetMatch):
        values = values.per_image
    if len(values) and isinstance(values[0], MatchResult):
        values = [(r.tp, r.fp, r.fn) for r in values]
    data = np.asarray(values, dtype=float)
    if data.shape[0] == 0:
        raise ValueError("a bootstrap needs at least one image.")
    if data.ndim == 1:
        return data, "mean", lambda sample: sample.mean(axis=-1)
    if data.ndim == 2 and data.shape[1] == 3:
        if statistic not in _POOLED:
            raise ValueError(f"statistic must be one of {sorted(_POOLED)}, got {statistic!r}.")
        formula = _POOLED[statistic]

        def pooled(sample):
            sums = sample.sum(axis=-2)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.nan_to_num(formula(sums[..., 0], sums[..., 1], sums[..., 2]), nan=0.0)

        return data, statistic, pooled
    raise ValueError(
        "values must be per-image TP/FP/FN counts (shape (n, 3)) or "
        f"one value per image (shape (n,)), got shape {data.shape}."
    )


def _interval(boot: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = (1 - confidence) / 2
    low, high = np.quantile(boot, [alpha, 1 - alpha])
    return float(low), float(high)


def bootstrap_ci(
    values, n_boot: int = 2000, seed: int = 0, confidence: float = 0.95, statistic: str = "f1"
) -> BootstrapCI:
    """Percentile bootstrap confidence interval over images.

    Images are drawn with replacement ``n_boot`` times; each time the
    statistic is recomputed on the resampled set. The interval holds the
    central ``confidence`` fraction of these values. Resampling whole
    images (not objects) respects that objects of one image are not
    independent.

    Parameters
    ----------
    values : DatasetMatch, sequence of MatchResult, (n, 3) array, or 1-D array
        Per-image TP/FP/FN counts (from :func:`match_dataset` or
        :func:`match`, or an array with columns TP, FP, FN): the statistic
        is then the pooled ``statistic`` ("f1", "precision", "recall" or
        "accuracy"), as in :func:`match_dataset`. A 1-D array of per-image
        values (e.g. per-image average precision): the statistic is their
        mean.
    n_boot : int
        Number of bootstrap resamples.
    seed : int
        Seed of the random generator, for reproducible intervals.
    confidence : float
        E.g. 0.95 for a 95 % interval.

    Returns
    -------
    BootstrapCI
    """
    data, name, stat = _per_image_data(values, statistic)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}.")
    draws = np.random.default_rng(seed).integers(0, data.shape[0], size=(n_boot, data.shape[0]))
    estimate = float(stat(data[None])[0])
    low, high = _interval(stat(data[draws]), confidence)
    return BootstrapCI(estimate, low, high, confidence, n_boot, name)


@dataclass(frozen=True)
class PairedBootstrap:
    """Difference ``b - a`` of two methods scored on the same images, see :func:`paired_bootstrap`.

    ``difference`` in [``low``, ``high``] (percentile interval);
    ``fraction_b_better``: share of resamples in which ``b`` scored higher.
    """

    a: float
    b: float
    difference: float
    low: float
    high: float
    fraction_b_better: float
    confidence: float
    n_boot: int
    statistic: str


def paired_bootstrap(
    a, b, n_boot: int = 2000, seed: int = 0, confidence: float = 0.95, statistic: str = "f1"
) -> PairedBootstrap:
    """Percentile bootstrap of the difference ``b - a`` between two methods on the same test images.

    Each resample draws images with replacement and recomputes *both* scores
    on the same drawn images, so that what the images have in common (an
    easy image is easy for both methods) cancels in the difference. That
    makes the interval of the difference much narrower than the two
    separate intervals suggest. If it excludes 0, the test images tell the
    methods apart.

    Parameters
    ----------
    a, b : as ``values`` of :func:`bootstrap_ci`
        Per-image TP/FP/FN counts or per-image values of two methods, for
        the same images in the same order.
    n_boot, seed, confidence, statistic : as in :func:`bootstrap_ci`
        (the same ``seed`` draws the same resamples).
    """
    data_a, name, stat = _per_image_data(a, statistic)
    data_b, _, _ = _per_image_data(b, statistic)
    if data_a.shape != data_b.shape:
        raise ValueError(
            f"the two methods must be scored on the same images: got {data_a.shape[0]} and "
            f"{data_b.shape[0]} images (shapes {data_a.shape} and {data_b.shape})."
        )
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}.")
    draws = np.random.default_rng(seed).integers(0, data_a.shape[0], size=(n_boot, data_a.shape[0]))
    score_a, score_b = float(stat(data_a[None])[0]), float(stat(data_b[None])[0])
    diff = stat(data_b[draws]) - stat(data_a[draws])
    low, high = _interval(diff, confidence)
    return PairedBootstrap(
        score_a, score_b, score_b - score_a, low, high, float(np.mean(diff > 0)), confidence, n_boot, name
    )


# ---------------------------------------------------------------------------
# Error analysis
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorBreakdown:
    """Kinds of segmentation errors, see :func:`error_breakdown`.

    Attributes
    ----------
    n_true, n_pred : int
        Number of ground-truth and predicted objects.
    merges : int
        Predicted objects that each contain at least two GT objects.
    merged_gt : int
        GT objects that are part of such a merge.
    splits : int
        GT objects that each contain at least two predicted objects.
    split_pred : int
        Predicted objects (fragments) that are part of such a split.
    missed : int
        GT objects associated with no predicted object.
    spurious : int
        Predicted objects associated with no GT object.
    merge_ids, split_ids, missed_ids, spurious_ids : tuple of int
        The ids: predicted ids for merges and spurious objects, GT ids for
        splits and missed objects.
    """

    n_true: int
    n_pred: int
    merges: int
    merged_gt: int
    splits: int
    split_pred: int
    missed: int
    spurious: int
    merge_ids: tuple[int, ...] = field(repr=False)
    split_ids: tuple[int, ...] = field(repr=False)
    missed_ids: tuple[int, ...] = field(repr=False)
    spurious_ids: tuple[int, ...] = field(repr=False)

    def as_dict(self, details: bool = False) -> dict:
        """The counts as a plain dict (with the id lists if ``details``)."""
        values = asdict(self)
        if not details:
            for key in ("merge_ids", "split_ids", "missed_ids", "spurious_ids"):
                values.pop(key)
        return values


def error_breakdown(gt, pred, min_fraction: float = 0.5) -> ErrorBreakdown:
    """Count merges, splits, missed and spurious objects.

    Definitions, with ``f = min_fraction`` (default 0.5) and ``|A ∩ B|``
    the number of pixels two objects share:

    * a GT object G **lies in** a predicted object P if ``|G ∩ P| >= f·|G|``
      (at least half of G is inside P), and P **lies in** G if
      ``|G ∩ P| >= f·|P|``;
    * a **merge** is a predicted object in which at least two GT objects
      lie (one prediction swallowing several nuclei);
    * a **split** is a GT object in which at least two predicted objects
      lie (one nucleus cut into fragments);
    * G and P are **associated** if either lies in the other; a GT object
      associated with no prediction is **missed**, a prediction associated
      with no GT object is **spurious**.

    With ``f >= 0.5`` an object can lie in at most one other object, so
    every merge and split is counted once.

    Parameters
    ----------
    gt, pred : numpy.ndarray of int
        Label images of the same shape.
    min_fraction : float
        ``f`` above, in (0, 1].

    Returns
    -------
    ErrorBreakdown
    """
    if not 0 < min_fraction <= 1:
        raise ValueError(f"min_fraction must be in (0, 1], got {min_fraction}.")
    gt, pred = _check_pair(gt, pred)
    ov = _overlaps(gt, pred)
    inter = ov.intersection
    gt_in_pred = inter >= min_fraction * ov.gt_area[:, None]  # G lies in P
    pred_in_gt = inter >= min_fraction * ov.pred_area[None, :]  # P lies in G
    gt_in_pred &= inter > 0
    pred_in_gt &= inter > 0

    merge_cols = np.flatnonzero(gt_in_pred.sum(axis=0) >= 2)
    split_rows = np.flatnonzero(pred_in_gt.sum(axis=1) >= 2)
    associated = gt_in_pred | pred_in_gt
    missed_rows = np.flatnonzero(~associated.any(axis=1))
    spurious_cols = np.flatnonzero(~associated.any(axis=0))
    return ErrorBreakdown(
        n_true=len(ov.gt_ids),
        n_pred=len(ov.pred_ids),
        merges=len(merge_cols),
        merged_gt=int(gt_in_pred[:, merge_cols].sum()),
        splits=len(split_rows),
        split_pred=int(pred_in_gt[split_rows, :].sum()),
        missed=len(missed_rows),
        spurious=len(spurious_cols),
        merge_ids=tuple(int(i) for i in ov.pred_ids[merge_cols]),
        split_ids=tuple(int(i) for i in ov.gt_ids[split_rows]),
        missed_ids=tuple(int(i) for i in ov.gt_ids[missed_rows]),
        spurious_ids=tuple(int(i) for i in ov.pred_ids[spurious_cols]),
    )


# ---------------------------------------------------------------------------
# Per-object measurements and pixel accuracy
# ---------------------------------------------------------------------------


def object_stats(labels):
    """Size and shape of every object of a 2D label image.

    Returns
    -------
    pandas.DataFrame
        One row per object, sorted by id, with columns ``label``, ``area``
        (pixels), ``perimeter`` (pixels, as estimated by
        ``skimage.measure.regionprops``), ``equivalent_diameter`` (diameter
        of the disc of the same area), ``eccentricity`` (0 for a disc, near
        1 for an elongated object), ``centroid_row``, ``centroid_col``,
        ``boundary_pixels`` (object pixels that touch another label or the
        background, 4-connected) and ``touches_border`` (whether the object
        touches the image edge, so it is probably cut off).
    """
    import pandas as pd
    from skimage.measure import regionprops_table
    from skimage.segmentation import find_boundaries

    labels = check_label_image(labels, "labels")
    if labels.ndim != 2:
        raise ValueError(f"object_stats needs a 2D label image, got shape {labels.shape}.")
    props = regionprops_table(
        labels,
        properties=("label", "area", "perimeter", "equivalent_diameter_area", "eccentricity", "centroid"),
    )
    table = pd.DataFrame(props).rename(
        columns={
            "equivalent_diameter_area": "equivalent_diameter",
            "centroid-0": "centroid_row",
            "centroid-1": "centroid_col",
        }
    )
    table["area"] = table["area"].astype(int)
    boundary = find_boundaries(labels, connectivity=1, mode="inner") & (labels > 0)
    counts = np.bincount(labels[boundary].ravel(), minlength=int(labels.max()) + 1)
    table["boundary_pixels"] = counts[table["label"].to_numpy()]
    edge = np.unique(np.concatenate([labels[0, :], labels[-1, :], labels[:, 0], labels[:, -1]]))
    table["touches_border"] = table["label"].isin(edge[edge > 0])
    return table.sort_values("label").reset_index(drop=True)


def shift_boundaries(labels, pixels: int) -> np.ndarray:
    """Every object of a 2D label image redrawn ``pixels`` wider (> 0) or narrower (< 0).

    A stand-in for a second annotator who draws every outline a little
    outside (or inside) the first one: growing never lets an object take
    pixels of a neighbour (``skimage.segmentation.expand_labels``), and
    shrinking removes the object's outermost ring of pixels ``-pixels`` times
    (4-connected), so objects keep their ids and never merge. An object
    thinner than the shrinking disappears, as it would for an annotator who
    skips it. ``pixels=0`` returns a copy.
    """
    from skimage.segmentation import expand_labels, find_boundaries

    labels = check_label_image(labels, "labels")
    if labels.ndim != 2:
        raise ValueError(f"shift_boundaries needs a 2D label image, got shape {labels.shape}.")
    if isinstance(pixels, bool) or not isinstance(pixels, (int, np.integer)):
        raise ValueError(f"pixels must be a whole number of pixels (e.g. 1 or -1), got {pixels!r}.")
    if pixels > 0:
        return expand_labels(labels, distance=int(pixels)).astype(labels.dtype)
    out = labels.copy()
    for _ in range(-int(pixels)):
        out[find_boundaries(out, connectivity=1, mode="inner") & (out > 0)] = 0
    return out


def pixel_accuracy(gt, pred) -> float:
    """Fraction of pixels whose foreground/background call is correct.

    Both inputs may be label images or boolean masks; any non-zero value
    counts as foreground. This is the metric *not* to use for instance
    segmentation: on a typical nuclei image most pixels are background, so
    predicting "all background" already scores high, and merging or
    splitting nuclei does not change it at all.
    """
    gt, pred = np.asarray(gt), np.asarray(pred)
    if gt.shape != pred.shape:
        raise ValueError(f"gt has shape {gt.shape} but pred has shape {pred.shape}; they must match.")
    if gt.size == 0:
        raise ValueError("pixel_accuracy needs non-empty images.")
    return float(np.mean((gt != 0) == (pred != 0)))
