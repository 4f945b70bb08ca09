"""A small Fourier-optics simulator for sensorless adaptive optics.

How a microscope forms an image, in four steps that this module follows:

1. The **pupil** is the back focal plane of the objective: a disc whose
   radius, in spatial frequency, is ``NA / wavelength`` (:class:`Microscope`).
2. **Aberrations** (from the sample or the optics) delay the light unevenly
   across the pupil: a phase ``phi(x, y)`` in radians, the wavefront error.
   It is written as a sum of **Zernike modes** (:func:`zernike`), numbered
   with Noll's single index j (Noll 1976) and normalised so that each mode
   has an RMS of 1 over the pupil. Then the coefficients are the RMS of each
   mode in radians, and the total RMS wavefront error is simply the square
   root of the sum of the squared coefficients.
3. The **point spread function** (PSF) of incoherent fluorescence imaging is
   the squared magnitude of the Fourier transform of the pupil function
   ``P * exp(i * phi)`` (:meth:`Microscope.psf`). This is scalar diffraction
   theory: polarisation and the vectorial effects of very high NA are
   ignored, which is fine for explaining the method.
4. The **image** is the specimen convolved with the PSF, plus photon (Poisson)
   noise (:meth:`Microscope.image`).

The **Strehl ratio** (peak of the aberrated PSF divided by the peak of the
perfect one) summarises image quality; for small errors it is close to
``exp(-rms**2)`` with ``rms`` in radians (the Maréchal approximation).

Sensorless adaptive optics estimates the aberration from images alone. Two
estimators are provided: the classical **modal search** (:func:`modal_search`,
Booth 2014: for every mode, take images with a known amount of that mode
added and subtracted, and fit the peak of an image-sharpness metric), and
the training data for a small **CNN** that reads the coefficients from two
images, the second taken with a known defocus added (*phase diversity*)
(:func:`simulate_batch`, :class:`AberrationNet`).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial

import numpy as np

__all__ = [
    "AberrationNet",
    "Microscope",
    "airy_profile",
    "centre_crop",
    "modal_search",
    "noll_to_nm",
    "radial_profile",
    "rms",
    "sharpness",
    "simulate_batch",
    "zernike",
    "zernike_name",
]

_NAMES = {
    1: "piston",
    2: "tip",
    3: "tilt",
    4: "defocus",
    5: "oblique astigmatism",
    6: "vertical astigmatism",
    7: "vertical coma",
    8: "horizontal coma",
    9: "vertical trefoil",
    10: "oblique trefoil",
    11: "primary spherical",
}


def noll_to_nm(j: int) -> tuple[int, int]:
    """Radial order n and azimuthal frequency m of Noll index j (j = 1 is piston).

    Even j have cosine modes (m > 0), odd j sine modes (m < 0), as in Noll (1976).
    """
    if j < 1:
        raise ValueError("Noll indices start at 1")
    n, rest = 0, j - 1
    while rest > n:
        n += 1
        rest -= n
    m = (n % 2) + 2 * ((rest + ((n + 1) % 2)) // 2)
    return n, (m if j % 2 == 0 else -m)


def zernike_name(j: int) -> str:
    """Common name of a low-order Noll mode (e.g. 4 -> 'defocus')."""
    return _NAMES.get(j, f"Z{j}")


def zernike(j: int, rho, theta) -> np.ndarray:
    """Zernike mode j (Noll index) on polar pupil coordinates, normalised to RMS 1 over the unit disc.

    Values outside the unit disc (``rho > 1``) are set to 0.
    """
    n, m = noll_to_nm(j)
    rho = np.asarray(rho, dtype=float)
    theta = np.asarray(theta, dtype=float)
    am = abs(m)
    radial = np.zeros_like(rho)
    for s in range((n - am) // 2 + 1):
        c = (-1) ** s * factorial(n - s) / (factorial(s) * factorial((n + am) // 2 - s) * factorial((n - am) // 2 - s))
        radial = radial + c * rho ** (n - 2 * s)
    if m == 0:
        z = np.sqrt(n + 1) * radial
    elif m > 0:
        z = np.sqrt(2 * (n + 1)) * radial * np.cos(am * theta)
    else:
        z = np.sqrt(2 * (n + 1)) * radial * np.sin(am * theta)
    return np.where(rho <= 1, z, 0.0)


def rms(coefficients) -> np.ndarray:
    """RMS wavefront error (same unit as the coefficients) of orthonormal Zernike coefficients (last axis)."""
    c = np.asarray(coefficients, dtype=float)
    return np.sqrt((c**2).sum(axis=-1))


@dataclass
class Microscope:
    """A widefield fluorescence microscope in scalar Fourier optics.

    Parameters
    ----------
    wavelength
        Emission wavelength in micrometres (default 0.52 µm, green).
    na
        Numerical aperture of the objective (default 1.0).
    pixel_size
        Pixel size in the specimen, micrometres (default 0.1 µm; Nyquist
        sampling needs at most ``wavelength / (4 * na)`` = 0.13 µm here).
    grid
        Side of the square grid, in pixels, on which the PSF is computed.
        The pupil is sampled with ``pupil_radius_px`` =
        ``na / wavelength * grid * pixel_size`` pixels across its radius.
    modes
        Noll indices of the aberration modes the coefficients refer to.
    """

    wavelength: float = 0.52
    na: float = 1.0
    pixel_size: float = 0.1
    grid: int = 128
    modes: tuple[int, ...] = (5, 6, 7, 8, 9, 10, 11)

    def __post_init__(self):
        if self.pixel_size > self.wavelength / (2 * self.na):
            raise ValueError("pixels larger than wavelength/(2 NA): the PSF would be aliased")
        f = np.fft.fftfreq(self.grid, d=self.pixel_size)  # cycles per µm
        fy, fx = np.meshgrid(f, f, indexing="ij")
        cutoff = self.na / self.wavelength
        self.rho = np.hypot(fx, fy) / cutoff
        self.theta = np.arctan2(fy, fx)
        self.pupil = (self.rho <= 1.0).astype(float)
        self.basis = {j: zernike(j, self.rho, self.theta) * self.pupil for j in set(self.modes) | {4}}

    @property
    def pupil_radius_px(self) -> float:
        """Radius of the pupil in samples of the frequency grid."""
        return self.na / self.wavelength * self.grid * self.pixel_size

    @property
    def airy_radius(self) -> float:
        """Radius of the first dark ring of the perfect PSF, 0.61 λ/NA, in micrometres."""
        return 0.61 * self.wavelength / self.na

    def phase(self, coefficients, defocus: float = 0.0) -> np.ndarray:
        """Pupil phase in radians for coefficients (radians RMS) of ``self.modes``, plus optional defocus (Z4)."""
        c = np.asarray(coefficients, dtype=float)
        if c.shape[-1] != len(self.modes):
            raise ValueError(f"expected {len(self.modes)} coefficients, got {c.shape[-1]}")
        phi = np.tensordot(c, np.stack([self.basis[j] for j in self.modes]), axes=([-1], [0]))
        return phi + defocus * self.basis[4]

    def psf(self, coefficients=None, defocus: float = 0.0, normalise: bool = True) -> np.ndarray:
        """PSF(s), centred on the grid. Works on one set of coefficients or a batch (leading axes).

        With ``normalise`` the PSF sums to 1 (an image keeps its total
        brightness); otherwise the squared field is returned as computed,
        whose sum is ``grid**2 * pupil area`` whatever the aberration
        (Parseval: aberrations redistribute light, they do not remove it).
        """
        if coefficients is None:
            coefficients = np.zeros(len(self.modes))
        field = self.pupil * np.exp(1j * self.phase(coefficients, defocus))
        intensity = np.abs(np.fft.fft2(field)) ** 2
        intensity = np.fft.fftshift(intensity, axes=(-2, -1))
        if normalise:
            intensity = intensity / intensity.sum(axis=(-2, -1), keepdims=True)
        return intensity

    def strehl(self, coefficients) -> np.ndarray:
        """Strehl ratio: peak of the aberrated PSF / peak of the perfect PSF (both normalised)."""
        perfect = self.psf().max()
        return self.psf(coefficients).max(axis=(-2, -1)) / perfect

    def image(
        self,
        specimen,
        coefficients=None,
        defocus: float = 0.0,
        photons: float | None = None,
        background: float = 0.0,
        rng=None,
    ) -> np.ndarray:
        """Image of ``specimen`` (2D, or a batch with leading axes) through the aberrated microscope.

        The specimen is convolved with the PSF (circular convolution via the
        FFT, total brightness conserved). With ``photons``, the image is
        scaled so that the specimen's mean becomes ``photons`` per pixel,
        ``background`` photons per pixel are added and Poisson noise is drawn.
        """
        spec = np.asarray(specimen, dtype=float)
        h, w = spec.shape[-2:]
        p = self.psf(coefficients, defocus)
        p = _crop_or_pad(p, h, w)
        otf = np.fft.fft2(np.fft.ifftshift(p, axes=(-2, -1)))
        img = np.real(np.fft.ifft2(np.fft.fft2(spec) * otf))
        img = np.maximum(img, 0.0)
        if photons is not None:
            rng = np.random.default_rng(rng)
            scale = photons / np.maximum(spec.mean(axis=(-2, -1), keepdims=True), 1e-12)
            img = rng.poisson(img * scale + background).astype(float)
        return img


def _crop_or_pad(psf: np.ndarray, h: int, w: int) -> np.ndarray:
    """Centre-crop or zero-pad the last two axes of a centred PSF to (h, w)."""
    gh, gw = psf.shape[-2:]
    out = np.zeros(psf.shape[:-2] + (h, w))
    ch, cw = gh // 2, gw // 2
    oh, ow = h // 2, w // 2
    sy, sx = min(ch, oh), min(cw, ow)
    ey, ex = min(gh - ch, h - oh), min(gw - cw, w - ow)
    out[..., oh - sy : oh + ey, ow - sx : ow + ex] = psf[..., ch - sy : ch + ey, cw - sx : cw + ex]
    return out / out.sum(axis=(-2, -1), keepdims=True)


def radial_profile(image: np.ndarray, center=None) -> tuple[np.ndarray, np.ndarray]:
    """Mean value in rings of one pixel width around ``center`` (default: the brightest pixel)."""
    if center is None:
        center = np.unravel_index(np.argmax(image), image.shape)
    yy, xx = np.indices(image.shape)
    r = np.hypot(yy - center[0], xx - center[1])
    ri = np.round(r).astype(int)
    sums = np.bincount(ri.ravel(), image.ravel())
    counts = np.bincount(ri.ravel())
    return np.arange(len(sums)), sums / np.maximum(counts, 1)


def airy_profile(r, wavelength: float, na: float) -> np.ndarray:
    """The Airy pattern ``[2 J1(v) / v]²`` with ``v = 2π NA r / λ`` (peak 1), r in the units of λ."""
    from scipy.special import j1

    v = 2 * np.pi * na * np.asarray(r, dtype=float) / wavelength
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (2 * j1(v) / v) ** 2
    return np.where(v == 0, 1.0, out)


def sharpness(image, microscope: Microscope, band=(0.05, 0.5)) -> np.ndarray:
    """Image-sharpness metric: share of the image's spectral power in a band of spatial frequencies.

    ``band`` is given as fractions of the incoherent cut-off ``2 NA / λ``.
    Aberrations weaken mid and high frequencies, so the metric is largest
    for the best-corrected image. It is normalised by the total power
    (``|F(0)|²``), so it does not depend on brightness. Works on batches.
    """
    img = np.asarray(image, dtype=float)
    h, w = img.shape[-2:]
    fy = np.fft.fftfreq(h, d=microscope.pixel_size)[:, None]
    fx = np.fft.fftfreq(w, d=microscope.pixel_size)[None, :]
    f = np.hypot(fy, fx) / (2 * microscope.na / microscope.wavelength)
    sel = (f >= band[0]) & (f <= band[1])
    spec = np.abs(np.fft.fft2(img)) ** 2
    return spec[..., sel].sum(axis=-1) / spec[..., 0, 0]


def modal_search(measure, n_modes: int, bias: float = 1.0, rounds: int = 1, start=None):
    """Classical sensorless AO: estimate each mode's correction from three sharpness values.

    ``measure(correction)`` must take an exposure with the given correction
    (coefficients added to the deformable mirror, radians RMS) and return its
    sharpness. For each mode, the metric is measured with ``-bias`` and
    ``+bias`` of that mode added to the current correction (the unbiased
    value is shared by all modes); a Gaussian through the three values
    (a parabola in the logarithm) gives the best amount of that mode. This
    is the "2N + 1" scheme: 2 * n_modes + 1 exposures per round.

    Returns
    -------
    correction, exposures, history
        The final correction, the number of exposures taken and, after each
        round, (exposures so far, correction).
    """
    correction = np.zeros(n_modes) if start is None else np.asarray(start, float).copy()
    exposures, history = 0, []
    for _ in range(rounds):
        m0 = measure(correction)
        exposures += 1
        new = correction.copy()
        for i in range(n_modes):
            step = np.zeros(n_modes)
            step[i] = bias
            mp, mm = measure(correction + step), measure(correction - step)
            exposures += 2
            lp, l0, lm = np.log(max(mp, 1e-12)), np.log(max(m0, 1e-12)), np.log(max(mm, 1e-12))
            curvature = lp - 2 * l0 + lm
            if curvature < 0:
                delta = bias * (lm - lp) / (2 * curvature)
                new[i] = correction[i] + float(np.clip(delta, -2 * bias, 2 * bias))
            else:  # no maximum between the three points: move to the best one
                new[i] = correction[i] + bias * (int(np.argmax([mm, m0, mp])) - 1)
        correction = new
        history.append((exposures, correction.copy()))
    return correction, exposures, history


def centre_crop(images, size: int) -> np.ndarray:
    """The central ``size``×``size`` pixels of the last two axes."""
    h, w = images.shape[-2:]
    y, x = (h - size) // 2, (w - size) // 2
    return images[..., y : y + size, x : x + size]


def simulate_batch(
    microscope: Microscope,
    specimens,
    coefficients,
    diversity: float = 1.0,
    photons: float = 200.0,
    background: float = 2.0,
    crop: int | None = None,
    rng=None,
) -> np.ndarray:
    """Two noisy images per specimen (as the CNN's input): as is, and with ``diversity`` rad of defocus added.

    ``crop`` keeps only the central pixels, which removes the wrap-around
    the FFT convolution creates at the edges (simulate on specimens a few
    PSF widths larger than ``crop``). Returns float32 (N, 2, crop, crop),
    each pair divided by the mean of its first image (so brightness does not
    matter) with 1 subtracted.
    """
    rng = np.random.default_rng(rng)
    a = microscope.image(specimens, coefficients, photons=photons, background=background, rng=rng)
    b = microscope.image(specimens, coefficients, defocus=diversity, photons=photons, background=background, rng=rng)
    if crop is not None:
        a, b = centre_crop(a, crop), centre_crop(b, crop)
    scale = a.mean(axis=(-2, -1), keepdims=True)
    return (np.stack([a / scale, b / scale], axis=1) - 1.0).astype(np.float32)


def _aberration_net_class():
    from torch import nn

    class _AberrationNet(nn.Module):
        """A small CNN: two images in (see :func:`simulate_batch`), one coefficient per aberration mode out.

        Four blocks of (3×3 convolution, batch normalisation, ReLU, 2×2
        pooling) turn the image pair into feature maps; global averaging and
        two fully connected layers turn those into the coefficients.
        """

        def __init__(self, n_modes: int, in_channels: int = 2, width: int = 16):
            super().__init__()
            layers, c = [], in_channels
            for w in (width, width, 2 * width, 2 * width):
                layers += [nn.Conv2d(c, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
                c = w
            self.features = nn.Sequential(*layers)
            self.head = nn.Sequential(
                nn.Flatten(), nn.Linear(c * 16, 128), nn.ReLU(inplace=True), nn.Linear(128, n_modes)
            )
            self.pool = nn.AdaptiveAvgPool2d(4)

        def forward(self, x):
            return self.head(self.pool(self.features(x)))

    return _AberrationNet


def AberrationNet(n_modes: int, in_channels: int = 2, width: int = 16):  # a factory named like the class it returns
    """Create the book's small aberration-estimating CNN (PyTorch); see the class docstring."""
    return _aberration_net_class()(n_modes, in_channels, width)
