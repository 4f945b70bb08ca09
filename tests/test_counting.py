"""The corrected nuclei counter and the helpers used to check counting code (chapter 3)."""

import numpy as np
import pytest

from bioimaging_guide.counting import count_agreement, count_nuclei, label_nuclei, synthetic_nuclei

# ----------------------------------------------------------------------------- synthetic_nuclei


def test_synthetic_nuclei_has_the_requested_number_of_disks():
    image, labels = synthetic_nuclei(12, radius=6)
    assert image.shape == labels.shape == (128, 128)
    assert image.dtype == np.float32 and labels.dtype == np.int32
    assert labels.max() == 12 and len(np.unique(labels)) == 13
    sizes = np.bincount(labels.ravel())[1:]
    assert np.all(np.abs(sizes - np.pi * 36) < 0.15 * np.pi * 36), sizes
    assert 0.0 <= image.min() and image.max() <= 1.0
    # disks are brighter than the background
    assert image[labels > 0].mean() > image[labels == 0].mean() + 0.4


def test_synthetic_nuclei_uint8_is_the_float_image_stored_in_8_bits():
    as_float, lab_f = synthetic_nuclei(5, radius=7, gradient=0.2, seed=3)
    as_uint8, lab_u = synthetic_nuclei(5, radius=7, gradient=0.2, seed=3, dtype="uint8")
    assert as_uint8.dtype == np.uint8
    np.testing.assert_array_equal(lab_f, lab_u)
    np.testing.assert_allclose(as_uint8 / 255, as_float, atol=0.5 / 255 + 1e-6)


def test_synthetic_nuclei_is_seeded_and_has_a_gradient():
    a, _ = synthetic_nuclei(3, seed=1)
    b, _ = synthetic_nuclei(3, seed=1)
    c, _ = synthetic_nuclei(3, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    flat, _ = synthetic_nuclei(0, noise=0.0, gradient=0.3)
    assert flat[:, -1].mean() - flat[:, 0].mean() == pytest.approx(0.3, abs=1e-6)
    blank, labels = synthetic_nuclei(0, noise=0.0)
    assert labels.max() == 0 and np.ptp(blank) == 0


def test_synthetic_nuclei_touching_disks_overlap():
    _, labels = synthetic_nuclei(2, radius=8, gap=-3)
    from skimage import measure

    assert labels.max() == 2 and measure.label(labels > 0).max() == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n=-1), "n must be"),
        (dict(n=3, radius=0), "radius"),
        (dict(n=3, dtype="uint16"), "dtype"),
        (dict(n=1000, radius=6), "do not fit"),
    ],
)
def test_synthetic_nuclei_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        synthetic_nuclei(**kwargs)


# ----------------------------------------------------------------------------- count_nuclei


def test_blank_image_has_no_nuclei():
    assert count_nuclei(synthetic_nuclei(0, noise=0.0)[0]) == 0
    assert count_nuclei(np.zeros((64, 64), np.uint8)) == 0


@pytest.mark.parametrize("radius, shape, gap", [(4, (128, 128), 8), (6, (128, 128), 8), (12, (160, 160), 10)])
def test_counts_small_and_large_nuclei(radius, shape, gap):
    image, truth = synthetic_nuclei(12, radius=radius, shape=shape, gap=gap)
    assert count_nuclei(image) == truth.max() == 12


def test_same_count_for_8bit_16bit_and_float_images_with_uneven_background():
    as_uint8, truth = synthetic_nuclei(12, radius=6, gradient=0.3, dtype="uint8")
    counts = {
        "uint8": count_nuclei(as_uint8),
        "uint16": count_nuclei(as_uint8.astype(np.uint16) * 257),
        "float": count_nuclei(as_uint8.astype(np.float64) / 255),
    }
    assert set(counts.values()) == {12}, counts


def test_input_image_is_not_modified():
    image, _ = synthetic_nuclei(4, dtype="uint8")
    before = image.copy()
    count_nuclei(image)
    np.testing.assert_array_equal(image, before)


def test_labels_are_sequential_and_min_area_removes_small_objects():
    image, _ = synthetic_nuclei(12, radius=6)
    labels = label_nuclei(image)
    assert labels.dtype == np.int32
    assert set(np.unique(labels)) == set(range(13))
    # every disk covers ~113 pixels: a minimum area of 200 removes them all
    assert count_nuclei(image, min_area=200) == 0


def test_touching_nuclei_are_merged_unless_split():
    image, truth = synthetic_nuclei(6, radius=8, gap=-3)
    assert count_nuclei(image) == 1
    assert count_nuclei(image, split_touching=True) == truth.max() == 6


def test_background_subtraction_can_be_switched_off():
    image, _ = synthetic_nuclei(12, radius=6)
    assert count_nuclei(image, background_sigma=None) == 12


@pytest.mark.parametrize(
    "kwargs, message", [(dict(min_area=0), "min_area"), (dict(background_sigma=0), "background_sigma")]
)
def test_bad_parameters_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        count_nuclei(synthetic_nuclei(2)[0], **kwargs)


def test_3d_input_is_refused():
    with pytest.raises(ValueError, match="2D"):
        count_nuclei(np.zeros((3, 8, 8, 8)))


# ----------------------------------------------------------------------------- count_agreement


def test_count_agreement_numbers():
    a = count_agreement([10, 9, 30, 1], [10, 10, 20, 4])
    assert a.n_images == 4 and a.total_true == 44 and a.total_predicted == 50
    # relative errors: 0, 0.1, 0.5, 0.75 -> median 0.3
    assert a.median_abs_relative_error == pytest.approx(0.3)
    assert a.within_20_percent == 2 and a.exact == 1
    expected = np.corrcoef(np.log1p([10, 9, 30, 1]), np.log1p([10, 10, 20, 4]))[0, 1]
    assert a.log_correlation == pytest.approx(expected)
    assert a.as_dict()["exact"] == 1


def test_count_agreement_perfect_and_constant():
    assert count_agreement([3, 5, 8], [3, 5, 8]).log_correlation == pytest.approx(1.0)
    assert np.isnan(count_agreement([2, 2, 2], [3, 5, 8]).log_correlation)


@pytest.mark.parametrize("pred, true", [([1, 2], [1]), ([], []), ([1, 2], [0, 2]), ([-1, 2], [1, 2])])
def test_count_agreement_refuses_bad_input(pred, true):
    with pytest.raises(ValueError):
        count_agreement(pred, true)
