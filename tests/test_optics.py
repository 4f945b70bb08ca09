"""The sensorless-AO simulator: Zernike modes, PSF physics, and the modal-search baseline."""

import numpy as np
import pytest

from bioimaging_guide.optics import (
    AberrationNet,
    Microscope,
    airy_profile,
    modal_search,
    noll_to_nm,
    radial_profile,
    rms,
    sharpness,
    simulate_batch,
    zernike,
)


def test_noll_indices_follow_noll_1976():
    expected = {
        1: (0, 0),
        2: (1, 1),
        3: (1, -1),
        4: (2, 0),
        5: (2, -2),
        6: (2, 2),
        7: (3, -1),
        8: (3, 1),
        9: (3, -3),
        10: (3, 3),
        11: (4, 0),
        12: (4, 2),
        13: (4, -2),
        22: (6, 0),
    }
    for j, nm in expected.items():
        assert noll_to_nm(j) == nm, j
    with pytest.raises(ValueError):
        noll_to_nm(0)


def test_zernike_modes_are_orthonormal_on_the_unit_disc():
    n = 801
    y, x = np.mgrid[-1 : 1 : n * 1j, -1 : 1 : n * 1j]
    rho, theta = np.hypot(x, y), np.arctan2(y, x)
    inside = rho <= 1
    modes = np.stack([zernike(j, rho, theta)[inside] for j in range(1, 16)])
    gram = modes @ modes.T / inside.sum()  # mean over the disc = (1/π) ∫ Zi Zj dA
    assert np.allclose(gram, np.eye(15), atol=5e-3), np.abs(gram - np.eye(15)).max()
    assert np.all(zernike(4, np.array([1.5]), np.array([0.0])) == 0)


def test_unaberrated_psf_is_the_airy_pattern():
    scope = Microscope(wavelength=0.52, na=1.0, pixel_size=0.02, grid=1024, modes=(5,))
    psf = scope.psf()
    r, prof = radial_profile(psf, center=(512, 512))
    prof = prof / prof[0]
    r_um = r * scope.pixel_size
    # first dark ring: the first local minimum of the radial profile, at 0.61 λ/NA (radius)
    first_min = next(i for i in range(1, len(prof) - 1) if prof[i] < prof[i - 1] and prof[i] <= prof[i + 1])
    assert abs(r_um[first_min] - scope.airy_radius) <= scope.pixel_size, (r_um[first_min], scope.airy_radius)
    assert scope.airy_radius == pytest.approx(0.61 * 0.52 / 1.0)
    # and the whole profile (out to the third ring) matches [2 J1(v)/v]²
    sel = r_um < 3 * scope.airy_radius
    assert np.abs(prof[sel] - airy_profile(r_um[sel], 0.52, 1.0)).max() < 0.02


def test_energy_is_conserved():
    scope = Microscope(grid=128)
    rng = np.random.default_rng(0)
    raw_perfect = scope.psf(normalise=False).sum()
    assert raw_perfect == pytest.approx(scope.grid**2 * scope.pupil.sum())  # Parseval
    for _ in range(3):
        c = rng.normal(0, 0.8, len(scope.modes))
        assert scope.psf(c, normalise=False).sum() == pytest.approx(raw_perfect, rel=1e-9)
        assert scope.psf(c, defocus=1.0).sum() == pytest.approx(1.0)
    specimen = rng.random((64, 64))
    img = scope.image(specimen, rng.normal(0, 0.8, len(scope.modes)))
    assert img.sum() == pytest.approx(specimen.sum(), rel=1e-6)


def test_strehl_follows_marechal_for_small_errors_and_rms_adds_in_quadrature():
    scope = Microscope(grid=256)
    c = np.array([0.1, -0.15, 0.1, 0.05, 0.0, -0.1, 0.1])
    sigma = rms(c)
    assert sigma == pytest.approx(np.sqrt((c**2).sum()))
    phi = scope.phase(c)[scope.pupil > 0]
    assert phi.std() == pytest.approx(sigma, rel=0.03)  # orthonormal modes: RMS adds in quadrature
    assert scope.strehl(np.zeros(7)) == pytest.approx(1.0)
    assert scope.strehl(c) == pytest.approx(np.exp(-(sigma**2)), abs=0.02)
    assert scope.strehl(3 * c) < scope.strehl(c) < 1


def test_even_modes_have_a_sign_ambiguity_that_defocus_diversity_removes():
    scope = Microscope(grid=128)
    astig = np.array([0, 0.7, 0, 0, 0, 0, 0.0])  # Z6, even
    assert np.allclose(scope.psf(astig), scope.psf(-astig), atol=1e-12)
    spherical = np.array([0, 0, 0, 0, 0, 0, 0.7])  # Z11, even
    assert np.allclose(scope.psf(spherical), scope.psf(-spherical), atol=1e-12)
    assert not np.allclose(scope.psf(spherical, defocus=1.0), scope.psf(-spherical, defocus=1.0), atol=1e-6)
    coma = np.array([0, 0, 0.7, 0, 0, 0, 0.0])  # Z7, odd: the PSF is mirrored, not identical
    assert not np.allclose(scope.psf(coma), scope.psf(-coma), atol=1e-6)


def test_modal_search_finds_a_known_aberration_without_noise():
    scope = Microscope(grid=64)
    rng = np.random.default_rng(1)
    specimen = np.zeros((64, 64))
    specimen[rng.integers(8, 56, 30), rng.integers(8, 56, 30)] = 1.0  # point-like beads
    truth = np.array([0.5, -0.4, 0.3, 0.0, -0.3, 0.2, 0.4])

    def measure(correction):
        return float(sharpness(scope.image(specimen, truth - correction), scope))

    corr, exposures, history = modal_search(measure, 7, bias=1.0, rounds=2)
    assert exposures == 2 * (2 * 7 + 1) and len(history) == 2
    assert rms(truth - corr) < 0.35 * rms(truth)
    assert sharpness(scope.image(specimen, truth - corr), scope) > sharpness(scope.image(specimen, truth), scope)


def test_simulated_batch_and_network_shapes():
    import torch

    scope = Microscope(grid=64)
    specimens = np.random.default_rng(0).random((3, 48, 48))
    coeffs = np.zeros((3, 7))
    x = simulate_batch(scope, specimens, coeffs, crop=32, rng=0)
    assert x.shape == (3, 2, 32, 32) and x.dtype == np.float32
    assert abs(float(x[:, 0].mean())) < 0.05
    net = AberrationNet(7)
    assert net(torch.as_tensor(x)).shape == (3, 7)
