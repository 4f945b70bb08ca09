"""Deep-learning nucleus segmentation: StarDist and Cellpose, trained, loaded and scored the book's way.

Both networks are trained on the fluorescence images of the DSB 2018 *train*
split, validated on the *val* split and never shown the *test* split
(:func:`training_data`). The book ships one model of each
(``stardist-dsb2018``, ``cellpose-dsb2018``); :mod:`bioimaging_guide.models`
trains, saves, loads and documents them. This module holds what is specific
to segmentation:

* :func:`train_stardist` and :func:`train_cellpose` (also used directly by the
  chapter on training models, for short runs, fine-tuning and
  human-in-the-loop rounds);
* :class:`SegmentationModel`, what :func:`load_segmentation_model` returns:
  ``predict(image)`` gives an int32 label image;
* :func:`evaluate_on_split`, the metrics on a model card.

Loading never unpickles code: StarDist weights are an HDF5 file of arrays plus
JSON configuration; Cellpose weights are a plain tensor dictionary read with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .common import (
    DIHEDRAL,
    LoadedModel,
    dihedral_forward,
    dihedral_inverse,
    normalize_percentile,
    quiet,
    seed_everything,
    write_atomic,
)

# PyTorch 2.11 warns "Sparse invariant checks are implicitly disabled" from inside Cellpose 3;
# it concerns Cellpose's internals, not the reader's images, so it stays out of outputs.
warnings.filterwarnings("ignore", message="Sparse invariant checks", category=UserWarning)

__all__ = [
    "AUGMENTATION",
    "SegmentationModel",
    "DIHEDRAL",
    "CELLPOSE_THRESHOLD_GRID",
    "augment",
    "cellpose_thresholds",
    "dihedral_forward",
    "dihedral_inverse",
    "evaluate_on_split",
    "is_stardist_folder",
    "load_segmentation_model",
    "network_input",
    "optimize_cellpose_thresholds",
    "pad_to_size",
    "ray_permutation",
    "stardist_tta_prediction",
    "stardist_config",
    "train_cellpose",
    "train_stardist",
    "training_data",
]

#: Augmentation of :func:`augment` (StarDist training): random 90° rotations and flips of image and
#: labels; optionally a random zoom by a factor from ``zoom`` (log-uniform; (1, 1) = off), which changes
#: the apparent size of the nuclei; intensity scaled by a factor from ``scale`` and shifted by an offset
#: from ``shift``; optionally a Gaussian blur with a sigma drawn up to ``blur_sigma`` pixels (0 = off);
#: Gaussian noise with a standard deviation drawn up to ``noise_sd``.
AUGMENTATION = {
    "rotate_flip": True,
    "scale": (0.7, 1.3),
    "shift": (-0.1, 0.1),
    "noise_sd": 0.03,
    "zoom": (1.0, 1.0),
    "blur_sigma": 0.0,
}

#: Slimmer than Cellpose's default [32, 64, 128, 256] so the weights stay < 10 MB.
CELLPOSE_NBASE = (16, 32, 64, 128)

#: Cellpose's own defaults: pixels with cell probability (a logit) above ``cellprob`` take part in the
#: flow dynamics; masks whose flows disagree with the predicted ones by more than ``flow`` are dropped.
CELLPOSE_DEFAULT_THRESHOLDS = {"cellprob": 0.0, "flow": 0.4}

#: The grid :func:`optimize_cellpose_thresholds` searches: cell-probability thresholds from -3 to 1 in
#: steps of 0.5 and flow-error thresholds from 0.2 to 1.0 in steps of 0.1 (81 pairs).
CELLPOSE_THRESHOLD_GRID = {
    "cellprob": tuple(float(v) for v in np.round(np.arange(-3.0, 1.01, 0.5), 2)),
    "flow": tuple(float(v) for v in np.round(np.arange(0.2, 1.01, 0.1), 2)),
}


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


def _zoom_patch(x: np.ndarray, y: np.ndarray, factor: float, rng: np.random.Generator):
    """Zoom image (linear) and labels (nearest) by ``factor``, then crop or pad back to the input's size.

    A random part of an enlarged patch is kept; a shrunken patch is placed at a random position on
    background (the image's minimum, label 0).
    """
    from scipy import ndimage as ndi

    shape = x.shape[:2]
    xz = ndi.zoom(x, factor, order=1, grid_mode=True, mode="nearest")
    yz = ndi.zoom(y, factor, order=0, grid_mode=True, mode="nearest")
    out_x = np.full(shape, float(np.min(x)), dtype=np.float32)
    out_y = np.zeros(shape, dtype=y.dtype)
    src, dst = [], []
    for n, m in zip(shape, xz.shape[:2]):
        offset = int(rng.integers(0, abs(m - n) + 1))
        src.append(slice(offset, offset + n) if m >= n else slice(0, m))
        dst.append(slice(0, n) if m >= n else slice(offset, offset + m))
    out_x[tuple(dst)] = xz[tuple(src)]
    out_y[tuple(dst)] = yz[tuple(src)]
    return out_x, out_y


def augment(
    x: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator | None = None,
    scale=AUGMENTATION["scale"],
    shift=AUGMENTATION["shift"],
    noise_sd: float = AUGMENTATION["noise_sd"],
    zoom=AUGMENTATION["zoom"],
    blur_sigma: float = AUGMENTATION["blur_sigma"],
):
    """Random flips and 90° rotations (image and labels), optional zoom, intensity scaling, optional blur and noise.

    See :data:`AUGMENTATION` for what the parameters mean. With zoom and blur off (their defaults) the
    random numbers drawn are the same as before those options existed, so older recipes train the same.
    """
    rng = np.random.default_rng() if rng is None else rng
    k = int(rng.integers(4))
    x, y = np.rot90(x, k, axes=(0, 1)), np.rot90(y, k, axes=(0, 1))
    if rng.random() < 0.5:
        x, y = x[:, ::-1], y[:, ::-1]
    low, high = float(zoom[0]), float(zoom[1])
    if not (0 < low <= high):
        raise ValueError(f"zoom must be (low, high) with 0 < low <= high, got {zoom!r}")
    if (low, high) != (1.0, 1.0):
        x, y = _zoom_patch(x, y, float(np.exp(rng.uniform(np.log(low), np.log(high)))), rng)
    x = x * rng.uniform(*scale) + rng.uniform(*shift)
    if blur_sigma > 0:
        from scipy import ndimage as ndi

        x = ndi.gaussian_filter(x, rng.uniform(0, blur_sigma))
    x = x + rng.normal(0, rng.uniform(0, noise_sd), size=x.shape)
    return np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(y)


# --------------------------------------------------------------------------- StarDist


def stardist_config(epochs: int, steps_per_epoch: int, **overrides):
    """A StarDist ``Config2D`` with the book's defaults (32 rays, grid 2×2, 128-pixel patches, U-Net depth 3)."""
    from stardist.models import Config2D

    params = dict(
        n_rays=32,
        grid=(2, 2),
        n_channel_in=1,
        train_patch_size=(128, 128),
        train_batch_size=8,
        unet_n_depth=3,
        unet_n_filter_base=32,
        train_epochs=epochs,
        train_steps_per_epoch=steps_per_epoch,
        train_learning_rate=3e-4,
        train_tensorboard=False,
        train_reduce_lr={"factor": 0.5, "patience": 10, "min_delta": 0},
    )
    params.update(overrides)
    return Config2D(**params)


def train_stardist(
    out_dir: str | Path,
    name: str = "stardist-dsb2018",
    epochs: int = 120,
    steps_per_epoch: int = 50,
    seed: int = 2018,
    data=None,
    verbose: int = 0,
    init_from: str | Path | None = None,
    learning_rate: float | None = None,
    optimize_thresholds: bool = True,
    augmentation: dict | None = None,
    **config,
):
    """Train StarDist 2D (by default on the DSB fluorescence train split); returns (model, history, seconds).

    The model is written to ``out_dir/name``. ``data`` = (X_train, Y_train,
    X_val, Y_val) overrides the default data. ``init_from`` (a shipped model
    name or a model folder) starts from trained weights instead of random
    ones: fine-tuning / transfer learning. ``augmentation`` overrides entries
    of :data:`AUGMENTATION`; other keyword arguments are ``Config2D``
    parameters (e.g. ``n_rays``, ``grid``, ``train_patch_size``).
    """
    with quiet(not verbose):
        from stardist import fill_label_holes
        from stardist.models import StarDist2D

    seed_everything(seed, frameworks=("tensorflow",))
    xt, yt, xv, yv = training_data() if data is None else data
    yt = [fill_label_holes(y) for y in yt]
    yv = [fill_label_holes(y) for y in yv]
    rng = np.random.default_rng(seed)
    aug = {**AUGMENTATION, **(augmentation or {})}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if init_from is not None:
        from .models import resolve_model_folder

        source = resolve_model_folder(init_from)
        shutil.copytree(source, out_dir / name, dirs_exist_ok=True)
        with quiet(not verbose):
            model = StarDist2D(None, name=name, basedir=str(out_dir))
        model.config.train_epochs, model.config.train_steps_per_epoch = epochs, steps_per_epoch
        model.config.train_tensorboard = False
        if learning_rate is not None:
            model.config.train_learning_rate = learning_rate
    else:
        if learning_rate is not None:
            config["train_learning_rate"] = learning_rate
        model = StarDist2D(stardist_config(epochs, steps_per_epoch, **config), name=name, basedir=str(out_dir))

    # StarDist draws patches of the model's own size (a fine-tuned model keeps its patch size) from the training
    # and validation images alike, so both are padded to it; thresholds are optimised on the unpadded images
    patch = tuple(model.config.train_patch_size)
    xt, yt = zip(*[pad_to_size(x, y, patch) for x, y in zip(xt, yt)])
    xv_patches, yv_patches = zip(*[pad_to_size(x, y, patch) for x, y in zip(xv, yv)])

    def augmenter(x, y):
        return augment(
            x,
            y,
            rng,
            scale=aug["scale"],
            shift=aug["shift"],
            noise_sd=aug["noise_sd"],
            zoom=aug["zoom"],
            blur_sigma=aug["blur_sigma"],
        )

    start = time.perf_counter()
    with quiet(not verbose):
        history = model.train(
            xt,
            yt,
            validation_data=(xv_patches, yv_patches),
            augmenter=augmenter,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            seed=seed,
            workers=1,
        )
    if optimize_thresholds:
        with quiet(not verbose):
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


def train_cellpose(
    out_dir: str | Path,
    name: str = "cellpose-dsb2018",
    epochs: int = 180,
    seed: int = 2018,
    data=None,
    learning_rate: float = 0.005,
    batch_size: int = 8,
    nbase: Sequence[int] = CELLPOSE_NBASE,
    weight_decay: float = 1e-4,
    crop: int = 224,
    scale_range: float = 0.5,
    diam_mean: float = 17.0,
    verbose: int = 0,
    init_from: str | Path | None = None,
    optimize_thresholds: bool = False,
):
    """Train a Cellpose 3 network (by default from scratch, on the DSB fluorescence train split).

    Images are used at their own scale (``rescale=False``) with random
    rescaling (``scale_range``) as augmentation, so prediction needs no size
    model. The model folder ``out_dir/name`` gets ``weights.pt`` and
    ``config.json``; with ``optimize_thresholds`` also ``thresholds.json``, the
    cell-probability and flow-error thresholds chosen on the validation images
    by :func:`optimize_cellpose_thresholds` (otherwise Cellpose's defaults apply).
    Returns (that folder, {"train_loss", "val_loss"}, seconds); the seconds
    include the threshold search.
    """
    import torch
    from cellpose import train

    seed_everything(seed, frameworks=("torch",))
    logging.getLogger("cellpose").setLevel(logging.WARNING)
    xt, yt, xv, yv = training_data() if data is None else data
    out_dir = Path(out_dir)
    work = out_dir / f".{name}-training"
    work.mkdir(parents=True, exist_ok=True)
    if init_from is not None:  # fine-tuning: the architecture and weights of a trained book Cellpose model
        from .models import resolve_model_folder

        source = resolve_model_folder(init_from)
        source_cfg = json.loads((source / "config.json").read_text())
        diam_mean, nbase = source_cfg["diam_mean"], source_cfg["nbase"][1:]
    net = _cellpose_net(diam_mean=diam_mean, nbase=nbase)
    if init_from is not None:
        net.load_state_dict(torch.load(source / "weights.pt", map_location="cpu", weights_only=True))
    start = time.perf_counter()
    with quiet(not verbose):
        path, train_losses, test_losses = train.train_seg(
            net,
            train_data=xt,
            train_labels=yt,
            test_data=xv,
            test_labels=yv,
            channels=[0, 0],
            normalize=False,
            n_epochs=epochs,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            batch_size=batch_size,
            save_path=str(work),
            save_every=10**9,
            model_name=name,
            rescale=False,
            scale_range=scale_range,
            min_train_masks=1,
            bsize=crop,
        )
    seconds = time.perf_counter() - start
    final = out_dir / name
    final.mkdir(parents=True, exist_ok=True)
    state = torch.load(path, map_location="cpu", weights_only=True)
    torch.save(state, final / "weights.pt")
    from importlib.metadata import version

    (final / "config.json").write_text(
        json.dumps(
            {
                "framework": "cellpose",
                "cellpose_version": version("cellpose"),
                "nbase": [2, *nbase],
                "nout": 3,
                "diam_mean": diam_mean,
                "rescale": 1.0,
                "channels": [0, 0],
            },
            indent=2,
        )
    )
    shutil.rmtree(work, ignore_errors=True)
    if optimize_thresholds:
        optimize_cellpose_thresholds(final, xv, yv)
        seconds = time.perf_counter() - start
    losses = {"train_loss": [float(v) for v in train_losses], "val_loss": [float(v) for v in test_losses]}
    return final, losses, seconds


# --------------------------------------------------------------------------- test-time augmentation


def ray_permutation(n_rays: int, t: tuple[bool, bool, bool]) -> np.ndarray:
    """Indices that put StarDist's ray distances, predicted on a transformed image, back in the original order.

    StarDist's ray ``k`` points at angle ``2πk / n_rays`` (row step ``sin``, column step ``cos``).
    After :func:`dihedral_inverse` has moved each pixel back, ``dist[..., ray_permutation(n, t)]``
    gives every ray its original direction. ``n_rays`` must be a multiple of 4, so that every
    flip and quarter turn maps rays onto rays.
    """
    if n_rays <= 0 or n_rays % 4:
        raise ValueError(f"test-time augmentation needs a number of rays divisible by 4, got {n_rays}")
    transpose, flip_rows, flip_cols = t
    phi = 2 * np.pi * np.arange(n_rays) / n_rays
    dy, dx = np.sin(phi), np.cos(phi)  # ray directions in the transformed image
    # back to the original image: undo the flips, then the transpose
    if flip_rows:
        dy = -dy
    if flip_cols:
        dx = -dx
    if transpose:
        dy, dx = dx, dy
    original = np.mod(np.round(np.arctan2(dy, dx) / (2 * np.pi / n_rays)).astype(int), n_rays)
    perm = np.empty(n_rays, dtype=int)
    perm[original] = np.arange(n_rays)
    return perm


def stardist_tta_prediction(model, x: np.ndarray, n_tiles: tuple[int, int] = (1, 1)):
    """StarDist's probability and ray distances for ``x``, averaged over the eight :data:`DIHEDRAL` transforms.

    The image is first padded (mirrored) so that each side has ``grid × k + 1`` pixels: then every flip
    maps StarDist's subsampled output grid onto itself, and the eight predictions line up exactly.
    Returns ``(prob, dist, padded_shape)``; pass them to ``model._instances_from_prediction`` and crop
    the labels back to ``x.shape``.
    """
    grid = tuple(int(g) for g in model.config.grid)
    pad = [(0, (1 - s) % g) for s, g in zip(x.shape, grid)]
    xp = np.pad(x, pad, mode="reflect") if any(p for _, p in pad) else x
    n_rays = int(model.config.n_rays)
    prob_sum = dist_sum = None
    for t in DIHEDRAL:
        tiles = n_tiles[::-1] if t[0] else n_tiles
        prob, dist = model.predict(dihedral_forward(xp, t), n_tiles=tiles, show_tile_progress=False, verbose=False)
        prob = dihedral_inverse(prob, t)
        dist = dihedral_inverse(dist, t)[..., ray_permutation(n_rays, t)]
        prob_sum = prob if prob_sum is None else prob_sum + prob
        dist_sum = dist if dist_sum is None else dist_sum + dist
    return prob_sum / len(DIHEDRAL), dist_sum / len(DIHEDRAL), xp.shape


# --------------------------------------------------------------------------- loaded models


def network_input(image: np.ndarray, name: str = "the model") -> np.ndarray:
    """A 2D image (H × W, or H × W × 3 RGB, averaged to grey) checked and normalised as the models take it."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        image = image[..., :3].astype(np.float32).mean(axis=-1)
    if image.ndim != 2:
        raise ValueError(f"{name} segments 2D images (H x W or H x W x 3), got shape {image.shape}")
    if image.size == 0 or min(image.shape) < 8:
        raise ValueError(f"image of shape {image.shape} is too small to segment")
    return normalize_percentile(image)


class SegmentationModel(LoadedModel):
    """A loaded segmentation model: ``predict(image)`` returns an int32 label image."""

    task = "segmentation"

    def predict(self, image: np.ndarray, tta: bool = False) -> np.ndarray:
        """Segment one 2D image (H × W, or H × W × 3 RGB, averaged to grey); normalised here.

        ``tta=True`` (test-time augmentation) averages the network's outputs over transformed copies of
        the image before objects are formed: for StarDist the eight flips and quarter turns, for Cellpose
        its own augmentation (tiles overlapping by half, each flipped one of four ways, averaged where
        they overlap). Several times slower; check on annotated images of your own whether it helps.
        """
        labels = self._predict(network_input(image, self.name), tta=tta)
        return np.asarray(labels, dtype=np.int32)


def load_segmentation_model(path: str | Path) -> SegmentationModel:
    """Load a StarDist (config.json + weights_*.h5) or book Cellpose (config.json + weights.pt) model folder.

    The object size the model was trained on (``training_objects`` in the folder's ``metrics.json``, if
    any) becomes ``object_diameter_px``.
    """
    model = _load_segmentation_folder(Path(path))
    metrics = Path(path) / "metrics.json"
    if metrics.is_file():
        objects = json.loads(metrics.read_text()).get("training_objects") or {}
        model.object_diameter_px = objects.get("median_diameter_px")
    return model


def is_stardist_folder(path: str | Path) -> bool:
    """Whether ``path`` is a StarDist model folder: ``config.json`` with ``n_rays``, and ``weights_*.h5``."""
    path = Path(path)
    return (
        (path / "config.json").is_file()
        and any(path.glob("weights_*.h5"))
        and "n_rays" in json.loads((path / "config.json").read_text())
    )


def _load_segmentation_folder(path: Path) -> SegmentationModel:
    if (path / "weights.pt").is_file() and (path / "config.json").is_file():
        if json.loads((path / "config.json").read_text()).get("framework") == "cellpose":
            return _load_cellpose(path)
    if is_stardist_folder(path):
        return _load_stardist(path)
    raise ValueError(
        f"{path} is neither a StarDist model folder (config.json + weights_*.h5) "
        "nor a book Cellpose model folder (config.json + weights.pt)"
    )


def _load_stardist(path: Path) -> SegmentationModel:
    with quiet():
        import tensorflow as tf
        from stardist.models import StarDist2D

        tf.get_logger().setLevel("ERROR")  # no retracing warnings when image sizes vary
        model = StarDist2D(None, name=path.name, basedir=str(path.parent))

    def predict(x, tta=False):
        n_tiles = tuple(max(1, int(np.ceil(s / 1024))) for s in x.shape)
        if not tta:
            labels, _ = model.predict_instances(x, n_tiles=n_tiles, show_tile_progress=False, verbose=False)
            return labels
        prob, dist, padded = stardist_tta_prediction(model, x, n_tiles)
        labels, _ = model._instances_from_prediction(padded, prob, dist)
        return labels[: x.shape[0], : x.shape[1]]

    return SegmentationModel(path.name, "stardist", predict)


def _cellpose_model(path: Path):
    """A Cellpose 3 ``CellposeModel`` holding the book network saved in ``path``, and the folder's config."""
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
    return model, cfg


def cellpose_thresholds(path: str | Path) -> dict:
    """The thresholds a Cellpose model folder uses: its ``thresholds.json`` if present, else Cellpose's defaults."""
    file = Path(path) / "thresholds.json"
    if not file.is_file():
        return dict(CELLPOSE_DEFAULT_THRESHOLDS)
    saved = json.loads(file.read_text())
    missing = sorted(set(CELLPOSE_DEFAULT_THRESHOLDS) - set(saved))
    if missing:
        raise ValueError(f"{file} lacks {missing}; delete the file to use Cellpose's defaults")
    return {k: float(saved[k]) for k in CELLPOSE_DEFAULT_THRESHOLDS}


def _cellpose_masks(dP: np.ndarray, cellprob: np.ndarray, thresholds: dict) -> np.ndarray:
    """Cellpose's masks from its flows and cell probability (as ``CellposeModel.eval`` forms them at scale 1)."""
    import torch
    from cellpose import dynamics

    masks = dynamics.resize_and_compute_masks(
        dP,
        cellprob,
        niter=200,
        cellprob_threshold=thresholds["cellprob"],
        flow_threshold=thresholds["flow"],
        interp=True,
        min_size=15,
        max_size_fraction=0.4,
        device=torch.device("cpu"),
    )
    return np.asarray(masks, dtype=np.int32)


def optimize_cellpose_thresholds(
    path: str | Path,
    images: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    grid: dict | None = None,
    iou_thresholds: Sequence[float] = (0.3, 0.5, 0.7),
    save: bool = True,
) -> dict:
    """Choose a Cellpose model's cell-probability and flow-error thresholds on annotated (validation) images.

    The rule is StarDist's own (``optimize_thresholds``): maximise the accuracy TP / (TP + FP + FN),
    pooled over the images and averaged over IoU thresholds 0.3, 0.5 and 0.7. The network runs once
    per image; only the mask formation is repeated for each pair in ``grid`` (default
    :data:`CELLPOSE_THRESHOLD_GRID`). Ties keep Cellpose's defaults, then the first pair in the grid.
    With ``save`` the choice is written to ``path/thresholds.json``, which the loaded model then uses.
    Returns ``{"cellprob", "flow", "score", "default_score"}``.
    """
    from . import evaluation as ev

    path = Path(path)
    if len(images) == 0 or len(images) != len(labels):
        raise ValueError(
            f"need annotated images to choose thresholds on: got {len(images)} images and {len(labels)} label images"
        )
    grid = dict(CELLPOSE_THRESHOLD_GRID if grid is None else grid)
    model, cfg = _cellpose_model(path)
    flows = []
    for x in images:
        _masks, out, _styles = model.eval(
            network_input(x, path.name),
            channels=[0, 0],
            normalize=False,
            rescale=cfg["rescale"],
            progress=None,
            compute_masks=False,
        )
        flows.append((out[1], out[2]))
    gts = [np.asarray(y) for y in labels]

    def score(thresholds):
        preds = [_cellpose_masks(d, c, thresholds) for d, c in flows]
        return float(np.mean([r.accuracy for r in ev.match_dataset(gts, preds, thresh=list(iou_thresholds))]))

    default_score = score(CELLPOSE_DEFAULT_THRESHOLDS)
    best, best_score = dict(CELLPOSE_DEFAULT_THRESHOLDS), default_score
    for cellprob in grid["cellprob"]:
        for flow in grid["flow"]:
            candidate = {"cellprob": float(cellprob), "flow": float(flow)}
            value = score(candidate)
            if value > best_score + 1e-12:
                best, best_score = candidate, value
    if save:
        write_atomic(path / "thresholds.json", lambda tmp: Path(tmp).write_text(json.dumps(best) + "\n"))
    return {**best, "score": round(best_score, 4), "default_score": round(default_score, 4)}


def _load_cellpose(path: Path) -> SegmentationModel:
    model, cfg = _cellpose_model(path)
    thresholds = cellpose_thresholds(path)

    def predict(x, tta=False):
        # tta: Cellpose's own test-time augmentation (overlapping tiles, flipped, averaged where they overlap)
        masks, _flows, _styles = model.eval(
            x,
            channels=[0, 0],
            normalize=False,
            rescale=cfg["rescale"],
            progress=None,
            augment=tta,
            cellprob_threshold=thresholds["cellprob"],
            flow_threshold=thresholds["flow"],
        )
        return masks

    segmenter = SegmentationModel(path.name, "cellpose", predict)
    segmenter.thresholds = thresholds
    return segmenter


# --------------------------------------------------------------------------- evaluation


def evaluate_on_split(
    model: SegmentationModel, subset: str = "fluorescence", split: str = "test", tta: bool = False
) -> dict:
    """F1, precision, recall and PQ at IoU 0.5 and AP (mean accuracy over τ = 0.50…0.95), pooled over images.

    ``ap_per_image`` is the Data Science Bowl's AP: the same mean computed for each image, then averaged
    over images. Compare variants on ``split="val"``; score the test split once, for the chosen one.
    ``tta=True`` segments with test-time augmentation (see :meth:`SegmentationModel.predict`).
    """
    from . import evaluation as ev
    from .data import load_dsb2018

    samples = load_dsb2018(subset, split)
    preds = [model.predict(s.image, tta=tta) for s in samples]
    gts = [s.labels for s in samples]
    curve = ev.match_dataset(gts, preds, thresh=list(ev.DSB_THRESHOLDS))
    at05 = curve[0]
    return {
        "subset": subset,
        "split": split,
        "images": len(samples),
        "nuclei": int(at05.n_true),
        "f1@0.5": round(at05.f1, 4),
        "precision@0.5": round(at05.precision, 4),
        "recall@0.5": round(at05.recall, 4),
        "pq@0.5": round(at05.panoptic_quality, 4),
        "ap@0.5:0.95": round(float(np.mean([c.accuracy for c in curve])), 4),
        "ap_per_image": round(float(np.mean([ev.average_precision(g, p) for g, p in zip(gts, preds)])), 4),
    }
