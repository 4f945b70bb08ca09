"""A StarDist model as a BioImage Model Zoo (bioimage.io) package: for deepImageJ, ilastik, QuPath, napari.

:func:`export_bioimageio` writes one ``.zip`` file, a bioimage.io *model package*, for a StarDist model
folder (the shipped ``stardist-dsb2018``, a re-trained copy, or a model fine-tuned on your own images with
``bioimaging-guide train stardist``). Software that reads the bioimage.io format opens it; the package holds

* ``rdf.yaml``, the model's description in format 0.5 of the bioimage.io specification. The package is
  checked with the ``bioimageio.spec`` package before it is moved into place;
* ``TF_SavedModel.zip``: the network as a TensorFlow SavedModel (weights format
  ``tensorflow_saved_model_bundle``), the format of StarDist's own Model Zoo entries. Like those, it
  gives one tensor of 1 + n_rays channels at the input's resolution: the object probability, then the
  ray distances (the probability is upsampled from StarDist's grid with a transposed convolution, so it
  is zero between grid points; the distances are repeated). Turning them into labelled objects,
  StarDist's non-maximum suppression, is left to the software that runs the network:
  :func:`labels_from_output` does it in Python, the attached ``stardist_postprocessing.ijm`` in Fiji
  (deepImageJ with the StarDist plugin);
* ``config.stardist`` in the description, written as StarDist writes it (``config``, ``thresholds``,
  ``weights``: the attached Keras HDF5 weights ``stardist_weights.h5``), so that ``stardist`` can
  rebuild the model with its post-processing;
* a test input, a crop of a DSB 2018 *test* image (:data:`TEST_CROP`, never used for training), and the
  output the network gives for it; the input's declared preprocessing is the book's percentile
  normalisation (:data:`~bioimaging_guide.common.NETWORK_PERCENTILES`);
* ``README.md``, generated from the folder's ``MODEL_CARD.md``, with the size of the objects the model
  was trained on (``metrics.json``), and a cover image (the test input with the objects found).

``bioimaging-guide export stardist-dsb2018 --output stardist-dsb2018.bioimageio.zip`` runs it.
"""

from __future__ import annotations

import json
import re
import tempfile
import zipfile
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .common import NETWORK_PERCENTILES, quiet, write_atomic
from .images import InputError

if TYPE_CHECKING:
    from bioimageio.spec import ValidationSummary

__all__ = [
    "BOOK",
    "TEST_CROP",
    "WEIGHTS_LICENSE",
    "export_bioimageio",
    "labels_from_output",
    "validation_summary",
]

#: The book as the author of its models and as a citation (``CITATION.cff`` says the same; a test compares).
BOOK = {
    "title": "AI in Microscopy: A BioImaging Guide",
    "authors": "The AI in Microscopy authors",
    "year": "2026",
    "url": "https://ai-microscopy-book.github.io/ai-in-microscopy/",
    "repository": "https://github.com/ai-microscopy-book/ai-in-microscopy",
}

#: SPDX identifier of the licence of the book's model weights ("weights: CC BY 4.0" on every model card).
WEIGHTS_LICENSE = "CC-BY-4.0"

#: The package's test input: the central ``size`` × ``size`` pixels of a DSB 2018 fluorescence image of the
#: book's *test* split (never used for training or choices), as :func:`bioimaging_guide.data.load_dsb2018`
#: gives it (grey, 8-bit values / 255).
TEST_CROP = {"image_id": "df40099c6306ca1f47fcc8a62e2fa39486d4e223177afdc51b2ad189691802d8", "size": 256}

_STARDIST_CITE = (
    "Schmidt, U., Weigert, M., Broaddus, C. & Myers, G. Cell detection with star-convex polygons. "
    "MICCAI 2018, LNCS 11071, 265-273.",
    "10.1007/978-3-030-00934-2_30",
)
_DSB_CITE = (
    "Caicedo, J. C. et al. Nucleus segmentation across imaging experiments: the 2018 Data Science Bowl. "
    "Nature Methods 16, 1247-1253 (2019). Training data (BBBC038, CC0).",
    "10.1038/s41592-019-0612-7",
)

_FRAMEWORK_NAMES = {"cellpose": "Cellpose", "csbdeep": "CARE (csbdeep)", "pytorch": "PyTorch"}

# File names inside the package (those of StarDist's own exports where StarDist has one).
_SAVED_MODEL = "TF_SavedModel.zip"
_STARDIST_WEIGHTS = "stardist_weights.h5"
_MACRO = "stardist_postprocessing.ijm"


