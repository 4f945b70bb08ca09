"""Pixel features and pixel classification: machine learning before deep learning.

A *pixel classifier* (as in ilastik, Labkit or Trainable Weka Segmentation)
decides for every pixel which class it belongs to: nucleus, cytoplasm,
background, ... It does not look at raw intensities alone but at a
**feature stack**: the same image filtered in several ways and at several
scales, so that each pixel is described by a few dozen numbers such as
"brightness after light smoothing", "brightness after strong smoothing",
"strength of edges nearby" and "is this a blob or a ridge".

Two ways to turn those numbers into classes are provided:

* **supervised**: :func:`train_pixel_classifier` fits a random forest
  (Breiman 2001) on the few pixels you labelled with brush strokes
  (:func:`strokes_to_labels`) and :func:`predict_pixels` applies it to every
  pixel;
* **unsupervised**: :func:`kmeans_pixels` groups pixels into ``k`` clusters of
  similar features (Lloyd 1982) without any labels; what each cluster
  *means* is for you to decide afterwards (:func:`name_clusters` does it with
  a reference, to evaluate the best case).

:func:`class_scores` compares a class map with a reference class map.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage as ndi
from skimage.draw import line
from skimage.feature import hessian_matrix, hessian_matrix_eigvals
from skimage.morphology import dilation, disk

__all__ = [
    "DEFAULT_SIGMAS",
    "class_scores",
    "kmeans_pixels",
    "name_clusters",
    "pixel_features",
    "predict_pixels",
    "strokes_to_labels",
    "train_pixel_classifier",
]

#: Smoothing scales (Gaussian sigma, in pixels) of the default feature stack.
DEFAULT_SIGMAS: tuple[float, ...] = (0.7, 1.6, 3.5, 5.0, 10.0)

_FEATURE_KINDS = ("intensity", "edges", "blobs", "texture")


def _channels(image: np.ndarray, channel_axis: int | None) -> list[np.ndarray]:
    image = np.asarray(image, dtype=np.float32)
    if channel_axis is None:
        if image.ndim != 2:
            raise ValueError(f"expected a 2D image (or pass channel_axis), got shape {image.shape}")
        return [image]
    if image.ndim != 3:
        raise ValueError(f"expected a 3D array with a channel axis, got shape {image.shape}")
    return [np.take(image, i, axis=channel_axis) for i in range(image.shape[channel_axis])]


def pixel_features(
    image: np.ndarray,
    sigmas: Sequence[float] = DEFAULT_SIGMAS,
    kinds: Sequence[str] = _FEATURE_KINDS,
    channel_axis: int | None = None,
    channel_names: Sequence[str] | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Multi-scale feature stack of a 2D image (one or several channels).

    For every channel and every scale ``sigma`` the stack contains:

    * ``intensity``: Gaussian-smoothed intensity (how bright, around here);
    * ``edges``: Gaussian gradient magnitude (how strongly brightness changes);
    * ``blobs``: Laplacian of Gaussian, scale-normalised (negative in the
      middle of a bright spot of about this size);
    * ``texture``: the two eigenvalues of the Hessian matrix (ridges, valleys
      and spots of about this size).

    Each channel should already be scaled to a comparable range (e.g. with
    :func:`bioimaging_guide.common.normalize_percentile`).

    Parameters
    ----------
    image
        (H, W) image, or a multi-channel image with ``channel_axis`` set.
    sigmas
        Smoothing scales in pixels.
    kinds
        Which feature kinds to compute (any of the four above).
    channel_axis
        Axis of the channels in ``image`` (None for a single-channel image).
    channel_names
        Names used in the feature names (default ``ch0``, ``ch1``, ...).

    Returns
    -------
    features : numpy.ndarray of float32, shape (H, W, F)
    names : list of str
        One name per feature, e.g. ``"Hoechst: intensity σ=1.6"``.
    """
    unknown = set(kinds) - set(_FEATURE_KINDS)
    if unknown:
        raise ValueError(f"unknown feature kinds {sorted(unknown)}; choose from {_FEATURE_KINDS}")
    channels = _channels(image, channel_axis)
    if channel_names is None:
        channel_names = [f"ch{i}" for i in range(len(channels))]
    if len(channel_names) != len(channels):
        raise ValueError(f"{len(channel_names)} channel names for {len(channels)} channels")
    stack, names = [], []
    for name, ch in zip(channel_names, channels):
        for s in sigmas:
            if "intensity" in kinds:
                stack.append(ndi.gaussian_filter(ch, s))
                names.append(f"{name}: intensity σ={s:g}")
            if "edges" in kinds:
                stack.append(ndi.gaussian_gradient_magnitude(ch, s))
                names.append(f"{name}: edges σ={s:g}")
            if "blobs" in kinds:
                stack.append(s**2 * ndi.gaussian_laplace(ch, s))
                names.append(f"{name}: blobs σ={s:g}")
            if "texture" in kinds:
                h = hessian_matrix(ch, sigma=s, order="rc", use_gaussian_derivatives=True)
                for k, ev in enumerate(hessian_matrix_eigvals(h)):
                    stack.append(s**2 * ev)
                    names.append(f"{name}: texture {k + 1} σ={s:g}")
    return np.stack(stack, axis=-1).astype(np.float32), names


