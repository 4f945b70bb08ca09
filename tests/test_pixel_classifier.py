"""The scribble-trained pixel classifier (ilastik-style) for nuclei."""

import numpy as np
from skimage.draw import disk

from bioimaging_guide import evaluation as ev
from bioimaging_guide import pixel_classifier as pc


def synthetic(seed=0, n=12, shape=(128, 128)):
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, np.int32)
    k = 0
    while k < n:
        c = rng.integers(12, np.array(shape) - 12)
        rr, cc = disk(tuple(c), rng.integers(5, 9), shape=shape)
        if labels[rr, cc].any():
            continue
        k += 1
        labels[rr, cc] = k
    image = (labels > 0) * 0.8 + 0.1 + 0.05 * rng.standard_normal(shape)
    return image.astype(np.float32), labels


def test_scribbles_are_sparse_and_correct():
    image, labels = synthetic()
    s = pc.simulated_scribbles(labels, seed=1)
    assert 0 < s.n_pixels < 0.15 * labels.size and s.n_strokes >= 10
    assert set(np.unique(s.labels)) <= {0, pc.BACKGROUND, pc.NUCLEUS, pc.CONTACT}
    assert np.all(labels[s.labels == pc.NUCLEUS] > 0)  # nucleus strokes lie inside nuclei
    assert np.all(labels[s.labels == pc.BACKGROUND] == 0)  # background strokes never touch a nucleus


def test_contact_strokes_mark_touching_nuclei():
    labels = np.zeros((40, 60), np.int32)
    labels[10:30, 10:30] = 1
    labels[10:30, 30:50] = 2
    s = pc.simulated_scribbles(labels, n_nuclei=0, n_background=0, n_contacts=1, seed=0)
    cols = np.unique(np.nonzero(s.labels == pc.CONTACT)[1])
    assert set(cols) == {29, 30}


def test_classifier_learns_from_scribbles_on_one_image_and_generalises():
    image, labels = synthetic(0)
    clf = pc.train([image], [pc.simulated_scribbles(labels, seed=0)], n_estimators=30)
    test_image, test_labels = synthetic(1)
    probs = pc.probabilities(clf, test_image)
    assert set(probs) == {"background", "nucleus interior", "contact between nuclei"}
    pred = pc.segment(clf, test_image)
    assert pred.dtype == np.int32
    assert ev.match(test_labels, pred).f1 > 0.9
