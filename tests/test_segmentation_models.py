"""Pure helpers of the StarDist/Cellpose module (no training)."""

import numpy as np
import pytest

from bioimaging_guide.segmentation_models import AUGMENTATION, augment, pad_to_size


def test_augment_keeps_image_and_labels_aligned():
    rng = np.random.default_rng(0)
    y = np.zeros((20, 30), int)
    y[2:5, 3:9] = 7
    x = (y > 0).astype(np.float32)
    for _ in range(20):
        xa, ya = augment(x, y, rng)
        assert xa.shape == ya.shape
        assert set(np.unique(ya)) == {0, 7}
        inside, outside = xa[ya == 7].mean(), xa[ya == 0].mean()
        assert inside > outside + 0.4  # the bright object moved with its label


def test_augment_follows_its_settings():
    rng = np.random.default_rng(1)
    x, y = np.ones((16, 16), np.float32), np.zeros((16, 16), int)
    plain = [augment(x, y, rng, scale=(2.0, 2.0), shift=(0.0, 0.0), noise_sd=0.0)[0] for _ in range(5)]
    assert all(np.allclose(p, 2.0) for p in plain)
    lo, hi = AUGMENTATION["scale"]
    for _ in range(20):
        out = augment(x, y, rng, noise_sd=0.0)[0]
        assert lo + AUGMENTATION["shift"][0] - 1e-6 <= out.mean() <= hi + AUGMENTATION["shift"][1] + 1e-6


def test_pad_to_size():
    x, y = np.arange(12.0).reshape(3, 4), np.ones((3, 4), int)
    xp, yp = pad_to_size(x, y, (5, 4))
    assert xp.shape == yp.shape == (5, 4) and yp[3:].sum() == 0 and xp[3:].max() == x.min()
    same = pad_to_size(x, y, (2, 2))
    assert same[0] is x


def test_zoom_and_blur_change_size_and_sharpness_and_keep_labels_aligned():
    y = np.zeros((64, 64), int)
    y[28:36, 28:36] = 3  # an 8 x 8 nucleus
    x = (y > 0).astype(np.float32)
    rng = np.random.default_rng(2)
    for factor in (0.5, 2.0):
        xa, ya = augment(x, y, rng, zoom=(factor, factor), scale=(1, 1), shift=(0, 0), noise_sd=0)
        assert xa.shape == ya.shape == (64, 64) and set(np.unique(ya)) <= {0, 3}
        area = (ya == 3).sum()
        assert 0.8 * 64 * factor**2 <= area <= 1.2 * 64 * factor**2 or (factor > 1 and area > 0)
        if area:
            assert xa[ya == 3].mean() > xa[ya == 0].mean() + 0.5  # still aligned
    rng = np.random.default_rng(3)
    peaks = [augment(x, y, rng, blur_sigma=3.0, scale=(1, 1), shift=(0, 0), noise_sd=0)[0].max() for _ in range(10)]
    assert min(peaks) < 0.8 and max(peaks) <= 1.0  # a random sigma up to 3 px: edges softened, sometimes a lot
    # zoom and blur off (the default) draw the same random numbers as before they existed
    a = augment(x, y, np.random.default_rng(5))
    b = augment(x, y, np.random.default_rng(5), zoom=(1.0, 1.0), blur_sigma=0.0)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    with pytest.raises(ValueError, match="zoom must be"):
        augment(x, y, rng, zoom=(1.2, 0.8))


# --------------------------------------------------------------------------- test-time augmentation


def test_dihedral_transforms_are_eight_distinct_and_invertible():
    from bioimaging_guide.segmentation_models import DIHEDRAL, dihedral_forward, dihedral_inverse

    x = np.arange(5 * 7 * 2).reshape(5, 7, 2)  # rows, columns and a channel axis that must stay put
    outs = [dihedral_forward(x, t) for t in DIHEDRAL]
    assert len(DIHEDRAL) == 8 and np.array_equal(outs[0], x)
    assert len({o.tobytes() + bytes(o.shape) for o in outs}) == 8
    for t, o in zip(DIHEDRAL, outs):
        assert np.array_equal(dihedral_inverse(o, t), x)
        assert o.shape[2] == 2 and np.array_equal(np.sort(o.ravel()), np.sort(x.ravel()))


def test_ray_permutation_matches_stardists_own_distances():
    """Distances computed on a transformed label image, moved back, equal those of the original."""
    from stardist.geometry import star_dist

    from bioimaging_guide.segmentation_models import DIHEDRAL, dihedral_forward, dihedral_inverse, ray_permutation

    yy, xx = np.mgrid[:41, :41]
    labels = (((yy - 18) / 11.0) ** 2 + ((xx - 22) / 6.0) ** 2 <= 1).astype(np.int32)  # an off-centre ellipse
    labels[5:9, 20:34] = 2  # and a bar: neither is symmetric under every transform
    reference = star_dist(labels, 32)
    for t in DIHEDRAL:
        unpermuted = dihedral_inverse(star_dist(dihedral_forward(labels, t), 32), t)
        np.testing.assert_allclose(unpermuted[..., ray_permutation(32, t)], reference, atol=1e-4)
        if t != DIHEDRAL[0]:  # without the permutation the rays point the wrong way
            assert not np.allclose(unpermuted, reference, atol=1e-2)


def test_ray_permutation_refuses_ray_counts_that_turns_cannot_map():
    from bioimaging_guide.segmentation_models import ray_permutation

    with pytest.raises(ValueError, match="divisible by 4"):
        ray_permutation(30, (True, False, False))


