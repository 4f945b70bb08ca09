"""Basics every other module and notebook shares: normalisation, seeding, quiet imports, environment records.

Each idea has exactly one home here:

* :func:`normalize_percentile` scales intensities so that two percentiles
  become 0 and 1 (optionally computed on a *reference*, e.g. the training
  regions only, which keeps test pixels from leaking into the scaling);
* :func:`seed_everything` seeds Python, NumPy and the deep-learning
  frameworks a notebook uses, without importing TensorFlow into a
  PyTorch-only notebook;
* :func:`quiet` keeps progress bars and start-up chatter of TensorFlow,
  Keras, StarDist and Cellpose out of notebook outputs;
* :func:`environment_summary` records versions and hardware for model cards;
* :func:`write_atomic` and :func:`atomic_folder` write a file or a folder
  under a temporary name and rename it into place only when it is complete.
"""

from __future__ import annotations

import contextlib
import io
import os
import platform
import random
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DIHEDRAL",
    "NETWORK_PERCENTILES",
    "LoadedModel",
    "atomic_folder",
    "dihedral_average",
    "dihedral_forward",
    "dihedral_inverse",
    "environment_summary",
    "normalize_percentile",
    "quiet",
    "seed_everything",
    "write_atomic",
]

#: Frameworks :func:`seed_everything` knows how to seed.
FRAMEWORKS = ("torch", "tensorflow")


#: Percentiles that :func:`normalize_percentile` maps to 0 and 1 by default: how the book's networks take
#: their input, and what the bioimage.io packages of :mod:`bioimaging_guide.modelzoo` declare.
NETWORK_PERCENTILES = (1.0, 99.8)


def normalize_percentile(
    image,
    low: float = NETWORK_PERCENTILES[0],
    high: float = NETWORK_PERCENTILES[1],
    reference=None,
    channel_axis: int | None = None,
    dtype=np.float32,
) -> np.ndarray:
    """Scale intensities so that the ``low`` and ``high`` percentiles become 0 and 1 (values are not clipped).

    Parameters
    ----------
    image
        Array of any shape (a 2D image, a stack, a batch of patches).
    low, high
        Percentiles mapped to 0 and 1. The book uses 1 and 99.8 for network
        inputs and 0.1 and 99.9 for high-SNR references.
    reference
        Array the percentiles are computed on (default: ``image`` itself).
        Pass the *training* part of an image to normalise its test part with
        numbers that never saw test pixels.
    channel_axis
        If given, each channel along this axis is scaled on its own (e.g.
        ``-1`` for an RGB image of shape (H, W, 3)).
    dtype
        Output type: ``float32`` (default, what the networks take) or
        ``float64``. The arithmetic is always done in ``float64``.
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating-point type, got {dtype}")
    image = np.asarray(image)
    if image.dtype.kind not in "uif":
        raise ValueError(f"cannot normalise an image of type {image.dtype}; convert it to numbers first")
    ref = image if reference is None else np.asarray(reference)
    if ref.size == 0:
        raise ValueError("cannot normalise: the image (or reference) is empty")
    ref = ref.astype(np.float64, copy=False)
    if channel_axis is None:
        lo, hi = np.percentile(ref, [low, high])
    else:
        axes = tuple(a for a in range(ref.ndim) if a != channel_axis % ref.ndim)
        lo = np.percentile(ref, low, axis=axes, keepdims=True)
        hi = np.percentile(ref, high, axis=axes, keepdims=True)
    return ((image.astype(np.float64, copy=False) - lo) / np.maximum(hi - lo, 1e-6)).astype(dtype, copy=False)


def seed_everything(
    seed: int, frameworks: Iterable[str] | None = None, threads: int | None = None, deterministic: bool = False
) -> None:
    """Seed Python's and NumPy's random number generators and those of the deep-learning frameworks.

    Parameters
    ----------
    seed
        The seed for every generator.
    frameworks
        Which of ``"torch"`` and ``"tensorflow"`` to seed, importing them if
        needed (TensorFlow quietly). ``None`` (default) seeds those that are
        already imported, so a PyTorch-only notebook never loads TensorFlow.
    threads
        CPU threads PyTorch may use (``None``: leave unchanged). The book's
        timings use 2.
    deterministic
        Ask PyTorch (deterministic algorithms) and TensorFlow (op
        determinism) for run-to-run identical results on the CPU.
    """
    wanted = [f for f in FRAMEWORKS if f in sys.modules] if frameworks is None else list(frameworks)
    unknown = sorted(set(wanted) - set(FRAMEWORKS))
    if unknown:
        raise ValueError(f"cannot seed {unknown}: choose among {list(FRAMEWORKS)}")
    random.seed(seed)
    np.random.seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    if "torch" in wanted:
        import torch

        torch.manual_seed(seed)
        if threads is not None:
            torch.set_num_threads(threads)
        if deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
    if "tensorflow" in wanted:
        with quiet():
            import tensorflow as tf

        tf.random.set_seed(seed)
        if deterministic:
            tf.config.experimental.enable_op_determinism()


@contextlib.contextmanager
def quiet(enabled: bool = True) -> Iterator[None]:
    """Keep library chatter out of the output while the block runs.

    Python-level output (progress bars, Keras and StarDist messages) is
    captured and dropped; the process-level standard error is sent to
    ``/dev/null``, because TensorFlow logs from C++. ``enabled=False``
    makes this a no-op (for verbose runs).
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
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def environment_summary() -> dict:
    """Python, platform, CPU count and the versions of the packages that shape results (those installed)."""
    out: dict = {"python": platform.python_version(), "platform": platform.platform(), "cpu_count": os.cpu_count()}
    for package in (
        "numpy",
        "scikit-image",
        "tensorflow-cpu",
        "tensorflow",
        "csbdeep",
        "stardist",
        "torch",
        "cellpose",
    ):
        v = _version(package)
        if v is not None:
            out[package] = v
    if "torch" in sys.modules:
        out["torch_threads"] = sys.modules["torch"].get_num_threads()
    return out


