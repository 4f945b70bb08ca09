"""Tests of bioimaging_guide.data.

Real files come from the local data mirror (see conftest.py); nothing here
uses the internet. Download paths are exercised with pooch against a small
HTTP server on 127.0.0.1 serving the mirror, or with a patched downloader.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import http.server
import re
import threading
from pathlib import Path

import numpy as np
import pytest

from bioimaging_guide import data

DSB_BASE = "https://raw.githubusercontent.com/yuanqing811/DSB2018_stage1_test/ee7c37eb666b7d697269149b6902f2ff3062dcd0/"
BBBC022_REL = "IXMtest_A02_s9.tif"


# ---------------------------------------------------------------------------
# Registry (no data needed)
# ---------------------------------------------------------------------------


def test_list_datasets():
    assert data.list_datasets() == ["bbbc022", "dsb2018", "gigadb_snr_pairs", "mitosis_timelapse"]


def test_registry_entries_are_pinned():
    for name in data.list_datasets():
        info = data.dataset_info(name)
        assert info.files and info.title and info.license and info.citation
        for entry in info.files:
            assert re.fullmatch(r"[0-9a-f]{64}", entry.sha256)
            assert re.match(r"https://raw\.githubusercontent\.com/[^/]+/[^/]+/[0-9a-f]{40}/", entry.url), entry.url
            assert entry.url.endswith(entry.relpath)
    assert len(data.dataset_info("dsb2018").files) == 66  # 65 images + solution CSV
    assert len(data.dataset_info("gigadb_snr_pairs").files) == 18


def test_unknown_dataset_lists_known_names():
    with pytest.raises(KeyError) as info:
        data.fetch("dsb2019", "x.png")
    message = str(info.value)
    assert "dsb2019" in message and "dsb2018" in message and "bbbc022" in message
    with pytest.raises(data.UnknownDatasetError, match="has no file"):
        data.fetch("dsb2018", "no/such/file.png")


def test_fetch_file_needs_a_checksum_for_unregistered_urls():
    with pytest.raises(ValueError, match="sha256"):
        data.fetch_file("https://example.org/some.tif")


def test_dsb_table_split_sizes_and_rule():
    table = data.dsb2018_table()
    assert len(table) == 65 and table["image_id"].is_unique
    counts = table.groupby(["modality", "split"]).size().to_dict()
    assert counts == {
        ("fluorescence", "train"): 32,
        ("fluorescence", "val"): 11,
        ("fluorescence", "test"): 10,
        ("brightfield", "train"): 7,
        ("brightfield", "val"): 2,
        ("brightfield", "test"): 3,
    }
    # the committed split is exactly the documented hash rule
    by_modality = table.groupby("modality")["image_id"].apply(list).to_dict()
    assert data._dsb_split_rule(by_modality) == dict(zip(table["image_id"], table["split"]))
    # stable: a few hard-coded assignments
    split = dict(zip(table["image_id"].str[:12], table["split"]))
    assert split["0114f484a16c"] == "val"
    assert split["0a849e0eb15f"] == "test"
    assert split["0999dab07b11"] == "train"
    assert split["1d9eacb3161f"] == "val"  # brightfield
    assert split["17b9bf4356db"] == "test"  # brightfield


def test_rle_decode_is_column_major_and_one_based():
    mask = data.rle_decode("2 2 6 1", (3, 2))
    # pixels 2, 3 (column 0, rows 1-2) and 6 (column 1, row 2)
    np.testing.assert_array_equal(mask, [[False, False], [True, False], [True, True]])
    assert data.rle_encode(mask) == "2 2 6 1"
    assert data.rle_encode(np.zeros((4, 4), bool)) == ""
    with pytest.raises(ValueError, match="pairs"):
        data.rle_decode("1 2 3", (3, 3))
    with pytest.raises(ValueError, match="does not fit"):
        data.rle_decode("8 5", (3, 3))


def test_rle_round_trip_random_masks():
    rng = np.random.default_rng(0)
    for shape in [(1, 1), (5, 7), (64, 33)]:
        for density in (0.0, 0.2, 0.8, 1.0):
            mask = rng.random(shape) < density
            np.testing.assert_array_equal(data.rle_decode(data.rle_encode(mask), shape), mask)


def test_rle_to_labels_numbers_objects_in_order():
    labels = data.rle_to_labels(["1 2", "5 1"], (2, 3))
    np.testing.assert_array_equal(labels, [[1, 0, 2], [1, 0, 0]])
    assert labels.dtype == np.int32


def test_modality_rule():
    dark = np.zeros((8, 8, 4), np.uint8)
    dark[2:4, 2:4, :3] = 200
    assert data.modality_of(dark) == "fluorescence"
    assert data.modality_of(255 - dark[..., :3]) == "brightfield"  # grey, bright background
    colour = dark[..., :3].copy()
    colour[..., 0] = 5
    assert data.modality_of(colour) == "brightfield"


def test_progress_setting(monkeypatch):
    monkeypatch.delenv(data.PROGRESS_ENV, raising=False)
    assert data._progress_disabled(None) is None  # tqdm decides: terminal only
    assert data._progress_disabled(True) is False
    monkeypatch.setenv(data.PROGRESS_ENV, "0")
    assert data._progress_disabled(None) is True


# ---------------------------------------------------------------------------
# Real data from the mirror
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dsb_all(real_data):
    return data.load_dsb2018("all")


def test_registry_matches_mirror_manifest(data_mirror):
    manifest = data_mirror / "MANIFEST.tsv"
    if not manifest.is_file():
        pytest.skip("mirror has no MANIFEST.tsv")
    with open(manifest, newline="") as fh:
        mirror_rows = {(r["url"], r["sha256"], int(r["bytes"])) for r in csv.DictReader(fh, delimiter="\t")}
    ours = {(e.url, e.sha256, e.size) for n in data.list_datasets() for e in data.dataset_info(n).files}
    assert ours <= mirror_rows


def test_every_file_verifies(real_data):
    for name in data.list_datasets():
        paths = data.fetch_dataset(name, progress=False)
        assert len(paths) == len(data.dataset_info(name).files)
        assert all(p.is_file() for p in paths.values())


def test_dsb_counts(dsb_all):
    assert len(dsb_all) == 65
    by_modality = {"fluorescence": [], "brightfield": []}
    for s in dsb_all:
        by_modality[s.modality].append(s)
    assert len(by_modality["fluorescence"]) == 53
    assert len(by_modality["brightfield"]) == 12
    assert sum(s.n_nuclei for s in by_modality["fluorescence"]) == 3083
    assert sum(s.n_nuclei for s in by_modality["brightfield"]) == 1069
    # every label is a distinct CSV row (no overlaps, no empty masks)
    for s in dsb_all:
        assert np.array_equal(np.unique(s.labels), np.arange(s.n_nuclei + 1))


def test_dsb_arrays_and_table_agree_with_images(dsb_all):
    table = data.dsb2018_table().set_index("image_id")
    for s in dsb_all:
        row = table.loc[s.image_id]
        assert s.modality == row["modality"] == data.modality_of(s.image)
        assert s.split == row["split"]
        assert s.labels.shape == (row["height"], row["width"]) and s.labels.dtype == np.int32
        assert s.n_nuclei == row["n_nuclei"]
        assert s.image.dtype == np.float32 and 0 <= s.image.min() and s.image.max() <= 1
        expected_ndim = 2 if s.modality == "fluorescence" else 3
        assert s.image.ndim == expected_ndim and s.image.shape[:2] == s.labels.shape
    assert "nuclei" in repr(dsb_all[0])


def test_dsb_subsets_and_splits(dsb_all):
    fluo = data.load_dsb2018()  # default subset
    assert len(fluo) == 53 and {s.modality for s in fluo} == {"fluorescence"}
    parts = {sp: data.load_dsb2018("fluorescence", split=sp) for sp in ("train", "val", "test")}
    assert {k: len(v) for k, v in parts.items()} == {"train": 32, "val": 11, "test": 10}
    ids = [set(s.image_id for s in v) for v in parts.values()]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert set().union(*ids) == {s.image_id for s in fluo}
    assert len(data.load_dsb2018("brightfield")) == 12
    with pytest.raises(ValueError, match="subset"):
        data.load_dsb2018("phase")
    with pytest.raises(ValueError, match="split"):
        data.load_dsb2018(split="validation")


def test_dsb_masks_are_cached_but_copied(dsb_all):
    first = data.load_dsb2018("fluorescence", split="test")
    first[0].labels[:] = 0
    again = data.load_dsb2018("fluorescence", split="test")
    assert again[0].n_nuclei > 0


def test_rle_round_trip_on_real_solution(real_data):
    csv_path = data.fetch("dsb2018", "stage1_solution.csv")
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4152 and {r["Usage"] for r in rows} == {"Public"}
    for row in rows[::20]:
        shape = (int(row["Height"]), int(row["Width"]))
        assert data.rle_encode(data.rle_decode(row["EncodedPixels"], shape)) == row["EncodedPixels"]


def test_gigadb_pairs(real_data):
    pairs = data.load_gigadb_pairs()
    names = [name for name, _, _ in pairs]
    assert names == [
        "actin-20x-noise1",
        "actin-60x-noise1",
        "membrane",
        "mito-20x-noise1",
        "mito-60x-noise1",
        "mito-60x-noise2",
        "mito-confocal",
        "nucleus",
    ]
    from skimage.measure import block_reduce

    for name, low, high in pairs:
        assert low.dtype == high.dtype == np.uint8 and low.shape == high.shape
        assert low.shape[0] in (512, 1024, 2048)
        # same field: block averages (256 x 256) of the two images correlate
        f = low.shape[0] // 256
        r = np.corrcoef(block_reduce(low, (f, f), np.mean).ravel(), block_reduce(high, (f, f), np.mean).ravel())[0, 1]
        assert r > 0.8, name


def test_gigadb_palette_indices_are_intensities(real_data):
    from PIL import Image

    for path in data.fetch_dataset("gigadb_snr_pairs", progress=False).values():
        with Image.open(path) as im:
            assert im.mode == "P"
            indices = np.asarray(im)
            rendered = np.asarray(im.convert("RGB")).max(axis=2)  # what a viewer shows
        np.testing.assert_array_equal(indices, rendered)
        np.testing.assert_array_equal(data._palette_png_intensities(path), indices)


def test_timelapse_and_bbbc022(real_data):
    movie = data.load_mitosis_timelapse()
    assert movie.shape == (48, 130, 130) and movie.dtype == np.uint16
    image, channels = data.load_bbbc022()
    assert image.shape == (3, 395, 695) and image.dtype == np.uint16
    assert channels == data.BBBC022_CHANNELS and "Hoechst" in channels[0]
    assert image.max() <= 4095


# ---------------------------------------------------------------------------
# Failure modes
# ---------------------------------------------------------------------------


def _bbbc022_entry() -> data.RegistryEntry:
    return data._dataset_files("bbbc022")[BBBC022_REL]


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    """No mirror, an empty cache, and a download function that records its calls."""
    monkeypatch.delenv(data.MIRROR_ENV, raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setenv(data.CACHE_ENV, str(cache))
    return cache


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_corrupted_mirror_file_raises_integrity_error(data_mirror, tmp_path, monkeypatch):
    entry = _bbbc022_entry()
    mirror = tmp_path / "mirror"
    copy = mirror / data._url_to_relpath(entry.url)
    copy.parent.mkdir(parents=True)
    original = (data_mirror / data._url_to_relpath(entry.url)).read_bytes()
    copy.write_bytes(original[:-10] + b"0123456789")
    monkeypatch.setenv(data.MIRROR_ENV, str(mirror))
    with pytest.raises(data.DataIntegrityError) as info:
        data.fetch("bbbc022", BBBC022_REL)
    message = str(info.value)
    actual = hashlib.sha256(copy.read_bytes()).hexdigest()
    assert str(copy) in message and entry.sha256 in message and actual in message
    assert copy.exists()  # the mirror is never modified


def test_missing_mirror_file_names_expected_path(tmp_path, monkeypatch):
    monkeypatch.setenv(data.MIRROR_ENV, str(tmp_path))
    with pytest.raises(data.DataUnavailableError) as info:
        data.fetch("bbbc022", BBBC022_REL)
    expected = tmp_path / "raw.githubusercontent.com" / "haesleinhuepf"
    assert str(expected) in str(info.value) and data.MIRROR_ENV in str(info.value)


def test_no_network_no_mirror(offline_cache, monkeypatch):
    def no_network(url, destination):
        raise ConnectionError("network is unreachable")

    monkeypatch.setattr(data, "_download", no_network)
    with pytest.raises(data.DataUnavailableError) as info:
        data.fetch("bbbc022", BBBC022_REL)
    assert _bbbc022_entry().url in str(info.value) and data.MIRROR_ENV in str(info.value)
    assert _leftovers(offline_cache) == []


def test_refused_connection_through_pooch(offline_cache):
    # a real pooch download from a closed port on this machine
    with pytest.raises(data.DataUnavailableError, match=data.MIRROR_ENV):
        data.fetch_file("http://127.0.0.1:9/nothing.tif", sha256="0" * 64)
    assert _leftovers(offline_cache) == []


@pytest.fixture
def local_server(data_mirror):
    """An HTTP server on 127.0.0.1 serving the mirror (stopped after the test)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(data_mirror))
    handler.log_message = lambda *args, **kwargs: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_download_with_pooch_and_reuse_cache(offline_cache, local_server, monkeypatch):
    real_download = data._download
    calls = []

    def via_local_server(url, destination):
        calls.append(url)
        real_download(url.replace("https://", local_server), destination)

    monkeypatch.setattr(data, "_download", via_local_server)
    path = data.fetch("bbbc022", BBBC022_REL)
    entry = _bbbc022_entry()
    assert path == offline_cache / data._url_to_relpath(entry.url)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256
    assert data.fetch("bbbc022", BBBC022_REL) == path and len(calls) == 1  # cached
    assert _leftovers(offline_cache) == [path]

    # a corrupted cached copy is deleted and fetched again
    path.write_bytes(b"garbage")
    assert data.fetch("bbbc022", BBBC022_REL) == path and len(calls) == 2
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256


def test_bad_download_is_retried_once_then_fails(offline_cache, monkeypatch):
    calls = []

    def corrupted(url, destination):
        calls.append(url)
        Path(destination).write_bytes(b"not the real file")

    monkeypatch.setattr(data, "_download", corrupted)
    entry = _bbbc022_entry()
    with pytest.raises(data.DataIntegrityError) as info:
        data.fetch("bbbc022", BBBC022_REL)
    actual = hashlib.sha256(b"not the real file").hexdigest()
    message = str(info.value)
    assert entry.url in message and entry.sha256 in message and actual in message
    assert len(calls) == 2
    assert _leftovers(offline_cache) == []  # nothing half-written or corrupted kept


def test_interrupted_download_leaves_nothing(offline_cache, monkeypatch):
    def interrupted(url, destination):
        Path(destination).write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(data, "_download", interrupted)
    with pytest.raises(KeyboardInterrupt):
        data.fetch("bbbc022", BBBC022_REL)
    assert _leftovers(offline_cache) == []