def strokes_to_labels(
    shape: tuple[int, int], strokes: Sequence[tuple[int, Sequence[tuple[int, int]]]], width: int = 3
) -> np.ndarray:
    """Rasterise brush strokes into a sparse label image.

    Parameters
    ----------
    shape
        (H, W) of the image.
    strokes
        Sequence of ``(class_id, points)``: ``class_id`` ≥ 1, ``points`` the
        (row, column) vertices of a polyline, as a user would draw it with a
        brush in a pixel-classification tool.
    width
        Brush width in pixels (odd numbers give symmetric strokes).

    Returns
    -------
    numpy.ndarray of int32
        0 where nothing was drawn, the class id under each stroke (later
        strokes overwrite earlier ones).
    """
    labels = np.zeros(shape, dtype=np.int32)
    footprint = disk(max(width // 2, 0))
    for class_id, points in strokes:
        if class_id < 1:
            raise ValueError("class ids must be 1 or more (0 means 'not labelled')")
        pts = np.asarray(points, dtype=int)
        mask = np.zeros(shape, dtype=bool)
        if len(pts) == 1:
            r, c = pts[0]
            if 0 <= r < shape[0] and 0 <= c < shape[1]:
                mask[r, c] = True
        for (r0, c0), (r1, c1) in zip(pts[:-1], pts[1:]):
            rr, cc = line(int(r0), int(c0), int(r1), int(c1))
            ok = (rr >= 0) & (rr < shape[0]) & (cc >= 0) & (cc < shape[1])
            mask[rr[ok], cc[ok]] = True
        labels[dilation(mask, footprint)] = class_id
    return labels


def train_pixel_classifier(
    features: np.ndarray, labels: np.ndarray, n_estimators: int = 100, random_state: int = 0, **kwargs
):
    """Fit a random forest on the labelled pixels (``labels > 0``) of a feature stack.

    Parameters
    ----------
    features
        (H, W, F) array from :func:`pixel_features`.
    labels
        (H, W) int array: 0 = unlabelled, 1..K = class of the pixel.
    n_estimators, random_state, **kwargs
        Passed to :class:`sklearn.ensemble.RandomForestClassifier`
        (e.g. ``max_depth``); ``n_jobs`` defaults to 2.

    Returns
    -------
    sklearn.ensemble.RandomForestClassifier
    """
    from sklearn.ensemble import RandomForestClassifier

    labels = np.asarray(labels)
    if labels.shape != features.shape[:2]:
        raise ValueError(f"labels {labels.shape} do not match features {features.shape[:2]}")
    picked = labels > 0
    if len(np.unique(labels[picked])) < 2:
        raise ValueError("label at least two classes before training")
    kwargs.setdefault("n_jobs", 2)
    clf = RandomForestClassifier(n_estimators=n_estimators, random_state=random_state, **kwargs)
    clf.fit(features[picked], labels[picked])
    return clf


def predict_pixels(classifier, features: np.ndarray, return_proba: bool = False):
    """Class of every pixel, (H, W); with ``return_proba`` also the (H, W, K) class probabilities."""
    h, w, f = features.shape
    flat = features.reshape(-1, f)
    if return_proba:
        proba = classifier.predict_proba(flat)
        classes = np.asarray(classifier.classes_)[proba.argmax(axis=1)]
        return classes.reshape(h, w), proba.reshape(h, w, -1)
    return classifier.predict(flat).reshape(h, w)


def kmeans_pixels(
    features: np.ndarray, k: int, random_state: int = 0, n_fit: int | None = 20000, standardize: bool = True
) -> np.ndarray:
    """Unsupervised pixel clustering with k-means.

    Parameters
    ----------
    features
        (H, W, F) feature stack.
    k
        Number of clusters (your choice: k-means cannot tell you how many
        kinds of pixels there are).
    random_state
        Seed of the initialisation and of the pixel sample.
    n_fit
        Fit the cluster centres on this many randomly chosen pixels (all
        pixels if None), then assign every pixel to its nearest centre.
    standardize
        Scale every feature to zero mean and unit variance first, so that
        no feature dominates just because of its units.

    Returns
    -------
    numpy.ndarray of int32, shape (H, W)
        Cluster index 0..k-1 per pixel. Indices are arbitrary: cluster 0 is
        not "background" unless you decide so.
    """
    from sklearn.cluster import KMeans

    h, w, f = features.shape
    x = features.reshape(-1, f).astype(np.float64)
    if standardize:
        x = (x - x.mean(axis=0)) / np.maximum(x.std(axis=0), 1e-12)
    rng = np.random.default_rng(random_state)
    fit = x if n_fit is None or n_fit >= len(x) else x[rng.choice(len(x), n_fit, replace=False)]
    km = KMeans(n_clusters=k, n_init=10, random_state=random_state).fit(fit)
    return km.predict(x).reshape(h, w).astype(np.int32)


def name_clusters(clusters: np.ndarray, reference: np.ndarray) -> dict[int, int]:
    """Name each cluster after the reference class it overlaps most.

    This is the *best case* for an unsupervised method: it uses the reference
    to interpret the clusters, which in practice you do by eye. Several
    clusters may receive the same name; a reference class may receive none.

    Returns
    -------
    dict
        ``{cluster index: reference class}``.
    """
    clusters, reference = np.asarray(clusters), np.asarray(reference)
    mapping = {}
    for c in np.unique(clusters):
        values, counts = np.unique(reference[clusters == c], return_counts=True)
        mapping[int(c)] = int(values[np.argmax(counts)])
    return mapping


def class_scores(pred: np.ndarray, reference: np.ndarray, class_names: dict[int, str]):
    """Per-class agreement of a class map with a reference class map.

    Returns
    -------
    pandas.DataFrame
        One row per class with ``IoU`` (intersection over union of the two
        class regions), ``precision`` (share of pixels called this class that
        the reference agrees with) and ``recall`` (share of the reference
        class that was found), plus the overall ``pixel agreement`` in the
        frame's ``attrs``.
    """
    import pandas as pd

    pred, reference = np.asarray(pred), np.asarray(reference)
    if pred.shape != reference.shape:
        raise ValueError(f"shapes differ: {pred.shape} vs {reference.shape}")
    rows = []
    for cid, name in class_names.items():
        p, r = pred == cid, reference == cid
        inter, union = np.logical_and(p, r).sum(), np.logical_or(p, r).sum()
        rows.append(
            {
                "class": name,
                "IoU": inter / union if union else 1.0,
                "precision": inter / p.sum() if p.sum() else 0.0,
                "recall": inter / r.sum() if r.sum() else 0.0,
            }
        )
    table = pd.DataFrame(rows).set_index("class")
    table.attrs["pixel agreement"] = float((pred == reference).mean())
    return table
