"""The book's own trained segmentation models: training, loading and prediction.

Two deep-learning models are trained on the fluorescence images of the DSB 2018
*train* split (validated on the *val* split, never shown the *test* split) and
shipped with the book under ``models/`` with a model card each:

``stardist-dsb2018``
    StarDist 2D (TensorFlow): star-convex polygons, 32 rays.
``cellpose-dsb2018``
    Cellpose 3 (PyTorch) trained from scratch, with a slimmer network than
    Cellpose's default so that the weights stay small.

Reproduce them with one command each (about 30 min on 2 CPU cores)::

    bioimaging-guide train stardist-dsb2018
    bioimaging-guide train cellpose-dsb2018

Loading never unpickles code: StarDist weights are an HDF5 file of arrays plus
JSON configuration; Cellpose weights are a plain tensor dictionary read with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import random
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

SHIPPED = ("stardist-dsb2018", "cellpose-dsb2018")

#: Slimmer than Cellpose's default [32, 64, 128, 256] so the weights stay < 10 MB.
CELLPOSE_NBASE = (16, 32, 64, 128)


def shipped_models_dir() -> Path:
    """Folder holding the shipped models (``models/`` of the repository)."""
    here = Path(__file__).resolve()
    checkout = here.parents[2] / "models"
    if (checkout / "stardist-dsb2018").exists() or (checkout / "cellpose-dsb2018").exists():
        return checkout
    return Path(str(resources.files("bioimaging_guide.shipped_models")))


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy, TensorFlow and PyTorch (each if installed).

    TensorFlow is imported quietly: its C++ start-up messages would otherwise
    land in the notebook's output.
    """
    random.seed(seed)
    np.random.seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    try:
        with _quiet():
            import tensorflow as tf

        tf.random.set_seed(seed)
    except ImportError:  # pragma: no cover
        pass
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover
        pass


# --------------------------------------------------------------------------- data

def training_data(subset: str = "fluorescence"):
    """(X_train, Y_train, X_val, Y_val) from the DSB 2018 train and val splits, normalised."""
    from .data import load_dsb2018

    def prep(samples):
        xs = [normalize_percentile(s.image) for s in samples]
        ys = [s.labels.astype(np.int32) for s in samples]
        return xs, ys

    xt, yt = prep(load_dsb2018(subset, "train"))
    xv, yv = prep(load_dsb2018(subset, "val"))
    return xt, yt, xv, yv


def normalize_percentile(image: np.ndarray, low: float = 1.0, high: float = 99.8) -> np.ndarray:
    """Percentile normalisation to roughly [0, 1] (per channel for RGB), float32."""
    image = np.asarray(image, dtype=np.float32)
    axes = (0, 1)
    lo = np.percentile(image, low, axis=axes, keepdims=True)
    hi = np.percentile(image, high, axis=axes, keepdims=True)
    return ((image - lo) / np.maximum(hi - lo, 1e-6)).astype(np.float32)


def pad_to_size(x: np.ndarray, y: np.ndarray, size: Sequence[int]):
    """Pad an image (with its minimum) and its labels (with 0) to at least ``size`` pixels per axis.

    StarDist draws training patches of a fixed size; images smaller than the
    patch (some DSB images are 161 pixels wide) are padded with background.
    """
    pad = [(0, max(0, int(s) - n)) for s, n in zip(size, x.shape[:2])]
    if not any(p[1] for p in pad):
        return x, y
    x = np.pad(x, pad + [(0, 0)] * (x.ndim - 2), constant_values=float(np.min(x)))
    return x, np.pad(y, pad, constant_values=0)


def augment(x: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None):
    """Random flips and 90° rotations (image and labels), intensity scaling and noise (image only)."""
    rng = np.random.default_rng() if rng is None else rng
    k = int(rng.integers(4))
    x, y = np.rot90(x, k, axes=(0, 1)), np.rot90(y, k, axes=(0, 1))
    if rng.random() < 0.5:
        x, y = x[:, ::-1], y[:, ::-1]
    x = x * rng.uniform(0.7, 1.3) + rng.uniform(-0.1, 0.1)
    x = x + rng.normal(0, rng.uniform(0, 0.03), size=x.shape)
    return np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(y)


