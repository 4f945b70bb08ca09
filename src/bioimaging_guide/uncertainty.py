"""Flagging uncertain objects with test-time augmentation (TTA).

The idea: run the same segmentation method on slightly changed copies of the
image (flipped, rotated, a little noisier, a little brighter or darker), map
every result back onto the original image, and see how much the answers
agree. An object that comes out the same way every time is a confident
decision; an object that appears, disappears, splits or merges between copies
deserves a human look. The same recipe works for any method — classical or
deep learning — because it only needs the method's output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from .evaluation import iou_matrix


@dataclass(frozen=True)
class Augmentation:
    """A change to the image, and how to map a label image back."""

    name: str
    forward: Callable[[np.ndarray, np.random.Generator], np.ndarray]
    inverse: Callable[[np.ndarray], np.ndarray]


def _geometric(name, f, finv):
    return Augmentation(name, lambda im, rng: f(im), finv)


def _intensity(name, f):
    return Augmentation(name, f, lambda lab: lab)


def default_augmentations() -> list[Augmentation]:
    """Flips, 90° rotations, and mild intensity and noise changes.

    Geometric changes test whether the method depends on orientation;
    photometric changes test whether its decisions sit close to a threshold.
    """

    def gamma(g):
        def f(im, rng):
            lo, hi = float(im.min()), float(im.max())
            x = (im - lo) / max(hi - lo, 1e-6)
            return x**g * (hi - lo) + lo

        return f

    def noise(rel):
        def f(im, rng):
            return im + rel * float(np.std(im)) * rng.standard_normal(im.shape).astype(np.float32)

        return f

    def blur(sigma):
        return lambda im, rng: ndi.gaussian_filter(im, sigma)

    return [
        _geometric("identity", lambda x: x, lambda y: y),
        _geometric("flip left-right", np.fliplr, np.fliplr),
        _geometric("flip up-down", np.flipud, np.flipud),
        _geometric("rotate 90°", lambda x: np.rot90(x, 1), lambda y: np.rot90(y, -1)),
        _geometric("rotate 270°", lambda x: np.rot90(x, -1), lambda y: np.rot90(y, 1)),
        _intensity("gamma 0.7", gamma(0.7)),
        _intensity("gamma 1.4", gamma(1.4)),
        _intensity("noise +30 %", noise(0.3)),
        _intensity("noise +30 % (2)", noise(0.3)),
        _intensity("blur σ=1", blur(1.0)),
    ]


def tta_predictions(
    image: np.ndarray,
    segment: Callable[[np.ndarray], np.ndarray],
    augmentations: list[Augmentation] | None = None,
    seed: int = 0,
) -> list[np.ndarray]:
    """Segment every augmented copy of ``image`` and map the label images back."""
    image = np.asarray(image, dtype=np.float32)
    augmentations = default_augmentations() if augmentations is None else augmentations
    rng = np.random.default_rng(seed)
    out = []
    for aug in augmentations:
        labels = np.ascontiguousarray(aug.inverse(segment(aug.forward(image, rng))))
        if labels.shape != image.shape[:2]:
            raise ValueError(f"augmentation {aug.name!r} did not map back to the image shape")
        out.append(labels)
    return out


def foreground_frequency(predictions: list[np.ndarray]) -> np.ndarray:
    """Per-pixel fraction of predictions that call the pixel foreground (a score map in [0, 1])."""
    return np.mean([p > 0 for p in predictions], axis=0)


def object_agreement(reference: np.ndarray, predictions: list[np.ndarray]) -> dict[int, float]:
    """For each object of ``reference``: its mean best IoU with the objects of each prediction.

    1.0 means the object came out identically every time; values near 0 mean
    it mostly vanished or changed shape.
    """
    ids = [int(i) for i in np.unique(reference) if i > 0]
    if not ids:
        return {}
    scores = np.zeros((len(predictions), len(ids)))
    for k, pred in enumerate(predictions):
        iou = iou_matrix(reference, pred)  # rows: reference objects in id order; cols: predicted objects
        scores[k] = iou.max(axis=1) if iou.shape[1] else 0.0
    return dict(zip(ids, scores.mean(axis=0).tolist()))
