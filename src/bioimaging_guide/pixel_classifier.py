"""An ilastik-style pixel classifier for nuclei, trained from a handful of brush strokes.

Tools such as ilastik and Labkit let you paint a few strokes on an image —
"this is background", "this is inside a nucleus", "this is the thin line where
two nuclei touch" — and train a random forest on multi-scale pixel features
(:mod:`bioimaging_guide.features`). Individual nuclei then come from the
probability maps: confident nucleus interiors become seeds, and a watershed
grows them into the whole foreground.

To compare tools fairly and reproducibly, :func:`simulated_scribbles` draws the
strokes automatically from an expert annotation, standing in for a person
with a brush; it also reports how many strokes and pixels that took.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from skimage import measure, morphology

from .common import normalize_percentile
from .features import pixel_features, predict_pixels, strokes_to_labels, train_pixel_classifier
from .segmentation import _as_2d_float, watershed_nuclei

BACKGROUND, NUCLEUS, CONTACT = 1, 2, 3
CLASS_NAMES = {BACKGROUND: "background", NUCLEUS: "nucleus interior", CONTACT: "contact between nuclei"}


@dataclass(frozen=True)
class Scribbles:
    labels: np.ndarray  # 0 = unlabelled, 1 background, 2 nucleus, 3 contact
    n_strokes: int
    n_pixels: int


def _touching_pixels(labels: np.ndarray) -> np.ndarray:
    """Pixels of an object that border a different object (not background)."""
    out = np.zeros(labels.shape, bool)
    for axis in (0, 1):
        a = labels
        b = np.roll(labels, 1, axis=axis)
        contact = (a > 0) & (b > 0) & (a != b)
        if axis == 0:
            contact[0, :] = False
        else:
            contact[:, 0] = False
        out |= contact | np.roll(contact, -1, axis=axis)
    return out


def simulated_scribbles(
    labels: np.ndarray, n_nuclei: int = 8, n_background: int = 6, n_contacts: int = 4, width: int = 3, seed: int = 0
) -> Scribbles:
    """Brush strokes a person might paint, drawn from an expert label image.

    * nucleus strokes: a line between two points deep inside a random nucleus;
    * background strokes: a line between two background points more than 3
      pixels from any nucleus, kept only if the whole line stays there, plus a
      ring of background just outside a few nuclei (``n_background // 2``);
    * contact strokes: the pixels where two touching nuclei meet.
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    strokes: list[tuple[int, list[tuple[int, int]]]] = []
    ids = [int(i) for i in np.unique(labels) if i > 0]
    for i in rng.permutation(ids)[:n_nuclei]:
        inner = ndi.binary_erosion(labels == i, morphology.disk(2))
        pts = np.argwhere(inner)
        if len(pts) >= 2:
            a, b = pts[rng.choice(len(pts), 2, replace=False)]
            strokes.append((NUCLEUS, [tuple(a), tuple(b)]))
    dist = ndi.distance_transform_edt(labels == 0)
    far = dist > 3
    pts = np.argwhere(far)
    tries = 0
    while len(pts) and sum(c == BACKGROUND for c, _ in strokes) < n_background and tries < 200:
        tries += 1
        a = pts[rng.integers(len(pts))]
        b = np.clip(a + rng.integers(-25, 26, size=2), 0, np.array(labels.shape) - 1)
        n = int(max(abs(b - a))) + 1
        rr = np.linspace(a[0], b[0], n).round().astype(int)
        cc = np.linspace(a[1], b[1], n).round().astype(int)
        if far[rr, cc].all():
            strokes.append((BACKGROUND, [tuple(a), tuple(b)]))
    scribble = strokes_to_labels(labels.shape, strokes, width=width)
    # rings: background painted tightly around a few nuclei, as people do to teach where an object ends
    n_rings = 0
    for i in rng.permutation(ids)[: n_background // 2]:
        ring = (ndi.distance_transform_edt(labels != i) <= 3) & (labels == 0) & (scribble == 0)
        ring &= ndi.binary_dilation(labels == i, iterations=3) & ~ndi.binary_dilation(labels == i, iterations=1)
        if ring.any():
            scribble[ring] = BACKGROUND
            n_rings += 1
    touching = measure.label(_touching_pixels(labels))
    regions = [r for r in measure.regionprops(touching) if r.area >= 4]
    n_contact = 0
    for r in [regions[k] for k in rng.permutation(len(regions))[:n_contacts]]:
        scribble[touching == r.label] = CONTACT
        n_contact += 1
    return Scribbles(scribble, len(strokes) + n_rings + n_contact, int((scribble > 0).sum()))


def features_for(image: np.ndarray) -> np.ndarray:
    """The feature stack used by this pixel classifier (single channel, default scales)."""
    return pixel_features(np.clip(normalize_percentile(_as_2d_float(image)), -0.5, 2.0))[0]


def train(images, scribbles, n_estimators: int = 100, seed: int = 0):
    """Random forest on the scribbled pixels of several images."""
    feats = np.concatenate([features_for(im)[s.labels > 0] for im, s in zip(images, scribbles)])
    labs = np.concatenate([s.labels[s.labels > 0] for s in scribbles])
    return train_pixel_classifier(
        feats[:, None, :], labs[:, None], n_estimators=n_estimators, random_state=seed, max_depth=16
    )


def probabilities(classifier, image: np.ndarray) -> dict[str, np.ndarray]:
    """Per-pixel class probabilities, by class name."""
    _, proba = predict_pixels(classifier, features_for(image), return_proba=True)
    return {CLASS_NAMES[int(c)]: proba[..., k] for k, c in enumerate(classifier.classes_)}


def segment(classifier, image: np.ndarray, min_distance: int = 4, min_size: int = 15) -> np.ndarray:
    """Instances from the classifier: foreground = P(background) < 0.5, split by a distance-transform watershed.

    The split is the same as the classical baseline's
    (:func:`bioimaging_guide.segmentation.watershed_nuclei`), applied to the
    learned foreground probability instead of the raw intensities, so the
    comparison isolates what the learned pixel classes add.
    """
    p_fg = 1.0 - probabilities(classifier, image)["background"]
    return watershed_nuclei(p_fg, sigma=0.5, min_distance=min_distance, min_size=min_size)