@dataclass
class LoadedModel:
    """What loading a trained model gives: its name, framework and task, and ``predict(image)``.

    Subclasses (:class:`~bioimaging_guide.segmentation_models.SegmentationModel`,
    :class:`~bioimaging_guide.restoration_models.RestorationModel`) check and
    normalise the input before calling the framework's prediction, ``_predict``.
    """

    name: str
    framework: str
    _predict: Callable[..., np.ndarray]  # (image), and for segmentation models (image, tta=bool)
    #: Median equivalent diameter (pixels) of the objects a segmentation model was trained on, from its
    #: ``metrics.json``; ``bioimaging-guide segment --diameter`` rescales images to it. None if unknown.
    object_diameter_px: float | None = None
    task = "unknown"


def write_atomic(destination: str | os.PathLike, write: Callable[[str], object]) -> None:
    """Write a file through ``write(temporary_path)``, then rename it into place: a reader never sees half a file.

    The file gets the permissions of any newly created file (``0o666`` less the
    umask), not the owner-only ones of the temporary file.
    """
    import tempfile
    from pathlib import Path

    destination = Path(destination)
    fd, tmp = tempfile.mkstemp(suffix=destination.suffix + ".part", dir=destination.parent)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, destination)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_folder(target: str | os.PathLike) -> Iterator:
    """Build a folder under a hidden temporary name and move it to ``target`` only if the block succeeds.

    The yielded path does not exist yet: the block creates it (training
    functions create their model folder themselves). An existing ``target``
    is replaced at the end; after a failure or an interruption nothing is
    left behind and ``target`` is untouched.
    """
    import shutil
    from pathlib import Path

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = target.parent / f".{target.name}.partial"
    shutil.rmtree(work, ignore_errors=True)
    try:
        yield work
        if target.exists():
            shutil.rmtree(target)
        work.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------- test-time augmentation

#: The eight flips and 90° rotations of a square, as (transpose, flip rows, flip columns), applied in that
#: order; the first is the identity. Test-time augmentation averages a network's outputs over all eight.
DIHEDRAL: tuple[tuple[bool, bool, bool], ...] = tuple(
    (t, fy, fx) for t in (False, True) for fy in (False, True) for fx in (False, True)
)


def dihedral_forward(image: np.ndarray, t: tuple[bool, bool, bool]) -> np.ndarray:
    """``image`` (rows and columns first) transposed and/or flipped as ``t`` says (see :data:`DIHEDRAL`)."""
    transpose, flip_rows, flip_cols = t
    out = np.swapaxes(image, 0, 1) if transpose else image
    if flip_rows:
        out = out[::-1]
    if flip_cols:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def dihedral_inverse(image: np.ndarray, t: tuple[bool, bool, bool]) -> np.ndarray:
    """Undo :func:`dihedral_forward`: ``dihedral_inverse(dihedral_forward(x, t), t)`` is ``x``."""
    transpose, flip_rows, flip_cols = t
    out = image[:, ::-1] if flip_cols else image
    if flip_rows:
        out = out[::-1]
    if transpose:
        out = np.swapaxes(out, 0, 1)
    return np.ascontiguousarray(out)


def dihedral_average(predict, image: np.ndarray) -> np.ndarray:
    """Test-time augmentation for outputs that are images: ``predict`` applied to the eight :data:`DIHEDRAL`
    copies of ``image``, each result turned back, and the eight averaged (float32).

    ``predict`` must return an array whose first two axes are those of its input (e.g. a restored image).
    """
    outputs = [dihedral_inverse(np.asarray(predict(dihedral_forward(image, t))), t) for t in DIHEDRAL]
    return np.mean(outputs, axis=0, dtype=np.float64).astype(np.float32)
