"""The classical baseline segmentation."""

import numpy as np
import pytest
from skimage.draw import disk

from bioimaging_guide.segmentation import foreground_otsu, remove_small, watershed_nuclei


def two_touching_nuclei(noise=0.05, seed=0):
    img = np.zeros((80, 120), np.float32)
    for c in ((40, 42), (40, 76)):  # radius 18, centres 34 px apart: they overlap
        img[disk(c, 18, shape=img.shape)] = 1.0
    img[disk((10, 110), 2, shape=img.shape)] = 1.0  # a 13-pixel speck
    rng = np.random.default_rng(seed)
    return img + noise * rng.standard_normal(img.shape).astype(np.float32)


def test_watershed_splits_touching_nuclei_and_removes_debris():
    labels = watershed_nuclei(two_touching_nuclei(), min_distance=8, min_size=30)
    assert labels.dtype == np.int32 and labels.max() == 2
    sizes = np.bincount(labels.ravel())[1:]
    assert np.all(np.abs(sizes - np.pi * 18**2) < 0.2 * np.pi * 18**2), sizes


def test_without_watershed_touching_nuclei_stay_merged():
    labels = watershed_nuclei(two_touching_nuclei(), split=False, min_size=30)
    assert labels.max() == 1


def test_rgb_input_and_blank_image():
    rgb = np.repeat(two_touching_nuclei()[..., None], 3, axis=-1)
    assert watershed_nuclei(rgb, min_distance=8, min_size=30).max() == 2
    assert watershed_nuclei(np.zeros((32, 32))).max() == 0
    assert not foreground_otsu(np.ones((8, 8))).any()


def test_remove_small():
    lab = np.zeros((10, 10), int)
    lab[0, 0] = 1
    lab[5:9, 5:9] = 2
    assert set(np.unique(remove_small(lab, 4))) == {0, 2}


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((4, 4, 4, 4)), "2D grayscale"),
        (np.zeros((0, 5)), "empty"),
        (np.array([["a", "b"]]), "numeric"),
    ],
)
def test_bad_input_is_refused_clearly(bad, message):
    with pytest.raises(ValueError, match=message):
        watershed_nuclei(bad)
