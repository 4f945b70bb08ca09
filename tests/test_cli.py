"""The ``bioimaging-guide segment`` command and the shipped models."""

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
from bioimaging_guide.models import SHIPPED, load_model, shipped_models_dir

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not (shipped_models_dir() / "stardist-dsb2018").is_dir(),
                                reason="shipped StarDist model not trained yet")


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


@pytest.mark.parametrize("case, message", [
    ("unreadable", "cannot read"),
    ("stack", "looks like a stack"),
    ("constant", "nothing to segment"),
    ("missing", "does not exist"),
    ("empty folder", "holds no images"),
])
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


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_models_are_small_documented_and_reproduce_their_card(name, real):
    folder = shipped_models_dir() / name
    if not folder.is_dir():
        pytest.skip(f"{name} not trained yet")
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size <= 10 * 1024**2, f"{name}: {size / 1024**2:.1f} MB"
    card = (folder / "MODEL_CARD.md").read_text()
    for needed in ("training data", "split", "augmentation", "seed", "hardware", "wall time", "licence",
                   f"bioimaging-guide train {name}"):
        assert needed in card, needed
    metrics = json.loads((folder / "metrics.json").read_text())["test"]
    model = load_model(name)
    samples = list(real.values())
    f1 = ev.match_dataset([s.labels for s in samples], [model.predict(s.image) for s in samples], 0.5).f1
    assert f1 == pytest.approx(metrics["f1@0.5"], abs=2e-3)


def test_console_script_is_installed():
    exe = shutil.which("bioimaging-guide") or str(Path(sys.executable).parent / "bioimaging-guide")
    res = subprocess.run([exe, "segment", "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "--overwrite" in res.stdout
