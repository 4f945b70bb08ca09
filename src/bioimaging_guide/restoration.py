"""Image restoration helpers: classical denoisers, fair scoring and splits by region.

Everything the book's denoising notebook needs besides plotting:

* **checking a low/high pair** before training on it (:func:`check_registration`);
* **splitting by region**: an image is cut into square tiles; whole tiles go to
  training, validation or test, so no test pixel was ever seen in training
  (:func:`split_tiles`, :func:`sample_patches`, :func:`gigadb_benchmark`);
* **classical denoisers** behind one function, :func:`denoise`: Gaussian,
  median, non-local means and total variation (scikit-image), and BM3D after
  a generalised Anscombe transform that uses a noise model estimated from the
  image itself (:mod:`bioimaging_guide.noise`);
* **scores** (:func:`score`): PSNR and SSIM after a documented normalisation,
  described in :func:`calibrate`.

The book's trained restoration networks (CARE and Noise2Void) live in
:mod:`bioimaging_guide.restoration_models`; normalisation is
:func:`bioimaging_guide.common.normalize_percentile`.

How PSNR and SSIM are computed here
-----------------------------------
The low- and high-SNR images of a pair differ by more than noise (the
low-SNR image has a higher background offset and a different contrast), and a
network trained on normalised data returns values on its own scale. Scores
are therefore computed after two steps:

1. the high-SNR reference is scaled so that the 0.1st and 99.9th percentiles
   of its image (computed on the training regions) become 0 and 1;
2. every result (the noisy input included) is mapped onto the reference by
   the straight line ``a * x + b`` that minimises the squared difference to
   the reference crop (least squares, as in the CARE paper).

PSNR is then ``10 log10(1 / MSE)`` (data range 1) and SSIM is scikit-image's
``structural_similarity`` with ``data_range=1`` and the Gaussian-window
settings of Wang et al. (2004). Step 2 gives every method, including the
noisy baseline, the best possible brightness and contrast, so the scores
compare structure and noise, not intensity scaling.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from .common import normalize_percentile
from .noise import NoiseModel, fit_poisson_gaussian, photon_transfer

__all__ = [
    "BENCHMARK_IMAGES",
    "Benchmark",
    "CLASSICAL_METHODS",
    "Registration",
    "TileSplit",
    "calibrate",
    "check_registration",
    "denoise",
    "gigadb_benchmark",
    "psnr",
    "sample_patches",
    "score",
    "split_tiles",
    "ssim",
    "tile_view",
]

#: The GigaDB pairs used for training and testing restoration in the book:
#: the four 2048×2048 widefield pairs recorded at the same noise level
#: ("noise1"). Left out, and why: ``membrane`` (its low-SNR image is almost
#: noise-free: correlation 0.99 with the high-SNR image), ``mito-60x-noise2``
#: (only 36 grey levels and an uneven background), ``mito-confocal`` (the
#: low-SNR image is clipped to 0 in 78 % of its pixels) and ``nucleus``
#: (512×512, too small to split into regions; kept as an unseen structure).
BENCHMARK_IMAGES = ("actin-20x-noise1", "actin-60x-noise1", "mito-20x-noise1", "mito-60x-noise1")

CLASSICAL_METHODS = ("gaussian", "median", "nlm", "tv", "bm3d")


# --------------------------------------------------------------------------- basics


@dataclass(frozen=True)
class Registration:
    """Result of :func:`check_registration`.

    ``shift`` (dy, dx) moves the low-SNR image onto the high-SNR one;
    ``correlation_before``/``correlation_after`` are Pearson correlations of
    the two images without and with that shift applied.
    """

    shift: tuple[float, float]
    correlation_before: float
    correlation_after: float

    @property
    def registered(self) -> bool:
        """True if the images are aligned to within half a pixel."""
        return bool(np.hypot(*self.shift) <= 0.5)


def check_registration(low, high, upsample: int = 10, smooth: float = 1.0) -> Registration:
    """Measure the shift between the two images of a pair by cross-correlation.

    Both images are lightly smoothed (``smooth``, Gaussian sigma in pixels)
    and normalised first, so that noise does not dominate the correlation.
    The shift is found to 1/``upsample`` of a pixel.
    """
    from skimage.registration import phase_cross_correlation

    a = ndi.gaussian_filter(normalize_percentile(low, dtype=np.float64), smooth)
    b = ndi.gaussian_filter(normalize_percentile(high, dtype=np.float64), smooth)
    shift, _, _ = phase_cross_correlation(b, a, upsample_factor=upsample, normalization=None)
    moved = ndi.shift(a, shift, order=1, mode="nearest")
    m = 8 + int(np.ceil(np.abs(shift).max()))
    before = float(np.corrcoef(a[m:-m, m:-m].ravel(), b[m:-m, m:-m].ravel())[0, 1])
    after = float(np.corrcoef(moved[m:-m, m:-m].ravel(), b[m:-m, m:-m].ravel())[0, 1])
    return Registration((float(shift[0]), float(shift[1])), before, after)


# --------------------------------------------------------------------------- splits by region


@dataclass(frozen=True)
class TileSplit:
    """Which square tiles of an image are used for training, validation and test.

    Tiles are given by their top-left corner (row, column); all have the side ``tile``.
    """

    tile: int
    train: tuple[tuple[int, int], ...]
    val: tuple[tuple[int, int], ...]
    test: tuple[tuple[int, int], ...]

    def role_map(self, shape) -> np.ndarray:
        """An image of ``shape`` with 0 = unused, 1 = train, 2 = validation, 3 = test."""
        out = np.zeros(shape, np.uint8)
        for value, tiles in ((1, self.train), (2, self.val), (3, self.test)):
            for y, x in tiles:
                out[y : y + self.tile, x : x + self.tile] = value
        return out


def tile_view(image, corner, tile: int) -> np.ndarray:
    """The ``tile``×``tile`` block of ``image`` whose top-left corner is ``corner``."""
    y, x = corner
    return image[y : y + tile, x : x + tile]


def split_tiles(shape, tile: int, n_val: int, n_test: int, seed: int = 0, eligible=None) -> TileSplit:
    """Cut an image of ``shape`` into tiles and assign whole tiles to train, validation and test.

    ``eligible`` (optional, one boolean per tile in row-major order) restricts
    which tiles may become validation or test tiles, e.g. tiles that contain
    some structure; all remaining tiles are training tiles.
    """
    corners = [(y, x) for y in range(0, shape[0] - tile + 1, tile) for x in range(0, shape[1] - tile + 1, tile)]
    rng = np.random.default_rng(seed)
    candidates = [i for i in range(len(corners)) if eligible is None or eligible[i]]
    if len(candidates) < n_val + n_test:
        raise ValueError(f"only {len(candidates)} eligible tiles for {n_val} validation + {n_test} test tiles")
    chosen = rng.permutation(candidates)[: n_val + n_test]
    test = sorted(int(i) for i in chosen[:n_test])
    val = sorted(int(i) for i in chosen[n_test:])
    train = [i for i in range(len(corners)) if i not in test and i not in val]
    return TileSplit(
        tile, tuple(corners[i] for i in train), tuple(corners[i] for i in val), tuple(corners[i] for i in test)
    )


def sample_patches(
    images, corners, tile: int, patch: int, n: int, seed: int = 0, keep_fraction: float = 1.0, score_image=None
):
    """Cut ``n`` random ``patch``×``patch`` patches, each lying entirely inside one of the given tiles.

    ``images`` is a list of arrays of the same shape (e.g. [low, high]); the
    same positions are used for all of them. With ``keep_fraction`` < 1,
    ``n / keep_fraction`` candidates are drawn and only the most structured
    ones are kept, ranked by the standard deviation of ``score_image``
    (default: the first image, smoothed) inside the patch. Returns one
    (n, patch, patch) float32 array per image.
    """
    rng = np.random.default_rng(seed)
    n_cand = int(np.ceil(n / keep_fraction))
    score_src = ndi.gaussian_filter(np.asarray(images[0], float), 2) if score_image is None else score_image
    picks = []
    for _ in range(n_cand):
        cy, cx = corners[rng.integers(len(corners))]
        y = cy + int(rng.integers(0, tile - patch + 1))
        x = cx + int(rng.integers(0, tile - patch + 1))
        picks.append((float(np.std(score_src[y : y + patch, x : x + patch])), y, x))
    if keep_fraction < 1.0:
        order = np.argsort([-p[0] for p in picks], kind="stable")[:n]
        picks = [picks[i] for i in sorted(order)]
    return [
        np.stack([np.asarray(im)[y : y + patch, x : x + patch] for _, y, x in picks]).astype(np.float32)
        for im in images
    ]


# --------------------------------------------------------------------------- the book's benchmark


@dataclass
class Benchmark:
    """The GigaDB restoration benchmark: normalised images, the split, patches and test crops.

    Attributes
    ----------
    names
        Image names (see :data:`BENCHMARK_IMAGES`).
    low, high, low_raw
        Per name: the low-SNR input normalised (1st/99.8th percentile of the
        whole low-SNR image -> 0/1), the high-SNR reference normalised
        (0.1st/99.9th percentile of its training tiles -> 0/1), and the raw
        8-bit low-SNR image.
    splits
        Per name: a :class:`TileSplit`.
    noise_models
        Per name: the Poisson–Gaussian model of the raw low-SNR image.
    x_train, y_train, x_val, y_val
        Training and validation patches (low, high), float32 (N, P, P).
    test
        List of dicts with keys ``name``, ``corner`` (of the crop), ``low``,
        ``low_raw``, ``high`` (crops of ``crop`` pixels from the test tiles).
    """

    names: tuple[str, ...]
    low: dict
    high: dict
    low_raw: dict
    splits: dict
    noise_models: dict
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    test: list = field(default_factory=list)
    val_crops: list = field(default_factory=list)


def _crop_in_tile(high_n, corner, tile, crop):
    """The ``crop``-sized quadrant-aligned window of a tile with the most structure (std of the reference)."""
    best = None
    for dy in range(0, tile - crop + 1, crop // 2):
        for dx in range(0, tile - crop + 1, crop // 2):
            y, x = corner[0] + dy, corner[1] + dx
            s = float(np.std(high_n[y : y + crop, x : x + crop]))
            if best is None or s > best[0]:
                best = (s, y, x)
    return best[1], best[2]


def gigadb_benchmark(
    pairs=None,
    names=BENCHMARK_IMAGES,
    tile: int = 256,
    n_val: int = 2,
    n_test: int = 3,
    patch: int = 64,
    n_train: int = 2048,
    n_val_patches: int = 256,
    crop: int = 256,
    min_structure: float = 0.1,
    seed: int = 0,
) -> Benchmark:
    """Build the book's restoration benchmark from the GigaDB pairs (deterministic for a seed).

    Each image is cut into ``tile``-pixel tiles. ``n_test`` and ``n_val``
    tiles per image are drawn among the tiles whose high-SNR image contains
    structure (at least ``min_structure`` of their pixels above the high-SNR
    image's Otsu threshold); the rest are training tiles. Training and
    validation patches come only from training and validation tiles; one
    crop of ``crop`` pixels is taken from every test and validation tile (the
    whole tile when ``crop == tile``, otherwise its most structured window,
    judged on the reference). ``pairs`` defaults to :func:`bioimaging_guide.data.load_gigadb_pairs`.
    """
    from skimage.filters import threshold_otsu

    if pairs is None:
        from .data import load_gigadb_pairs

        pairs = load_gigadb_pairs(progress=False)
    by_name = {n: (lo, hi) for n, lo, hi in pairs}
    low, high, low_raw, splits, models = {}, {}, {}, {}, {}
    xt, yt, xv, yv, test, val_crops = [], [], [], [], [], []
    for k, name in enumerate(names):
        lo_raw, hi_raw = by_name[name]
        fg = hi_raw > threshold_otsu(hi_raw)
        corners = [
            (y, x) for y in range(0, fg.shape[0] - tile + 1, tile) for x in range(0, fg.shape[1] - tile + 1, tile)
        ]
        eligible = [tile_view(fg, c, tile).mean() >= min_structure for c in corners]
        split = split_tiles(fg.shape, tile, n_val, n_test, seed=seed + k, eligible=eligible)
        train_pixels = np.concatenate([tile_view(hi_raw, c, tile).ravel() for c in split.train])
        # computed in float64, stored as float32 (what the networks take)
        low[name] = normalize_percentile(lo_raw, dtype=np.float64).astype(np.float32)
        high[name] = normalize_percentile(hi_raw, 0.1, 99.9, reference=train_pixels, dtype=np.float64).astype(
            np.float32
        )
        low_raw[name] = lo_raw
        splits[name] = split
        models[name] = fit_poisson_gaussian(photon_transfer(lo_raw))
        for tiles, n, offset, xs, ys in ((split.train, n_train, 100, xt, yt), (split.val, n_val_patches, 200, xv, yv)):
            a, b = sample_patches(
                [low[name], high[name]], tiles, tile, patch, n // len(names), seed=seed + offset + k, keep_fraction=0.7
            )
            xs.append(a)
            ys.append(b)
        for tiles, out in ((split.test, test), (split.val, val_crops)):
            for c in tiles:
                y, x = _crop_in_tile(high[name], c, tile, crop)
                out.append(
                    dict(
                        name=name,
                        corner=(y, x),
                        low=low[name][y : y + crop, x : x + crop],
                        low_raw=lo_raw[y : y + crop, x : x + crop],
                        high=high[name][y : y + crop, x : x + crop],
                    )
                )
    return Benchmark(
        tuple(names),
        low,
        high,
        low_raw,
        splits,
        models,
        np.concatenate(xt),
        np.concatenate(yt),
        np.concatenate(xv),
        np.concatenate(yv),
        test,
        val_crops,
    )


# --------------------------------------------------------------------------- classical denoisers


def denoise(image, method: str, noise_model: NoiseModel | None = None, **params) -> np.ndarray:
    """Denoise a 2D image with a classical method.

    Parameters
    ----------
    image
        For ``gaussian``, ``median``, ``nlm`` and ``tv``: a normalised float
        image. For ``bm3d``: the *raw* image in grey levels (the noise model
        refers to them).
    method
        ``"gaussian"`` (param ``sigma``, pixels), ``"median"`` (``size``,
        pixels), ``"nlm"`` (non-local means; ``h`` as a multiple of the
        estimated noise standard deviation, ``patch_size``,
        ``patch_distance``), ``"tv"`` (total variation, Chambolle; ``weight``)
        or ``"bm3d"`` (generalised Anscombe transform with ``noise_model``,
        BM3D for unit-variance Gaussian noise scaled by ``sigma`` (default
        1), exact unbiased inverse).
    noise_model
        Required for ``bm3d``: see :func:`bioimaging_guide.noise.fit_poisson_gaussian`.
    """
    image = np.asarray(image, dtype=float)
    if method == "gaussian":
        return ndi.gaussian_filter(image, params.get("sigma", 1.0))
    if method == "median":
        return ndi.median_filter(image, size=int(params.get("size", 3)), mode="reflect")
    if method == "nlm":
        from skimage.restoration import denoise_nl_means, estimate_sigma

        sigma = float(estimate_sigma(image))
        return denoise_nl_means(
            image,
            h=params.get("h", 0.8) * sigma,
            sigma=sigma,
            fast_mode=True,
            patch_size=int(params.get("patch_size", 5)),
            patch_distance=int(params.get("patch_distance", 6)),
        )
    if method == "tv":
        from skimage.restoration import denoise_tv_chambolle

        return denoise_tv_chambolle(image, weight=params.get("weight", 0.1))
    if method == "bm3d":
        import bm3d

        if noise_model is None:
            raise ValueError("bm3d needs the image's noise_model (raw grey levels)")
        stabilised = noise_model.anscombe(image)
        out = bm3d.bm3d(stabilised, sigma_psd=float(params.get("sigma", 1.0)))
        return noise_model.inverse_anscombe(np.asarray(out))
    raise ValueError(f"unknown method {method!r}; choose one of {CLASSICAL_METHODS}")


# --------------------------------------------------------------------------- scores


def calibrate(result, reference) -> np.ndarray:
    """Map ``result`` onto ``reference`` with the least-squares straight line ``a * result + b``."""
    x = np.asarray(result, dtype=float).ravel()
    y = np.asarray(reference, dtype=float).ravel()
    a, b = np.polyfit(x, y, 1) if np.ptp(x) > 0 else (0.0, y.mean())
    return a * np.asarray(result, dtype=float) + b


def psnr(result, reference, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB: ``10 log10(data_range² / MSE)`` (no calibration)."""
    mse = float(np.mean((np.asarray(result, float) - np.asarray(reference, float)) ** 2))
    return float(10 * np.log10(data_range**2 / max(mse, 1e-20)))


def ssim(result, reference, data_range: float = 1.0) -> float:
    """SSIM (Wang et al. 2004: Gaussian window of sigma 1.5, K1=0.01, K2=0.03), no calibration."""
    from skimage.metrics import structural_similarity

    return float(
        structural_similarity(
            np.asarray(result, float),
            np.asarray(reference, float),
            data_range=data_range,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
    )


def score(result, reference) -> dict:
    """PSNR and SSIM of ``result`` against a normalised ``reference`` after :func:`calibrate`."""
    cal = calibrate(result, reference)
    return {"psnr": psnr(cal, reference), "ssim": ssim(cal, reference)}
