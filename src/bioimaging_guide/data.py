"""Named, hash-checked datasets used throughout the book.

Every file the book uses is listed in a small registry shipped with this
package (``_registry/manifest.tsv``): a pinned download address (the URL
contains a git commit, so its content can never change) and the SHA-256
checksum of the file. The first time a file is needed it is downloaded with
`pooch <https://www.fatiando.org/pooch/>`_ into a per-user cache folder and
its checksum is verified; later calls reuse the cached copy.

Datasets
--------
``dsb2018``
    The 65 images of the 2018 Data Science Bowl stage-1 test release
    (BBBC038) with the official expert instance masks. 53 fluorescence and
    12 brightfield/histology images. See :func:`load_dsb2018`.
``gigadb_snr_pairs``
    Registered low/high signal-to-noise fluorescence image pairs (Hagen et
    al. 2021). See :func:`load_gigadb_pairs`.
``mitosis_timelapse``
    A 48-frame nuclei time-lapse with several mitoses.
    See :func:`load_mitosis_timelapse`.
``bbbc022``
    One three-channel field of view of the BBBC022 Cell Painting set.
    See :func:`load_bbbc022`.

Where the files come from
-------------------------
By default from the internet. The cache folder is
``pooch.os_cache("bioimaging-guide")`` (for example
``~/.cache/bioimaging-guide`` on Linux); set the environment variable
``BIOIMAGING_GUIDE_CACHE`` to use another folder. On a machine without
internet, set ``BIOIMAGING_GUIDE_MIRROR`` to a folder holding a copy of the
files laid out like their URLs without ``https://`` (for example
``<mirror>/raw.githubusercontent.com/OWNER/REPO/COMMIT/PATH``): the files
are then read from there, after the same checksum test.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np

__all__ = [
    "BBBC022_CHANNELS",
    "DataError",
    "DataIntegrityError",
    "DataUnavailableError",
    "DatasetInfo",
    "RegistryEntry",
    "Sample",
    "UnknownDatasetError",
    "cache_dir",
    "dataset_info",
    "dsb2018_table",
    "fetch",
    "fetch_dataset",
    "fetch_file",
    "list_datasets",
    "mitosis_annotations",
    "load_bbbc022",
    "load_dsb2018",
    "load_gigadb_pairs",
    "load_mitosis_timelapse",
    "mirror_dir",
    "modality_of",
    "rle_decode",
    "rle_encode",
    "rle_to_labels",
]

#: Environment variable naming a local folder that mirrors the download URLs.
MIRROR_ENV = "BIOIMAGING_GUIDE_MIRROR"
#: Environment variable overriding the download cache folder.
CACHE_ENV = "BIOIMAGING_GUIDE_CACHE"
#: Set this environment variable to ``0`` to never show progress bars.
PROGRESS_ENV = "BIOIMAGING_GUIDE_PROGRESS"

_REGISTRY_FILE = "manifest.tsv"
_DSB_TABLE_FILE = "dsb2018_images.tsv"
_DOWNLOAD_TIMEOUT_S = 60


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


class DataError(RuntimeError):
    """Base class of the errors raised while getting a dataset file."""


class DataIntegrityError(DataError):
    """A file's SHA-256 checksum differs from the one in the registry."""


class DataUnavailableError(DataError):
    """A file could neither be downloaded nor found in the local mirror."""


