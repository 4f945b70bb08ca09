"""How noisy is a camera image? Photon transfer, a Poisson–Gaussian model and Anscombe transforms.

A fluorescence image is formed by counting photons. Two kinds of noise dominate:

* **shot (Poisson) noise**: the number of photons that arrive in a pixel
  fluctuates, with a variance equal to its mean. After the camera converts
  photo-electrons to grey levels with a *gain* ``g`` (grey levels per
  electron), the variance of this part grows linearly with the signal:
  ``g * (mean - offset)``;
* **read (Gaussian) noise** of the electronics, with a constant variance
  ``read_noise**2`` (in grey levels), on top of a constant *offset* (the
  grey level of a pixel that received no light).

Together they give the **Poisson–Gaussian** model of a pixel value ``z``::

    var(z) = gain * mean(z) + intercept,   intercept = read_noise**2 - gain * offset

The straight line of variance against mean is the **photon transfer curve**.
This module estimates it from a *single* image (:func:`photon_transfer`,
:func:`fit_poisson_gaussian`), which is what you have when you did not record
a flat-field series, and turns the fitted model into a
**variance-stabilising transform**: the generalised Anscombe transform maps
Poisson–Gaussian data to values whose noise has standard deviation close to 1
whatever the brightness, so that a denoiser built for Gaussian noise of one
known level (such as BM3D) can be used (:class:`NoiseModel`).

Only ``gain`` and ``intercept`` can be read from one image: the offset and the
read noise enter the line only through ``intercept``. To separate them, record a
dark image (no light): its mean is the offset and its standard deviation the
read noise. The Anscombe transform needs only ``gain`` and ``intercept``.

References: Foi et al. (2008) for single-image noise estimation; Mäkitalo &
Foi (2011, 2013) for the exact unbiased inverse of the (generalised) Anscombe
transform used here in its closed-form approximation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

__all__ = [
    "NoiseModel",
    "PhotonTransfer",
    "anscombe",
    "fit_poisson_gaussian",
    "inverse_anscombe",
    "noise_autocorrelation",
    "noise_residual",
    "white_noise_autocorrelation",
    "photon_transfer",
    "simulate_poisson_gaussian",
]

# 3×3 kernel "centre minus the mean of its 8 neighbours". On a locally flat
# (or linear) signal it removes the signal and keeps the noise; for
# independent noise of variance s² the result has variance s² * (1 + 1/8).
_HIGH_PASS = np.full((3, 3), -1.0 / 8.0)
_HIGH_PASS[1, 1] = 1.0
_HIGH_PASS_GAIN = np.sqrt(1.0 + 1.0 / 8.0)
_MAD_TO_STD = 1.4826  # standard deviation of a normal distribution / its median absolute deviation


def simulate_poisson_gaussian(
    photons: np.ndarray,
    gain: float,
    offset: float,
    read_noise: float,
    rng: np.random.Generator | int | None = None,
    bit_depth: int | None = None,
) -> np.ndarray:
    """Simulate a camera image from an expected number of photo-electrons per pixel.

    ``z = gain * Poisson(photons) + offset + Normal(0, read_noise)``; with
    ``bit_depth`` the result is rounded and clipped to ``[0, 2**bit_depth - 1]``
    like a real camera's output. Returns float64.
    """
    rng = np.random.default_rng(rng)
    photons = np.asarray(photons, dtype=float)
    if np.any(photons < 0):
        raise ValueError("expected photon counts must be non-negative")
    z = gain * rng.poisson(photons) + offset + read_noise * rng.standard_normal(photons.shape)
    if bit_depth is not None:
        z = np.clip(np.round(z), 0, 2**bit_depth - 1)
    return z


def noise_residual(image: np.ndarray) -> np.ndarray:
    """Noise-only estimate: each pixel minus the mean of its 8 neighbours, rescaled.

    For independent noise of standard deviation ``s`` on a smooth signal the
    residual has standard deviation ``s``. Edges and fine structure leak into
    it, which is why :func:`photon_transfer` summarises it with a robust
    statistic (the median absolute deviation) rather than the plain variance.
    """
    image = np.asarray(image, dtype=float)
    if image.ndim != 2:
        raise ValueError(f"expected a 2D image, got shape {image.shape}")
    return ndi.convolve(image, _HIGH_PASS, mode="reflect") / _HIGH_PASS_GAIN


@dataclass(frozen=True)
class PhotonTransfer:
    """Mean and noise variance of an image, in bins of local brightness.

    Attributes
    ----------
    mean, variance
        One value per bin: the average local mean and the robust noise
        variance of the pixels in that bin (grey levels and grey levels²).
    count
        Number of pixels per bin.
    """

    mean: np.ndarray
    variance: np.ndarray
    count: np.ndarray


def photon_transfer(
    image: np.ndarray,
    n_bins: int = 40,
    window: int = 7,
    min_count: int = 500,
    clip_range: tuple[float, float] | None = (0, 255),
    mask: np.ndarray | None = None,
) -> PhotonTransfer:
    """Estimate the photon transfer curve (noise variance against mean) from one image.

    Every pixel gets a *local mean* (average over ``window``×``window``
    pixels) and a *noise residual* (:func:`noise_residual`). Pixels are
    grouped into ``n_bins`` bins of equal population by their local mean;
    in each bin the noise variance is ``(1.4826 * MAD)²`` of the residuals,
    a statistic that ignores the minority of pixels on edges.

    Parameters
    ----------
    image
        A single raw image (grey levels, not normalised).
    n_bins, window, min_count
        Number of brightness bins, size of the local-mean window, and the
        fewest pixels a bin must hold to be reported.
    clip_range
        Pixels whose neighbourhood touches these values (e.g. 0 or 255 in an
        8-bit image) are left out: clipping at the ends of the range hides
        noise and would bend the curve. ``None`` keeps every pixel.
    mask
        Optional boolean image: only pixels where it is True are used.
    """
    image = np.asarray(image, dtype=float)
    local_mean = ndi.uniform_filter(image, window, mode="reflect")
    residual = noise_residual(image)
    keep = np.ones(image.shape, bool) if mask is None else np.asarray(mask, bool).copy()
    if clip_range is not None:
        clipped = (image <= clip_range[0]) | (image >= clip_range[1])
        keep &= ~ndi.binary_dilation(clipped, np.ones((window, window), bool))
    keep[:1, :] = keep[-1:, :] = False
    keep[:, :1] = keep[:, -1:] = False
    m, r = local_mean[keep], residual[keep]
    if m.size < min_count:
        raise ValueError("too few usable pixels to estimate the noise")
    edges = np.unique(np.quantile(m, np.linspace(0, 1, n_bins + 1)))
    which = np.clip(np.searchsorted(edges, m, side="right") - 1, 0, len(edges) - 2)
    means, variances, counts = [], [], []
    for b in range(len(edges) - 1):
        sel = which == b
        n = int(sel.sum())
        if n < min_count:
            continue
        rb = r[sel]
        mad = np.median(np.abs(rb - np.median(rb)))
        means.append(float(m[sel].mean()))
        variances.append(float((_MAD_TO_STD * mad) ** 2))
        counts.append(n)
    return PhotonTransfer(np.array(means), np.array(variances), np.array(counts))


@dataclass(frozen=True)
class NoiseModel:
    """The Poisson–Gaussian model ``variance = gain * mean + intercept`` (grey levels).

    ``gain`` is in grey levels per detected photo-electron;
    ``intercept = read_noise**2 - gain * offset``. Everything a
    variance-stabilising transform needs.
    """

    gain: float
    intercept: float

    def variance(self, mean) -> np.ndarray:
        """Predicted noise variance at the given mean grey level(s)."""
        return self.gain * np.asarray(mean, dtype=float) + self.intercept

    def photons(self, mean) -> np.ndarray:
        """Signal in detected photo-electrons: (mean - black level) / gain.

        The black level here is the grey level at which the fitted variance
        would reach zero (``-intercept / gain``); it equals the camera offset
        only if read noise is negligible.
        """
        return (np.asarray(mean, dtype=float) + self.intercept / self.gain) / self.gain

    def anscombe(self, z) -> np.ndarray:
        """Generalised Anscombe transform: noise standard deviation ≈ 1 at every brightness."""
        z = np.asarray(z, dtype=float)
        inside = self.gain * z + 3.0 / 8.0 * self.gain**2 + self.intercept
        return 2.0 / self.gain * np.sqrt(np.maximum(inside, 0.0))

    def inverse_anscombe(self, d) -> np.ndarray:
        """Closed-form approximation of the exact unbiased inverse (Mäkitalo & Foi 2013).

        Apply it to a *denoised* transformed image: it returns the expected
        grey level, correcting the bias the square root introduces at low
        counts (the plain algebraic inverse would make dim regions too dark).
        """
        d = np.maximum(np.asarray(d, dtype=float), 1e-6)
        unit = _exact_unbiased_poisson_inverse(d)  # in photo-electrons, read noise ignored
        return np.maximum(unit, 0.0) * self.gain - self.intercept / self.gain


def _exact_unbiased_poisson_inverse(d: np.ndarray) -> np.ndarray:
    s = np.sqrt(1.5)
    return 0.25 * d**2 + 0.25 * s / d - 11.0 / 8.0 / d**2 + 0.625 * s / d**3 - 0.125


def anscombe(x) -> np.ndarray:
    """The classic Anscombe transform for Poisson counts: ``2 * sqrt(x + 3/8)``."""
    return 2.0 * np.sqrt(np.maximum(np.asarray(x, dtype=float), 0.0) + 3.0 / 8.0)


def inverse_anscombe(d, unbiased: bool = True) -> np.ndarray:
    """Inverse of :func:`anscombe`: exact unbiased closed form (default) or plain algebraic.

    The algebraic inverse ``(d/2)² - 3/8`` is biased for the low counts of
    fluorescence images; the exact unbiased inverse (Mäkitalo & Foi 2011) is not.
    """
    d = np.asarray(d, dtype=float)
    if not unbiased:
        return (d / 2.0) ** 2 - 3.0 / 8.0
    return np.maximum(_exact_unbiased_poisson_inverse(np.maximum(d, 1e-6)), 0.0)


def fit_poisson_gaussian(ptc: PhotonTransfer, weighted: bool = True) -> NoiseModel:
    """Fit ``variance = gain * mean + intercept`` to a photon transfer curve.

    With ``weighted`` each bin is weighted by its pixel count divided by the
    squared predicted variance (the variance of a variance estimate grows
    with its square), from an unweighted first pass.
    """
    x, y = np.asarray(ptc.mean, float), np.asarray(ptc.variance, float)
    if x.size < 2:
        raise ValueError("need at least two bins to fit a line")
    slope, icpt = np.polyfit(x, y, 1)
    if weighted:
        pred = np.maximum(slope * x + icpt, 1e-6)
        w = np.sqrt(np.asarray(ptc.count, float)) / pred
        slope, icpt = np.polyfit(x, y, 1, w=w)
    if slope <= 0:
        raise ValueError(f"the fitted gain is not positive ({slope:.3g}): is the image noisy at all?")
    return NoiseModel(gain=float(slope), intercept=float(icpt))


def _detrend(image: np.ndarray, sigma: float) -> np.ndarray:
    image = np.asarray(image, dtype=float)
    return image - ndi.gaussian_filter(image, sigma, mode="reflect", truncate=3.0)


def noise_autocorrelation(image: np.ndarray, max_lag: int = 2, sigma: float = 2.0) -> np.ndarray:
    """Correlation of the noise with itself shifted by (dy, dx), for |dy|,|dx| ≤ ``max_lag``.

    The noise is estimated as the image minus a Gaussian-smoothed copy
    (``sigma`` pixels). Returns a ``(2*max_lag+1, 2*max_lag+1)`` array with 1
    in the centre (row = vertical shift, column = horizontal shift). For
    pixel-independent noise the other values are close to zero (slightly
    negative: :func:`white_noise_autocorrelation` gives them exactly);
    clearly positive values reveal spatially correlated noise (for example
    from interpolation, line scanning or camera processing), which breaks
    the assumption behind Noise2Void. Structure in the image also adds
    positive correlation, so use regions without fine detail where possible.
    """
    r = _detrend(image, sigma)
    h, w = r.shape
    k = max_lag + int(3 * sigma) + 1
    core = r[k : h - k, k : w - k]
    out = np.zeros((2 * max_lag + 1, 2 * max_lag + 1))
    for dy in range(-max_lag, max_lag + 1):
        for dx in range(-max_lag, max_lag + 1):
            shifted = r[k + dy : h - k + dy, k + dx : w - k + dx]
            out[dy + max_lag, dx + max_lag] = np.corrcoef(core.ravel(), shifted.ravel())[0, 1]
    return out


def white_noise_autocorrelation(max_lag: int = 2, sigma: float = 2.0) -> np.ndarray:
    """What :func:`noise_autocorrelation` returns for pixel-independent noise (exact, no sampling)."""
    size = 2 * (max_lag + int(3 * sigma) + 1) + 1
    delta = np.zeros((size, size))
    delta[size // 2, size // 2] = 1.0
    kern = _detrend(delta, sigma)  # the filter's impulse response
    n = 4 * size
    full = np.fft.fftshift(np.real(np.fft.ifft2(np.abs(np.fft.fft2(kern, s=(n, n))) ** 2)))
    c = n // 2
    out = full[c - max_lag : c + max_lag + 1, c - max_lag : c + max_lag + 1]
    return out / out[max_lag, max_lag]