# --------------------------------------------------------------------------- checking the request


def _stardist_folder(model: str | Path) -> Path:
    """The StarDist model folder ``model`` names (a shipped model's name or a folder), or InputError."""
    from .models import REGISTRY, resolve_model_folder
    from .segmentation_models import is_stardist_folder

    stardist_names = [n for n, m in REGISTRY.items() if m.framework == "stardist"]
    path = Path(model)
    if path.is_file():
        raise InputError(f"{path} is a file; pass a StarDist model folder or one of {stardist_names}")
    if not path.exists() and (len(path.parts) > 1 or str(model).startswith(".")):
        raise InputError(f"folder {path} does not exist; pass a StarDist model folder or one of {stardist_names}")
    try:
        folder = resolve_model_folder(model)
    except (ValueError, FileNotFoundError) as err:
        raise InputError(
            f"{model} is neither a model folder nor a shipped model: pass a StarDist model folder "
            f"(config.json + weights_*.h5) or one of {stardist_names}"
        ) from err
    if not is_stardist_folder(folder):
        what = "it holds no config.json with n_rays and no weights_*.h5"
        recipe = folder / "training.json"
        if recipe.is_file():
            saved = json.loads(recipe.read_text())
            spec = REGISTRY.get(str(saved.get("model")))
            framework = spec.framework if spec else str(saved.get("framework"))
            kind = f"a {_FRAMEWORK_NAMES.get(framework, framework)} model"
            what = f"it holds {spec.name}, {kind}" if spec else f"it holds {kind}"
        raise InputError(
            f"{folder} is not a StarDist model folder ({what}); only StarDist models can be exported "
            f"to bioimage.io: pass one of {stardist_names} or a folder written by `bioimaging-guide train stardist`"
        )
    cfg = json.loads((folder / "config.json").read_text())
    if cfg.get("n_dim", 2) != 2:
        raise InputError(f"{folder} holds a {cfg.get('n_dim')}D StarDist model; only 2D models can be exported")
    if cfg.get("n_classes"):
        raise InputError(f"{folder} holds a multi-class StarDist model; only single-class models can be exported")
    if cfg.get("n_channel_in", 1) != 1:
        raise InputError(
            f"{folder} holds a StarDist model for {cfg['n_channel_in']}-channel images; the export describes "
            "grey (one-channel) images"
        )
    return folder


def _check_output(output: str | Path, overwrite: bool) -> Path:
    out = Path(output)
    if out.is_dir():
        raise InputError(f"--output {out} is a folder; name the .zip file to write, e.g. {out}/model.bioimageio.zip")
    if out.suffix.lower() != ".zip":
        raise InputError(f"--output {out} must be a .zip file, e.g. {out.with_suffix('')}.bioimageio.zip")
    if out.exists() and not overwrite:
        raise InputError(f"{out} exists already; pass --overwrite to replace it")
    if not out.parent.is_dir():
        raise InputError(f"folder {out.parent} does not exist; create it first or choose another --output")
    return out


def _spec_module():
    try:
        import bioimageio.spec as spec
    except ImportError as err:
        raise InputError(
            "exporting to bioimage.io needs the bioimageio.spec package: install the pinned version with "
            "`pip install -r requirements.txt` (or scripts/setup-env)"
        ) from err
    return spec


# --------------------------------------------------------------------------- the network


def _weights_file(folder: Path) -> Path:
    """The weights file StarDist loads from ``folder``: the newest ``*.h5`` whose name says "best", else the newest.

    (csbdeep's ``BaseModel._find_and_load_weights``; the export loads this file explicitly and attaches it.)
    """
    files = sorted(folder.glob("*.h5"), key=lambda f: f.stat().st_mtime, reverse=True)
    best = [f for f in files if "best" in f.name]
    return (best or files)[0]


def _load_stardist(folder: Path, weights: Path):
    with quiet():
        import tensorflow as tf
        from stardist.models import StarDist2D

        tf.get_logger().setLevel("ERROR")
        model = StarDist2D(None, name=folder.name, basedir=str(folder.parent))
        model.load_weights(weights.name)
    return model