@contextlib.contextmanager
def _quiet(enabled: bool = True):
    """Silence progress bars and library chatter (Keras, StarDist, Cellpose, TensorFlow's C++ log).

    Python-level output is captured; the process-level standard error is sent
    to /dev/null for the duration, because TensorFlow logs from C++.
    """
    if not enabled:
        yield
        return
    sink = io.StringIO()
    sys.stdout.flush()
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


# --------------------------------------------------------------------------- StarDist

def stardist_config(epochs: int, steps_per_epoch: int, **overrides):
    from stardist.models import Config2D

    params = dict(
        n_rays=32, grid=(2, 2), n_channel_in=1, train_patch_size=(128, 128), train_batch_size=8,
        unet_n_depth=3, unet_n_filter_base=32, train_epochs=epochs, train_steps_per_epoch=steps_per_epoch,
        train_learning_rate=3e-4, train_tensorboard=False,
        train_reduce_lr={"factor": 0.5, "patience": 10, "min_delta": 0},
    )
    params.update(overrides)
    return Config2D(**params)


def train_stardist(out_dir: str | Path, name: str = "stardist-dsb2018", epochs: int = 120,
                   steps_per_epoch: int = 50, seed: int = 2018, data=None, verbose: int = 0,
                   init_from: str | Path | None = None, learning_rate: float | None = None,
                   optimize_thresholds: bool = True, **config):
    """Train StarDist 2D on the DSB fluorescence train split; returns (model, history, seconds).

    ``data`` = (X_train, Y_train, X_val, Y_val) overrides the default data.
    ``init_from`` (a shipped model name or a model folder) starts from trained
    weights instead of random ones: fine-tuning / transfer learning.
    """
    with _quiet(not verbose):
        from stardist import fill_label_holes
        from stardist.models import StarDist2D

    seed_everything(seed)
    xt, yt, xv, yv = training_data() if data is None else data
    yt = [fill_label_holes(y) for y in yt]
    yv = [fill_label_holes(y) for y in yv]
    patch = tuple((config.get("train_patch_size") or (128, 128)))
    xt, yt = zip(*[pad_to_size(x, y, patch) for x, y in zip(xt, yt)])
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if init_from is not None:
        source = Path(init_from) if Path(init_from).is_dir() else shipped_models_dir() / str(init_from)
        shutil.copytree(source, out_dir / name, dirs_exist_ok=True)
        with _quiet(not verbose):
            model = StarDist2D(None, name=name, basedir=str(out_dir))
        model.config.train_epochs, model.config.train_steps_per_epoch = epochs, steps_per_epoch
        model.config.train_tensorboard = False
        if learning_rate is not None:
            model.config.train_learning_rate = learning_rate
    else:
        if learning_rate is not None:
            config["train_learning_rate"] = learning_rate
        model = StarDist2D(stardist_config(epochs, steps_per_epoch, **config), name=name, basedir=str(out_dir))
    start = time.perf_counter()
    with _quiet(not verbose):
        history = model.train(xt, yt, validation_data=(xv, yv), augmenter=lambda x, y: augment(x, y, rng),
                              epochs=epochs, steps_per_epoch=steps_per_epoch, seed=seed, workers=1)
    if optimize_thresholds:
        with _quiet(not verbose):
            model.optimize_thresholds(xv, yv, optimize_kwargs={"tol": 1e-2, "maxiter": 20})
    seconds = time.perf_counter() - start
    (out_dir / name / "weights_last.h5").unlink(missing_ok=True)  # keep only the best weights (size limit)
    return model, {k: [float(v) for v in vals] for k, vals in history.history.items()}, seconds


# --------------------------------------------------------------------------- Cellpose

def _cellpose_net(diam_mean: float = 17.0, nbase: Sequence[int] = CELLPOSE_NBASE):
    """A Cellpose network with fewer channels than the default one.

    Cellpose's prediction code expects a 256-long "style" vector (the size of
    its default network's deepest layer); the slimmer network's style vector is
    zero-padded to that length. The weights are those of a standard ``CPnet``.
    """
    import torch
    from cellpose.resnet_torch import CPnet

    class SlimCPnet(CPnet):
        def forward(self, data):
            y, style, *rest = super().forward(data)
            if style.shape[1] < 256:
                style = torch.cat([style, style.new_zeros(style.shape[0], 256 - style.shape[1])], dim=1)
            return (y, style, *rest)

    return SlimCPnet([2, *nbase], 3, sz=3, mkldnn=False, max_pool=True, diam_mean=diam_mean)