class UnknownDatasetError(KeyError):
    """A dataset (or a file in it) with this name is not in the registry."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


# ---------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RegistryEntry:
    """One file of a dataset: where it is published and its checksum."""

    dataset: str
    relpath: str
    sha256: str
    size: int
    url: str


@dataclass(frozen=True)
class DatasetInfo:
    """Human-readable facts about a dataset and the files it consists of."""

    name: str
    title: str
    description: str
    license: str
    citation: str
    files: tuple[RegistryEntry, ...]

    @property
    def total_bytes(self) -> int:
        """Total download size in bytes."""
        return sum(entry.size for entry in self.files)


_DATASET_TEXT: dict[str, dict[str, str]] = {
    "dsb2018": {
        "title": "Data Science Bowl 2018, stage-1 test set (BBBC038)",
        "description": (
            "65 images of nuclei (53 fluorescence, 12 brightfield/histology) "
            "from many labs and microscopes, with the official expert "
            "instance masks (stage1_solution.csv, run-length encoded)."
        ),
        "license": "CC0 1.0",
        "citation": (
            "Caicedo, J. C. et al. Nucleus segmentation across imaging "
            "experiments: the 2018 Data Science Bowl. Nature Methods 16, "
            "1247-1253 (2019)."
        ),
    },
    "gigadb_snr_pairs": {
        "title": "Low/high signal-to-noise fluorescence pairs (GigaDB 100888)",
        "description": (
            "Registered pairs of the same field imaged with low and high "
            "laser power: actin, mitochondria, membrane and nuclei at "
            "several magnifications; 8-bit images of 512x512 to 2048x2048."
        ),
        "license": "CC0 1.0",
        "citation": (
            "Hagen, G. M. et al. Fluorescence microscopy datasets for "
            "training deep neural networks. GigaScience 10(5), giab032 (2021)."
        ),
    },
    "mitosis_timelapse": {
        "title": "Cancer cell migration time-lapse (crop)",
        "description": (
            "48 frames of 130x130 pixels (uint16) of fluorescent nuclei, including several cell divisions."
        ),
        "license": "CC BY 4.0",
        "citation": (
            "Cancer cell migration time-lapse, Zenodo record 5206107 "
            "(credit the authors named there); crop distributed with "
            "haesleinhuepf/BioImageAnalysisNotebooks."
        ),
    },
    "bbbc022": {
        "title": "BBBC022 Cell Painting field IXMtest_A02_s9",
        "description": (
            "One field of U2OS cells, 3 channels of 395x695 pixels (uint16, "
            "12-bit): Hoechst (DNA), concanavalin A (ER), SYTO 14 (RNA)."
        ),
        "license": "CC0 1.0",
        "citation": (
            "Gustafsdottir, S. M. et al. PLoS ONE 8(12), e80999 (2013); Ljosa, V. et al. Nature Methods 9, 637 (2012)."
        ),
    },
}


def _registry_text(filename: str) -> str:
    return resources.files("bioimaging_guide").joinpath("_registry", filename).read_text(encoding="utf-8")


def _read_tsv(filename: str) -> list[dict[str, str]]:
    lines = [ln for ln in _registry_text(filename).splitlines() if ln and not ln.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


@functools.lru_cache(maxsize=1)
def _registry() -> dict[str, dict[str, RegistryEntry]]:
    """All registered files, as ``{dataset: {relpath: entry}}``."""
    registry: dict[str, dict[str, RegistryEntry]] = {}
    for row in _read_tsv(_REGISTRY_FILE):
        entry = RegistryEntry(
            dataset=row["dataset"],
            relpath=row["relpath"],
            sha256=row["sha256"].lower(),
            size=int(row["bytes"]),
            url=row["url"],
        )
        registry.setdefault(entry.dataset, {})[entry.relpath] = entry
    return registry


def _dataset_files(dataset: str) -> dict[str, RegistryEntry]:
    registry = _registry()
    if dataset not in registry:
        known = ", ".join(sorted(registry))
        raise UnknownDatasetError(
            f"Unknown dataset {dataset!r}. Known datasets: {known}. Call list_datasets() to see them."
        )
    return registry[dataset]


def list_datasets() -> list[str]:
    """Names of the datasets that can be fetched.

    Returns
    -------
    list of str
        Sorted dataset names, for use with :func:`fetch`,
        :func:`fetch_dataset` and :func:`dataset_info`.
    """
    return sorted(_registry())


def dataset_info(dataset: str) -> DatasetInfo:
    """Describe a dataset: title, licence, citation and its files.

    Parameters
    ----------
    dataset : str
        One of :func:`list_datasets`.

    Returns
    -------
    DatasetInfo
        Includes ``files`` (one :class:`RegistryEntry` per file, with URL,
        size and SHA-256) and ``total_bytes``.
    """
    files = _dataset_files(dataset)
    text = _DATASET_TEXT.get(dataset, {})
    return DatasetInfo(
        name=dataset,
        title=text.get("title", dataset),
        description=text.get("description", ""),
        license=text.get("license", ""),
        citation=text.get("citation", ""),
        files=tuple(files[k] for k in sorted(files)),
    )


# ---------------------------------------------------------------------------
# Where files live: cache, mirror, checksums
# ---------------------------------------------------------------------------


def cache_dir() -> Path:
    """Folder where downloaded files are kept.

    ``$BIOIMAGING_GUIDE_CACHE`` if set, otherwise the per-user cache folder
    ``pooch.os_cache("bioimaging-guide")``.
    """
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    import pooch

    return Path(pooch.os_cache("bioimaging-guide"))


def mirror_dir() -> Path | None:
    """The local mirror folder named by ``$BIOIMAGING_GUIDE_MIRROR``, or None."""
    value = os.environ.get(MIRROR_ENV)
    return Path(value).expanduser() if value else None


def _url_to_relpath(url: str) -> Path:
    """``https://host/a/b.png`` -> ``host/a/b.png`` (the mirror/cache layout)."""
    for scheme in ("https://", "http://"):
        if url.startswith(scheme):
            rest = url[len(scheme) :]
            break
    else:
        raise ValueError(f"Only http(s) URLs can be fetched, got {url!r}.")
    parts = [p for p in rest.replace(":", "_").split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise ValueError(f"Cannot map the URL {url!r} to a local file name.")
    return Path(*parts)


# Checksums already computed in this Python session, keyed by
# (path, size, modification time): reading a file again is then free.
_HASH_MEMO: dict[tuple[str, int, int], str] = {}


def _sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASH_MEMO:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        _HASH_MEMO[key] = digest.hexdigest()
    return _HASH_MEMO[key]


def _from_mirror(url: str, sha256: str, mirror: Path) -> Path:
    """Return the verified mirror copy of ``url`` (read in place, never changed)."""
    path = mirror / _url_to_relpath(url)
    if not path.is_file():
        raise DataUnavailableError(
            f"{MIRROR_ENV} is set to {str(mirror)!r}, but the file {str(path)!r} "
            f"is not there. It should be a copy of {url} (the mirror keeps the "
            "URL layout without 'https://'). Add the file to the mirror, or "
            f"unset {MIRROR_ENV} to download it from the internet."
        )
    actual = _sha256(path)
    if actual != sha256:
        raise DataIntegrityError(
            f"The mirror copy {str(path)!r} of {url} is damaged or outdated: "
            f"expected SHA-256 {sha256}, found {actual}. Replace it with a fresh "
            f"copy, or unset {MIRROR_ENV} to download the file instead."
        )
    return path


def _download(url: str, destination: Path) -> None:
    """Download ``url`` to ``destination`` with pooch (no checksum test here)."""
    import pooch

    downloader = pooch.HTTPDownloader(progressbar=False, chunk_size=1 << 16, timeout=_DOWNLOAD_TIMEOUT_S)
    downloader(url, str(destination), None)


def _from_cache_or_download(url: str, sha256: str) -> Path:
    """Return the verified cached copy of ``url``, downloading it if needed.

    A cached copy with the wrong checksum is deleted and downloaded again.
    A download with the wrong checksum is retried once. Downloads go to a
    temporary file that is renamed only once its checksum is right, so an
    interrupted or corrupted download never leaves a half-written file.
    """
    target = cache_dir() / _url_to_relpath(url)
    if target.is_file():
        if _sha256(target) == sha256:
            return target
        target.unlink()  # corrupted or outdated copy: fetch it again
    target.parent.mkdir(parents=True, exist_ok=True)

    actual = ""
    for _attempt in range(2):
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            try:
                _download(url, tmp)
            except Exception as exc:  # network down, HTTP error, timeout, ...
                raise DataUnavailableError(
                    f"Could not download {url} ({type(exc).__name__}: {exc}). "
                    "Check the internet connection and try again. On a machine "
                    f"without internet, set the environment variable {MIRROR_ENV} "
                    "to a folder holding a copy of the data laid out like the URLs "
                    "(<mirror>/raw.githubusercontent.com/...)."
                ) from exc
            actual = _sha256(tmp)
            if actual == sha256:
                os.replace(tmp, target)
                return target
        finally:
            if tmp.exists():
                tmp.unlink()
    raise DataIntegrityError(
        f"The file downloaded from {url} has SHA-256 {actual}, but {sha256} was "
        "expected (tried twice; nothing was kept). The download was corrupted "
        "or the file on the server changed. Try again later; if it persists, "
        "please report it to the book's authors."
    )


def _fetch_entry(entry: RegistryEntry) -> Path:
    mirror = mirror_dir()
    if mirror is not None:
        return _from_mirror(entry.url, entry.sha256, mirror)
    return _from_cache_or_download(entry.url, entry.sha256)


def _progress_disabled(progress: bool | None) -> bool | None:
    """tqdm's ``disable``: None means "only on a terminal" (clean notebook outputs)."""
    if progress is not None:
        return not progress
    if os.environ.get(PROGRESS_ENV, "").strip() == "0":
        return True
    return None


def _fetch_many(entries: Sequence[RegistryEntry], progress: bool | None, desc: str) -> list[Path]:
    from tqdm import tqdm

    disable = _progress_disabled(progress) if len(entries) > 1 else True
    return [_fetch_entry(entry) for entry in tqdm(entries, desc=desc, unit="file", disable=disable, leave=False)]


def fetch(dataset: str, relpath: str) -> Path:
    """Get one file of a dataset and return its local path.

    Parameters
    ----------
    dataset : str
        One of :func:`list_datasets`, e.g. ``"dsb2018"``.
    relpath : str
        The file's path inside the dataset, as listed by
        ``dataset_info(dataset).files``, e.g. ``"stage1_solution.csv"``.

    Returns
    -------
    pathlib.Path
        A local file whose SHA-256 checksum has been verified.

    Raises
    ------
    UnknownDatasetError
        The dataset or file is not in the registry (a ``KeyError``).
    DataUnavailableError
        No internet and no mirror, or the mirror lacks the file.
    DataIntegrityError
        The checksum is still wrong after downloading the file again.
    """
    files = _dataset_files(dataset)
    if relpath not in files:
        examples = ", ".join(sorted(files)[:3])
        raise UnknownDatasetError(
            f"Dataset {dataset!r} has no file {relpath!r}. Its files include "
            f"{examples}; see dataset_info({dataset!r}).files for all of them."
        )
    return _fetch_entry(files[relpath])


def fetch_file(url: str, sha256: str | None = None) -> Path:
    """Get the file published at ``url`` and return its local path.

    Parameters
    ----------
    url : str
        A URL from the registry (``dataset_info(name).files``), or any other
        http(s) URL if ``sha256`` is given.
    sha256 : str, optional
        Expected SHA-256 checksum (hex). Needed for URLs that are not in the
        registry; for registered URLs it must agree with the registry.

    Returns
    -------
    pathlib.Path
        A local file whose checksum has been verified.
    """
    registered = {e.url: e for files in _registry().values() for e in files.values()}
    if sha256 is not None:
        sha256 = sha256.lower().removeprefix("sha256:")
    if url in registered:
        entry = registered[url]
        if sha256 is not None and sha256 != entry.sha256:
            raise ValueError(
                f"The checksum given for {url} ({sha256}) differs from the "
                f"registered one ({entry.sha256}); leave sha256 out to use the registry."
            )
        return _fetch_entry(entry)
    if sha256 is None:
        raise ValueError(
            f"{url} is not in the book's registry, so its SHA-256 checksum must "
            "be given: fetch_file(url, sha256='...')."
        )
    entry = RegistryEntry(dataset="", relpath="", sha256=sha256, size=-1, url=url)
    return _fetch_entry(entry)


def fetch_dataset(dataset: str, progress: bool | None = None) -> dict[str, Path]:
    """Get every file of a dataset.

    Parameters
    ----------
    dataset : str
        One of :func:`list_datasets`.
    progress : bool, optional
        Show a progress bar. By default one is shown only when running in a
        terminal (never in notebook outputs); ``BIOIMAGING_GUIDE_PROGRESS=0``
        turns it off everywhere.

    Returns
    -------
    dict
        ``{relpath: local path}`` for all files of the dataset.
    """
    files = _dataset_files(dataset)
    keys = sorted(files)
    paths = _fetch_many([files[k] for k in keys], progress, desc=dataset)
    return dict(zip(keys, paths))


# ---------------------------------------------------------------------------
# Run-length encoding (Data Science Bowl format)
# ---------------------------------------------------------------------------


def rle_decode(rle: str, shape: tuple[int, int]) -> np.ndarray:
    """Decode a Data Science Bowl run-length encoding into a boolean mask.

    The encoding is a space-separated list of pairs ``start length``.
    Pixels are numbered from 1, **column by column** (top to bottom, then
    left to right), i.e. in Fortran order: pixel ``k`` is at
    ``row = (k - 1) % height``, ``col = (k - 1) // height``.

    Parameters
    ----------
    rle : str
        E.g. ``"3 2 10 4"`` (pixels 3-4 and 10-13).
    shape : (height, width)
        Shape of the image the mask belongs to.

    Returns
    -------
    numpy.ndarray of bool, shape ``shape``
    """
    height, width = (int(s) for s in shape)
    values = np.array(rle.split(), dtype=np.int64)
    if values.size % 2:
        raise ValueError("A run-length encoding needs pairs of numbers (start length).")
    starts, lengths = values[0::2] - 1, values[1::2]
    if values.size and (starts.min() < 0 or lengths.min() < 0 or (starts + lengths).max() > height * width):
        raise ValueError(f"The run-length encoding does not fit an image of shape {(height, width)}.")
    flat = np.zeros(height * width, dtype=bool)
    for start, length in zip(starts, lengths):
        flat[start : start + length] = True
    return flat.reshape((height, width), order="F")


def rle_encode(mask: np.ndarray) -> str:
    """Encode a 2D boolean mask in the Data Science Bowl run-length format.

    The inverse of :func:`rle_decode`: 1-based ``start length`` pairs, pixels
    numbered column by column. An empty mask gives ``""``.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"rle_encode needs a 2D mask, got shape {mask.shape}.")
    flat = np.concatenate([[False], mask.astype(bool).ravel(order="F"), [False]])
    changes = np.flatnonzero(flat[1:] != flat[:-1])  # 0-based starts and ends of runs
    starts, ends = changes[0::2], changes[1::2]
    return " ".join(f"{s + 1} {e - s}" for s, e in zip(starts, ends))


def rle_to_labels(rles: Iterable[str], shape: tuple[int, int]) -> np.ndarray:
    """Turn a list of run-length encoded masks into one instance label image.

    Object ``i`` (counting from 1) is the ``i``-th encoding of the list.
    Where masks overlap, the later one wins (the DSB 2018 masks used in the
    book do not overlap).

    Returns
    -------
    numpy.ndarray of int32, shape ``shape``
        0 is background.
    """
    height, width = (int(s) for s in shape)
    flat = np.zeros(height * width, dtype=np.int32)
    for label, rle in enumerate(rles, start=1):
        values = np.array(rle.split(), dtype=np.int64)
        for start, length in zip(values[0::2] - 1, values[1::2]):
            flat[start : start + length] = label
    return flat.reshape((height, width), order="F")


# ---------------------------------------------------------------------------
# DSB 2018
# ---------------------------------------------------------------------------

Modality = Literal["fluorescence", "brightfield"]
Split = Literal["train", "val", "test"]


@dataclass(repr=False, eq=False)
class Sample:
    """One DSB 2018 image with its expert annotation.

    Attributes
    ----------
    image_id : str
        The DSB image id (a 64-character hex string).
    image : numpy.ndarray of float32, values in [0, 1]
        Fluorescence images: shape (H, W), one grey channel (the PNG's
        three channels are identical). Brightfield/histology images: shape
        (H, W, 3), RGB. The 8-bit values are divided by 255; the PNG alpha
        channel (always opaque) is dropped.
    labels : numpy.ndarray of int32, shape (H, W)
        Instance labels: 0 is background, nucleus ``i`` is the ``i``-th row
        for this image in ``stage1_solution.csv``.
    modality : {"fluorescence", "brightfield"}
        See :func:`modality_of`.
    split : {"train", "val", "test"}
        The book's fixed split, see :func:`load_dsb2018`.
    """

    image_id: str
    image: np.ndarray
    labels: np.ndarray
    modality: str
    split: str

    @property
    def n_nuclei(self) -> int:
        """Number of annotated nuclei."""
        return int(self.labels.max())

    def __repr__(self) -> str:
        return (
            f"Sample(image_id={self.image_id[:8]!r}..., modality={self.modality!r}, "
            f"split={self.split!r}, image={self.image.shape} {self.image.dtype}, "
            f"labels={self.labels.shape} with {self.n_nuclei} nuclei)"
        )


def modality_of(image: np.ndarray) -> str:
    """Classify a DSB image as ``"fluorescence"`` or ``"brightfield"``.

    The rule: an image is fluorescence when all its colour channels are
    identical (a grey image) **and** its median is below half the maximum
    value (a dark background with bright nuclei). Everything else, i.e.
    colour (H&E and other stained histology) images and grey images with a
    bright background, is called ``"brightfield"``.

    Parameters
    ----------
    image : numpy.ndarray
        (H, W) grey, or (H, W, 3|4) colour image as stored (uint8 or float
        in [0, 1]); an alpha channel is ignored.
    """
    image = np.asarray(image)
    if image.ndim == 3:
        rgb = image[..., :3]
        grey = bool(np.all(rgb[..., 0] == rgb[..., 1]) and np.all(rgb[..., 1] == rgb[..., 2]))
        channel = rgb[..., 0]
    elif image.ndim == 2:
        grey, channel = True, image
    else:
        raise ValueError(f"Expected a (H, W) or (H, W, C) image, got shape {image.shape}.")
    full_scale = 255.0 if np.issubdtype(image.dtype, np.integer) else 1.0
    dark_background = float(np.median(channel)) < full_scale / 2
    return "fluorescence" if grey and dark_background else "brightfield"


def _dsb_image_relpath(image_id: str) -> str:
    return f"stage1_test/{image_id}/images/{image_id}.png"


@functools.lru_cache(maxsize=1)
def _dsb_table_rows() -> tuple[dict[str, str], ...]:
    return tuple(_read_tsv(_DSB_TABLE_FILE))


def dsb2018_table():
    """The book's index of the 65 DSB 2018 images (no download needed).

    Returns
    -------
    pandas.DataFrame
        One row per image, sorted by ``image_id``, with columns
        ``image_id``, ``modality``, ``split``, ``height``, ``width`` and
        ``n_nuclei``. The table ships with the package; the tests check that
        it agrees with the images and masks.
    """
    import pandas as pd

    table = pd.DataFrame(list(_dsb_table_rows()))
    for column in ("height", "width", "n_nuclei"):
        table[column] = table[column].astype(int)
    return table.sort_values("image_id").reset_index(drop=True)


def _dsb_split_rule(ids_by_modality: dict[str, list[str]]) -> dict[str, str]:
    """The book's split: within each modality, rank images by SHA-256 of id.

    The first ``round(0.6 n)`` images go to ``train``, the next
    ``round(0.2 n)`` to ``val`` and the rest to ``test``.
    """
    split: dict[str, str] = {}
    for ids in ids_by_modality.values():
        ranked = sorted(ids, key=lambda i: hashlib.sha256(i.encode("ascii")).hexdigest())
        n_train, n_val = round(0.6 * len(ranked)), round(0.2 * len(ranked))
        for rank, image_id in enumerate(ranked):
            split[image_id] = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
    return split


@functools.lru_cache(maxsize=4)
def _read_solution(csv_path: str) -> dict[str, tuple[tuple[int, int], tuple[str, ...]]]:
    """Parse stage1_solution.csv into ``{image_id: ((H, W), encodings)}``."""
    rows: dict[str, tuple[tuple[int, int], list[str]]] = {}
    with open(csv_path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            shape = (int(row["Height"]), int(row["Width"]))
            rows.setdefault(row["ImageId"], (shape, []))[1].append(row["EncodedPixels"])
    return {k: (shape, tuple(rles)) for k, (shape, rles) in rows.items()}


@functools.cache
def _decoded_labels(csv_path: str, image_id: str) -> np.ndarray:
    shape, rles = _read_solution(csv_path)[image_id]
    labels = rle_to_labels(rles, shape)
    labels.flags.writeable = False  # shared by every caller: hand out copies
    return labels


def _read_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im)


def load_dsb2018(
    subset: Literal["fluorescence", "brightfield", "all"] = "fluorescence",
    split: Literal["train", "val", "test"] | None = None,
    *,
    progress: bool | None = None,
) -> list[Sample]:
    """Load DSB 2018 stage-1 test images with their expert nucleus masks.

    Parameters
    ----------
    subset : {"fluorescence", "brightfield", "all"}
        Which images: the 53 fluorescence images, the 12 brightfield and
        histology images, or all 65.
    split : {"train", "val", "test"}, optional
        Only the images of this part of the book's fixed split (default:
        all parts).
    progress : bool, optional
        Show a progress bar while fetching files (default: only in a
        terminal).

    Returns
    -------
    list of Sample
        Sorted by image id. See :class:`Sample` for the array formats.

    Notes
    -----
    **Modality** is derived from the pixels with :func:`modality_of`.

    **Split.** The split is by image, fixed and the same on every machine:
    within each modality the images are ordered by the SHA-256 hash of
    their id; the first 60 % (rounded) are ``train``, the next 20 % ``val``
    and the rest ``test``. This gives 32/11/10 fluorescence and 7/2/3
    brightfield images. The split is listed in :func:`dsb2018_table`.
    Several DSB images are crops from the same experiment, so images of
    the same kind appear in all three parts: the split measures
    generalisation to new fields of view, not to new labs.

    **Masks** are decoded from the run-length encoded
    ``stage1_solution.csv`` (one row per nucleus, see :func:`rle_decode`)
    and kept in memory, so loading the images again is fast.
    """
    if subset not in ("fluorescence", "brightfield", "all"):
        raise ValueError(f"subset must be 'fluorescence', 'brightfield' or 'all', got {subset!r}.")
    if split not in (None, "train", "val", "test"):
        raise ValueError(f"split must be None, 'train', 'val' or 'test', got {split!r}.")

    rows = [
        r
        for r in _dsb_table_rows()
        if (subset == "all" or r["modality"] == subset) and (split is None or r["split"] == split)
    ]
    rows.sort(key=lambda r: r["image_id"])
    files = _dataset_files("dsb2018")
    entries = [files["stage1_solution.csv"]] + [files[_dsb_image_relpath(r["image_id"])] for r in rows]
    paths = _fetch_many(entries, progress, desc="DSB 2018")
    csv_path = str(paths[0])

    samples = []
    for row, path in zip(rows, paths[1:]):
        stored = _read_png(path)
        modality = modality_of(stored)
        rgb = stored[..., :3].astype(np.float32) / 255.0
        image = rgb[..., 0].copy() if modality == "fluorescence" else rgb
        labels = _decoded_labels(csv_path, row["image_id"]).copy()
        samples.append(Sample(row["image_id"], image, labels, modality, row["split"]))
    return samples


# ---------------------------------------------------------------------------
# GigaDB low/high SNR pairs
# ---------------------------------------------------------------------------

_GIGADB_LOW = "low_snr_images/{name}-lowsnr-sample.png"
_GIGADB_HIGH = "high_snr_images/{name}-highsnr-sample.png"


def _palette_png_intensities(path: Path) -> np.ndarray:
    """Read an 8-bit PNG as intensities.

    The GigaDB PNGs are palette ("P" mode) images whose palette is a ramp
    of one colour (green, red or yellow): entry ``i`` has brightness ``i``.
    The stored indices therefore *are* the intensities, which is what
    ``np.asarray(Image.open(path))`` returns. Any other palette is mapped
    through the brightest channel of its colours instead.
    """
    from PIL import Image

    with Image.open(path) as im:
        indices = np.asarray(im)
        if im.mode != "P":
            return np.asarray(im.convert("L"))
        palette = np.asarray(im.getpalette(), dtype=np.uint8).reshape(-1, 3)
    brightness = palette.max(axis=1)
    if np.array_equal(brightness, np.arange(len(palette))):
        return indices
    return brightness[indices]


def load_gigadb_pairs(progress: bool | None = None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Load the registered low/high signal-to-noise image pairs.

    Returns
    -------
    list of (name, low, high)
        Eight pairs, sorted by name: ``actin-20x-noise1``,
        ``actin-60x-noise1``, ``membrane``, ``mito-20x-noise1``,
        ``mito-60x-noise1``, ``mito-60x-noise2``, ``mito-confocal`` and
        ``nucleus``. ``low`` and ``high`` are uint8 arrays of the same shape
        (512x512 to 2048x2048) showing the same field.

    Notes
    -----
    Two files have no partner and are left out: the low-SNR
    ``actin-60x-noise2`` and the high-SNR ``actin-confocal``.

    The PNGs store a palette (a false-colour look-up table), but each
    palette is a linear ramp of one colour, so the pixel values returned by
    ``np.asarray(Image.open(path))`` are the intensities (0-255); this is
    checked when the files are read.

    Things to know before using the pairs: they are pixel-aligned (phase
    correlation finds no shift where there is structure), but the two
    images differ in more than noise. Low-SNR images carry a higher
    background offset (5th percentile 20-80 grey levels against 0-5 for
    the high-SNR image) and several use only a few dozen grey levels
    (``mito-60x-noise2``: 36, plus a strongly uneven background);
    ``mito-confocal`` low-SNR is clipped to 0 in most of the background.
    Both images of most pairs contain some saturated (255) pixels. Scale
    intensities per image (e.g. percentile normalisation) before comparing.
    """
    files = _dataset_files("gigadb_snr_pairs")
    names = sorted(
        name
        for name in (
            rel.split("/")[-1].removesuffix("-lowsnr-sample.png") for rel in files if rel.startswith("low_snr_images/")
        )
        if _GIGADB_HIGH.format(name=name) in files
    )
    entries = [files[_GIGADB_LOW.format(name=n)] for n in names] + [files[_GIGADB_HIGH.format(name=n)] for n in names]
    paths = _fetch_many(entries, progress, desc="GigaDB pairs")
    lows, highs = paths[: len(names)], paths[len(names) :]
    pairs = []
    for name, low_path, high_path in zip(names, lows, highs):
        low, high = _palette_png_intensities(low_path), _palette_png_intensities(high_path)
        if low.shape != high.shape:
            raise DataIntegrityError(f"GigaDB pair {name!r}: shapes differ ({low.shape} vs {high.shape}).")
        pairs.append((name, low, high))
    return pairs