def _exported_network(model):
    """StarDist's network with one output at the input's resolution: probability ⊕ ray distances.

    The same layers as ``StarDist2D.export_TF(single_output=True, upsample_grid=True)``, whose own
    SavedModel writer no longer works with Keras 3.
    """
    import keras

    grid = tuple(model.config.grid)
    prob, dist = model.keras_model.outputs[:2]
    if any(g > 1 for g in grid):
        prob = keras.layers.Conv2DTranspose(
            1, (1, 1), strides=grid, padding="same", kernel_initializer="ones", use_bias=False
        )(prob)
        dist = keras.layers.UpSampling2D(grid)(dist)
    return keras.Model(model.keras_model.inputs[0], keras.layers.Concatenate()([prob, dist]), name="stardist")


def _write_saved_model(network, destination: Path) -> None:
    """The network as a zipped TensorFlow SavedModel: tag ``serve``, signature ``serving_default``
    taking ``input`` (batch, y, x, channel) and giving ``output``, the names StarDist's exports use."""
    import tensorflow as tf

    module = tf.Module()
    module.weights_ = [w.value for w in network.weights]  # the TensorFlow variables, saved once

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 1], tf.float32, name="input")])
    def serve(input):  # the argument's name is the signature's input name
        return {"output": network(input, training=False)}

    module.serve = serve
    with tempfile.TemporaryDirectory() as tmp, quiet():
        tf.saved_model.save(module, tmp, signatures={"serving_default": serve})
        with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in sorted(Path(tmp).rglob("*")):
                if f.is_file():
                    zf.write(f, f.relative_to(tmp).as_posix())


def labels_from_output(output: np.ndarray, stardist: dict) -> np.ndarray:
    """Labelled objects (int32) from the packaged network's output: what a consumer does after running it.

    ``output`` is one output tensor without its batch axis, (y, x, 1 + n_rays); ``stardist`` is the
    description's ``config["stardist"]`` (grid and thresholds). StarDist's non-maximum suppression, with
    the defaults ``StarDist2D.predict_instances`` uses, on the grid points, where the network predicts.
    """
    from stardist.geometry import polygons_to_label
    from stardist.nms import non_maximum_suppression

    grid = tuple(stardist["config"]["grid"])
    at_grid = np.asarray(output, dtype=np.float32)[:: grid[0], :: grid[1]]
    points, prob, dist = non_maximum_suppression(
        np.ascontiguousarray(at_grid[..., 1:]),
        np.ascontiguousarray(at_grid[..., 0]),
        grid=grid,
        prob_thresh=stardist["thresholds"]["prob"],
        nms_thresh=stardist["thresholds"]["nms"],
    )
    return polygons_to_label(dist, points, shape=np.shape(output)[:2], prob=prob).astype(np.int32)


# --------------------------------------------------------------------------- the test image and the documents


