"""Classical denoisers, PSNR/SSIM with calibration, registration checks and splits by region."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from bioimaging_guide.common import normalize_percentile
from bioimaging_guide.noise import NoiseModel, simulate_poisson_gaussian
from bioimaging_guide.restoration import (
    calibrate,
    check_registration,
    denoise,
    psnr,
    sample_patches,
    score,
    split_tiles,
    ssim,
)


def _scene(size=128, seed=0):
    rng = np.random.default_rng(seed)
    img = np.zeros((size, size))
    pts = rng.integers(4, size - 4, (40, 2))
    img[pts[:, 0], pts[:, 1]] = 1
    img = ndi.gaussian_filter(img, 2.0)
    return img / img.max() * 30


def test_psnr_and_ssim_known_values():
    ref = np.zeros((64, 64))
    assert psnr(ref + 0.1, ref) == pytest.approx(20.0)
    assert ssim(ref + 0, ref) == pytest.approx(1.0)
    img = _scene() / _scene().max()
    noisy = img + 0.05 * np.random.default_rng(0).standard_normal(img.shape)
    assert ssim(noisy, img) < 0.9


def test_calibration_removes_offset_and_scale_only():
    ref = _scene() / 30
    assert np.allclose(calibrate(3 * ref + 7, ref), ref)
    s = score(3 * ref + 7, ref)
    assert s["psnr"] > 100 and s["ssim"] == pytest.approx(1.0)


def test_registration_detects_a_shift():
    rng = np.random.default_rng(1)
    high = _scene(256, 2)
    low = high + rng.normal(0, 2, high.shape) + 10
    assert check_registration(low, high).registered
    shifted = np.roll(low, (3, -2), axis=(0, 1))
    reg = check_registration(shifted, high)
    assert not reg.registered
    assert reg.shift == pytest.approx((-3.0, 2.0), abs=0.2)
    assert reg.correlation_after > reg.correlation_before


def test_tile_split_is_disjoint_and_complete():
    split = split_tiles((512, 512), 128, n_val=2, n_test=3, seed=0)
    tiles = split.train + split.val + split.test
    assert len(tiles) == 16 and len(set(tiles)) == 16
    roles = split.role_map((512, 512))
    assert (roles == 3).sum() == 3 * 128 * 128 and (roles == 0).sum() == 0
    eligible = [False] * 10 + [True] * 6
    split = split_tiles((512, 512), 128, 2, 3, seed=1, eligible=eligible)
    allowed = {(384, 256), (384, 384), (256, 256), (256, 384), (384, 0), (384, 128)}
    assert set(split.test) | set(split.val) <= allowed
    with pytest.raises(ValueError):
        split_tiles((256, 256), 128, 2, 3)


def test_patches_never_cross_into_other_tiles():
    img = np.zeros((256, 256))
    split = split_tiles(img.shape, 128, 1, 1, seed=0)
    roles = split.role_map(img.shape).astype(float)
    (patches,) = sample_patches([roles], split.train, 128, 32, 50, seed=0)
    assert patches.shape == (50, 32, 32) and np.all(patches == 1)
    (patches,) = sample_patches([roles], split.test, 128, 32, 20, seed=0, keep_fraction=0.5)
    assert patches.shape == (20, 32, 32) and np.all(patches == 3)


@pytest.mark.parametrize(
    "method,params",
    [("gaussian", {"sigma": 1.5}), ("median", {"size": 5}), ("nlm", {"h": 1.0}), ("tv", {"weight": 0.1})],
)
def test_classical_denoisers_improve_a_noisy_image(method, params):
    clean = _scene(128, 3)
    photons = clean + 2
    raw = simulate_poisson_gaussian(photons, 1.0, 10.0, 1.0, rng=4)
    ref = clean / clean.max()
    x = normalize_percentile(raw)
    assert score(denoise(x, method, **params), ref)["psnr"] > score(x, ref)["psnr"] + 2


def test_bm3d_with_anscombe_beats_the_noisy_image():
    clean = _scene(96, 5)
    raw = simulate_poisson_gaussian(clean + 2, 2.0, 10.0, 1.5, rng=6)
    model = NoiseModel(gain=2.0, intercept=1.5**2 - 2.0 * 10.0)
    out = denoise(raw, "bm3d", noise_model=model)
    ref = clean / clean.max()
    assert score(out, ref)["psnr"] > score(raw, ref)["psnr"] + 3
    # the result is on the scale of the raw grey levels (offset included)
    assert abs(out.mean() - raw.mean()) < 0.05 * raw.mean()
    with pytest.raises(ValueError):
        denoise(raw, "bm3d")
    with pytest.raises(ValueError):
        denoise(raw, "wavelets")


def test_gigadb_benchmark_keeps_test_tiles_apart(real_data):
    from bioimaging_guide.restoration import BENCHMARK_IMAGES, gigadb_benchmark

    bench = gigadb_benchmark()
    assert bench.names == BENCHMARK_IMAGES
    assert bench.x_train.shape == (2048, 64, 64) and bench.y_train.shape == (2048, 64, 64)
    assert len(bench.test) == 12 and len(bench.val_crops) == 8
    for name in bench.names:
        split = bench.splits[name]
        assert len(split.test) == 3 and len(split.val) == 2 and len(split.train) == 59
        assert not set(split.test) & set(split.train) and not set(split.val) & set(split.train)
        roles = split.role_map(bench.low[name].shape)
        for crop in (c for c in bench.test if c["name"] == name):
            y, x = crop["corner"]
            assert np.all(roles[y : y + 256, x : x + 256] == 3)  # test crops lie entirely in test tiles
        assert bench.noise_models[name].gain > 0
