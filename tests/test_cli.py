"""The ``bioimaging-guide`` command: ``segment``, ``denoise`` and ``train``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
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
    write_png(inp / "rgb.png", np.repeat(s.image[..., None], 3, axis=-1))
    code, out = run(["segment", inp, "--output", tmp_path / "out"], capsys)
    assert code == 0, out
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["nuclei.tif", "nuclei16.tif", "rgb.tif"]
    for name in files:
        labels = tifffile.imread(tmp_path / "out" / name)
        assert labels.dtype == np.uint16 and labels.shape == s.labels.shape
        assert ev.match(s.labels, labels.astype(np.int32)).f1 > 0.85, name


def test_large_image_is_tiled(tmp_path, capsys, real):
    big = np.tile(real["0a849e0e"].image, (5, 1))  # 1280 x 256: predicted in tiles
    tifffile.imwrite(tmp_path / "big.tif", big.astype(np.float32))
    code, out = run(["segment", tmp_path / "big.tif", "-o", tmp_path / "out"], capsys)
    assert code == 0, out
    labels = tifffile.imread(tmp_path / "out" / "big.tif")
    assert labels.shape == big.shape and labels.max() > 150


@pytest.mark.parametrize(
    "case, message",
    [
        ("unreadable", "cannot read"),
        ("stack", "looks like a stack"),
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
    elif case == "stack":
        tifffile.imwrite(bad, np.stack([real["7f4cbe0b"].image] * 4).astype(np.float32))
    elif case == "constant":
        tifffile.imwrite(bad, np.full((64, 64), 7, np.uint16))
    elif case == "empty folder":
        bad = tmp_path / "nothing_here"
        bad.mkdir()
    code, out = run(["segment", good, bad, "--output", tmp_path / "out"], capsys)
    assert code == 2 and message in out, out
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_stack_with_max_projection(tmp_path, capsys, real):
    img = real["7f4cbe0b"].image
    stack = np.stack([img * 0.5, img, img * 0.2]).astype(np.float32)
    tifffile.imwrite(tmp_path / "stack.tif", stack)
    code, out = run(["segment", tmp_path / "stack.tif", "-o", tmp_path / "out", "--max-projection"], capsys)
    assert code == 0, out
    assert tifffile.imread(tmp_path / "out" / "stack.tif").max() > 20


def test_existing_output_needs_overwrite(tmp_path, capsys, real):
    write_png(tmp_path / "a.png", real["7f4cbe0b"].image)
    (tmp_path / "out").mkdir()
    keep = tmp_path / "out" / "a.tif"
    keep.write_bytes(b"previous result")
    code, out = run(["segment", tmp_path / "a.png", "-o", tmp_path / "out"], capsys)
    assert code == 2 and "--overwrite" in out
    assert keep.read_bytes() == b"previous result"
    code, out = run(["segment", tmp_path / "a.png", "-o", tmp_path / "out", "--overwrite"], capsys)
    assert code == 0 and tifffile.imread(keep).max() > 20
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.tif"]  # no temporary files left


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


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", "does not exist"),
        ("stack", "looks like a stack"),
        ("rgb", "colour (RGB) image"),
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
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.tif"]  # no temporary files left


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