def _test_crop() -> np.ndarray:
    from .data import DataError, load_dsb2018

    try:
        samples = load_dsb2018("fluorescence", "test")
    except DataError as err:
        raise InputError(f"the package's test image (DSB 2018) could not be loaded: {err}") from err
    image = next(s.image for s in samples if s.image_id == TEST_CROP["image_id"])
    size = TEST_CROP["size"]
    y0, x0 = ((n - size) // 2 for n in image.shape)
    return np.ascontiguousarray(image[y0 : y0 + size, x0 : x0 + size], dtype=np.float32)


def _write_cover(path: Path, image: np.ndarray, labels: np.ndarray) -> None:
    import imageio.v3 as iio

    from .measurements import overlay_image

    both = np.concatenate([overlay_image(image, np.zeros_like(labels)), overlay_image(image, labels)], axis=1)
    iio.imwrite(path, both, extension=".png")


def _readme(folder: Path, facts: dict) -> str:
    """README.md of the package: the model card, then how to use the package and how to validate the model."""
    card_path = folder / "MODEL_CARD.md"
    if card_path.is_file():
        lines = card_path.read_text(encoding="utf-8").splitlines()
        lines = lines[1:] if lines and lines[0].startswith("# ") else lines  # the card's title
        body = "\n".join(line for line in lines if "do not edit it by hand" not in line).strip()
        body = re.sub(r"\n{3,}", "\n\n", body)
    else:
        body = "This model folder has no model card (MODEL_CARD.md)."
    f = facts
    size = (
        f"It was trained on objects of median diameter {f['diameter']} px (10th–90th percentile "
        f"{f['p10']}–{f['p90']} px): rescale images whose objects are much smaller or larger so that they "
        "come close (`bioimaging-guide segment --diameter` does it)."
        if f["diameter"] is not None
        else "The folder does not record the size of the objects it was trained on."
    )
    return f"""# {folder.name}: StarDist model (bioimage.io package)

This is the bioimage.io package of the model, written by `bioimaging-guide export` from the model folder
`{folder.name}`. Open it in software that reads bioimage.io models.

## Model card

{body}

## Inputs and outputs

- **Input** `input`: one grey 2D image, axes (batch, y, x, channel), float32. Height and width must be
  {f["min"]} + n × {f["step"]} pixels; the software that runs the model pads or tiles other sizes.
  Preprocessing, declared in `rdf.yaml`: percentile normalisation of each image, its percentiles
  {f["low"]:g} and {f["high"]:g} become 0 and 1, as the book does before every prediction.
- **Pixel size**: the model works in pixels (axis scale 1, no physical unit; the DSB 2018 images
  record no pixel size). {size}
- **Output** `output`: {f["channels"]} channels at the input's resolution, axes (batch, y, x, channel):
  channel 0 is the object probability, channels 1–{f["n_rays"]} the distances (pixels) from each pixel
  to the object's boundary along {f["n_rays"]} rays. The network predicts on a grid of
  {f["grid"][0]} × {f["grid"][1]} pixels: the probability is zero between grid points, the distances are
  repeated. A margin (halo) of {f["halo"]} pixels is affected by the image border when images are tiled.
- **Labelled nuclei** come from StarDist's post-processing (non-maximum suppression) of the output,
  with probability threshold {f["prob"]:.4g} and overlap (NMS) threshold {f["nms"]:.4g}
  (`config.stardist.thresholds`). Software that only runs the network shows the {f["channels"]} output
  channels.

## Using the package

- **Fiji, deepImageJ**: install the model from this file, run it on an image, then run the attached
  macro `{_MACRO}` (needs the StarDist plugin) for the labelled nuclei.
- **ilastik, QuPath, napari, Python**: open the file in their bioimage.io support; in Python,
  `bioimageio.core` runs the network, and `bioimaging_guide.modelzoo.labels_from_output` (or StarDist's
  own functions, with `config.stardist`) turns the output into labels.
- **StarDist in Python**: `config.stardist` holds the contents of the model's `config.json`
  (`config`) and `thresholds.json` (`thresholds`) and names its Keras weights (`{_STARDIST_WEIGHTS}`,
  attached): write the two JSON files next to the weights, and
  `stardist.models.StarDist2D(None, name=FOLDER_NAME, basedir=PARENT)` loads the model.

## Validation

The model card above reports the model's scores and the images they were measured on. The package's
test input is a crop of a DSB 2018 image of the book's test split (`{TEST_CROP["image_id"][:8]}…`), and its test
output is what the network gives for it: software that runs the package should reproduce it. Before you
rely on the model for your own images, annotate a few of them and score the model's labels against yours,
e.g. with `bioimaging-guide evaluate --truth annotated/ --pred predicted/` (chapter "Output quality" of the
book).
"""


def _facts(model, cfg: dict, metrics: dict, halo: int, div_by: int) -> dict:
    objects = metrics.get("training_objects") or {}
    return {
        "min": div_by + 2 * halo,
        "step": div_by,
        "low": NETWORK_PERCENTILES[0],
        "high": NETWORK_PERCENTILES[1],
        "diameter": objects.get("median_diameter_px"),
        "p10": objects.get("p10_diameter_px"),
        "p90": objects.get("p90_diameter_px"),
        "channels": 1 + cfg["n_rays"],
        "n_rays": cfg["n_rays"],
        "grid": tuple(cfg["grid"]),
        "halo": halo,
        "prob": float(model.thresholds.prob),
        "nms": float(model.thresholds.nms),
    }


# --------------------------------------------------------------------------- the description


def _description(folder: Path, files: dict[str, Path], facts: dict, stardist: dict, book_model: bool, authors, license):
    import tensorflow as tf
    from bioimageio.spec.model import v0_5 as bio

    inp, out = bio.TensorId("input"), bio.TensorId("output")
    px = f"pixels; objects ~{facts['diameter']:g} px across in training" if facts["diameter"] is not None else "pixels"
    input_axes = [
        bio.BatchAxis(),
        *(
            bio.SpaceInputAxis(
                id=bio.AxisId(a), size=bio.ParameterizedSize(min=facts["min"], step=facts["step"]), description=px
            )
            for a in ("y", "x")
        ),
        bio.ChannelAxis(channel_names=["grey"]),
    ]
    output_axes = [
        bio.BatchAxis(),
        *(
            bio.SpaceOutputAxisWithHalo(
                id=bio.AxisId(a), size=bio.SizeReference(tensor_id=inp, axis_id=bio.AxisId(a)), halo=facts["halo"]
            )
            for a in ("y", "x")
        ),
        bio.ChannelAxis(channel_names=["prob", *(f"dist_{i}" for i in range(facts["n_rays"]))]),
    ]
    scale_range = bio.ScaleRangeDescr(
        kwargs=bio.ScaleRangeKwargs(
            axes=[bio.AxisId("y"), bio.AxisId("x")], min_percentile=facts["low"], max_percentile=facts["high"]
        )
    )
    cites = [_STARDIST_CITE, *([_DSB_CITE] if book_model else [])]
    book = f"{BOOK['authors']}. {BOOK['title']} ({BOOK['year']})."
    what = (
        "StarDist 2D model of the book AI in Microscopy: A BioImaging Guide, trained from scratch on the "
        "fluorescence nuclei of DSB 2018."
        if book_model
        else f"StarDist 2D model {folder.name}, trained with the book AI in Microscopy: A BioImaging Guide."
    )
    return bio.ModelDescr(
        name=_name(folder, book_model),
        description=(
            f"{what} Outputs object probability and {facts['n_rays']} ray distances; StarDist's non-maximum "
            "suppression (thresholds in config.stardist) turns them into labelled nuclei."
        ),
        authors=[bio.Author(name=a) for a in authors],
        cite=[
            *(bio.CiteEntry(text=text, doi=doi) for text, doi in cites),
            bio.CiteEntry(text=book, url=BOOK["url"]),
        ],
        license=license,
        tags=[
            "fluorescence-light-microscopy",
            "2d",
            "nuclei",
            "tensorflow",
            "fiji",
            "unet",
            "instance-segmentation",
            "stardist",
            *(["dsb2018"] if book_model else []),
        ],
        documentation=bio.FileDescr(source=files["README.md"]),
        covers=[bio.FileDescr(source=files["cover.png"])],
        attachments=[bio.FileDescr(source=files[_STARDIST_WEIGHTS]), bio.FileDescr(source=files[_MACRO])],
        inputs=[
            bio.InputTensorDescr(
                id=inp,
                description="grey 2D image (e.g. a nuclear stain)",
                axes=input_axes,
                test_tensor=bio.FileDescr(source=files["test_input.npy"]),
                sample_tensor=bio.FileDescr(source=files["sample_input.png"]),
                data=bio.IntervalOrRatioDataDescr(type="float32"),
                preprocessing=[scale_range],
            )
        ],
        outputs=[
            bio.OutputTensorDescr(
                id=out,
                description="object probability, then ray distances (px); StarDist NMS gives the labels",
                axes=output_axes,
                test_tensor=bio.FileDescr(source=files["test_output.npy"]),
                data=bio.IntervalOrRatioDataDescr(type="float32"),
            )
        ],
        weights=bio.WeightsDescr(
            tensorflow_saved_model_bundle=bio.TensorflowSavedModelBundleWeightsDescr(
                source=files[_SAVED_MODEL],
                tensorflow_version=bio.Version(tf.__version__),
                comment="StarDist's Keras network with its outputs upsampled to the input's size and concatenated",
            )
        ),
        config=bio.Config(stardist=stardist),
        **({"git_repo": BOOK["repository"]} if book_model else {}),
    )


def _name(folder: Path, book_model: bool) -> str:
    if book_model:
        return f"StarDist {folder.name} (AI in Microscopy book)"
    clean = re.sub(r"[^A-Za-z0-9_+\- ()]", "-", folder.name)
    return f"StarDist {clean}"[:64]


# --------------------------------------------------------------------------- the export


def export_bioimageio(
    model: str | Path,
    output: str | Path,
    *,
    overwrite: bool = False,
    authors: list[str] | None = None,
    license: str | None = None,
) -> Path:
    """Write the bioimage.io model package (a ``.zip`` file) of a StarDist model; returns its path.

    ``model`` is a shipped model's name (``stardist-dsb2018``) or a StarDist model folder. ``authors``
    (names) default to the book's authors for the book's own models and must be given for others (your
    fine-tuned model is yours); ``license`` is an SPDX identifier, by default the book's licence for model
    weights (:data:`WEIGHTS_LICENSE`). Everything is checked first: a folder that is not a 2D StarDist
    model, an existing ``output`` (unless ``overwrite``) or a missing output folder raise
    :class:`~bioimaging_guide.images.InputError` before anything is written. The package is built in a
    temporary folder, validated with ``bioimageio.spec`` and only then moved to ``output``.
    """
    from .models import REGISTRY

    folder = _stardist_folder(model)
    out = _check_output(output, overwrite)
    recipe = json.loads((folder / "training.json").read_text()) if (folder / "training.json").is_file() else {}
    book_model = recipe.get("model") in REGISTRY
    if not authors and not book_model:
        raise InputError(
            f"{folder} is not one of the book's models: pass its authors (--author 'Your Name', once per "
            "person) so that the package says who made it"
        )
    authors = list(authors) if authors else [BOOK["authors"]]
    license = license or WEIGHTS_LICENSE
    spec = _spec_module()
    from bioimageio.spec.model.v0_5 import LicenseId

    try:
        LicenseId(license)
    except ValueError as err:
        raise InputError(f"--license {license!r} is not an SPDX licence identifier (e.g. CC-BY-4.0, MIT)") from err
    cfg = json.loads((folder / "config.json").read_text())
    metrics = json.loads((folder / "metrics.json").read_text()) if (folder / "metrics.json").is_file() else {}
    crop = _test_crop()
    weights = _weights_file(folder)
    sd_model = _load_stardist(folder, weights)
    halo = max(int(np.ceil(h / 8) * 8) for h in sd_model._axes_tile_overlap("YX"))  # as StarDist's export
    facts = _facts(sd_model, cfg, metrics, halo, max(sd_model._axes_div_by("YX")))
    stardist = {  # the way StarDist writes it ("python_version" is StarDist's own name for its version)
        "python_version": version("stardist"),
        "thresholds": {"prob": facts["prob"], "nms": facts["nms"]},
        "weights": _STARDIST_WEIGHTS,
        "config": cfg,
        "postprocessing_macro": _MACRO,
    }
    with tempfile.TemporaryDirectory(prefix="bioimageio-export-") as tmp:
        files = _package_files(Path(tmp), folder, sd_model, weights, crop, facts, stardist)
        with quiet():
            descr = _description(folder, files, facts, stardist, book_model, authors, license)

        def write(path: str) -> None:
            with open(path, "wb") as stream:
                spec.save_bioimageio_package_to_stream(descr, output_stream=stream)
            loaded = spec.load_description(path)
            if not isinstance(loaded, spec.ModelDescr):
                raise RuntimeError(f"bioimageio.spec rejects the package written for {folder}:\n{loaded.get_reason()}")

        write_atomic(out, write)
    return out


def _package_files(
    tmp: Path, folder: Path, sd_model, weights: Path, crop: np.ndarray, facts: dict, stardist: dict
) -> dict[str, Path]:
    """Write the files of the package into ``tmp``: network, weights, macro, test tensors, images, README."""
    import imageio.v3 as iio
    from stardist.bioimageio_utils import DEEPIMAGEJ_MACRO

    from .common import normalize_percentile

    names = ("README.md", "cover.png", "sample_input.png", "test_input.npy", "test_output.npy")
    files = {name: tmp / name for name in (*names, _SAVED_MODEL, _STARDIST_WEIGHTS, _MACRO)}
    network = _exported_network(sd_model)
    _write_saved_model(network, files[_SAVED_MODEL])
    files[_STARDIST_WEIGHTS].write_bytes(weights.read_bytes())
    files[_MACRO].write_text(DEEPIMAGEJ_MACRO.format(probThresh=facts["prob"], nmsThresh=facts["nms"]))
    with quiet():
        result = np.asarray(network(normalize_percentile(crop)[None, ..., None], training=False), dtype=np.float32)
    np.save(files["test_input.npy"], crop[None, ..., None])
    np.save(files["test_output.npy"], result)
    iio.imwrite(files["sample_input.png"], np.round(crop * 255).astype(np.uint8), extension=".png")
    _write_cover(files["cover.png"], crop, labels_from_output(result[0], stardist))
    files["README.md"].write_text(_readme(folder, facts), encoding="utf-8")
    return files


def validation_summary(package: str | Path) -> ValidationSummary:
    """``bioimageio.spec``'s validation summary of a package (``.status``, ``.errors``, ``.warnings``)."""
    spec = _spec_module()
    return spec.load_description(Path(package)).validation_summary