def train_cellpose(out_dir: str | Path, name: str = "cellpose-dsb2018", epochs: int = 180,
                   seed: int = 2018, data=None, learning_rate: float = 0.005, batch_size: int = 8,
                   nbase: Sequence[int] = CELLPOSE_NBASE, verbose: int = 0):
    """Train a Cellpose 3 network from scratch on the DSB fluorescence train split.

    Images are used at their own scale (``rescale=False``) with random
    rescaling by up to ±25 % as augmentation, so prediction needs no size
    model. Returns (path of the weights, {"train_loss", "val_loss"}, seconds).
    """
    import logging

    import torch
    from cellpose import train

    seed_everything(seed)
    logging.getLogger("cellpose").setLevel(logging.WARNING)
    xt, yt, xv, yv = training_data() if data is None else data
    out_dir = Path(out_dir)
    work = out_dir / f".{name}-training"
    work.mkdir(parents=True, exist_ok=True)
    net = _cellpose_net(nbase=nbase)
    start = time.perf_counter()
    with _quiet(not verbose):
        path, train_losses, test_losses = train.train_seg(
            net, train_data=xt, train_labels=yt, test_data=xv, test_labels=yv, channels=[0, 0],
            normalize=False, n_epochs=epochs, learning_rate=learning_rate, weight_decay=1e-4,
            batch_size=batch_size, save_path=str(work), save_every=10**9, model_name=name,
            rescale=False, scale_range=0.5, min_train_masks=1, bsize=224,
        )
    seconds = time.perf_counter() - start
    final = out_dir / name
    final.mkdir(parents=True, exist_ok=True)
    state = torch.load(path, map_location="cpu", weights_only=True)
    torch.save(state, final / "weights.pt")
    (final / "config.json").write_text(json.dumps(
        {"framework": "cellpose", "cellpose_version": _version("cellpose"), "nbase": [2, *nbase],
         "nout": 3, "diam_mean": 17.0, "rescale": 1.0, "channels": [0, 0]}, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    losses = {"train_loss": [float(v) for v in train_losses],
              "val_loss": [float(v) for v in test_losses]}
    return final, losses, seconds


# --------------------------------------------------------------------------- loading and prediction

@dataclass
class SegmentationModel:
    """A loaded model: call ``predict(image)`` to get an int32 label image."""

    name: str
    framework: str
    _predict: Callable[[np.ndarray], np.ndarray]

    def predict(self, image: np.ndarray) -> np.ndarray:
        image = np.asarray(image)
        if image.ndim == 3 and image.shape[-1] in (3, 4):
            image = image[..., :3].astype(np.float32).mean(axis=-1)
        if image.ndim != 2:
            raise ValueError(f"{self.name} segments 2D images (H x W or H x W x 3), got shape {image.shape}")
        if image.size == 0 or min(image.shape) < 8:
            raise ValueError(f"image of shape {image.shape} is too small to segment")
        labels = self._predict(normalize_percentile(image))
        return np.asarray(labels, dtype=np.int32)


def load_model(name_or_path: str | Path) -> SegmentationModel:
    """Load a shipped model by name (``stardist-dsb2018``, ``cellpose-dsb2018``) or a model folder."""
    path = Path(name_or_path)
    if not path.is_dir():
        if str(name_or_path) not in SHIPPED:
            raise ValueError(f"unknown model {name_or_path!r}: use one of {list(SHIPPED)} or a model folder")
        path = shipped_models_dir() / str(name_or_path)
        if not path.is_dir():
            raise FileNotFoundError(f"shipped model {name_or_path!r} not found in {path.parent}")
    if (path / "weights.pt").is_file():
        return _load_cellpose(path)
    if (path / "config.json").is_file() and any(path.glob("weights_*.h5")):
        return _load_stardist(path)
    raise ValueError(f"{path} is neither a StarDist model folder (config.json + weights_*.h5) "
                     "nor a book Cellpose model folder (config.json + weights.pt)")


def _load_stardist(path: Path) -> SegmentationModel:
    with _quiet():
        import tensorflow as tf
        from stardist.models import StarDist2D

        tf.get_logger().setLevel("ERROR")  # no retracing warnings when image sizes vary
        model = StarDist2D(None, name=path.name, basedir=str(path.parent))

    def predict(x):
        n_tiles = tuple(max(1, int(np.ceil(s / 1024))) for s in x.shape)
        labels, _ = model.predict_instances(x, n_tiles=n_tiles, show_tile_progress=False, verbose=False)
        return labels

    return SegmentationModel(path.name, "stardist", predict)


def _load_cellpose(path: Path) -> SegmentationModel:
    import logging

    import torch
    from cellpose import models

    logging.getLogger("cellpose").setLevel(logging.WARNING)
    cfg = json.loads((path / "config.json").read_text())
    model = models.CellposeModel(gpu=False, pretrained_model=False, diam_mean=cfg["diam_mean"])
    net = _cellpose_net(cfg["diam_mean"], cfg["nbase"][1:])
    net.load_state_dict(torch.load(path / "weights.pt", map_location="cpu", weights_only=True))
    net.eval()
    model.net = net
    model.diam_labels = float(net.diam_labels.item())

    def predict(x):
        masks, _flows, _styles = model.eval(x, channels=[0, 0], normalize=False, rescale=cfg["rescale"],
                                            progress=None)
        return masks

    return SegmentationModel(path.name, "cellpose", predict)


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def environment_summary() -> dict:
    """Versions and hardware, for model cards."""
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            **{p: _version(p) for p in ("numpy", "tensorflow-cpu", "stardist", "csbdeep", "torch", "cellpose")
               if _has(p)}}


def _has(package: str) -> bool:
    try:
        _version(package)
        return True
    except Exception:  # noqa: BLE001
        return False


# --------------------------------------------------------------------------- evaluation and model cards

def evaluate_on_split(model: SegmentationModel, subset: str = "fluorescence", split: str = "test") -> dict:
    """F1, precision, recall and PQ at IoU 0.5 and AP (mean accuracy over τ = 0.50…0.95), pooled over images."""
    from . import evaluation as ev
    from .data import load_dsb2018

    samples = load_dsb2018(subset, split)
    preds = [model.predict(s.image) for s in samples]
    gts = [s.labels for s in samples]
    curve = ev.match_dataset(gts, preds, thresh=list(ev.DSB_THRESHOLDS))
    at05 = curve[0]
    return {"subset": subset, "split": split, "images": len(samples), "nuclei": int(at05.n_true),
            "f1@0.5": round(at05.f1, 4), "precision@0.5": round(at05.precision, 4),
            "recall@0.5": round(at05.recall, 4), "pq@0.5": round(at05.panoptic_quality, 4),
            "ap@0.5:0.95": round(float(np.mean([c.accuracy for c in curve])), 4)}


_CARD = """# Model card: {name}

{summary}

| | |
|---|---|
| framework | {framework} |
| architecture | {architecture} |
| task | instance segmentation of nuclei in 2D fluorescence images |
| training data | DSB 2018 stage-1 test release (BBBC038, CC0; Caicedo et al. 2019), fluorescence images of the book's fixed **train** split: {n_train} images, {nuclei_train} nuclei |
| validation data | fluorescence images of the **val** split: {n_val} images, {nuclei_val} nuclei (early model selection, probability/NMS thresholds) |
| test data | fluorescence images of the **test** split: {n_test} images, {nuclei_test} nuclei, never used for training or tuning |
| split | by image, fixed: `bioimaging_guide.data.load_dsb2018(split=…)` |
| input normalisation | percentile 1–99.8 % per image → [0, 1] |
| augmentation | {augmentation} |
| training length | {training} |
| seed | {seed} |
| hardware | {hardware} |
| wall time | {minutes:.1f} min |
| software | {software} |
| weights | {weights} |
| licence | weights: CC BY 4.0 (trained on CC0 data); code: BSD-3-Clause |
| reproduce | `bioimaging-guide train {name} --output models/` |

## Test metrics (pooled over the {n_test} test images)

| metric | value |
|---|---|
| F1 at IoU ≥ 0.5 | {test[f1@0.5]:.3f} |
| precision at IoU ≥ 0.5 | {test[precision@0.5]:.3f} |
| recall at IoU ≥ 0.5 | {test[recall@0.5]:.3f} |
| panoptic quality at IoU ≥ 0.5 | {test[pq@0.5]:.3f} |
| AP (mean of TP/(TP+FP+FN) over IoU 0.50–0.95) | {test[ap@0.5:0.95]:.3f} |

Brightfield/histology images (out of distribution; the model never saw any): F1 at IoU ≥ 0.5 = {ood[f1@0.5]:.3f} on the {ood[images]} brightfield test images.

## Intended use and limits

For teaching and for first attempts on fluorescence images of nuclei at magnifications similar to the DSB collection.
It was trained on {n_train} images; check it on a few annotated images of your own (chapter 10 of the book shows how) before you rely on it.
It is not meant for brightfield or histology images, for cells rather than nuclei, or for 3D data.
"""


def write_model_card(folder: Path, seconds: float, seed: int, history: dict) -> dict:
    """Evaluate a freshly trained model folder and write ``MODEL_CARD.md`` and ``metrics.json``."""
    from .data import dsb2018_table

    folder = Path(folder)
    model = load_model(folder)
    test = evaluate_on_split(model, "fluorescence", "test")
    ood = evaluate_on_split(model, "brightfield", "test")
    table = dsb2018_table()
    fl = table[table.modality == "fluorescence"]
    counts = {s: (int((fl.split == s).sum()), int(fl.loc[fl.split == s, "n_nuclei"].sum())) for s in ("train", "val", "test")}
    env = environment_summary()
    if model.framework == "stardist":
        cfg = json.loads((folder / "config.json").read_text())
        architecture = (f"StarDist 2D, U-Net depth {cfg['unet_n_depth']}, {cfg['unet_n_filter_base']} base filters, "
                        f"{cfg['n_rays']} rays, grid {tuple(cfg['grid'])}")
        training = (f"{cfg['train_epochs']} epochs × {cfg['train_steps_per_epoch']} steps, batch {cfg['train_batch_size']}, "
                    f"patches {tuple(cfg['train_patch_size'])}, Adam lr {cfg['train_learning_rate']}")
        augmentation = "random 90° rotations and flips; intensity ×U(0.7, 1.3) + U(−0.1, 0.1); Gaussian noise σ ≤ 0.03"
        weights = "`weights_best.h5` (Keras HDF5, arrays only), `config.json`, `thresholds.json`"
        summary = "StarDist 2D model trained from scratch by the book *AI in Microscopy: A BioImaging Guide*."
        software = f"stardist {env.get('stardist')}, csbdeep {env.get('csbdeep')}, tensorflow-cpu {env.get('tensorflow-cpu')}"
    else:
        cfg = json.loads((folder / "config.json").read_text())
        n_epochs = len(history.get("train_loss", []))
        architecture = f"Cellpose CPnet with channels {cfg['nbase']} (slimmer than the default 32–256), trained from scratch"
        training = f"{n_epochs} epochs over the train images, batch 8, 224 × 224 crops, AdamW (Cellpose default schedule), lr 0.005"
        augmentation = "Cellpose's random rotations, flips and rescaling (scale range 0.5, images at their own scale)"
        weights = "`weights.pt` (PyTorch state dict, loaded with `weights_only=True`), `config.json`"
        summary = "Cellpose 3 network trained from scratch by the book *AI in Microscopy: A BioImaging Guide*."
        software = f"cellpose {env.get('cellpose')}, torch {env.get('torch')}"
    card = _CARD.format(
        name=folder.name, summary=summary, framework=model.framework, architecture=architecture,
        n_train=counts["train"][0], nuclei_train=counts["train"][1], n_val=counts["val"][0],
        nuclei_val=counts["val"][1], n_test=counts["test"][0], nuclei_test=counts["test"][1],
        augmentation=augmentation, training=training, seed=seed,
        hardware=f"{env['cpu_count']} CPU cores ({env['platform']}), no GPU", minutes=seconds / 60,
        software=software, weights=weights, test=test, ood=ood)
    (folder / "MODEL_CARD.md").write_text(card)
    metrics = {"test": test, "brightfield_test": ood, "training_seconds": round(seconds, 1), "seed": seed,
               "environment": env}
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics
