"""Your own annotated images: pair them, check them before training, score predictions against them.

The book's models and metrics work on a folder of images and a folder of
*instance label images* (0 = background, every object its own positive
integer), one label file per image, paired by name::

    images/a.tif   <->  labels/a.tif  (or a.png, a_masks.tif, a_labels.tif, ...)

Three steps use such a pair of folders:

* :func:`pair_folders` pairs the files by name and says which ones do not pair;
* :func:`check_dataset` reads every pair and lists what would spoil training
  (problems: must be fixed) or deserves a look (warnings), with what to do;
* :func:`evaluate_folders` (or :func:`evaluate` on arrays) scores predicted label
  images against the annotations: F1, precision, recall, panoptic quality and two
  kinds of average precision, each with a bootstrap confidence interval over images.

The matching and scores are those of :mod:`bioimaging_guide.evaluation`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage as ndi

from . import evaluation as ev
from .cli import IMAGE_SUFFIXES, OVERLAY_SUFFIX
from .common import atomic_folder, write_atomic
from .images import InputError, read_plane

__all__ = [
    "LABEL_SUFFIXES",
    "CheckReport",
    "Evaluation",
    "Pair",
    "check_dataset",
    "evaluate",
    "evaluate_folders",
    "pair_folders",
    "read_labels",
]

#: Endings of a label file's name that pairing ignores (Cellpose writes ``a_cp_masks.png`` or ``a_masks.tif``
#: for ``a.tif``; longer endings first, so ``_cp_masks`` is removed whole).
LABEL_SUFFIXES = ("_cp_masks", "_labels", "_masks", "_mask", "-labels", "_label")

#: Objects smaller than this (pixels) are reported as tiny by :func:`check_dataset`.
TINY_AREA = 20
#: Objects covering more than this fraction of their image are reported as huge.
HUGE_FRACTION = 0.25
#: A warning is given if more than this fraction of the objects is not star-convex.
MAX_NOT_STAR_CONVEX = 0.10
#: A warning is given if the median object diameter of two images differs by more than this factor.
MAX_SCALE_RATIO = 2.0
#: Only images with at least this many objects enter the comparison of object sizes between images.
MIN_OBJECTS_FOR_SCALE = 3

#: Rows of :attr:`Evaluation.summary`.
SUMMARY_ROWS = (
    "F1@0.5",
    "precision@0.5",
    "recall@0.5",
    "PQ",
    "mean matched IoU",
    "AP (DSB, mean per image)",
    "AP (pooled)",
)


def _pct(fraction: float) -> str:
    """``12 %``: a fraction as a whole percentage, spaced as in the book."""
    return f"{100 * fraction:.0f} %"


def _names(paths: Sequence, limit: int = 5) -> str:
    """``a.tif, b.tif, ... and 3 more``: at most ``limit`` names of files (or strings)."""
    names = [p.name if isinstance(p, Path) else str(p) for p in paths]
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


# --------------------------------------------------------------------------- pairing


@dataclass(frozen=True)
class Pair:
    """An image and its label file (or a ground-truth and a predicted label file), paired by ``name``."""

    name: str
    image: Path
    labels: Path


def _list_folder(folder: str | Path, role: str) -> list[Path]:
    """The image files of a folder (sorted; hidden files such as macOS ``._a.tif`` and overlays skipped).

    Overlays are the ``*_overlay.png`` pictures ``segment`` writes next to its label files
    (:data:`OVERLAY_SUFFIX`).
    """
    p = Path(folder)
    if not p.exists():
        raise InputError(f"the {role} folder {p} does not exist: pass the folder that holds the {role} files")
    if not p.is_dir():
        raise InputError(f"{p} is a file, not a folder: pass the folder that holds the {role} files")
    files = sorted(
        f
        for f in p.iterdir()
        if f.is_file()
        and f.suffix.lower() in IMAGE_SUFFIXES
        and not f.name.startswith(".")
        and not f.name.lower().endswith(OVERLAY_SUFFIX)
    )
    if not files:
        raise InputError(
            f"the {role} folder {p} holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))}): "
            f"put the {role} files there, one per image"
        )
    return files


def _strip_suffix(stem: str) -> str:
    """``stem`` without one of :data:`LABEL_SUFFIXES` at its end (any case), if it has one."""
    for suffix in LABEL_SUFFIXES:
        if stem.lower().endswith(suffix) and len(stem) > len(suffix):
            return stem[: -len(suffix)]
    return stem


def _pair_name(stem: str, names: set[str]) -> str | None:
    """The name in ``names`` that a second file's stem pairs with: the same stem, or the stem without a suffix."""
    if stem in names:
        return stem
    stripped = _strip_suffix(stem)
    return stripped if stripped in names else None


