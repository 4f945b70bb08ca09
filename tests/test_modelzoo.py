"""``bioimaging-guide export``: the StarDist model as a bioimage.io package, checked with ``bioimageio.spec``.

One export of the shipped model (through the command) is shared by the tests; they read it back with
``bioimageio.spec``, run the packaged TensorFlow network on the packaged test input, and compare with the
book's own StarDist prediction. The refusals run before anything heavy and must leave nothing behind.
"""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from bioimaging_guide import modelzoo
from bioimaging_guide.cli import main
from bioimaging_guide.common import NETWORK_PERCENTILES
from bioimaging_guide.models import shipped_models_dir

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = shipped_models_dir() / "stardist-dsb2018"
pytestmark = pytest.mark.skipif(not SHIPPED.is_dir(), reason="shipped StarDist model not trained yet")


def run(args) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue() + err.getvalue()


@pytest.fixture(scope="module")
def package(tmp_path_factory, real_data):
    """The shipped model exported with the command, over an existing file (``--overwrite``)."""
    folder = tmp_path_factory.mktemp("export")
    path = folder / "stardist-dsb2018.bioimageio.zip"
    path.write_bytes(b"an older package")
    code, out = run(["export", "stardist-dsb2018", "--output", path, "--overwrite"])
    return {"path": path, "code": code, "out": out, "zip": zipfile.ZipFile(path) if code == 0 else None}


@pytest.fixture(scope="module")
def descr(package):
    from bioimageio.spec import load_description

    return load_description(package["path"])


def member(package, name: str) -> bytes:
    return package["zip"].read(name)


def npy(package, name: str) -> np.ndarray:
    return np.load(io.BytesIO(member(package, name)))


def test_command_writes_one_valid_package_in_place(package):
    assert package["code"] == 0, package["out"]
    assert "bioimageio.spec: valid-format" in package["out"]
    assert "deepImageJ, ilastik, QuPath or napari" in package["out"]
    assert [p.name for p in package["path"].parent.iterdir()] == [package["path"].name]  # no temporary files
    names = set(package["zip"].namelist())
    assert {"rdf.yaml", "README.md", "TF_SavedModel.zip", "test_input.npy", "test_output.npy", "cover.png"} <= names
    assert {"stardist_weights.h5", "stardist_postprocessing.ijm"} <= names


def test_bioimageio_spec_accepts_the_package(package, descr):
    from bioimageio.spec import ModelDescr, ValidationContext, validate_format

    assert isinstance(descr, ModelDescr), getattr(descr, "get_reason", lambda: "")()
    summary = descr.validation_summary
    assert summary.status == "valid-format" and summary.errors == []
    assert descr.format_version.startswith("0.5.")
    # the one warning is known: no sample of the 33-channel output (it would add ~4 MB; test_output.npy is one)
    assert [w.loc for w in summary.warnings] == [("outputs", 0, "sample_tensor")], summary.warnings
    # the raw rdf.yaml, checked on its own (format only: the files are checked above)
    raw = yaml.safe_load(member(package, "rdf.yaml"))
    assert validate_format(raw, context=ValidationContext(perform_io_checks=False)).status == "valid-format"


def test_axes_shapes_and_test_tensors_agree(package, descr):
    config = json.loads((SHIPPED / "config.json").read_text())
    thresholds = json.loads((SHIPPED / "thresholds.json").read_text())
    (inp,), (out,) = descr.inputs, descr.outputs
    assert [a.id for a in inp.axes] == ["batch", "y", "x", "channel"] == [a.id for a in out.axes]
    x, y = npy(package, "test_input.npy"), npy(package, "test_output.npy")
    assert x.dtype == y.dtype == np.float32
    assert x.shape == (1, modelzoo.TEST_CROP["size"], modelzoo.TEST_CROP["size"], 1)
    assert y.shape == x.shape[:3] + (1 + config["n_rays"],)
    sizes = {a.id: a.size for a in inp.axes[1:3]}
    for n in x.shape[1:3]:  # the test input is a valid size: min + k * step
        assert all(n >= s.min and (n - s.min) % s.step == 0 for s in sizes.values())
    assert sizes["y"].step == 2 ** config["unet_n_depth"] * config["grid"][0]
    declared = descr.get_output_tensor_sizes({inp.id: dict(zip([a.id for a in inp.axes], x.shape))})
    assert tuple(declared[out.id].values()) == y.shape
    assert out.axes[-1].channel_names == ["prob", *(f"dist_{i}" for i in range(config["n_rays"]))]
    # halo: StarDist's tile overlap for this U-Net (94 px) rounded up to a multiple of 8, as StarDist's export does
    assert [a.halo for a in out.axes[1:3]] == [96, 96] and sizes["y"].min == 16 + 2 * 96
    (scale_range,) = [p for p in inp.preprocessing if p.id == "scale_range"]
    assert (scale_range.kwargs.min_percentile, scale_range.kwargs.max_percentile) == NETWORK_PERCENTILES
    assert [str(a) for a in scale_range.kwargs.axes] == ["y", "x"]  # per image, as the book normalises
    stardist = descr.config.stardist  # what StarDist needs to rebuild the model and its post-processing
    assert stardist["config"] == config and stardist["thresholds"] == pytest.approx(thresholds)
    assert stardist["weights"] == "stardist_weights.h5"
    assert member(package, "stardist_weights.h5") == (SHIPPED / "weights_best.h5").read_bytes()
    assert str(descr.license) == modelzoo.WEIGHTS_LICENSE
    assert str(descr.weights.tensorflow_saved_model_bundle.tensorflow_version) == __import__("tensorflow").__version__