@pytest.mark.usefixtures("real_data")
def test_stardist_tta_is_equivariant_and_close_to_a_single_pass():
    """Averaging over all eight transforms makes the output of a flipped image the flipped output."""
    from stardist.models import StarDist2D

    from bioimaging_guide import evaluation as ev
    from bioimaging_guide.common import normalize_percentile
    from bioimaging_guide.data import load_dsb2018
    from bioimaging_guide.models import load_model, shipped_models_dir
    from bioimaging_guide.segmentation_models import stardist_tta_prediction

    crop = load_dsb2018("fluorescence", split="test")[0].image[:129, :161]  # odd sides: no padding needed
    net = StarDist2D(None, name="stardist-dsb2018", basedir=str(shipped_models_dir()))
    x = normalize_percentile(crop)
    prob, dist, shape = stardist_tta_prediction(net, x)
    assert shape == x.shape and prob.shape == (65, 81) and dist.shape == (65, 81, 32)
    prob_f, dist_f, _ = stardist_tta_prediction(net, x[:, ::-1].copy())
    np.testing.assert_allclose(prob_f[:, ::-1], prob, atol=1e-4)
    mirror = [(16 - k) % 32 for k in range(32)]  # a left-right mirror sends the ray at angle phi to pi - phi
    np.testing.assert_allclose(dist_f[:, ::-1][..., mirror], dist, atol=1e-3)
    # the labels agree closely with a single pass (same network, same thresholds)
    book = load_model("stardist-dsb2018")
    single, averaged = book.predict(crop), book.predict(crop, tta=True)
    assert averaged.shape == crop.shape and averaged.dtype == np.int32
    assert ev.match(single, averaged, 0.5).f1 > 0.9


def test_cellpose_thresholds_default_read_and_refuse_incomplete_files(tmp_path):
    from bioimaging_guide.segmentation_models import CELLPOSE_DEFAULT_THRESHOLDS, cellpose_thresholds

    assert cellpose_thresholds(tmp_path) == CELLPOSE_DEFAULT_THRESHOLDS
    (tmp_path / "thresholds.json").write_text('{"cellprob": -1, "flow": 0.7}')
    assert cellpose_thresholds(tmp_path) == {"cellprob": -1.0, "flow": 0.7}
    (tmp_path / "thresholds.json").write_text('{"cellprob": -1}')
    with pytest.raises(ValueError, match=r"lacks \['flow'\].*delete the file"):
        cellpose_thresholds(tmp_path)


@pytest.mark.usefixtures("real_data")
def test_cellpose_threshold_search_forms_masks_as_cellpose_does_and_is_used_after_saving(tmp_path):
    import shutil

    from bioimaging_guide import evaluation as ev
    from bioimaging_guide.common import normalize_percentile
    from bioimaging_guide.data import load_dsb2018
    from bioimaging_guide.models import load_model, model_folder
    from bioimaging_guide.segmentation_models import (
        CELLPOSE_DEFAULT_THRESHOLDS,
        _cellpose_masks,
        _cellpose_model,
        optimize_cellpose_thresholds,
    )

    folder = tmp_path / "cellpose-copy"
    shutil.copytree(model_folder("cellpose-dsb2018"), folder)
    (folder / "thresholds.json").unlink(missing_ok=True)
    samples = load_dsb2018("fluorescence", split="val")[:3]
    images, labels = [s.image for s in samples], [s.labels for s in samples]

    # masks formed from the flows once, at given thresholds, are exactly what Cellpose's eval returns
    cp, cfg = _cellpose_model(folder)
    x = normalize_percentile(images[0])
    for thresholds in (CELLPOSE_DEFAULT_THRESHOLDS, {"cellprob": -2.0, "flow": 0.9}):
        masks, flows, _ = cp.eval(
            x,
            channels=[0, 0],
            normalize=False,
            rescale=cfg["rescale"],
            progress=None,
            cellprob_threshold=thresholds["cellprob"],
            flow_threshold=thresholds["flow"],
        )
        np.testing.assert_array_equal(_cellpose_masks(flows[1], flows[2], thresholds), masks)

    grid = {"cellprob": (-2.0, 0.0, 2.0), "flow": (0.4, 0.8)}
    choice = optimize_cellpose_thresholds(folder, images, labels, grid=grid, save=False)
    assert not (folder / "thresholds.json").exists()
    assert choice["cellprob"] in grid["cellprob"] + (0.0,) and choice["flow"] in grid["flow"]
    assert choice["score"] >= choice["default_score"] > 0.3

    # once saved, the loaded model segments with the chosen pair and scores what the search reported
    optimize_cellpose_thresholds(folder, images, labels, grid=grid)
    loaded = load_model(folder)
    assert loaded.thresholds == {"cellprob": choice["cellprob"], "flow": choice["flow"]}
    preds = [loaded.predict(im) for im in images]
    accuracy = np.mean([r.accuracy for r in ev.match_dataset(labels, preds, thresh=[0.3, 0.5, 0.7])])
    assert accuracy == pytest.approx(choice["score"], abs=1e-4)
    with pytest.raises(ValueError, match="need annotated images"):
        optimize_cellpose_thresholds(folder, images, labels[:2])
    with pytest.raises(ValueError, match=r"segments 2D images .* got shape \(2, "):
        optimize_cellpose_thresholds(folder, [np.stack([images[0]] * 2)], labels[:1])