def _pair(
    first: str | Path, second: str | Path, roles: tuple[str, str], strip_first: bool = False
) -> tuple[list[Pair], list[str]]:
    """Pair two folders by name; return the pairs and the reasons files could not be paired.

    A file of the first folder is named by its stem, or, if ``strip_first``
    (two folders of label images), by its stem without a label suffix, so
    that ``a_masks.tif`` pairs with ``a.tif`` either way round. Files involved
    in an error (a name given twice) are left out of the pairs. Missing or
    empty folders raise :class:`InputError` (there is nothing to pair).
    """
    a_files, b_files = _list_folder(first, roles[0]), _list_folder(second, roles[1])
    a_by_name: dict[str, list[Path]] = {}
    for f in a_files:
        a_by_name.setdefault(_strip_suffix(f.stem) if strip_first else f.stem, []).append(f)
    b_by_name: dict[str, list[Path]] = {}
    b_unpaired = []
    for f in b_files:
        name = _pair_name(f.stem, set(a_by_name))
        if name is None:
            b_unpaired.append(f)
        else:
            b_by_name.setdefault(name, []).append(f)

    errors = []
    for name, files in list(a_by_name.items()) + list(b_by_name.items()):
        if len(files) > 1:
            errors.append(f"{_names(files)} all pair to the name {name!r}: keep one file per name in {files[0].parent}")
    a_unpaired = [files[0] for name, files in a_by_name.items() if name not in b_by_name]
    if a_unpaired:
        errors.append(
            f"{len(a_unpaired)} {roles[0]} file(s) have no {roles[1]} file: {_names(a_unpaired)}; "
            f"name each {roles[1]} file like its {roles[0]} file (a.tif -> a.tif, a.png or a_masks.tif)"
        )
    if b_unpaired:
        errors.append(
            f"{len(b_unpaired)} {roles[1]} file(s) match no {roles[0]} file: {_names(b_unpaired)}; "
            f"rename them like their {roles[0]} file, or move them out of {b_unpaired[0].parent}"
        )
    pairs = [
        Pair(name, files[0], b_by_name[name][0])
        for name, files in sorted(a_by_name.items())
        if len(files) == 1 and len(b_by_name.get(name, ())) == 1
    ]
    return pairs, errors


def pair_folders(images: str | Path, labels: str | Path) -> list[Pair]:
    """Pair every image with its label file, by file name.

    A label file pairs with the image of the same stem (``a.tif`` with
    ``a.tif`` or ``a.png``), or of its stem without one of
    :data:`LABEL_SUFFIXES` (``a_masks.tif``, ``a_labels.png``, ``a-labels.tif``:
    the Cellpose and StarDist conventions). Files whose names start with a dot
    are ignored.

    Returns
    -------
    list of Pair
        Sorted by name (the image's stem).

    Raises
    ------
    InputError
        If a folder is missing or holds no images, if images lack a label file
        or label files lack an image (up to 5 names of each are listed), or if
        two files pair to the same name.
    """
    pairs, errors = _pair(images, labels, ("image", "label"))
    if errors:
        raise InputError("\n".join(errors))
    return pairs


# --------------------------------------------------------------------------- reading labels


def _imread(path: Path) -> np.ndarray:
    """The pixels of a label file as stored (no checks: an empty label image is valid)."""
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            return np.asarray(tifffile.imread(path))
        import imageio.v3 as iio

        return np.asarray(iio.imread(path))
    except Exception as err:  # any reader failure means "unreadable"
        raise InputError(f"cannot read {path} as an image ({type(err).__name__}: {err})") from err


def _read_labels(path: str | Path) -> tuple[np.ndarray, np.dtype]:
    """:func:`read_labels`, also returning the dtype the file stores (floats are converted)."""
    path = Path(path)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        raise InputError(
            f"{path}: JPEG compression changes pixel values, which mixes up object ids at every edge; "
            "save label images as TIFF or PNG"
        )
    labels = _imread(path)
    stored = labels.dtype
    if labels.ndim > 2:
        labels = labels.squeeze()
    if labels.ndim != 2:
        if labels.ndim == 3 and labels.shape[-1] in (3, 4):
            raise InputError(
                f"{path}: shape {labels.shape} is a colour (RGB) picture, not a label image; export the "
                "label image itself (one integer per pixel: 0 background, 1, 2, 3, ... one per object)"
            )
        raise InputError(f"{path}: shape {labels.shape} is not a 2D label image; save one 2D label image per image")
    if labels.dtype == bool:
        labels = labels.astype(np.uint8)
    if labels.dtype.kind == "f":
        whole = np.isfinite(labels).all() and np.array_equal(labels, np.round(labels))
        if not whole:
            raise InputError(
                f"{path}: the values are floating-point numbers that are not whole (e.g. a probability map, "
                "or labels resized with interpolation); a label image holds one integer id per object: "
                "threshold and label a probability map (skimage.measure.label(prob > 0.5)), and resize "
                "label images only with nearest-neighbour interpolation (order=0)"
            )
        labels = labels.astype(np.int64 if labels.size and labels.max() > np.iinfo(np.int32).max else np.int32)
    if labels.dtype.kind not in "ui":
        raise InputError(f"{path}: unsupported pixel type {labels.dtype}; save label images as integers (uint16)")
    if labels.size and labels.min() < 0:
        raise InputError(
            f"{path}: negative values (minimum {labels.min()}); labels must be 0 for background and "
            "1, 2, 3, ... for objects"
        )
    _refuse_binary_mask(labels, path)
    return labels, stored


def _refuse_binary_mask(labels: np.ndarray, path: Path) -> None:
    """Raise if ``labels`` only holds 0 and 1 (or 0 and 255) yet shows several separate objects."""
    from skimage import measure

    top = int(labels.max()) if labels.size else 0
    if top not in (1, 255) or np.count_nonzero((labels != 0) & (labels != top)):
        return
    n_objects = measure.label(labels > 0, return_num=True)[1]
    if n_objects > 1:
        raise InputError(
            f"{path}: a binary mask (only the values 0 and {top}) showing {n_objects} separate objects, not "
            "instance labels. Save instance labels instead: every nucleus its own number (1, 2, 3, ...), "
            "0 for background; annotation tools can export them. If no two objects touch, "
            "skimage.measure.label(mask) converts the mask in one line; objects that touch would stay merged "
            "as one, and no conversion can separate them: export those from your annotation tool again"
        )


def read_labels(path: str | Path) -> np.ndarray:
    """Read a 2D instance label image (0 = background, each object its own positive integer).

    Singleton axes are dropped (a ``(1, H, W)`` TIFF is fine). Floating-point
    files are accepted if every value is a whole number, and returned as int32.

    Raises
    ------
    InputError
        With what to do, if the file is unreadable or a JPEG, not 2D, holds
        floating-point values that are not whole numbers, negative values, or
        is a binary mask (only 0/1 or 0/255) of several separate objects.
    """
    return _read_labels(path)[0]


# --------------------------------------------------------------------------- checking a training set


def _not_star_convex(labels: np.ndarray, chunk: int = 1_000_000) -> dict[int, bool]:
    """Whether each object of ``labels`` is *not* star-convex, by object id.

    An object is star-convex from a point ``c`` if, for every pixel ``p`` of the
    object, the whole segment from ``c`` to ``p`` lies in the object (StarDist
    can then describe it exactly by distances along rays from ``c``). ``c`` is
    the object's centroid rounded to the nearest pixel; if that pixel is not
    part of the object, the object is not star-convex. Each segment is sampled
    at the same ``n`` steps of at most one pixel in each direction (``n`` = the
    object's largest distance from ``c`` along rows or columns), all pixels of
    an object at once, in chunks of at most ``chunk`` samples.
    """
    result: dict[int, bool] = {}
    for index, box in enumerate(ndi.find_objects(labels)):
        if box is None:
            continue
        obj = index + 1
        mask = labels[box] == obj
        rows, cols = np.nonzero(mask)
        r0, c0 = int(np.floor(rows.mean() + 0.5)), int(np.floor(cols.mean() + 0.5))
        if not mask[r0, c0]:
            result[obj] = True
            continue
        dr, dc = rows - r0, cols - c0
        n = int(max(np.abs(dr).max(), np.abs(dc).max()))
        if n <= 1:  # every pixel touches the centre
            result[obj] = False
            continue
        t = np.arange(1, n) / n
        visible = True
        step = max(1, chunk // len(t))
        for start in range(0, len(rows), step):
            sr = np.floor(r0 + dr[start : start + step, None] * t + 0.5).astype(np.intp)
            sc = np.floor(c0 + dc[start : start + step, None] * t + 0.5).astype(np.intp)
            if not mask[sr, sc].all():
                visible = False
                break
        result[obj] = not visible
    return result


def _fragmented_ids(labels: np.ndarray) -> np.ndarray:
    """Ids of objects made of several separate pieces (8-connected)."""
    from skimage import measure

    pieces = measure.label(labels, connectivity=2, background=0)
    foreground = pieces > 0
    pairs = np.unique(np.stack([labels[foreground], pieces[foreground]]), axis=1)
    ids, counts = np.unique(pairs[0], return_counts=True)
    return ids[counts > 1]


@dataclass
class CheckReport:
    """What :func:`check_dataset` found.

    Attributes
    ----------
    n_pairs : int
        Image/label pairs found.
    problems : list of str
        Must be fixed before training (each says what to do).
    warnings : list of str
        Worth a look; training may still work.
    summary : pandas.DataFrame
        One row per pair: ``name``, ``image_shape``, ``image_dtype``,
        ``n_objects``, ``median_diameter_px`` (median equivalent diameter:
        the diameter of the disc of the same area), ``n_touching_border``,
        ``n_tiny`` (< 20 px), ``n_huge`` (> 25 % of the image) and
        ``fraction_not_star_convex`` (NaN if not checked or no objects).
        Values are missing where the file could not be read.
    median_diameter_px : float
        Median equivalent diameter of all objects of the set (NaN if none).
    """

    n_pairs: int
    problems: list[str]
    warnings: list[str]
    summary: pd.DataFrame
    median_diameter_px: float = float("nan")

    @property
    def ok(self) -> bool:
        """True if there is no problem (warnings do not count)."""
        return not self.problems

    def __str__(self) -> str:
        n_objects = int(self.summary["n_objects"].sum()) if len(self.summary) else 0
        lines = [
            f"{self.n_pairs} image/label pair(s), {n_objects} object(s)"
            + (
                f", median object diameter {self.median_diameter_px:.1f} px"
                if np.isfinite(self.median_diameter_px)
                else ""
            )
            + "."
        ]
        if self.problems:
            lines.append(
                f"{len(self.problems)} problem(s) to fix before training, {len(self.warnings)} warning(s) to look at."
            )
        else:
            lines.append(
                f"No problems; {len(self.warnings)} warning(s) to look at." if self.warnings else "No problems."
            )
        for title, items in (("Problems (must fix):", self.problems), ("Warnings (worth a look):", self.warnings)):
            if items:
                lines += ["", title] + [f"- {item}" for item in items[:20]]
                if len(items) > 20:
                    lines.append(f"- ... and {len(items) - 20} more")
        return "\n".join(lines)


def _per_image_list(counts: dict[str, int | float], fmt: Callable[[float], str] = str) -> str:
    """``a: 3, b: 1, ...`` for at most 5 images, the largest first."""
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    return _names([f"{name}: {fmt(value)}" for name, value in ranked])


def check_dataset(
    images: str | Path, labels: str | Path, star_convex: bool = True, channel: int | None = None
) -> CheckReport:
    """Check a training set (a folder of images and one of label images) before training.

    Problems (must fix): files that do not pair by name, fewer than 2 pairs
    (a validation split needs at least 2 images, better 5 or more), unreadable
    images or label files, binary masks, label images of another size than
    their image, labels stored as floating-point numbers.

    Warnings (worth a look): label images without objects, tiny objects
    (< 20 px), huge objects (> 25 % of the image), objects cut by the image
    border, ids used for several separate pieces, more than 10 % of objects
    not star-convex (only if ``star_convex``: StarDist assumes star-convex
    objects), object sizes differing more than 2x between images, images of
    different pixel types. Colour images and multichannel images without
    ``channel`` are problems: the models take one grey-scale plane.

    Parameters
    ----------
    images, labels : str or Path
        The two folders; files are paired as by :func:`pair_folders`.
    star_convex : bool
        Check whether objects are star-convex (for StarDist); see
        :func:`_not_star_convex` for the test.
    channel : int, optional
        The channel to use in multichannel images (as ``segment --channel``);
        each image must then be one 2D plane.

    Returns
    -------
    CheckReport
        ``print(report)`` gives a short readable report.

    Raises
    ------
    InputError
        If a folder is missing or holds no images (files that do not pair are
        reported as problems instead).
    """
    from skimage.segmentation import relabel_sequential

    pairs, problems = _pair(images, labels, ("image", "label"))
    warnings: list[str] = []
    if len(pairs) < 2:
        problems.append(
            f"only {len(pairs)} image/label pair(s): a validation split needs at least 2 images "
            "(better 5 or more); annotate more images"
        )

    rows = []
    diameters = []  # of all objects
    empty, tiny, huge, fragmented, not_convex = [], {}, [], {}, {}
    n_border = n_objects_total = n_checked = n_not_convex = 0
    for pair in pairs:
        row = {"name": pair.name, "image_shape": None, "image_dtype": None, "n_objects": np.nan}
        rows.append(row)
        image = lab = None
        try:
            image = read_plane(pair.image, channel=channel, task="train on")
            row["image_shape"], row["image_dtype"] = image.shape, str(image.dtype)
        except InputError as err:
            problems.append(f"{pair.name}: {err}")
        try:
            lab, stored = _read_labels(pair.labels)
        except InputError as err:
            problems.append(f"{pair.name}: {err}")
            continue
        if stored.kind == "f":
            problems.append(
                f"{pair.name}: {pair.labels.name} stores labels as floating-point numbers ({stored}); "
                "training tools expect integers: save them as uint16 (labels.astype(np.uint16))"
            )
        if image is not None and lab.shape != image.shape[:2]:
            problems.append(
                f"{pair.name}: the labels have shape {lab.shape} but the image {image.shape[:2]}; every label "
                "pixel must lie on its image pixel: export the labels from this image without cropping or "
                "resizing (if you must resize them, use nearest-neighbour interpolation, order=0)"
            )

        lab, _, original_id = relabel_sequential(lab)  # ids 1..n: per-id tables stay small
        stats = ev.object_stats(lab)
        row["n_objects"] = len(stats)
        n_objects_total += len(stats)
        if stats.empty:
            empty.append(pair.name)
            row.update(median_diameter_px=np.nan, n_touching_border=0, n_tiny=0, n_huge=0)
            row["fraction_not_star_convex"] = np.nan
            continue
        diameters.append(stats["equivalent_diameter"].to_numpy())
        row["median_diameter_px"] = float(stats["equivalent_diameter"].median())
        row["n_touching_border"] = int(stats["touches_border"].sum())
        n_border += row["n_touching_border"]
        row["n_tiny"] = int((stats["area"] < TINY_AREA).sum())
        if row["n_tiny"]:
            tiny[pair.name] = row["n_tiny"]
        big = stats[stats["area"] > HUGE_FRACTION * lab.size]
        row["n_huge"] = len(big)
        huge += [f"{pair.name}: id {original_id[r.label]}, {_pct(r.area / lab.size)}" for r in big.itertuples()]
        pieces = _fragmented_ids(lab)
        if len(pieces):
            fragmented[pair.name] = len(pieces)
        row["fraction_not_star_convex"] = np.nan
        if star_convex:
            flags = _not_star_convex(lab)
            bad = sum(flags.values())
            row["fraction_not_star_convex"] = bad / len(flags)
            n_checked += len(flags)
            n_not_convex += bad
            if bad:
                not_convex[pair.name] = row["fraction_not_star_convex"]

    summary = pd.DataFrame(
        rows,
        columns=[
            "name",
            "image_shape",
            "image_dtype",
            "n_objects",
            "median_diameter_px",
            "n_touching_border",
            "n_tiny",
            "n_huge",
            "fraction_not_star_convex",
        ],
    )
    all_diameters = np.concatenate(diameters) if diameters else np.array([])

    if empty:
        warnings.append(
            f"{len(empty)} label image(s) have no objects ({_names(empty)}): fine for background-only images, "
            "which teach the model what not to segment, but say so; if these images do show objects, their "
            "annotation is missing"
        )
    if tiny:
        warnings.append(
            f"{sum(tiny.values())} tiny object(s) (< {TINY_AREA} px) in {len(tiny)} image(s) "
            f"({_per_image_list(tiny)}): usually stray clicks or leftover fragments; if they are not real "
            f"objects, remove them (bioimaging_guide.segmentation.remove_small(labels, {TINY_AREA})), or the "
            "model learns to predict specks"
        )
    if huge:
        warnings.append(
            f"{len(huge)} object(s) cover more than {_pct(HUGE_FRACTION)} of their image ({_names(huge)}): often the "
            "background saved as an object (background must be 0) or several objects merged into one"
        )
    if n_border:
        warnings.append(
            f"{n_border} of {n_objects_total} objects ({_pct(n_border / n_objects_total)}) touch the image border and "
            "are cut off: fine for training if every cut-off object is annotated too (unannotated ones teach the "
            "model that they are background); leave them out when you measure size or shape "
            "(skimage.segmentation.clear_border)"
        )
    if fragmented:
        warnings.append(
            f"{sum(fragmented.values())} id(s) label several separate pieces ({_per_image_list(fragmented)}): "
            "usually one id given to two objects by mistake; give each object its own id"
        )
    if n_checked and n_not_convex / n_checked > MAX_NOT_STAR_CONVEX:
        warnings.append(
            f"{n_not_convex} of {n_checked} objects ({_pct(n_not_convex / n_checked)}) are not star-convex (not every "
            "pixel can be seen from the centre along a straight line inside the object; most in "
            f"{_per_image_list(not_convex, _pct)}): StarDist draws every object as a star-shaped polygon "
            "and will cut such shapes off; for bent, branched or C-shaped objects prefer Cellpose, and check that "
            "they are not two objects merged by mistake"
        )
    scale = summary[summary["n_objects"] >= MIN_OBJECTS_FOR_SCALE].set_index("name")["median_diameter_px"]
    if len(scale) >= 2 and scale.max() > MAX_SCALE_RATIO * scale.min():
        warnings.append(
            f"object sizes differ more than {MAX_SCALE_RATIO:g}x between images: median diameter "
            f"{scale.min():.1f} px in {scale.idxmin()} but {scale.max():.1f} px in {scale.idxmax()}; a model "
            "learns one scale: resample the images (and labels, with order=0) to a common pixel size, or "
            "(Cellpose) give each image its diameter"
        )
    dtypes = summary["image_dtype"].dropna().value_counts()
    if len(dtypes) > 1:
        warnings.append(
            f"the images have different pixel types ({', '.join(f'{k}: {v}' for k, v in dtypes.items())}): "
            "normalise every image the same way (e.g. percentiles per image), or an image using 12 of 16 bits "
            "looks nearly black next to an 8-bit one"
        )
    median = float(np.median(all_diameters)) if all_diameters.size else float("nan")
    return CheckReport(len(pairs), problems, warnings, summary, median)


# --------------------------------------------------------------------------- evaluating predictions


def _pooled_ci(
    per_image: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray], n_boot: int, seed: int, confidence: float
) -> tuple[float, float, float]:
    """Percentile bootstrap over images of a statistic of per-image columns summed over images.

    What :func:`evaluation.bootstrap_ci` does for pooled F1, precision, recall
    and accuracy, for any pooled statistic (PQ, mean matched IoU, the mean
    over IoU thresholds of the pooled accuracy). It draws the same resamples
    as ``bootstrap_ci`` for the same ``seed`` (the tests check that both give
    the same interval for the pooled accuracy).

    Parameters
    ----------
    per_image : array of shape (n_images, k)
        Additive per-image quantities (counts, summed IoUs).
    statistic : callable
        Maps summed rows, shape (..., k), to the statistic, shape (...).

    Returns
    -------
    (estimate, low, high)
    """
    data = np.asarray(per_image, dtype=float)
    n = data.shape[0]
    draws = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))  # as in evaluation.bootstrap_ci
    times = np.bincount((np.arange(n_boot)[:, None] * n + draws).ravel(), minlength=n_boot * n).reshape(n_boot, n)
    boot = statistic(times @ data)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(boot, [alpha, 1 - alpha])
    return float(statistic(data.sum(axis=0))), float(low), float(high)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (the convention of evaluation)."""
    numerator, denominator = np.broadcast_arrays(np.asarray(numerator, float), np.asarray(denominator, float))
    return np.divide(numerator, denominator, out=np.zeros(numerator.shape), where=denominator > 0)


def _pooled_ap(sums: np.ndarray) -> np.ndarray:
    """Mean over thresholds of TP/(TP+FP+FN), from counts of shape (..., n_thresholds * 3) ordered (TP, FP, FN)."""
    counts = sums.reshape(*sums.shape[:-1], -1, 3)
    return _ratio(counts[..., 0], counts.sum(axis=-1)).mean(axis=-1)


@dataclass
class Evaluation:
    """Scores of predicted label images against annotations, from :func:`evaluate` or :func:`evaluate_folders`.

    Attributes
    ----------
    per_image : pandas.DataFrame
        One row per image: ``name``, ``n_true``, ``n_pred``, ``tp``, ``fp``,
        ``fn``, ``precision``, ``recall``, ``f1``, ``pq``, ``mean_matched_iou``
        (all at IoU >= 0.5) and ``ap_dsb``, the image's mean over the IoU
        thresholds of TP/(TP+FP+FN).
    summary : pandas.DataFrame
        Index :data:`SUMMARY_ROWS`, columns ``value``, ``ci_low``, ``ci_high``
        (95 % percentile bootstrap over images). F1, precision, recall, PQ and
        mean matched IoU are at IoU >= 0.5 and computed from TP, FP, FN and
        matched IoUs summed over images, as
        ``evaluation.match_dataset(..., by_image=False)``; their intervals
        resample images and recompute these pooled values. "AP (DSB, mean per
        image)" is the mean of ``ap_dsb`` (the 2018 Data Science Bowl score,
        every image weighing the same); "AP (pooled)" is the mean over the
        thresholds of the pooled TP/(TP+FP+FN) (StarDist's convention, every
        object weighing the same).
    by_threshold : pandas.DataFrame
        Pooled ``tp``, ``fp``, ``fn``, ``precision``, ``recall``, ``f1`` and
        ``accuracy`` (TP/(TP+FP+FN)) at each IoU threshold ``thresh``.
    n_boot : int
        Bootstrap resamples behind the intervals.
    """

    per_image: pd.DataFrame
    summary: pd.DataFrame
    by_threshold: pd.DataFrame
    n_boot: int = 2000

    def __str__(self) -> str:
        table = self.summary.copy()
        table["95 % CI"] = [f"{lo:.3f}-{hi:.3f}" for lo, hi in zip(table["ci_low"], table["ci_high"])]
        table["value"] = table["value"].map("{:.3f}".format)
        taus = self.by_threshold["thresh"]
        lines = [
            f"{len(self.per_image)} image(s): {int(self.per_image['n_true'].sum())} annotated and "
            f"{int(self.per_image['n_pred'].sum())} predicted objects.",
            "",
            table[["value", "95 % CI"]].to_string(),
            "",
            "F1, precision, recall, PQ and mean matched IoU at IoU >= 0.5, from counts pooled over all images.",
            f"AP: TP/(TP+FP+FN) averaged over IoU {taus.min():.2f}-{taus.max():.2f}, per image then averaged "
            "(DSB) or from pooled counts.",
            f"Intervals: 95 % percentile bootstrap over images ({self.n_boot} resamples).",
        ]
        if len(self.per_image) <= 20:
            columns = ["name", "n_true", "n_pred", "tp", "fp", "fn", "f1", "pq", "ap_dsb"]
            lines += ["", "Per image:", self.per_image[columns].round(3).to_string(index=False)]
        else:
            lines += ["", "Per-image scores: see per_image (or write_csv)."]
        return "\n".join(lines)

    def write_csv(self, path: str | Path) -> Path:
        """Write the per-image table as CSV, atomically (a reader never sees half a file)."""
        path = Path(path)
        if not path.parent.is_dir():
            raise InputError(f"cannot write {path}: the folder {path.parent} does not exist")
        write_atomic(path, lambda tmp: self.per_image.to_csv(tmp, index=False))
        return path


def evaluate(
    truths: Sequence[np.ndarray],
    preds: Sequence[np.ndarray],
    names: Sequence[str],
    thresholds: Sequence[float] = ev.DSB_THRESHOLDS,
    n_boot: int = 2000,
    seed: int = 0,
) -> Evaluation:
    """Score predicted label images against annotated ones (see :class:`Evaluation` for the scores).

    Parameters
    ----------
    truths, preds : sequences of 2D integer label images
        Annotation and prediction of each image, pairwise of equal shape.
    names : sequence of str
        One distinct name per image (for the per-image table).
    thresholds : sequence of float
        IoU thresholds of the average precision (default 0.50, 0.55, ..., 0.95).
        F1, precision, recall, PQ and mean matched IoU are always at 0.5.
    n_boot, seed : int
        Bootstrap resamples and random seed of the confidence intervals.

    Raises
    ------
    InputError
        If the lists differ in length, names repeat, or an image pair is not
        a pair of label images of the same shape.
    """
    truths, preds, names = list(truths), list(preds), [str(n) for n in names]
    if not len(truths) == len(preds) == len(names):
        raise InputError(
            f"got {len(truths)} annotated images, {len(preds)} predictions and {len(names)} names; "
            "give one prediction and one name per annotated image"
        )
    if not names:
        raise InputError("no images to evaluate")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(f"image names repeat ({_names(repeated)}): give every image its own name")
    if n_boot < 1:
        raise InputError(f"n_boot must be at least 1, got {n_boot}")
    taus = np.atleast_1d(np.asarray(thresholds, dtype=float))
    if taus.ndim != 1 or not taus.size or taus.min() <= 0 or taus.max() > 1:
        raise InputError(f"thresholds must be IoU values in (0, 1], got {thresholds!r}")
    for name, truth, pred in zip(names, truths, preds):
        try:
            ev.check_label_image(truth, "the annotation")
            ev.check_label_image(pred, "the prediction")
        except ValueError as err:
            raise InputError(f"{name}: {err}") from err
        if np.shape(truth) != np.shape(pred):
            raise InputError(
                f"{name}: the annotation has shape {np.shape(truth)} but the prediction {np.shape(pred)}; "
                "predict on the same image the annotation was made on"
            )

    at_half = np.isclose(taus, 0.5)
    all_taus = list(taus) if at_half.any() else [*taus, 0.5]
    curve = ev.match_dataset(truths, preds, thresh=all_taus, by_image=False)
    half = curve[int(np.argmax(at_half))] if at_half.any() else curve[-1]
    curve = curve[: len(taus)]
    per = half.per_image

    ap_per_image = np.array([[r.accuracy for r in c.per_image] for c in curve]).mean(axis=0)
    counts = np.array([[(r.tp, r.fp, r.fn) for r in c.per_image] for c in curve])  # (thresholds, images, 3)
    per_image = pd.DataFrame(
        {
            "name": names,
            "n_true": [r.n_true for r in per],
            "n_pred": [r.n_pred for r in per],
            "tp": [r.tp for r in per],
            "fp": [r.fp for r in per],
            "fn": [r.fn for r in per],
            "precision": [r.precision for r in per],
            "recall": [r.recall for r in per],
            "f1": [r.f1 for r in per],
            "pq": [r.panoptic_quality for r in per],
            "mean_matched_iou": [r.mean_matched_iou for r in per],
            "ap_dsb": ap_per_image,
        }
    )

    confidence = 0.95
    rows = {}
    for row, statistic in (("F1@0.5", "f1"), ("precision@0.5", "precision"), ("recall@0.5", "recall")):
        ci = ev.bootstrap_ci(half, n_boot=n_boot, seed=seed, confidence=confidence, statistic=statistic)
        rows[row] = (getattr(half, statistic), ci.low, ci.high)
    iou_counts = np.array([(r.sum_matched_iou, r.tp, r.fp, r.fn) for r in per])
    _, low, high = _pooled_ci(
        iou_counts, lambda s: _ratio(s[..., 0], s[..., 1] + (s[..., 2] + s[..., 3]) / 2), n_boot, seed, confidence
    )
    rows["PQ"] = (half.panoptic_quality, low, high)
    _, low, high = _pooled_ci(iou_counts, lambda s: _ratio(s[..., 0], s[..., 1]), n_boot, seed, confidence)
    rows["mean matched IoU"] = (half.mean_matched_iou, low, high)
    ci = ev.bootstrap_ci(ap_per_image, n_boot=n_boot, seed=seed, confidence=confidence)
    rows["AP (DSB, mean per image)"] = (ci.estimate, ci.low, ci.high)
    _, low, high = _pooled_ci(counts.transpose(1, 0, 2).reshape(len(names), -1), _pooled_ap, n_boot, seed, confidence)
    rows["AP (pooled)"] = (float(np.mean([c.accuracy for c in curve])), low, high)
    summary = pd.DataFrame.from_dict(rows, orient="index", columns=["value", "ci_low", "ci_high"])

    by_threshold = ev.results_table(curve)[["thresh", "tp", "fp", "fn", "precision", "recall", "f1", "accuracy"]]
    return Evaluation(per_image, summary, by_threshold, n_boot)


def evaluate_folders(
    truth: str | Path,
    pred: str | Path,
    thresholds: Sequence[float] = ev.DSB_THRESHOLDS,
    n_boot: int = 2000,
    seed: int = 0,
) -> Evaluation:
    """Score a folder of predicted label images against a folder of annotated ones.

    Files pair by name as in :func:`pair_folders`, the suffixes allowed on
    either side (``a.tif``, ``a_masks.tif``, ``a_labels.png`` all pair); every
    annotation needs a prediction and every prediction an annotation. All
    files are read and checked (:func:`read_labels`) before anything is
    scored. See :func:`evaluate` for the parameters, :class:`Evaluation` for
    the scores.
    """
    pairs, errors = _pair(truth, pred, ("annotation", "prediction"), strip_first=True)
    if errors:
        raise InputError("\n".join(errors))
    truths = [read_labels(p.image) for p in pairs]
    preds = [read_labels(p.labels) for p in pairs]
    return evaluate(truths, preds, [p.name for p in pairs], thresholds=thresholds, n_boot=n_boot, seed=seed)


# --------------------------------------------------------------------------- training on your own data

#: Settings of :func:`train_on_folders` per framework: short, CPU-friendly fine-tuning runs.
TRAIN_DEFAULTS = {
    "stardist": {"epochs": 20, "steps_per_epoch": 20, "learning_rate": 1e-4},
    "cellpose": {"epochs": 40, "learning_rate": 0.005},
}


def split_by_image(names: Sequence[str], val_fraction: float = 0.2, seed: int = 0) -> tuple[list[int], list[int]]:
    """Indices of training and validation images: whole images, never crops of one image in both.

    At least one image goes to validation and at least one to training.
    """
    n = len(names)
    if n < 2:
        raise InputError(f"{n} image/label pair(s): training needs at least 2 (one of them for validation), better 5+")
    if not 0 < val_fraction < 1:
        raise InputError(f"the validation fraction must lie between 0 and 1 (got {val_fraction})")
    order = np.random.default_rng(seed).permutation(n)
    n_val = min(n - 1, max(1, round(n * val_fraction)))
    return sorted(order[n_val:].tolist()), sorted(order[:n_val].tolist())


def object_size_summary(labels: Sequence[np.ndarray]) -> dict:
    """Median and 10th/90th percentiles of the objects' equivalent diameters (px): the scale a model learns."""
    d = np.concatenate([ev.object_stats(y)["equivalent_diameter"].to_numpy() for y in labels] or [np.array([])])
    if d.size == 0:
        return {"objects": 0}
    p10, median, p90 = np.percentile(d, [10, 50, 90])
    return {
        "objects": int(d.size),
        "median_diameter_px": round(float(median), 1),
        "p10_diameter_px": round(float(p10), 1),
        "p90_diameter_px": round(float(p90), 1),
    }


