"""Counting nuclei, and checking a counting function before you trust it.

This module belongs to chapter 3, which shows how to check analysis code that
a chatbot suggests. The notebook there starts from a short nuclei-counting
function with four typical mistakes (written by the book's authors as an
illustration); this module holds the corrected version and the small tools
used to check any counting function:

:func:`label_nuclei`, :func:`count_nuclei`
    The corrected counter: work in floating point, subtract a smooth
    background, threshold with Otsu's method, label the connected objects,
    drop debris, and count the labels (not the label values plus background).
    Optionally split touching nuclei with the book's watershed baseline
    (:func:`bioimaging_guide.segmentation.watershed_nuclei`).
:func:`synthetic_nuclei`
    Test images with a known number of disk-shaped "nuclei", as floating-point
    or 8-bit images, with an optional brightness gradient and noise.
:func:`count_agreement`
    How well predicted counts agree with true counts over many images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
from scipy import ndimage as ndi

from .segmentation import _as_2d_float, watershed_nuclei

__all__ = ["CountAgreement", "count_agreement", "count_nuclei", "label_nuclei", "synthetic_nuclei"]


def label_nuclei(
    image: np.ndarray,
    min_area: int = 15,
    background_sigma: float | None = 30.0,
    smoothing_sigma: float = 1.0,
    split_touching: bool = False,
    min_distance: int = 4,
) -> np.ndarray:
    """Label bright nuclei on a dark background.

    Parameters
    ----------
    image
        2D fluorescence image of any numeric type (8-bit, 16-bit or float).
        It is converted to floating point first, so that subtracting the
        background can never wrap around as unsigned integers do.
    min_area
        Objects smaller than this many pixels are removed as debris. The
        default (15 pixels) is deliberately small: it should lie below the
        smallest real nucleus in your images, so set it from your pixel size
        and the size of the smallest nucleus you expect.
    background_sigma
        Width, in pixels, of the Gaussian filter that estimates a smooth,
        uneven background, which is then subtracted. It should be several
        times the nucleus diameter. ``None`` skips background subtraction.
    smoothing_sigma
        Width of the light Gaussian smoothing before Otsu's threshold.
    split_touching
        If True, touching nuclei are split by a distance-transform watershed;
        if False (the default), touching nuclei stay one object, as in a
        plain threshold-and-label pipeline.
    min_distance
        Minimum distance, in pixels, between two watershed seeds (used only
        when ``split_touching`` is True).

    Returns
    -------
    numpy.ndarray
        int32 label image: 0 = background, 1..N = nuclei, numbered without
        gaps, so ``labels.max()`` is the number of nuclei.
    """
    values = _as_2d_float(image).astype(np.float64)
    if min_area < 1:
        raise ValueError(f"min_area must be at least 1 pixel, got {min_area}")
    if background_sigma is not None:
        if background_sigma <= 0:
            raise ValueError(f"background_sigma must be positive or None, got {background_sigma}")
        values = values - ndi.gaussian_filter(values, sigma=background_sigma)
    return watershed_nuclei(
        values, sigma=smoothing_sigma, min_distance=min_distance, min_size=min_area, split=split_touching
    )


def count_nuclei(image: np.ndarray, **kwargs) -> int:
    """Number of nuclei found by :func:`label_nuclei` (same keyword arguments)."""
    return int(label_nuclei(image, **kwargs).max())


def synthetic_nuclei(
    n: int,
    radius: float = 6.0,
    shape: tuple[int, int] = (128, 128),
    gap: float = 8.0,
    foreground: float = 0.7,
    background: float = 0.1,
    gradient: float = 0.0,
    noise: float = 0.02,
    dtype: Literal["float32", "uint8"] = "float32",
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A test image with exactly ``n`` disk-shaped nuclei at known places.

    The disks sit on a regular grid, row by row from the top left, with
    centres ``2 * radius + gap`` pixels apart: a positive ``gap`` leaves
    empty space between neighbours, ``gap <= 0`` makes them touch or overlap.

    Parameters
    ----------
    n
        Number of nuclei (0 gives an image of background only).
    radius
        Disk radius in pixels.
    shape
        Image height and width.
    gap
        Empty space between neighbouring disks, in pixels.
    foreground, background
        Intensities of the disks and of the background, on a 0–1 scale.
    gradient
        Extra background brightness added linearly from the left edge (0) to
        the right edge (``gradient``): an uneven illumination.
    noise
        Standard deviation of added Gaussian noise (seeded by ``seed``).
    dtype
        ``"float32"`` (values on the 0–1 scale) or ``"uint8"`` (the same
        values times 255, rounded and clipped, as an 8-bit file stores them).
    seed
        Seed of the noise generator.

    Returns
    -------
    image, labels
        The image, and an int32 label image with the true nuclei 1..n
        (where disks overlap, the later disk wins).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if radius <= 0:
        raise ValueError(f"radius must be positive, got {radius}")
    if dtype not in ("float32", "uint8"):
        raise ValueError(f"dtype must be 'float32' or 'uint8', got {dtype!r}")
    height, width = shape
    spacing = 2 * radius + gap
    if spacing <= 0:
        raise ValueError("2 * radius + gap must be positive")
    margin = radius + 2
    n_cols = int((width - 2 * margin) // spacing) + 1
    n_rows = int((height - 2 * margin) // spacing) + 1
    if n > n_cols * n_rows or (n > 0 and min(n_cols, n_rows) < 1):
        raise ValueError(f"{n} disks of radius {radius} with gap {gap} do not fit in an image of shape {shape}")

    yy, xx = np.mgrid[0:height, 0:width]
    labels = np.zeros(shape, dtype=np.int32)
    for k in range(n):
        row, col = divmod(k, n_cols)
        cy, cx = margin + row * spacing, margin + col * spacing
        labels[(yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2] = k + 1

    image = np.full(shape, background, dtype=np.float64)
    image += gradient * xx / max(width - 1, 1)
    image[labels > 0] += foreground - background
    image += noise * np.random.default_rng(seed).standard_normal(shape)
    image = np.clip(image, 0.0, 1.0)
    if dtype == "uint8":
        return np.round(image * 255).astype(np.uint8), labels
    return image.astype(np.float32), labels


@dataclass(frozen=True)
class CountAgreement:
    """Agreement between predicted and true object counts over many images.

    Attributes
    ----------
    n_images
        Number of images compared.
    total_true, total_predicted
        Sums of the true and predicted counts over all images.
    median_abs_relative_error
        Median over images of ``|predicted - true| / true``.
    within_20_percent
        Number of images whose predicted count is within ±20 % of the truth.
    exact
        Number of images whose predicted count equals the truth.
    log_correlation
        Pearson correlation between ``log(1 + predicted)`` and
        ``log(1 + true)`` (``nan`` if either is constant).
    """

    n_images: int
    total_true: int
    total_predicted: int
    median_abs_relative_error: float
    within_20_percent: int
    exact: int
    log_correlation: float

    def as_dict(self) -> dict:
        return asdict(self)


def count_agreement(predicted: Sequence[int], true: Sequence[int]) -> CountAgreement:
    """Summarise how well ``predicted`` counts agree with ``true`` counts.

    Both sequences hold one count per image, in the same order; every true
    count must be positive (a relative error needs a non-zero truth).
    """
    pred = np.asarray(predicted, dtype=float)
    truth = np.asarray(true, dtype=float)
    if pred.shape != truth.shape or pred.ndim != 1 or pred.size == 0:
        raise ValueError("predicted and true must be non-empty 1D sequences of the same length")
    if np.any(truth <= 0):
        raise ValueError("every true count must be positive")
    if np.any(pred < 0):
        raise ValueError("counts cannot be negative")
    rel = np.abs(pred - truth) / truth
    lp, lt = np.log1p(pred), np.log1p(truth)
    if np.ptp(lp) == 0 or np.ptp(lt) == 0:
        corr = float("nan")
    else:
        corr = float(np.corrcoef(lp, lt)[0, 1])
    return CountAgreement(
        n_images=int(pred.size),
        total_true=int(truth.sum()),
        total_predicted=int(pred.sum()),
        median_abs_relative_error=float(np.median(rel)),
        within_20_percent=int(np.sum(rel <= 0.2 + 1e-12)),
        exact=int(np.sum(pred == truth)),
        log_correlation=corr,
    )
