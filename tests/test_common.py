"""Shared basics: one normaliser, one seeding function, one way to keep outputs quiet, one environment record."""

import subprocess
import sys

import numpy as np
import pytest

from bioimaging_guide.common import environment_summary, normalize_percentile, quiet, seed_everything


def test_normalize_percentile_maps_percentiles_to_0_and_1():
    x = np.linspace(0, 1000, 10000).reshape(100, 100)
    n = normalize_percentile(x)
    assert n.dtype == np.float32
    assert abs(np.percentile(n, 1)) < 1e-6 and abs(np.percentile(n, 99.8) - 1) < 1e-5
    assert n.min() < 0 and n.max() > 1  # not clipped
    assert normalize_percentile(np.arange(101), 0, 100, dtype=np.float64)[[0, -1]].tolist() == [0.0, 1.0]


def test_normalize_percentile_reference_prevents_leakage():
    x = np.arange(101, dtype=float)
    y = normalize_percentile(x, 0, 100, reference=x[:51])  # e.g. the training half only
    assert y[50] == pytest.approx(1.0) and y[100] == pytest.approx(2.0)


def test_normalize_percentile_per_channel():
    x = np.linspace(0, 1000, 10000).reshape(100, 100)
    rgb = np.stack([x, 2 * x, x + 5], axis=-1)
    per_channel = normalize_percentile(rgb, channel_axis=-1)
    assert np.allclose(per_channel[..., 0], per_channel[..., 1], atol=1e-5)
    assert np.allclose(per_channel[..., 0], per_channel[..., 2], atol=1e-5)
    together = normalize_percentile(rgb)
    assert not np.allclose(together[..., 0], together[..., 1], atol=1e-3)


def test_normalize_percentile_constant_and_bad_input():
    assert np.all(normalize_percentile(np.full((8, 8), 7.0)) == 0)
    with pytest.raises(ValueError, match="empty"):
        normalize_percentile(np.zeros((0, 4)))
    with pytest.raises(ValueError, match="convert it to numbers"):
        normalize_percentile(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="floating-point"):
        normalize_percentile(np.ones((4, 4)), dtype=np.uint8)


def test_seed_everything_repeats_random_numbers_and_frameworks():
    import torch

    seed_everything(5, frameworks=("torch",))
    a = (np.random.rand(3), torch.rand(3))
    seed_everything(5, frameworks=("torch",))
    b = (np.random.rand(3), torch.rand(3))
    assert np.array_equal(a[0], b[0]) and torch.equal(a[1], b[1])
    with pytest.raises(ValueError, match="cannot seed"):
        seed_everything(0, frameworks=("jax",))


def test_seed_everything_does_not_import_tensorflow_unless_asked():
    code = (
        "import sys, torch; from bioimaging_guide.common import seed_everything; seed_everything(0); "
        "assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_quiet_silences_python_and_process_level_output(capfd):
    import os

    with quiet():
        print("python-level chatter")
        sys.stderr.write("a warning\n")
        os.write(2, b"C++ start-up line\n")
    with quiet(enabled=False):
        print("kept")
    out, err = capfd.readouterr()
    assert out == "kept\n" and "chatter" not in err and "C++" not in err and "warning" not in err


def test_environment_summary():
    env = environment_summary()
    assert {"python", "platform", "cpu_count", "numpy"} <= set(env)


def test_library_noise_is_kept_out_of_outputs():
    """TensorFlow's C++ log lines and Cellpose's torch warning never reach a notebook or the terminal."""
    code = (
        "import os, warnings\n"
        "os.environ.pop('TF_CPP_MIN_LOG_LEVEL', None)\n"
        "import bioimaging_guide.segmentation_models\n"
        "print(os.environ['TF_CPP_MIN_LOG_LEVEL'])\n"
        "warnings.warn('Sparse invariant checks are implicitly disabled. Memory errors ...', UserWarning)\n"
        "warnings.warn('another warning', UserWarning)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "3"
    assert "Sparse invariant" not in res.stderr and "another warning" in res.stderr


def test_atomic_folder_moves_into_place_only_on_success(tmp_path):
    from bioimaging_guide.common import atomic_folder

    target = tmp_path / "model"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_folder(target) as work:
        work.mkdir()
        (work / "new.txt").write_text("half")
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"] and (target / "old.txt").exists()
    with atomic_folder(target) as work:
        work.mkdir()
        (work / "new.txt").write_text("done")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_write_atomic_leaves_nothing_half_written(tmp_path):
    from bioimaging_guide.common import write_atomic

    target = tmp_path / "table.csv"
    target.write_text("previous")

    def fail(path):
        open(path, "w").write("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_atomic(target, fail)
    assert target.read_text() == "previous" and [p.name for p in tmp_path.iterdir()] == ["table.csv"]
    write_atomic(target, lambda path: open(path, "w").write("new"))
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_write_atomic_gives_the_usual_permissions(tmp_path):
    import os
    import stat

    from bioimaging_guide.common import write_atomic

    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "a.csv", lambda path: open(path, "w").write("x"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.csv").stat().st_mode) == 0o644  # not the temporary file's 0o600