def test_documentation_comes_from_the_model_card_and_metrics(package):
    readme = member(package, "README.md").decode()
    card = (SHIPPED / "MODEL_CARD.md").read_text(encoding="utf-8")
    objects = json.loads((SHIPPED / "metrics.json").read_text())["training_objects"]
    table = card[card.index("| | |") : card.index("## Test metrics")]
    assert table in readme and "## Test metrics" in readme and "do not edit it by hand" not in readme
    assert f"median diameter {objects['median_diameter_px']} px" in readme
    assert "## Validation" in readme and "stardist_postprocessing.ijm" in readme
    for app in ("deepImageJ", "ilastik", "QuPath", "napari"):
        assert app in readme
    rdf = yaml.safe_load(member(package, "rdf.yaml"))
    assert f"{objects['median_diameter_px']:g} px" in rdf["inputs"][0]["axes"][1]["description"]


def test_packaged_network_reproduces_its_test_output_and_the_books_prediction(package, tmp_path):
    import tensorflow as tf

    from bioimaging_guide.data import load_dsb2018
    from bioimaging_guide.models import load_model

    x, y = npy(package, "test_input.npy"), npy(package, "test_output.npy")
    rdf = yaml.safe_load(member(package, "rdf.yaml"))
    # the test input is the documented crop of a DSB 2018 test image
    (sample,) = [s for s in load_dsb2018("fluorescence", "test") if s.image_id == modelzoo.TEST_CROP["image_id"]]
    crop = x[0, ..., 0]
    y0, x0 = ((n - crop.shape[0]) // 2 for n in sample.image.shape)
    assert np.array_equal(crop, sample.image[y0 : y0 + crop.shape[0], x0 : x0 + crop.shape[1]])
    # the preprocessing as the specification defines it (not the book's function)
    kw = next(p["kwargs"] for p in rdf["inputs"][0]["preprocessing"] if p["id"] == "scale_range")
    lo, hi = np.percentile(x, [kw["min_percentile"], kw["max_percentile"]])
    normalised = ((x - lo) / (hi - lo + 1e-6)).astype(np.float32)
    # the SavedModel as a consumer loads it: tag "serve", signature "serving_default", tensors input/output
    with zipfile.ZipFile(io.BytesIO(member(package, "TF_SavedModel.zip"))) as zf:
        zf.extractall(tmp_path / "saved_model")
    network = tf.saved_model.load(str(tmp_path / "saved_model"), tags=["serve"]).signatures["serving_default"]
    got = network(input=tf.constant(normalised))["output"].numpy()
    np.testing.assert_allclose(got, y, rtol=1e-3, atol=1e-4)  # the specification's tolerance is 1e-3
    assert 0.5 < y[..., 0].max() <= 1 and y[..., 1:].max() > 5  # probabilities and distances (px)
    # StarDist's post-processing of the packaged output gives exactly the book's own segmentation
    labels = modelzoo.labels_from_output(y[0], rdf["config"]["stardist"])
    book = load_model("stardist-dsb2018").predict(crop)
    assert labels.max() > 40 and np.array_equal(labels, book)


def test_stardist_rebuilds_the_model_from_the_package(package, tmp_path):
    from stardist.models import StarDist2D

    from bioimaging_guide.common import normalize_percentile, quiet

    stardist = yaml.safe_load(member(package, "rdf.yaml"))["config"]["stardist"]
    folder = tmp_path / "rebuilt"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(stardist["config"]))
    (folder / "thresholds.json").write_text(json.dumps(stardist["thresholds"]))
    (folder / stardist["weights"]).write_bytes(member(package, stardist["weights"]))
    with quiet():
        model = StarDist2D(None, name=folder.name, basedir=str(tmp_path))
        labels, _ = model.predict_instances(normalize_percentile(npy(package, "test_input.npy")[0, ..., 0]))
    assert np.array_equal(labels, modelzoo.labels_from_output(npy(package, "test_output.npy")[0], stardist))


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("cellpose", "is not a StarDist model folder (it holds cellpose-dsb2018, a Cellpose model)"),
        ("care folder", "is not a StarDist model folder (it holds care-gigadb, a CARE (csbdeep) model)"),
        ("empty folder", "is not a StarDist model folder"),
        ("missing folder", "does not exist"),
        ("unknown name", "neither a model folder nor a shipped model"),
        ("existing output", "exists already; pass --overwrite"),
        ("not a zip", "must be a .zip file"),
        ("missing output folder", "does not exist; create it first"),
        ("own model without author", "pass its authors (--author"),
        ("bad licence", "is not an SPDX licence identifier"),
    ],
)
def test_bad_requests_are_refused_and_nothing_is_written(tmp_path, case, message):
    output = tmp_path / "out.bioimageio.zip"
    model, extra = "stardist-dsb2018", []
    if case == "cellpose":
        model = "cellpose-dsb2018"
    elif case == "care folder":
        model = shipped_models_dir() / "care-gigadb"
    elif case == "empty folder":
        model = tmp_path / "empty"
        model.mkdir()
    elif case == "missing folder":
        model = tmp_path / "no-such-model"
    elif case == "unknown name":
        model = "nucleus-magic"
    elif case == "existing output":
        output.write_bytes(b"keep me")
    elif case == "not a zip":
        output = tmp_path / "model.yaml"
    elif case == "missing output folder":
        output = tmp_path / "no-such-folder" / "model.zip"
    elif case == "own model without author":
        model = tmp_path / "mine"
        model.mkdir()
        for name in ("config.json", "thresholds.json", "weights_best.h5"):
            (model / name).write_bytes((SHIPPED / name).read_bytes())
    elif case == "bad licence":
        extra = ["--license", "free-for-all"]
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    code, out = run(["export", model, "--output", output, *extra])
    assert code == 2 and message in out, out
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    if case == "existing output":
        assert output.read_bytes() == b"keep me"


