"""Tests of bioimaging_guide.userdata: pairing folders, reading labels, checking a training set, evaluating.

Small synthetic sets with one planted defect each, and real DSB 2018 test
images (with the classical baseline's predictions) written as TIFF files.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
from PIL import Image
from skimage import draw

from bioimaging_guide import evaluation as ev
from bioimaging_guide import userdata as ud
from bioimaging_guide.images import InputError

# --------------------------------------------------------------------------- helpers


def touch(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")
    return folder


def discs(shape=(64, 64), centres=((16, 16), (16, 46), (46, 30)), radius=6) -> np.ndarray:
    labels = np.zeros(shape, np.uint16)
    for i, centre in enumerate(centres, start=1):
        rr, cc = draw.disk(centre, radius, shape=shape)
        labels[rr, cc] = i
    return labels


def c_shape(labels: np.ndarray, centre=(20, 20), outer=10, inner=5, obj=1) -> np.ndarray:
    """Replace object ``obj`` by a C (a ring open to the right)."""
    labels = labels.copy()
    labels[labels == obj] = 0
    ring = np.zeros(labels.shape, bool)
    ring[draw.disk(centre, outer, shape=labels.shape)] = True
    ring[draw.disk(centre, inner, shape=labels.shape)] = False
    ring[centre[0] - 3 : centre[0] + 4, centre[1] :] = False
    labels[ring] = obj
    return labels


def fake_image(labels: np.ndarray, dtype=np.uint8, seed=0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, 3, labels.shape)
    return np.clip(20 + 150 * (labels > 0) + noise, 0, 255).astype(dtype)


def write_set(root: Path, labels_list, images=None, label_names=None) -> tuple[Path, Path]:
    """images/img{i}.tif and labels/img{i}.tif (or label_names[i])."""
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir(parents=True)
    for i, labels in enumerate(labels_list):
        image = images[i] if images is not None else fake_image(labels, seed=i)
        tifffile.imwrite(root / "images" / f"img{i}.tif", image)
        tifffile.imwrite(root / "labels" / (label_names[i] if label_names else f"img{i}.tif"), labels)
    return root / "images", root / "labels"


def clean_set() -> list[np.ndarray]:
    return [discs(), discs(centres=((20, 20), (20, 44), (44, 32))), discs(centres=((14, 30), (40, 16), (44, 46)))]


# --------------------------------------------------------------------------- pairing


def test_pair_by_stem_and_label_suffixes(tmp_path):
    images = touch(
        tmp_path / "images", "a.tif", "b.png", "c.tif", "d.tif", "e.tif", "f.tif", "g.tif", "notes.txt", "._a.tif"
    )
    labels = touch(
        tmp_path / "labels",
        *("a.tif", "b.tif", "c_masks.tif", "d_labels.png", "e-labels.tif", "f_Mask.tif", "g_cp_masks.png"),
        *("._b.tif", "a_overlay.png"),  # hidden files and the overlays of `segment` are not label files
    )
    pairs = ud.pair_folders(images, labels)
    assert [p.name for p in pairs] == ["a", "b", "c", "d", "e", "f", "g"]
    assert {p.name: p.labels.name for p in pairs} == {
        "a": "a.tif",
        "b": "b.tif",
        "c": "c_masks.tif",
        "d": "d_labels.png",
        "e": "e-labels.tif",
        "f": "f_Mask.tif",
        "g": "g_cp_masks.png",
    }
    assert pairs[1].image == images / "b.png"
    assert ud.pair_folders(str(images), str(labels)) == pairs  # str works too


def test_pair_prefers_the_exact_name(tmp_path):
    images = touch(tmp_path / "images", "a.tif", "a_mask.tif")
    labels = touch(tmp_path / "labels", "a_mask.tif", "a_masks.tif")
    assert {p.name: p.labels.name for p in ud.pair_folders(images, labels)} == {
        "a": "a_masks.tif",
        "a_mask": "a_mask.tif",
    }


def test_pair_errors_missing_and_empty_folders(tmp_path):
    images = touch(tmp_path / "images", "a.tif")
    with pytest.raises(InputError, match="label folder .*nope does not exist"):
        ud.pair_folders(images, tmp_path / "nope")
    with pytest.raises(InputError, match="is a file, not a folder"):
        ud.pair_folders(images / "a.tif", images)
    empty = touch(tmp_path / "empty", "readme.txt")
    with pytest.raises(InputError, match="holds no image files"):
        ud.pair_folders(images, empty)


def test_pair_errors_unpaired_files_listed(tmp_path):
    images = touch(tmp_path / "images", *[f"i{k}.tif" for k in range(7)], "x.tif")
    labels = touch(tmp_path / "labels", "x.tif", "y_masks.tif", "z.tif")
    with pytest.raises(InputError) as err:
        ud.pair_folders(images, labels)
    message = str(err.value)
    assert "7 image file(s) have no label file: i0.tif, i1.tif, i2.tif, i3.tif, i4.tif and 2 more" in message
    assert "2 label file(s) match no image file: y_masks.tif, z.tif" in message
    assert "a_masks.tif" in message  # says how to name them


def test_pair_errors_two_files_one_name(tmp_path):
    images = touch(tmp_path / "images", "a.tif", "b.tif")
    labels = touch(tmp_path / "labels", "a.tif", "a_masks.png", "b.tif")
    with pytest.raises(InputError, match=r"a.tif, a_masks.png all pair to the name 'a'"):
        ud.pair_folders(images, labels)
    images2 = touch(tmp_path / "images2", "a.tif", "a.png")
    with pytest.raises(InputError, match=r"a.png, a.tif all pair to the name 'a'"):
        ud.pair_folders(images2, touch(tmp_path / "labels2", "a.tif"))


# --------------------------------------------------------------------------- reading labels


def test_binary_mask_refused_with_the_fix(tmp_path):
    mask = (discs() > 0).astype(np.uint8)
    tifffile.imwrite(tmp_path / "mask01.tif", mask)
    with pytest.raises(InputError) as err:
        ud.read_labels(tmp_path / "mask01.tif")
    message = str(err.value)
    assert "binary mask" in message and "3 separate objects" in message
    assert "every nucleus its own number" in message
    assert "skimage.measure.label(mask)" in message and "touch" in message

    Image.fromarray(mask * 255).save(tmp_path / "mask255.png")
    with pytest.raises(InputError, match="only the values 0 and 255"):
        ud.read_labels(tmp_path / "mask255.png")

    tifffile.imwrite(tmp_path / "bool.tif", mask.astype(bool))
    with pytest.raises(InputError, match="binary mask"):
        ud.read_labels(tmp_path / "bool.tif")

    one = (discs(centres=((30, 30),)) > 0).astype(np.uint8)  # a single object labelled 1 is fine
    tifffile.imwrite(tmp_path / "one.tif", one)
    np.testing.assert_array_equal(ud.read_labels(tmp_path / "one.tif"), one)


def test_float_labels(tmp_path):
    labels = discs().astype(np.float32)
    tifffile.imwrite(tmp_path / "prob.tif", labels * 0.3)
    with pytest.raises(InputError, match="not whole"):
        ud.read_labels(tmp_path / "prob.tif")
    tifffile.imwrite(tmp_path / "whole.tif", labels)
    read = ud.read_labels(tmp_path / "whole.tif")
    assert read.dtype == np.int32
    np.testing.assert_array_equal(read, discs())


def test_read_labels_other_refusals(tmp_path):
    tifffile.imwrite(tmp_path / "neg.tif", discs().astype(np.int16) - 1)
    with pytest.raises(InputError, match="negative values"):
        ud.read_labels(tmp_path / "neg.tif")
    tifffile.imwrite(tmp_path / "stack.tif", np.stack([discs(), discs()]))
    with pytest.raises(InputError, match="not a 2D label image"):
        ud.read_labels(tmp_path / "stack.tif")
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(InputError, match="colour"):
        ud.read_labels(tmp_path / "rgb.png")
    (tmp_path / "labels.jpg").write_bytes(b"")
    with pytest.raises(InputError, match="JPEG"):
        ud.read_labels(tmp_path / "labels.jpg")
    (tmp_path / "broken.tif").write_bytes(b"not a tiff")
    with pytest.raises(InputError, match="cannot read"):
        ud.read_labels(tmp_path / "broken.tif")
    tifffile.imwrite(tmp_path / "single.tif", discs()[None])  # a singleton axis is dropped
    np.testing.assert_array_equal(ud.read_labels(tmp_path / "single.tif"), discs())


# --------------------------------------------------------------------------- star-convexity


def test_star_convexity():
    labels = np.zeros((120, 200), np.int32)
    k = 0
    for i, (r, ratio, angle) in enumerate([(3, 1, 0), (8, 1, 0), (6, 2.5, 0.4), (5, 3.5, 1.2), (12, 1.5, 2.0)]):
        rr, cc = draw.ellipse(30, 20 + 38 * i, r, r * ratio, rotation=angle, shape=labels.shape)
        k += 1
        labels[rr, cc] = k
    labels[85:88, 10:13] = k + 1  # 3x3 square
    labels = np.maximum(labels, c_shape(np.zeros_like(labels), centre=(90, 60), obj=k + 2))
    ring = np.zeros_like(labels, bool)  # centroid outside the object
    ring[draw.disk((90, 120), 12)] = True
    ring[draw.disk((90, 120), 6)] = False
    labels[ring] = k + 3
    flags = ud._not_star_convex(labels)
    assert flags == {1: False, 2: False, 3: False, 4: False, 5: False, 6: False, 7: True, 8: True}


def test_star_convexity_is_fast():
    labels = np.zeros((400, 600), np.int32)
    centres = [(20 + 40 * i, 20 + 30 * j) for i in range(10) for j in range(20)]
    centres += [(40 + 40 * i, 35 + 30 * j) for i in range(9) for j in range(12)][:100]
    for k, (r, c) in enumerate(centres, start=1):
        rr, cc = draw.ellipse(r, c, 9, 6, rotation=k / 7, shape=labels.shape)
        labels[rr, cc] = k
    assert len(np.unique(labels)) - 1 == 300
    start = time.perf_counter()
    ud._not_star_convex(labels)
    assert time.perf_counter() - start < 1.0


# --------------------------------------------------------------------------- check_dataset, planted defects


def kinds(messages: list[str]) -> list[str]:
    """The first words of each message (enough to tell them apart in the tests)."""
    keys = {
        "have no objects": "empty",
        "tiny object": "tiny",
        "cover more than": "huge",
        "touch the image border": "border",
        "not star-convex": "star",
        "differ more than": "scale",
        "different pixel types": "dtype",
        "separate pieces": "pieces",
        "a colour image": "rgb",
        "binary mask": "binary",
        "floating-point": "float",
        "labels have shape": "shape",
        "only 1 image/label pair": "single",
        "match no image file": "unpaired",
        "have no label file": "unpaired",
    }
    return sorted(next((v for k, v in keys.items() if k in m), m) for m in messages)


def test_clean_set_has_no_findings(tmp_path):
    report = ud.check_dataset(*write_set(tmp_path, clean_set()))
    assert report.ok and report.problems == [] and report.warnings == [], str(report)
    assert report.n_pairs == 3
    assert list(report.summary["name"]) == ["img0", "img1", "img2"]
    assert list(report.summary["n_objects"]) == [3, 3, 3]
    diameter = 2 * np.sqrt((discs() == 1).sum() / np.pi)  # of the disc of the same area
    assert report.median_diameter_px == pytest.approx(diameter)
    assert (report.summary["fraction_not_star_convex"] == 0).all()
    assert str(report).splitlines() == [
        f"3 image/label pair(s), 9 object(s), median object diameter {diameter:.1f} px.",
        "No problems.",
    ]


def planted(defect: str) -> dict:
    """A clean set with one defect: the arguments of write_set and of check_dataset."""
    labels = clean_set()
    kwargs: dict = {}
    if defect == "shape":
        kwargs["images"] = [fake_image(lab) for lab in labels]
        labels[0] = labels[0][:60]
    elif defect == "empty":
        labels[0] = np.zeros_like(labels[0])
    elif defect == "tiny":
        labels[0][50:53, 4:7] = 9
    elif defect == "border":
        labels[0] = discs(centres=((16, 16), (16, 46), (60, 30)))
    elif defect == "star":
        labels[0] = c_shape(labels[0])
    elif defect == "single":
        labels = labels[:1]
    elif defect == "float":
        labels[1] = labels[1].astype(np.float32)
    elif defect == "binary":
        labels[2] = (labels[2] > 0).astype(np.uint8)
    elif defect == "scale":
        labels[2] = discs(shape=(128, 128), centres=((30, 30), (30, 95), (95, 60)), radius=14)
    elif defect == "dtype":
        kwargs["images"] = [fake_image(lab, np.uint16 if i == 1 else np.uint8) for i, lab in enumerate(labels)]
    elif defect == "pieces":
        labels[1][labels[1] == 2] = 1
    elif defect == "huge":
        labels[0] = np.zeros(labels[0].shape, np.uint32)
        labels[0][12:52, 12:52] = 4_000_000_000  # large ids are fine
    elif defect == "rgb":
        kwargs["images"] = [fake_image(lab) for lab in labels]
        kwargs["images"][0] = np.repeat(kwargs["images"][0][..., None], 3, axis=-1)
    elif defect == "unpaired":
        kwargs["label_names"] = ["img0.tif", "img1.tif", "other.tif"]
    return {"labels_list": labels, **kwargs}


@pytest.mark.parametrize(
    "defect, problems, warnings",
    [
        ("shape", ["shape"], []),
        ("empty", [], ["empty"]),
        ("tiny", [], ["tiny"]),
        ("border", [], ["border"]),
        ("star", [], ["star"]),
        ("single", ["single"], []),
        ("float", ["float"], []),
        ("binary", ["binary"], []),
        ("scale", [], ["scale"]),
        ("dtype", [], ["dtype"]),
        ("pieces", [], ["pieces", "star"]),  # one id for two discs: not star-convex either
        ("huge", [], ["huge"]),
        ("rgb", ["rgb"], []),  # refused: a channel must be chosen (as segment --channel), never averaged
        ("unpaired", ["unpaired", "unpaired"], []),
    ],
)
def test_planted_defect(tmp_path, defect, problems, warnings):
    report = ud.check_dataset(*write_set(tmp_path, **planted(defect)))
    assert kinds(report.problems) == problems, str(report)
    assert kinds(report.warnings) == warnings, str(report)
    assert report.ok == (not problems)
    for message in report.problems + report.warnings:
        assert message in str(report)


def test_planted_defect_details(tmp_path):
    report = ud.check_dataset(*write_set(tmp_path / "tiny", **planted("tiny")))
    assert report.warnings[0].startswith("1 tiny object(s) (< 20 px) in 1 image(s) (img0: 1)")
    assert report.summary.set_index("name").loc["img0", "n_tiny"] == 1

    report = ud.check_dataset(*write_set(tmp_path / "border", **planted("border")))
    assert report.warnings[0].startswith("1 of 9 objects (11 %) touch the image border")

    report = ud.check_dataset(*write_set(tmp_path / "star", **planted("star")))
    assert report.warnings[0].startswith("1 of 9 objects (11 %) are not star-convex")
    assert report.summary["fraction_not_star_convex"].tolist() == pytest.approx([1 / 3, 0, 0])
    no_star = ud.check_dataset(tmp_path / "star" / "images", tmp_path / "star" / "labels", star_convex=False)
    assert no_star.warnings == [] and no_star.summary["fraction_not_star_convex"].isna().all()

    report = ud.check_dataset(*write_set(tmp_path / "huge", **planted("huge")))
    assert report.warnings[0].startswith("1 object(s) cover more than 25 % of their image (img0: id 4000000000, 39 %)")

    report = ud.check_dataset(*write_set(tmp_path / "shape", **planted("shape")))
    assert report.problems == [
        "img0: the labels have shape (60, 64) but the image (64, 64); every label pixel must lie on its image pixel: "
        "export the labels from this image without cropping or resizing (if you must resize them, use "
        "nearest-neighbour interpolation, order=0)"
    ]

    report = ud.check_dataset(*write_set(tmp_path / "single", **planted("single")))
    assert "a validation split needs at least 2 images (better 5 or more)" in report.problems[0]


def test_check_missing_folder_raises(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        ud.check_dataset(tmp_path / "images", tmp_path / "labels")


def test_report_text_example(tmp_path):
    """A set with several planted defects; the text is printed (pytest -s) for the documentation."""
    labels = clean_set()
    images = [fake_image(lab) for lab in labels]
    labels[0] = c_shape(labels[0])
    labels[0][50:53, 4:7] = 9
    labels[1] = labels[1][:60]
    labels[2] = c_shape(discs(centres=((14, 30), (40, 16), (58, 46))), centre=(40, 18), obj=2)
    text = str(ud.check_dataset(*write_set(tmp_path, labels, images=images)))
    print(text)
    assert text.startswith("3 image/label pair(s), 10 object(s), median object diameter")
    assert "1 problem(s) to fix before training, 3 warning(s) to look at." in text
    assert text.index("Problems (must fix):") < text.index("Warnings (worth a look):")


# --------------------------------------------------------------------------- evaluation


def test_evaluate_perfect_prediction():
    truths = clean_set()
    rng = np.random.default_rng(1)
    preds = []
    for t in truths:  # same objects, other ids
        ids = np.concatenate([[0], rng.permutation(np.arange(1, t.max() + 1)) + 10])
        preds.append(ids[t].astype(np.int32))
    result = ud.evaluate(truths, preds, ["a", "b", "c"])
    assert list(result.summary.index) == list(ud.SUMMARY_ROWS)
    assert list(result.summary.columns) == ["value", "ci_low", "ci_high"]
    assert (result.summary.to_numpy() == 1).all(), result.summary
    assert (result.per_image[["precision", "recall", "f1", "pq", "mean_matched_iou", "ap_dsb"]] == 1).all().all()
    assert list(result.by_threshold["thresh"]) == list(ev.DSB_THRESHOLDS)
    assert (result.by_threshold["f1"] == 1).all()


def test_evaluate_input_errors():
    t = clean_set()
    with pytest.raises(InputError, match="one prediction and one name"):
        ud.evaluate(t, t[:2], ["a", "b", "c"])
    with pytest.raises(InputError, match="names repeat"):
        ud.evaluate(t, t, ["a", "b", "a"])
    with pytest.raises(InputError, match=r"^b: the annotation has shape \(64, 64\) but the prediction \(60, 64\)"):
        ud.evaluate(t, [t[0], t[1][:60], t[2]], ["a", "b", "c"])
    with pytest.raises(InputError, match="^c: the prediction has dtype float64"):
        ud.evaluate(t, [t[0], t[1], t[2] * 1.0], ["a", "b", "c"])
    with pytest.raises(InputError, match="thresholds"):
        ud.evaluate(t, t, ["a", "b", "c"], thresholds=[0.5, 1.5])


def test_evaluate_thresholds_without_one_half():
    t = clean_set()
    result = ud.evaluate(t, t, ["a", "b", "c"], thresholds=[0.6, 0.8])
    assert list(result.by_threshold["thresh"]) == [0.6, 0.8]
    assert result.summary.loc["F1@0.5", "value"] == 1


def test_pooled_bootstrap_draws_like_bootstrap_ci():
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 30, size=(12, 3))
    for statistic in ("accuracy", "f1"):
        ci = ev.bootstrap_ci(counts, n_boot=500, seed=4, statistic=statistic)
        formula = {
            "accuracy": lambda s: ud._ratio(s[..., 0], s.sum(axis=-1)),
            "f1": lambda s: ud._ratio(2 * s[..., 0], 2 * s[..., 0] + s[..., 1] + s[..., 2]),
        }[statistic]
        assert ud._pooled_ci(counts, formula, n_boot=500, seed=4, confidence=0.95) == (ci.estimate, ci.low, ci.high)


# --------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def real_folders(real_data, tmp_path_factory):
    """10 DSB fluorescence test images: images/<id>.tif, truth/<id>_masks.tif, pred/<id>.tif (baseline)."""
    from bioimaging_guide.data import load_dsb2018
    from bioimaging_guide.segmentation import watershed_nuclei

    root = tmp_path_factory.mktemp("dsb")
    for sub in ("images", "images5", "truth", "truth5", "pred"):
        (root / sub).mkdir()
    samples = load_dsb2018("fluorescence", "test", progress=False)
    for k, s in enumerate(samples):
        name = s.image_id[:8]
        image, labels = (s.image * 255).astype(np.uint8), s.labels.astype(np.uint16)
        tifffile.imwrite(root / "images" / f"{name}.tif", image)
        tifffile.imwrite(root / "truth" / f"{name}_masks.tif", labels)
        tifffile.imwrite(root / "pred" / f"{name}.tif", watershed_nuclei(s.image).astype(np.uint16))
        if k < 5:
            tifffile.imwrite(root / "images5" / f"{name}.tif", image)
            tifffile.imwrite(root / "truth5" / f"{name}.tif", labels)
    return root, samples


def test_check_real_images(real_folders):
    root, samples = real_folders
    report = ud.check_dataset(root / "images5", root / "truth5")
    assert report.ok, str(report)
    assert report.n_pairs == 5
    assert 10 < report.median_diameter_px < 40  # nuclei, at the DSB magnifications
    assert list(report.summary["n_objects"]) == [s.n_nuclei for s in samples[:5]]
    assert (report.summary["fraction_not_star_convex"] < 0.1).all()  # DSB nuclei are nearly star-convex
    assert "median object diameter" in str(report)


def test_evaluate_real_images_matches_evaluation(real_folders):
    root, samples = real_folders
    result = ud.evaluate_folders(root / "truth", root / "pred")
    names = [s.image_id[:8] for s in samples]
    assert list(result.per_image["name"]) == names

    gts = [s.labels for s in samples]
    preds = [tifffile.imread(root / "pred" / f"{n}.tif") for n in names]
    pooled = ev.match_dataset(gts, preds, thresh=list(ev.DSB_THRESHOLDS))
    by_image = ev.match_dataset(gts, preds, thresh=list(ev.DSB_THRESHOLDS), by_image=True)
    s = result.summary["value"]
    assert s["F1@0.5"] == pytest.approx(pooled[0].f1, abs=1e-12)
    assert s["precision@0.5"] == pytest.approx(pooled[0].precision, abs=1e-12)
    assert s["recall@0.5"] == pytest.approx(pooled[0].recall, abs=1e-12)
    assert s["PQ"] == pytest.approx(pooled[0].panoptic_quality, abs=1e-12)
    assert s["mean matched IoU"] == pytest.approx(pooled[0].mean_matched_iou, abs=1e-12)
    assert s["AP (pooled)"] == pytest.approx(np.mean([c.accuracy for c in pooled]), abs=1e-12)
    assert s["AP (DSB, mean per image)"] == pytest.approx(np.mean([c.accuracy for c in by_image]), abs=1e-12)
    assert abs(s["AP (DSB, mean per image)"] - s["AP (pooled)"]) > 0.05  # the two conventions differ here

    per = result.per_image.set_index("name")
    for name, gt, pred in zip(names, gts, preds):
        r = ev.match(gt, pred)
        assert per.loc[name, ["tp", "fp", "fn"]].tolist() == [r.tp, r.fp, r.fn]
        assert per.loc[name, "pq"] == pytest.approx(r.panoptic_quality, abs=1e-12)
        assert per.loc[name, "ap_dsb"] == pytest.approx(ev.average_precision(gt, pred), abs=1e-12)
    for _, value, low, high in result.summary.itertuples():
        assert low <= value <= high
        assert high - low > 0.01  # ten images: the intervals are wide
    ci = ev.bootstrap_ci(pooled[0], statistic="f1")
    assert (result.summary.loc["F1@0.5", "ci_low"], result.summary.loc["F1@0.5", "ci_high"]) == (ci.low, ci.high)
    pd.testing.assert_frame_equal(
        result.by_threshold.reset_index(drop=True),
        ev.results_table(pooled)[["thresh", "tp", "fp", "fn", "precision", "recall", "f1", "accuracy"]],
    )
    text = str(result)
    assert "AP (DSB, mean per image)" in text and "AP (pooled)" in text and names[0] in text


def test_csv_written_and_nothing_on_error(real_folders, tmp_path, monkeypatch):
    root, _ = real_folders
    result = ud.evaluate_folders(root / "truth", root / "pred")
    target = result.write_csv(tmp_path / "scores.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.csv"]
    back = pd.read_csv(target, dtype={"name": str})
    pd.testing.assert_frame_equal(back, result.per_image, check_dtype=False)

    # an unpaired annotation: an error before anything is scored or written
    truth = tmp_path / "truth"
    truth.mkdir()
    for f in (root / "truth").iterdir():
        (truth / f.name).write_bytes(f.read_bytes())
    tifffile.imwrite(truth / "extra.tif", np.zeros((16, 16), np.uint16))
    with pytest.raises(InputError, match="1 annotation file.* have no prediction file: extra.tif"):
        ud.evaluate_folders(truth, root / "pred")

    # a failure while writing: the old file stays, no half file or temporary file is left
    def broken(self, path, **kwargs):
        Path(path).write_text("name,n_true\nhalf")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    before = target.read_bytes()
    with pytest.raises(OSError, match="disk full"):
        result.write_csv(target)
    with pytest.raises(OSError, match="disk full"):
        result.write_csv(tmp_path / "new.csv")
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.csv", "truth"]
    with pytest.raises(InputError, match="does not exist"):
        result.write_csv(tmp_path / "missing" / "scores.csv")
    assert not (tmp_path / "missing").exists()