def train_on_folders(
    framework: str,
    images: str | Path,
    labels: str | Path,
    output: str | Path,
    init_from: str | None = "default",
    channel: int | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = False,
    **settings,
) -> Path:
    """Train a StarDist or Cellpose model on your own images and annotations; returns the model folder.

    The pairs are checked first (:func:`check_dataset`: any problem stops the
    run before training), split by image into training and validation
    (``val_fraction``, at least one image each), and the model is fine-tuned
    from a shipped model (``init_from``: ``"default"`` = the book's model of
    that framework, a model name or folder, or ``None`` to train from
    scratch). StarDist keeps the weights with the lowest validation loss and
    optimises its two thresholds on the validation images. The folder
    ``output`` (written under a temporary name and renamed at the end) holds
    the weights, ``training.json`` (data, split, settings), ``metrics.json``
    (validation scores, the object sizes it was trained on) and a generated
    ``MODEL_CARD.md``; ``bioimaging-guide segment --model output`` uses it.
    ``settings`` override :data:`TRAIN_DEFAULTS` (e.g. ``epochs=5``).
    """
    import json
    import time

    from .common import environment_summary, normalize_percentile
    from .segmentation_models import load_segmentation_model, train_cellpose, train_stardist

    if framework not in TRAIN_DEFAULTS:
        raise InputError(f"unknown framework {framework!r}: choose stardist or cellpose")
    unknown = sorted(set(settings) - set(TRAIN_DEFAULTS[framework]))
    if unknown:
        raise InputError(f"unknown setting(s) {unknown} for {framework}; known: {sorted(TRAIN_DEFAULTS[framework])}")
    cfg = {**TRAIN_DEFAULTS[framework], **settings}
    output = Path(output)
    if output.exists() and not overwrite:
        raise InputError(f"{output} exists already; pass --overwrite to replace it")
    if init_from == "default":
        init_from = f"{framework}-dsb2018"
    report = check_dataset(images, labels, star_convex=framework == "stardist", channel=channel)
    if not report.ok:
        raise InputError("the training data have problems; fix them first:\n" + "\n".join(report.problems))
    pairs = pair_folders(images, labels)
    xs = [normalize_percentile(read_plane(p.image, channel=channel, task="train on")) for p in pairs]
    ys = [read_labels(p.labels).astype(np.int32) for p in pairs]
    train_idx, val_idx = split_by_image([p.name for p in pairs], val_fraction, seed)
    data = ([xs[i] for i in train_idx], [ys[i] for i in train_idx], [xs[i] for i in val_idx], [ys[i] for i in val_idx])
    with atomic_folder(output) as work:
        start = time.perf_counter()
        if framework == "stardist":
            train_stardist(
                work.parent,
                name=work.name,
                epochs=cfg["epochs"],
                steps_per_epoch=cfg["steps_per_epoch"],
                learning_rate=cfg["learning_rate"],
                seed=seed,
                data=data,
                init_from=init_from,
                verbose=int(progress),
            )
        else:
            folder, _losses, _ = train_cellpose(
                work.parent,
                name=work.name,
                epochs=cfg["epochs"],
                learning_rate=cfg["learning_rate"],
                seed=seed,
                data=data,
                init_from=init_from,
                verbose=int(progress),
            )
        seconds = time.perf_counter() - start
        model = load_segmentation_model(work)
        val = evaluate(
            [data[3][i] for i in range(len(val_idx))],
            [model.predict(x) for x in data[2]],
            [pairs[i].name for i in val_idx],
        )
        recipe = {
            "framework": framework,
            "images": str(Path(images)),
            "labels": str(Path(labels)),
            "channel": channel,
            "init_from": init_from,
            "seed": seed,
            "split": {
                "train": [pairs[i].name for i in train_idx],
                "validation": [pairs[i].name for i in val_idx],
            },
            **cfg,
        }
        metrics = {
            "validation": {row: float(v) for row, v in val.summary["value"].items()},
            "training_objects": object_size_summary(data[1]),
            "training_seconds": round(seconds, 1),
            "environment": environment_summary(),
        }
        (work / "training.json").write_text(json.dumps(recipe, indent=2) + "\n")
        (work / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        (work / "MODEL_CARD.md").write_text(_user_model_card(output.name, recipe, metrics), encoding="utf-8")
    return output


def _user_model_card(name: str, recipe: dict, metrics: dict) -> str:
    v, objects = metrics["validation"], metrics["training_objects"]
    start = recipe["init_from"] or "random weights (trained from scratch)"
    rows = [
        ("framework", recipe["framework"]),
        ("started from", f"`{start}`"),
        (
            "data",
            f"`{recipe['images']}` + `{recipe['labels']}`"
            + (f", channel {recipe['channel']}" if recipe["channel"] is not None else ""),
        ),
        (
            "split (by image)",
            f"{len(recipe['split']['train'])} training, {len(recipe['split']['validation'])} "
            f"validation images: {', '.join(recipe['split']['validation'])}",
        ),
        (
            "objects it was trained on",
            f"{objects.get('objects', 0)} objects, median diameter "
            f"{objects.get('median_diameter_px', float('nan'))} px (10th–90th percentile "
            f"{objects.get('p10_diameter_px', float('nan'))}–"
            f"{objects.get('p90_diameter_px', float('nan'))} px)",
        ),
        ("settings", ", ".join(f"{k} {recipe[k]}" for k in TRAIN_DEFAULTS[recipe["framework"]])),
        ("seed", str(recipe["seed"])),
        ("training wall time", f"{metrics['training_seconds'] / 60:.1f} min"),
    ]
    table = "| | |\n|---|---|\n" + "".join(f"| {k} | {val} |\n" for k, val in rows)
    scores = "".join(f"| {k} | {val:.3f} |\n" for k, val in v.items())
    return (
        f"# Model card: {name}\n\nTrained with `bioimaging-guide train {recipe['framework']}` on your own "
        "annotated images. Generated automatically; the scores below are on the validation images, which also "
        "chose the weights (and, for StarDist, the thresholds): they are optimistic. Score the model on images "
        "it has never seen with `bioimaging-guide evaluate` before you rely on it.\n\n"
        f"{table}\n## Validation scores\n\n| score | value |\n|---|---|\n{scores}"
    )
