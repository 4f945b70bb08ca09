"""Pixel features, stroke labels, random-forest and k-means pixel classification."""

import numpy as np
import pytest
from skimage.draw import disk

from bioimaging_guide.features import (
    class_scores,
    kmeans_pixels,
    name_clusters,
    pixel_features,
    predict_pixels,
    strokes_to_labels,
    train_pixel_classifier,
)


def blobs_image(seed=0):
    """Bright discs (class 2) on a dark, noisy background (class 1)."""
    img = np.zeros((64, 80), np.float32)
    truth = np.ones(img.shape, int)
    for c in ((16, 16), (40, 50), (20, 62), (48, 18)):
        rr, cc = disk(c, 7, shape=img.shape)
        img[rr, cc] = 1.0
        truth[rr, cc] = 2
    rng = np.random.default_rng(seed)
    return img + 0.3 * rng.standard_normal(img.shape).astype(np.float32), truth


def test_feature_stack_shape_and_names():
    img, _ = blobs_image()
    feats, names = pixel_features(img, sigmas=(1, 2))
    assert feats.shape == (64, 80, 2 * 5) and len(names) == 10 and feats.dtype == np.float32
    assert names[0] == "ch0: intensity σ=1"
    two = np.stack([img, img[::-1]])
    feats2, names2 = pixel_features(two, sigmas=(1,), kinds=("intensity",), channel_axis=0, channel_names=["a", "b"])
    assert feats2.shape == (64, 80, 2) and names2 == ["a: intensity σ=1", "b: intensity σ=1"]
    with pytest.raises(ValueError):
        pixel_features(img, kinds=("colour",))
    with pytest.raises(ValueError):
        pixel_features(two)


def test_strokes_to_labels():
    lab = strokes_to_labels((20, 20), [(1, [(2, 2), (2, 10)]), (2, [(15, 15)])], width=1)
    assert lab.dtype == np.int32
    assert (lab == 1).sum() == 9 and (lab == 2).sum() == 1 and lab[15, 15] == 2
    wide = strokes_to_labels((20, 20), [(1, [(10, 2), (10, 17)])], width=3)
    assert (wide == 1).sum() == 3 * 16 + 2  # a 3-pixel-wide line with rounded ends
    with pytest.raises(ValueError):
        strokes_to_labels((5, 5), [(0, [(1, 1)])])


def test_random_forest_learns_from_strokes():
    img, truth = blobs_image()
    feats, _ = pixel_features(img, sigmas=(1, 2, 4))
    strokes = [(1, [(2, 2), (2, 70)]), (1, [(62, 40), (62, 78)]), (2, [(16, 12), (16, 20)]), (2, [(40, 46), (40, 54)])]
    labels = strokes_to_labels(img.shape, strokes, width=1)
    clf = train_pixel_classifier(feats, labels, n_estimators=20, n_jobs=1)
    pred, proba = predict_pixels(clf, feats, return_proba=True)
    assert pred.shape == img.shape and proba.shape == (*img.shape, 2)
    assert (pred == truth).mean() > 0.95
    with pytest.raises(ValueError):
        train_pixel_classifier(feats, np.where(labels == 2, 0, labels))


def test_kmeans_finds_the_two_populations_and_naming():
    img, truth = blobs_image()
    feats, _ = pixel_features(img, sigmas=(1, 2), kinds=("intensity",))
    clusters = kmeans_pixels(feats, k=2, n_fit=2000)
    mapping = name_clusters(clusters, truth)
    named = np.vectorize(mapping.get)(clusters)
    assert sorted(mapping.values()) == [1, 2]
    assert (named == truth).mean() > 0.95
    again = kmeans_pixels(feats, k=2, n_fit=2000)
    assert np.array_equal(clusters, again)  # seeded


def test_class_scores():
    ref = np.array([[1, 1, 2, 2]])
    pred = np.array([[1, 2, 2, 2]])
    table = class_scores(pred, ref, {1: "bg", 2: "fg"})
    assert table.loc["bg", "IoU"] == pytest.approx(0.5)
    assert table.loc["fg", "precision"] == pytest.approx(2 / 3)
    assert table.loc["fg", "recall"] == pytest.approx(1.0)
    assert table.attrs["pixel agreement"] == pytest.approx(0.75)
