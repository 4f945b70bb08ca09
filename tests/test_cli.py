"""The ``bioimaging-guide`` command: ``segment``, ``check``, ``evaluate``, ``denoise`` and ``train``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
from PIL import Image

from bioimaging_guide import evaluation as ev
from bioimaging_guide.cli import main
from bioimaging_guide.models import REGISTRY, SHIPPED, load_model, shipped_models_dir

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(
    not (shipped_models_dir() / "stardist-dsb2018").is_dir(), reason="shipped StarDist model not trained yet"
)


@pytest.fixture(scope="module")
def real(real_data):
    from bioimaging_guide.data import load_dsb2018

    return {s.image_id[:8]: s for s in load_dsb2018("fluorescence", "test")}


def write_png(path: Path, image: np.ndarray) -> Path:
    Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8)).save(path)
    return path


def run(args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_round_trip_on_real_images(tmp_path, capsys, real):
    s = real["7f4cbe0b"]
    inp = tmp_path / "in"
    inp.mkdir()
    write_png(inp / "nuclei.png", s.image)
    tifffile.imwrite(inp / "nuclei16.tif", (s.image * 4000).astype(np.uint16))
    code, out = run(["segment", inp, "--output", tmp_path / "out"], capsys)
    assert code == 0, out
    labels_files = ["nuclei.tif", "nuclei16.tif"]
    extras = [f"{n[:-4]}{x}" for n in labels_files for x in ("_measurements.csv", "_overlay.png")]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(labels_files + extras + ["summary.csv"])
    for name in labels_files:
        labels = tifffile.imread(tmp_path / "out" / name)
        assert labels.dtype == np.uint16 and labels.shape == s.labels.shape
        assert ev.match(s.labels, labels.astype(np.int32)).f1 > 0.85, name
        table = pd.read_csv(tmp_path / "out" / name.replace(".tif", "_measurements.csv"))
        assert sorted(table["label"]) == sorted(np.unique(labels[labels > 0]))  # one row per object
        assert (table["area_px"] == [np.sum(labels == k) for k in table["label"]]).all()
        assert "area_um2" not in table  # a PNG has no pixel size
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert list(summary["image"]) == ["nuclei.png", "nuclei16.tif"] and (summary["objects"] > 20).all()
    overlay = np.asarray(Image.open(tmp_path / "out" / "nuclei_overlay.png"))
    assert overlay.shape == (*s.image.shape, 3) and (overlay == (255, 220, 0)).all(axis=-1).sum() > 100
    # the output folder, overlays and tables included, can be scored as it is
    truth = tmp_path / "truth"
    truth.mkdir()
    for name in ("nuclei", "nuclei16"):
        tifffile.imwrite(truth / f"{name}_masks.tif", s.labels.astype(np.uint16))
    code, out = run(["evaluate", "--truth", truth, "--pred", tmp_path / "out"], capsys)
    assert code == 0 and "2 image(s)" in out, out


def test_large_image_is_tiled(tmp_path, capsys, real):
    big = np.tile(real["0a849e0e"].image, (5, 1))  # 1280 x 256: predicted in tiles
    tifffile.imwrite(tmp_path / "big.tif", big.astype(np.float32))
    code, out = run(["segment", tmp_path / "big.tif", "-o", tmp_path / "out"], capsys)
    assert code == 0, out
    labels = tifffile.imread(tmp_path / "out" / "big.tif")
    assert labels.shape == big.shape and labels.max() > 150


@pytest.mark.parametrize("model", ["stardist-dsb2018", "cellpose-dsb2018"])
def test_tta_segments_like_a_single_pass_and_keeps_the_shape(tmp_path, capsys, real, model):
    s = real["7f4cbe0b"]
    crop = s.image[:200, :250]  # even sides: StarDist's averaging pads them to odd ones and crops back
    write_png(tmp_path / "nuclei.png", crop)
    for flag in ([], ["--tta"]):
        code, out = run(
            ["segment", tmp_path / "nuclei.png", "--model", model, "-o", tmp_path / f"out{len(flag)}", *flag], capsys
        )
        assert code == 0, out
    single = tifffile.imread(tmp_path / "out0" / "nuclei.tif").astype(np.int32)
    averaged = tifffile.imread(tmp_path / "out1" / "nuclei.tif").astype(np.int32)
    assert averaged.shape == crop.shape
    assert ev.match(s.labels[:200, :250], averaged).f1 > 0.85  # still a good segmentation
    assert 0.9 < ev.match(single, averaged).f1 and not np.array_equal(single, averaged)  # close, not identical


@pytest.mark.parametrize(
    "case, message",
    [
        ("unreadable", "cannot read"),
        ("channels", "pass --channel N"),
        ("rgb", "--rgb-to-gray"),
        ("constant", "nothing to segment"),
        ("missing", "does not exist"),
        ("empty folder", "holds no images"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(tmp_path, capsys, real, case, message):
    good = write_png(tmp_path / "good.png", real["7f4cbe0b"].image)
    bad = tmp_path / "bad.tif"
    if case == "unreadable":
        bad.write_text("this is not an image")
    elif case == "channels":
        tifffile.imwrite(bad, np.stack([real["7f4cbe0b"].image] * 2).astype(np.float32))
    elif case == "rgb":
        bad = write_png(tmp_path / "rgb.png", np.repeat(real["7f4cbe0b"].image[..., None], 3, axis=-1))
    elif case == "constant":
        tifffile.imwrite(bad, np.full((64, 64), 7, np.uint16))
    elif case == "empty folder":
        bad = tmp_path / "nothing_here"
        bad.mkdir()
    code, out = run(["segment", good, bad, "--output", tmp_path / "out"], capsys)
    assert code == 2 and message in out, out
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_z_stack_plane_by_plane_or_projected(tmp_path, capsys, real):
    img = real["7f4cbe0b"].image
    stack = np.stack([img * 0.5, img, img * 0.2]).astype(np.float32)
    tifffile.imwrite(tmp_path / "stack.tif", stack, imagej=True, metadata={"axes": "ZYX"})
    code, out = run(["segment", tmp_path / "stack.tif", "-o", tmp_path / "planes"], capsys)
    assert code == 0 and "3 z-planes, one by one" in out, out
    labels = tifffile.imread(tmp_path / "planes" / "stack.tif")
    assert labels.shape == (3, *img.shape) and all(plane.max() > 20 for plane in labels)
    table = pd.read_csv(tmp_path / "planes" / "stack_measurements.csv")
    assert sorted(table["plane"].unique()) == [0, 1, 2]
    code, out = run(["segment", tmp_path / "stack.tif", "-o", tmp_path / "proj", "--max-projection"], capsys)
    assert code == 0, out
    projected = tifffile.imread(tmp_path / "proj" / "stack.tif")
    assert projected.shape == img.shape and projected.max() > 20


def test_time_lapse_is_segmented_frame_by_frame_never_projected(tmp_path, capsys, real_data):
    from bioimaging_guide.data import load_mitosis_timelapse

    movie = load_mitosis_timelapse()[:6]
    tifffile.imwrite(tmp_path / "movie.tif", movie, imagej=True, metadata={"axes": "TYX"})
    code, out = run(["segment", tmp_path / "movie.tif", "-o", tmp_path / "out", "--max-projection"], capsys)
    assert code == 2 and "merges all time points" in out, out
    assert not (tmp_path / "out").exists()
    code, out = run(["segment", tmp_path / "movie.tif", "-o", tmp_path / "out"], capsys)
    assert code == 0 and "6 time points" in out, out
    labels = tifffile.imread(tmp_path / "out" / "movie.tif")
    assert labels.shape == movie.shape
    counts = pd.read_csv(tmp_path / "out" / "movie_measurements.csv").groupby("plane").size()
    assert len(counts) == 6 and counts.min() >= 3  # nuclei in every frame


def test_multichannel_field_needs_a_channel_and_reports_areas_in_um2(tmp_path, capsys, real_data):
    from bioimaging_guide.data import load_bbbc022

    field, names = load_bbbc022()
    tifffile.imwrite(
        tmp_path / "field.tif",
        field,
        ome=True,
        metadata={"axes": "CYX", "PhysicalSizeX": 0.65, "PhysicalSizeY": 0.65, "Channel": {"Name": list(names)}},
    )
    code, out = run(["segment", tmp_path / "field.tif", "-o", tmp_path / "out"], capsys)
    assert code == 2 and "3 channels" in out and "Hoechst" in out and "--channel" in out, out
    code, out = run(["segment", tmp_path / "field.tif", "-o", tmp_path / "out", "--channel", "7"], capsys)
    assert code == 2 and "choose 0 to 2" in out, out
    code, out = run(["segment", tmp_path / "field.tif", "-o", tmp_path / "out", "--channel", "0"], capsys)
    assert code == 0, out
    table = pd.read_csv(tmp_path / "out" / "field_measurements.csv")
    assert len(table) > 20 and np.allclose(table["area_um2"], table["area_px"] * 0.65**2)
    hoechst = field[0].astype(float)
    labels = tifffile.imread(tmp_path / "out" / "field.tif")
    first = table.iloc[0]
    assert first["mean_intensity"] == pytest.approx(hoechst[labels == first["label"]].mean())


def test_diameter_rescales_to_the_models_object_size(tmp_path, capsys, real):
    from skimage.transform import rescale

    s = real["7f4cbe0b"]
    trained = load_model("stardist-dsb2018").object_diameter_px
    assert 10 < trained < 25  # the card's median nucleus diameter of the training images

    def scaled_copy(factor):
        image = rescale(s.image, factor, order=1).astype(np.float32)
        truth = rescale(s.labels, factor, order=0, preserve_range=True, anti_aliasing=False).astype(np.int32)
        areas = np.bincount(truth.ravel())[1:]
        tifffile.imwrite(tmp_path / f"x{factor}.tif", image)
        return truth, float(np.median(np.sqrt(4 * areas[areas > 0] / np.pi)))

    # nuclei far larger than the model's: a warning says to pass --diameter; with it, the warning is gone
    truth, median = scaled_copy(3.5)
    code, out = run(["segment", tmp_path / "x3.5.tif", "-o", tmp_path / "big", "--labels-only"], capsys)
    assert code == 0 and "pass --diameter" in out, out
    code, out = run(["segment", tmp_path / "x3.5.tif", "-o", tmp_path / "big2", "--diameter", median], capsys)
    assert code == 0 and "pass --diameter" not in out and f"rescaled by {trained / median:.2f}" in out, out
    labels = tifffile.imread(tmp_path / "big2" / "x3.5.tif")
    assert labels.shape == truth.shape and ev.match(truth, labels.astype(np.int32)).f1 > 0.9
    # small nuclei: rescaling to the model's size finds more of them
    truth, median = scaled_copy(0.4)
    run(["segment", tmp_path / "x0.4.tif", "-o", tmp_path / "small", "--labels-only"], capsys)
    run(["segment", tmp_path / "x0.4.tif", "-o", tmp_path / "small2", "--labels-only", "--diameter", median], capsys)
    as_is = ev.match(truth, tifffile.imread(tmp_path / "small" / "x0.4.tif").astype(np.int32)).f1
    rescaled = ev.match(truth, tifffile.imread(tmp_path / "small2" / "x0.4.tif").astype(np.int32)).f1
    assert rescaled > as_is + 0.03 and rescaled > 0.9, (as_is, rescaled)


@pytest.mark.parametrize("option", [["--diameter", "0"], ["--diameter", "-3"], ["--pixel-size", "0"]])
def test_non_positive_sizes_are_refused(tmp_path, capsys, real, option):
    write_png(tmp_path / "a.png", real["7f4cbe0b"].image)
    code, out = run(["segment", tmp_path / "a.png", "-o", tmp_path / "out", *option], capsys)
    assert code == 2 and "must be a positive number" in out and not (tmp_path / "out").exists()


def test_existing_output_needs_overwrite(tmp_path, capsys, real):
    write_png(tmp_path / "a.png", real["7f4cbe0b"].image)
    (tmp_path / "out").mkdir()
    keep = tmp_path / "out" / "a.tif"
    keep.write_bytes(b"previous result")
    (tmp_path / "out" / "summary.csv").write_text("previous")
    code, out = run(["segment", tmp_path / "a.png", "-o", tmp_path / "out"], capsys)
    assert code == 2 and "--overwrite" in out
    assert keep.read_bytes() == b"previous result"
    (tmp_path / "out" / "summary.csv").unlink()
    keep.unlink()
    code, out = run(["segment", tmp_path / "a.png", "-o", tmp_path / "out", "--labels-only"], capsys)
    assert code == 0 and sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.tif"]
    keep.unlink()
    (tmp_path / "out" / "summary.csv").write_text("previous")
    code, out = run(["segment", tmp_path / "a.png", "-o", tmp_path / "out"], capsys)
    assert code == 2 and "summary.csv exists already" in out  # extras are protected too
    assert (tmp_path / "out" / "summary.csv").read_text() == "previous" and not keep.exists()
    code, out = run(["segment", tmp_path / "a.png", "-o", tmp_path / "out", "--overwrite"], capsys)
    assert code == 0 and tifffile.imread(keep).max() > 20
    assert not [p for p in (tmp_path / "out").iterdir() if ".part" in p.name]  # no temporary files left


def test_unknown_model_and_bad_model_folder(tmp_path, capsys, real):
    write_png(tmp_path / "a.png", real["7f4cbe0b"].image)
    code, out = run(["segment", tmp_path / "a.png", "-o", tmp_path / "out", "--model", "nucleus-magic"], capsys)
    assert code == 2 and "unknown model" in out
    (tmp_path / "empty_model").mkdir()
    with pytest.raises(ValueError, match="neither a StarDist model folder"):
        load_model(tmp_path / "empty_model")


def test_model_folder_can_be_given_by_path(tmp_path, capsys, real):
    copy = tmp_path / "my-model"
    shutil.copytree(shipped_models_dir() / "stardist-dsb2018", copy)
    write_png(tmp_path / "a.png", real["7f4cbe0b"].image)
    code, out = run(["segment", tmp_path / "a.png", "-o", tmp_path / "out", "--model", copy], capsys)
    assert code == 0, out


@pytest.mark.parametrize("name", [n for n in SHIPPED if REGISTRY[n].task == "segmentation"])
def test_shipped_segmenters_reproduce_their_card(name, real):
    metrics = json.loads((shipped_models_dir() / name / "metrics.json").read_text())["test"]
    model = load_model(name)
    samples = list(real.values())
    f1 = ev.match_dataset([s.labels for s in samples], [model.predict(s.image) for s in samples], 0.5).f1
    assert f1 == pytest.approx(metrics["f1@0.5"], abs=2e-3)


# --------------------------------------------------------------------------- denoise


@pytest.fixture(scope="module")
def noisy_crop(real_data):
    from bioimaging_guide.data import load_gigadb_pairs

    low, high = next((lo, hi) for n, lo, hi in load_gigadb_pairs(progress=False) if n == "mito-60x-noise1")
    return low[512:768, 512:768], high[512:768, 512:768]


@pytest.mark.parametrize("model", ["n2v-gigadb", "care-gigadb"])
def test_denoise_round_trip_on_a_real_image(tmp_path, capsys, noisy_crop, model):
    from bioimaging_guide.restoration import score

    low, high = noisy_crop
    tifffile.imwrite(tmp_path / "mito.tif", low)
    write_png(tmp_path / "mito8.png", low / 255.0)
    code, out = run(
        ["denoise", tmp_path / "mito.tif", tmp_path / "mito8.png", "--model", model, "-o", tmp_path / "out"], capsys
    )
    assert code == 0, out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["mito.tif", "mito8.tif"]
    restored = tifffile.imread(tmp_path / "out" / "mito.tif")
    assert restored.dtype == np.float32 and restored.shape == low.shape
    assert abs(float(np.median(restored)) - float(np.median(low))) < 0.25 * float(np.ptp(low))  # input's scale
    ref = high / 255.0
    assert score(restored, ref)["psnr"] > score(low.astype(float), ref)["psnr"] + 3


def test_denoise_tta_averages_the_eight_turned_copies(tmp_path, capsys, noisy_crop):
    from bioimaging_guide.common import DIHEDRAL, dihedral_forward, dihedral_inverse
    from bioimaging_guide.models import load_model
    from bioimaging_guide.restoration import score

    low, high = noisy_crop
    tifffile.imwrite(tmp_path / "mito.tif", low)
    code, out = run(
        ["denoise", tmp_path / "mito.tif", "--tta", "--model", "n2v-gigadb", "-o", tmp_path / "out"], capsys
    )
    assert code == 0, out
    restored = tifffile.imread(tmp_path / "out" / "mito.tif")
    model = load_model("n2v-gigadb")
    single = model.predict(low)
    # the CLI's result is the mean of the eight single passes, each turned back
    by_hand = np.mean([dihedral_inverse(model.predict(dihedral_forward(low, t)), t) for t in DIHEDRAL], axis=0)
    np.testing.assert_allclose(restored, by_hand, rtol=1e-4, atol=1e-3 * float(np.ptp(low)))
    assert not np.allclose(restored, single, atol=1e-3 * float(np.ptp(low)))
    # averaging is equivariant: restoring the flipped image gives the flipped result
    flipped = model.predict(low[:, ::-1].copy(), tta=True)
    np.testing.assert_allclose(flipped, restored[:, ::-1], rtol=1e-4, atol=1e-3 * float(np.ptp(low)))
    ref = high / 255.0
    assert score(restored, ref)["psnr"] > score(single, ref)["psnr"]


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", "does not exist"),
        ("stack", "needs one 2D image per file"),
        ("channels", "pass --channel N"),
        ("rgb", "a colour image"),
        ("complex", "unsupported pixel type"),
        ("boolean", "unsupported pixel type"),
        ("unreadable", "cannot read"),
        ("constant", "nothing to denoise"),
    ],
)
def test_denoise_refuses_bad_input_and_writes_nothing(tmp_path, capsys, noisy_crop, case, message):
    good = tmp_path / "good.tif"
    tifffile.imwrite(good, noisy_crop[0])
    bad = tmp_path / "bad.tif"
    if case == "stack":
        tifffile.imwrite(bad, np.stack([noisy_crop[0]] * 3), imagej=True, metadata={"axes": "ZYX"})
    elif case == "channels":
        tifffile.imwrite(bad, np.stack([noisy_crop[0]] * 3))
    elif case == "rgb":
        write_png(bad.with_suffix(".png"), np.repeat(noisy_crop[0][..., None] / 255.0, 3, axis=-1))
        bad = bad.with_suffix(".png")
    elif case == "complex":
        tifffile.imwrite(bad, noisy_crop[0].astype(np.complex64))
    elif case == "boolean":
        tifffile.imwrite(bad, noisy_crop[0] > 100)
    elif case == "unreadable":
        bad.write_text("not an image")
    elif case == "constant":
        tifffile.imwrite(bad, np.full((64, 64), 3, np.uint8))
    code, out = run(["denoise", good, bad, "--model", "n2v-gigadb", "-o", tmp_path / "out"], capsys)
    assert code == 2 and message in out, out
    assert not (tmp_path / "out").exists()


def test_denoise_existing_output_needs_overwrite(tmp_path, capsys, noisy_crop):
    tifffile.imwrite(tmp_path / "a.tif", noisy_crop[0])
    (tmp_path / "out").mkdir()
    keep = tmp_path / "out" / "a.tif"
    keep.write_bytes(b"previous result")
    code, out = run(["denoise", tmp_path / "a.tif", "--model", "n2v-gigadb", "-o", tmp_path / "out"], capsys)
    assert code == 2 and "--overwrite" in out and keep.read_bytes() == b"previous result"
    code, out = run(
        ["denoise", tmp_path / "a.tif", "--model", "n2v-gigadb", "-o", tmp_path / "out", "--overwrite"], capsys
    )
    assert code == 0, out
    assert tifffile.imread(keep).dtype == np.float32
    assert not [p for p in (tmp_path / "out").iterdir() if ".part" in p.name]  # no temporary files left


def test_models_are_used_for_their_task_only(tmp_path, capsys, noisy_crop):
    tifffile.imwrite(tmp_path / "a.tif", noisy_crop[0])
    code, out = run(["denoise", tmp_path / "a.tif", "--model", "stardist-dsb2018", "-o", tmp_path / "o1"], capsys)
    assert code == 2 and "is a segmentation model; for restoration use one of" in out
    code, out = run(["segment", tmp_path / "a.tif", "--model", "care-gigadb", "-o", tmp_path / "o2"], capsys)
    assert code == 2 and "is a restoration model" in out
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


# --------------------------------------------------------------------------- train


def test_train_command_checks_its_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "nucleus-magic", "-o", str(tmp_path)])
    assert "invalid choice" in capsys.readouterr().err
    code, out = run(["train", "care-gigadb", "-o", tmp_path, "--set", "epochz=2"], capsys)
    assert code == 2 and "no training setting 'epochz'" in out
    (tmp_path / "care-gigadb").mkdir()
    code, out = run(["train", "care-gigadb", "-o", tmp_path], capsys)
    assert code == 2 and "--overwrite" in out
    with pytest.raises(SystemExit):
        main(["train", "care-gigadb", "-o", str(tmp_path), "--set", "epochs"])


def test_console_script_is_installed():
    exe = shutil.which("bioimaging-guide") or str(Path(sys.executable).parent / "bioimaging-guide")
    for command in ("segment", "denoise", "train"):
        res = subprocess.run([exe, command, "--help"], capture_output=True, text=True)
        assert res.returncode == 0 and "--output" in res.stdout, command


def write_pairs(folder: Path, samples, label_suffix: str = "") -> tuple[Path, Path]:
    images, labels = folder / "images", folder / "labels"
    images.mkdir(parents=True)
    labels.mkdir()
    for s in samples:
        tifffile.imwrite(images / f"{s.image_id[:8]}.tif", (s.image * 4000).astype(np.uint16))
        tifffile.imwrite(labels / f"{s.image_id[:8]}{label_suffix}.tif", s.labels.astype(np.uint16))
    return images, labels


def test_check_command_reports_and_sets_the_exit_status(tmp_path, capsys, real):
    images, labels = write_pairs(tmp_path, list(real.values())[:4], "_masks")
    code, out = run(["check", "--images", images, "--labels", labels], capsys)
    assert code == 0 and "4 image/label pair(s)" in out and "median object diameter" in out, out
    first = sorted(labels.iterdir())[0]
    tifffile.imwrite(first, (tifffile.imread(first) > 0).astype(np.uint8))  # a binary mask instead of labels
    code, out = run(["check", "--images", images, "--labels", labels], capsys)
    assert code == 1 and "skimage.measure.label" in out, out
    code, out = run(["check", "--images", images, "--labels", tmp_path / "nope"], capsys)
    assert code == 2 and "does not exist" in out


def test_evaluate_command_prints_scores_with_intervals_and_writes_csv(tmp_path, capsys, real):
    from bioimaging_guide.segmentation import watershed_nuclei

    samples = list(real.values())
    _, truth = write_pairs(tmp_path, samples)
    pred = tmp_path / "pred"
    pred.mkdir()
    for s in samples:
        tifffile.imwrite(pred / f"{s.image_id[:8]}.tif", watershed_nuclei(s.image).astype(np.uint16))
    csv = tmp_path / "scores.csv"
    code, out = run(["evaluate", "--truth", truth, "--pred", pred, "--csv", csv], capsys)
    assert code == 0, out
    assert "AP (DSB, mean per image)" in out and "AP (pooled)" in out and "F1@0.5" in out
    per_image = pd.read_csv(csv)
    assert len(per_image) == len(samples)
    pooled = ev.match_dataset([s.labels for s in samples], [watershed_nuclei(s.image) for s in samples])
    assert f"{pooled.f1:.3f}" in out
    code, out = run(["evaluate", "--truth", truth, "--pred", pred, "--csv", csv], capsys)
    assert code == 2 and "--overwrite" in out
    (pred / sorted(p.name for p in pred.iterdir())[0]).unlink()
    code, out = run(["evaluate", "--truth", truth, "--pred", pred], capsys)
    assert code == 2 and "have no prediction file: " in out, out


@pytest.mark.parametrize("framework", ["stardist", "cellpose"])
def test_train_on_own_images_writes_a_model_that_segment_uses(tmp_path, capsys, real, framework):
    images, labels = write_pairs(tmp_path, list(real.values())[:3])
    out = tmp_path / "my-model"
    quick = ["--set", "epochs=1"] + (["--set", "steps_per_epoch=2"] if framework == "stardist" else [])
    code, text = run(["train", framework, "--images", images, "--labels", labels, "--output", out, *quick], capsys)
    assert code == 0, text
    assert f"--model {out}" in text
    card = (out / "MODEL_CARD.md").read_text()
    recipe = json.loads((out / "training.json").read_text())
    assert len(recipe["split"]["train"]) == 2 and len(recipe["split"]["validation"]) == 1  # split by image
    assert f"`{framework}-dsb2018`" in card and "median diameter" in card and "optimistic" in card
    assert load_model(out).object_diameter_px > 5
    code, text = run(["segment", images, "--model", out, "-o", tmp_path / "predicted", "--labels-only"], capsys)
    assert code == 0, text
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial folder left behind
    code, text = run(["train", framework, "--images", images, "--labels", labels, "--output", out], capsys)
    assert code == 2 and "--overwrite" in text


def test_train_stardist_on_images_smaller_than_its_training_patch(tmp_path, capsys, real):
    """Training and validation images smaller than the model's training patch are padded, not refused by StarDist."""
    from dataclasses import replace

    small = [replace(s, image=s.image[:110, :100], labels=s.labels[:110, :100]) for s in list(real.values())[:3]]
    images, labels = write_pairs(tmp_path, small)
    out = tmp_path / "small-model"
    quick = ["--set", "epochs=1", "--set", "steps_per_epoch=2"]
    code, text = run(["train", "stardist", "--images", images, "--labels", labels, "--output", out, *quick], capsys)
    assert code == 0, text
    assert json.loads((out / "training.json").read_text())["split"]["validation"]  # a validation image was used
    assert load_model(out).predict(small[0].image).shape == (110, 100)
    # fine-tuning keeps the starting model's patch size (here 160 px), and the images are padded to that size
    from bioimaging_guide.segmentation_models import train_stardist

    data = ([s.image for s in small[:2]], [s.labels for s in small[:2]], [small[2].image], [small[2].labels])
    wide = dict(epochs=1, steps_per_epoch=1, optimize_thresholds=False, train_patch_size=(160, 160))
    train_stardist(tmp_path, name="wide", data=data, **wide)
    tuned = tmp_path / "tuned-model"
    args = ["train", "stardist", "--images", images, "--labels", labels, "--output", tuned, "--from", tmp_path / "wide"]
    code, text = run([*args, *quick], capsys)
    assert code == 0, text
    assert load_model(tuned).predict(small[0].image).shape == (110, 100)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "stardist", "--output", "x"], "needs --images DIR and --labels DIR"),
        (["train", "stardist", "--images", "I", "--labels", "L", "-o", "x", "--set", "epoch=2"], "unknown setting"),
        (["train", "care-gigadb", "--images", "I", "--output", "x"], "re-trained from its saved recipe"),
    ],
)
def test_train_refuses_bad_arguments_and_writes_nothing(tmp_path, capsys, real, args, message):
    images, labels = write_pairs(tmp_path / "data", list(real.values())[:3])
    args = [
        str(images) if a == "I" else str(labels) if a == "L" else str(tmp_path / a) if a == "x" else a for a in args
    ]
    code, text = run(args, capsys)
    assert code == 2 and message in text, text
    assert not (tmp_path / "x").exists()


def test_check_refuses_a_training_set_with_problems_before_training(tmp_path, capsys, real):
    images, labels = write_pairs(tmp_path, list(real.values())[:3])
    first = sorted(labels.iterdir())[0]
    tifffile.imwrite(first, (tifffile.imread(first) > 0).astype(np.uint8))
    code, text = run(["train", "stardist", "--images", images, "--labels", labels, "-o", tmp_path / "m"], capsys)
    assert code == 2 and "fix them first" in text and not (tmp_path / "m").exists()