def test_a_package_bioimageio_spec_rejects_is_not_written(tmp_path, monkeypatch, real_data):
    import bioimageio.spec

    class Rejected:  # what load_description returns for an invalid package
        def get_reason(self):
            return "made up for the test"

    wrote = []
    monkeypatch.setattr(bioimageio.spec, "load_description", lambda path: wrote.append(path) or Rejected())
    with pytest.raises(RuntimeError, match="bioimageio.spec rejects the package"):
        modelzoo.export_bioimageio("stardist-dsb2018", tmp_path / "model.zip")
    assert len(wrote) == 1 and list(tmp_path.iterdir()) == []  # the zip was written, checked, and removed


def test_book_metadata_agrees_with_citation_cff_and_the_model_card():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    book = modelzoo.BOOK
    assert (book["title"], book["url"], book["repository"]) == (cff["title"], cff["url"], cff["repository-code"])
    assert [book["authors"]] == [a["name"] for a in cff["authors"]]
    assert book["year"] == str(cff["date-released"])[:4]
    assert "weights: CC BY 4.0" in (SHIPPED / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert modelzoo.WEIGHTS_LICENSE == "CC-BY-4.0"


def test_the_test_crop_comes_from_the_test_split():
    from bioimaging_guide.data import dsb2018_table

    row = dsb2018_table().set_index("image_id").loc[modelzoo.TEST_CROP["image_id"]]
    assert row.split == "test" and row.modality == "fluorescence"
    assert min(row.height, row.width) >= modelzoo.TEST_CROP["size"]


def test_export_help_says_what_the_file_is_for(capsys):
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for word in ("bioimage.io", "deepImageJ", "ilastik", "QuPath", "napari", "--output", "--overwrite"):
        assert word in text, word
