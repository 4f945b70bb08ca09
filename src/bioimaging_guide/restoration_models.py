"""The book's trained denoising networks, CARE and Noise2Void: training, saving, loading and scoring.

Both are trained on the GigaDB restoration benchmark
(:func:`bioimaging_guide.restoration.gigadb_benchmark`): CARE (Weigert et al.
2018, through ``csbdeep``) on pairs of low- and high-SNR training patches,
Noise2Void (:mod:`bioimaging_guide.n2v`) on the noisy patches alone. The book
ships one model of each (``care-gigadb``, ``n2v-gigadb``);
:mod:`bioimaging_guide.models` trains, saves, loads and documents them. This
module holds what is specific to restoration:

* :func:`train_care` (also used directly by the restoration chapter);
* :func:`save_n2v` / :func:`load_n2v` for the PyTorch weights (read with
  ``weights_only=True``: no code is unpickled);
* :class:`RestorationModel`, what :func:`load_restoration_model` returns:
  ``predict(image)`` gives the restored image;
* :func:`evaluate_restoration`, the metrics on a model card.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .common import LoadedModel, dihedral_average, normalize_percentile, quiet, seed_everything

__all__ = [
    "RestorationModel",
    "evaluate_restoration",
    "load_care",
    "load_n2v",
    "load_restoration_model",
    "save_n2v",
    "train_care",
]


# --------------------------------------------------------------------------- CARE (csbdeep)


def train_care(
    x_train,
    y_train,
    x_val,
    y_val,
    basedir,
    name: str = "care-gigadb",
    epochs: int = 60,
    steps_per_epoch: int = 100,
    batch_size: int = 16,
    depth: int = 2,
    n_first: int = 32,
    learning_rate: float = 4e-4,
    loss: str = "mae",
    seed: int = 0,
    verbose: bool = False,
):
    """Train a CARE network (csbdeep) on normalised low/high patches; returns (model, history, seconds).

    The network is csbdeep's standard 2D U-Net (``depth`` pooling steps,
    ``n_first`` filters at full resolution, residual output) trained with
    ``loss`` (mean absolute error by default). The weights with the lowest
    validation loss are kept (``weights_best.h5`` in ``basedir/name``).
    """
    with quiet():  # imported before seeding, so that a run does not depend on whether csbdeep was loaded earlier
        from csbdeep.models import CARE, Config
    seed_everything(seed, frameworks=("tensorflow",), deterministic=True)

    config = Config(
        "YX",
        n_channel_in=1,
        n_channel_out=1,
        unet_n_depth=depth,
        unet_n_first=n_first,
        unet_kern_size=3,
        train_loss=loss,
        train_epochs=epochs,
        train_steps_per_epoch=steps_per_epoch,
        train_batch_size=batch_size,
        train_learning_rate=learning_rate,
        train_tensorboard=False,
        train_reduce_lr={"factor": 0.5, "patience": 10, "min_delta": 0},
    )
    with quiet(not verbose):
        model = CARE(config, name, basedir=str(basedir))
        start = time.perf_counter()
        history = model.train(
            np.asarray(x_train)[..., None],
            np.asarray(y_train)[..., None],
            validation_data=(np.asarray(x_val)[..., None], np.asarray(y_val)[..., None]),
        )
        seconds = time.perf_counter() - start
    for extra in ("weights_last.h5", "weights_now.h5"):  # keep only the best weights (size limit)
        (Path(basedir) / name / extra).unlink(missing_ok=True)
    hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    return model, hist, seconds


def load_care(path):
    """Load a CARE model folder (``config.json`` + ``weights_best.h5``) as a csbdeep ``CARE`` object."""
    path = Path(path)
    with quiet():
        from csbdeep.models import CARE

        return CARE(None, name=path.name, basedir=str(path.parent))


def _predict_care(model, image) -> np.ndarray:
    with quiet():
        out = model.predict(np.asarray(image, np.float32), axes="YX", normalizer=None)
    return np.asarray(out, np.float32)


# --------------------------------------------------------------------------- Noise2Void (PyTorch)


def save_n2v(model, folder, config: dict) -> Path:
    """Save a Noise2Void network: ``weights.pt`` (a plain tensor dictionary) and ``config.json``."""
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), folder / "weights.pt")
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return folder


def load_n2v(folder):
    """Load a network saved by :func:`save_n2v` (weights read with ``weights_only=True``)."""
    import torch

    from .unet import UNet

    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text())
    model = UNet(1, 1, depth=config["depth"], base_channels=config["base_channels"])
    model.load_state_dict(torch.load(folder / "weights.pt", weights_only=True))
    model.eval()
    return model


# --------------------------------------------------------------------------- one interface


class RestorationModel(LoadedModel):
    """A loaded restoration model: ``predict(image)`` returns the restored image (float32, same shape)."""

    task = "restoration"

    def predict(self, image: np.ndarray, normalized: bool = False, tta: bool = False) -> np.ndarray:
        """Restore one 2D grey-scale image.

        The image is normalised as in training (1st/99.8th percentile -> 0/1)
        and the result is mapped back to the input's intensity scale.
        ``normalized=True`` says the image is already on the network's input
        scale (e.g. a crop of an image normalised as a whole): it is used as
        is and the result is returned on that scale. ``tta=True`` (test-time
        augmentation) restores the eight flipped and quarter-turned copies of
        the image, turns each result back and averages them: eight times the
        time, and the network's orientation-dependent errors partly cancel.
        """
        image = np.asarray(image)
        if image.ndim != 2:
            raise ValueError(f"{self.name} restores 2D grey-scale images, got shape {image.shape}")
        if image.dtype.kind not in "uif":
            raise ValueError(f"{self.name} restores images of numbers, got pixel type {image.dtype}")
        if min(image.shape) < 8:
            raise ValueError(f"image of shape {image.shape} is too small to restore")
        restore = (lambda x: dihedral_average(self._predict, x)) if tta else self._predict
        if normalized:
            return restore(np.asarray(image, np.float32))
        lo, hi = np.percentile(image.astype(np.float64), [1.0, 99.8])
        out = restore(normalize_percentile(image))
        return (out * max(hi - lo, 1e-6) + lo).astype(np.float32)


def load_restoration_model(path: str | Path) -> RestorationModel:
    """Load a CARE (config.json + weights_best.h5) or book Noise2Void (config.json + weights.pt) model folder."""
    path = Path(path)
    config = json.loads((path / "config.json").read_text()) if (path / "config.json").is_file() else None
    if (path / "weights.pt").is_file() and config is not None and "base_channels" in config:
        from .n2v import predict as n2v_predict

        net = load_n2v(path)
        return RestorationModel(path.name, "pytorch", lambda x: n2v_predict(net, x))
    if (path / "weights_best.h5").is_file() and config is not None and "n_rays" not in config:
        care = load_care(path)
        return RestorationModel(path.name, "csbdeep", lambda x: _predict_care(care, x))
    raise ValueError(
        f"{path} is neither a CARE model folder (config.json + weights_best.h5) "
        "nor a book Noise2Void model folder (config.json + weights.pt)"
    )


def evaluate_restoration(model: RestorationModel, bench=None, baseline: bool = True) -> dict:
    """PSNR and SSIM on the benchmark's test crops: mean, sd and per-image means, for the model, the noisy
    input and (``baseline=True``) the classical baseline, Anscombe + BM3D.

    Scores are those of :func:`bioimaging_guide.restoration.score` (after the
    least-squares mapping onto the high-SNR reference).
    """
    from .restoration import denoise, gigadb_benchmark, score

    bench = gigadb_benchmark() if bench is None else bench
    outputs = {"model": lambda c: model.predict(c["low"], normalized=True), "noisy_input": lambda c: c["low"]}
    if baseline:
        outputs["bm3d"] = lambda c: denoise(
            c["low_raw"].astype(float), "bm3d", noise_model=bench.noise_models[c["name"]]
        )
    out: dict = {"crops": len(bench.test)}
    for key, restore in outputs.items():
        rows = [(c["name"], score(restore(c), c["high"])) for c in bench.test]
        psnr = np.array([s["psnr"] for _, s in rows])
        ssim = np.array([s["ssim"] for _, s in rows])
        prefix = "" if key == "model" else f"{key}_"
        out[f"{prefix}psnr"] = round(float(psnr.mean()), 3)
        out[f"{prefix}psnr_sd"] = round(float(psnr.std(ddof=1)), 3)
        out[f"{prefix}ssim"] = round(float(ssim.mean()), 4)
        out[f"{prefix}ssim_sd"] = round(float(ssim.std(ddof=1)), 4)
        out[f"{prefix}psnr_per_image"] = {
            name: round(float(np.mean([s["psnr"] for n, s in rows if n == name])), 3)
            for name in sorted({n for n, _ in rows})
        }
    return out