# ---------------------------------------------------------------------------
# TIFF datasets
# ---------------------------------------------------------------------------

#: Channel names of :func:`load_bbbc022`, in array order.
BBBC022_CHANNELS: tuple[str, str, str] = (
    "Hoechst (DNA)",
    "Concanavalin A (ER)",
    "SYTO 14 (RNA)",
)


def load_mitosis_timelapse() -> np.ndarray:
    """Load the cancer cell migration time-lapse.

    Returns
    -------
    numpy.ndarray of uint16, shape (48, 130, 130)
        Axes (time, y, x): fluorescent nuclei over 48 frames, including
        several divisions. Values span the full 16-bit range.

    See Also
    --------
    mitosis_annotations : the book's own annotation of the divisions.
    """
    import tifffile

    return tifffile.imread(fetch("mitosis_timelapse", "cancer_cell_migration_crop.tif"))


def mitosis_annotations():
    """The cell divisions in :func:`load_mitosis_timelapse`, annotated by the book's authors.

    The time-lapse comes without event annotations; these are the book's own
    (frames and positions read by eye, with their uncertainty), **not** a
    published ground truth. How they were made is documented in
    :mod:`bioimaging_guide.events`, which holds them as
    :data:`bioimaging_guide.events.MITOSIS_EVENTS`.

    Returns
    -------
    tuple of bioimaging_guide.events.MitosisEvent
    """
    from .events import MITOSIS_EVENTS

    return tuple(MITOSIS_EVENTS)


def load_bbbc022() -> tuple[np.ndarray, tuple[str, ...]]:
    """Load one three-channel Cell Painting field (BBBC022, IXMtest_A02_s9).

    Returns
    -------
    image : numpy.ndarray of uint16, shape (3, 395, 695)
        Axes (channel, y, x); 12-bit values (at most 4095).
    channels : tuple of str
        :data:`BBBC022_CHANNELS`: Hoechst (nuclei), concanavalin A
        (endoplasmic reticulum) and SYTO 14 (RNA: nucleoli and cytoplasm).
    """
    import tifffile

    image = tifffile.imread(fetch("bbbc022", "IXMtest_A02_s9.tif"))
    return image, BBBC022_CHANNELS
