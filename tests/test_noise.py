"""Noise-model estimation (photon transfer, Poisson–Gaussian fit) and Anscombe transforms."""

import numpy as np
import pytest

from bioimaging_guide.noise import (
    NoiseModel,
    anscombe,
    fit_poisson_gaussian,
    inverse_anscombe,
    noise_autocorrelation,
    noise_residual,
    photon_transfer,
    simulate_poisson_gaussian,
    white_noise_autocorrelation,
)


def _structured_photons(shape=(768, 768)):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return 2 + 50 * (1 + np.sin(xx / 40.0) * np.cos(yy / 55.0))


def test_residual_has_the_noise_standard_deviation_on_a_smooth_signal():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:256, :256]
    img = 0.1 * xx + 0.05 * yy + 3.0 * rng.standard_normal((256, 256))
    assert noise_residual(img)[2:-2, 2:-2].std() == pytest.approx(3.0, rel=0.03)
    with pytest.raises(ValueError):
        noise_residual(np.zeros((2, 3, 4)))


@pytest.mark.parametrize("gain,offset,read_noise", [(2.0, 20.0, 3.0), (0.7, 100.0, 1.5)])
def test_photon_transfer_recovers_gain_and_intercept(gain, offset, read_noise):
    z = simulate_poisson_gaussian(_structured_photons(), gain, offset, read_noise, rng=1)
    ptc = photon_transfer(z, clip_range=None)
    assert np.all(np.diff(ptc.mean) > 0) and ptc.count.min() >= 500
    model = fit_poisson_gaussian(ptc)
    assert model.gain == pytest.approx(gain, rel=0.05)
    assert model.intercept == pytest.approx(read_noise**2 - gain * offset, abs=0.05 * gain * offset + 1)


def test_clipped_pixels_are_left_out():
    z = simulate_poisson_gaussian(_structured_photons(), 2.0, 0.0, 3.0, rng=2, bit_depth=8)
    assert (z == 0).any() and (z == 255).any()
    ptc = photon_transfer(z, clip_range=(0, 255))
    assert fit_poisson_gaussian(ptc).gain == pytest.approx(2.0, rel=0.08)


def test_generalised_anscombe_stabilises_the_variance():
    model = NoiseModel(gain=2.0, intercept=3.0**2 - 2.0 * 20.0)
    rng = np.random.default_rng(3)
    for photons in (3.0, 20.0, 200.0):
        z = simulate_poisson_gaussian(np.full(200_000, photons), 2.0, 20.0, 3.0, rng=rng)
        assert model.anscombe(z).std() == pytest.approx(1.0, abs=0.06), photons
        # the raw standard deviation, by contrast, grows with brightness
        assert z.std() == pytest.approx(np.sqrt(model.variance(z.mean())), rel=0.03)


def test_exact_unbiased_inverse_removes_the_low_count_bias():
    rng = np.random.default_rng(4)
    for lam in (1.0, 3.0, 10.0):
        d = anscombe(rng.poisson(lam, 500_000))
        assert inverse_anscombe(d.mean()) == pytest.approx(lam, rel=0.04)  # unbiased
    d = anscombe(rng.poisson(1.0, 500_000))
    assert inverse_anscombe(d.mean(), unbiased=False) < 0.85  # the algebraic one is not
    model = NoiseModel(gain=2.0, intercept=9.0 - 40.0)
    z = simulate_poisson_gaussian(np.full(500_000, 4.0), 2.0, 20.0, 3.0, rng=rng)
    assert model.inverse_anscombe(model.anscombe(z).mean()) == pytest.approx(z.mean(), rel=0.03)
    # photons() counts from the "black level" -intercept/gain, which is the offset only without read noise
    assert model.photons(z.mean()) == pytest.approx(4.0 + 3.0**2 / 2.0**2, rel=0.03)
    no_read = NoiseModel(gain=2.0, intercept=-2.0 * 20.0)
    assert no_read.photons(2.0 * 4.0 + 20.0) == pytest.approx(4.0)


def test_autocorrelation_detects_correlated_noise():
    rng = np.random.default_rng(5)
    white = rng.standard_normal((512, 512))
    assert np.allclose(noise_autocorrelation(white), white_noise_autocorrelation(), atol=0.02)
    from scipy import ndimage as ndi

    smooth = ndi.uniform_filter1d(white, 2, axis=1)  # e.g. interpolation along the scan direction
    ac = noise_autocorrelation(smooth)
    assert ac[2, 3] - white_noise_autocorrelation()[2, 3] > 0.2
    assert abs(ac[3, 2] - white_noise_autocorrelation()[3, 2]) < 0.1


def test_fit_rejects_noise_free_curves():
    from bioimaging_guide.noise import PhotonTransfer

    with pytest.raises(ValueError):
        fit_poisson_gaussian(PhotonTransfer(np.array([1.0, 2.0]), np.array([1.0, 0.5]), np.array([10, 10])))
