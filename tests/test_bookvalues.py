"""Tests for bioimaging_guide.bookvalues: the numbers a notebook publishes for its chapter."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from bioimaging_guide.bookvalues import CHECK_ENV, MIME, BookValues, stored_values


def published(values: BookValues, monkeypatch) -> dict:
    """Run publish() and return what it displayed (the bundle that goes into the notebook's output)."""
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append(obj))
    values.publish()
    assert len(shown) == 1
    return shown[0]


def notebook_with(bundle: dict | None) -> dict:
    outputs = [] if bundle is None else [{"output_type": "display_data", "data": bundle, "metadata": {}}]
    cells = [{"cell_type": "code", "source": "values.publish()", "outputs": outputs, "metadata": {}}]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_add_converts_numpy_scalars_and_keeps_integers():
    values = BookValues("demo.ipynb")
    values.add("psnr", np.float32(30.25), tol=0.05)
    values.add("n_nuclei", np.int64(635), tol=0)
    assert values["psnr"] == pytest.approx(30.25) and isinstance(values["psnr"], float)
    assert values["n_nuclei"] == 635 and isinstance(values["n_nuclei"], int)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"name": "psnr", "value": 1.0}, ValueError, "exactly one of tol"),
        ({"name": "psnr", "value": 1.0, "tol": 0.1, "rtol": 0.1}, ValueError, "exactly one of tol"),
        ({"name": "psnr", "value": 1.0, "tol": -1}, ValueError, "must be a number >= 0"),
        ({"name": "2psnr", "value": 1.0, "tol": 0.1}, ValueError, "letters, digits and underscores"),
        ({"name": "psnr-care", "value": 1.0, "tol": 0.1}, ValueError, "letters, digits and underscores"),
        ({"name": "psnr", "value": float("nan"), "tol": 0.1}, ValueError, "only finite numbers"),
        ({"name": "psnr", "value": "30.2", "tol": 0.1}, TypeError, "must be a real number"),
        ({"name": "psnr", "value": True, "tol": 0.1}, TypeError, "must be a real number"),
        ({"name": "psnr", "value": np.zeros(3), "tol": 0.1}, TypeError, "must be a real number"),
    ],
)
def test_bad_values_are_refused(kwargs, error, match):
    values = BookValues("demo.ipynb")
    name, value = kwargs.pop("name"), kwargs.pop("value")
    with pytest.raises(error, match=match):
        values.add(name, value, **kwargs)


def test_a_name_is_used_once_and_the_notebook_name_is_required():
    values = BookValues("demo.ipynb")
    values.add("psnr", 1.0, tol=0.1)
    with pytest.raises(ValueError, match="already added"):
        values.add("psnr", 2.0, tol=0.1)
    with pytest.raises(ValueError, match="notebook's own file name"):
        BookValues("demo")
    with pytest.raises(ValueError, match="no values to publish"):
        BookValues("demo.ipynb").publish()


def test_publish_stores_the_values_under_the_mime_type(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(CHECK_ENV, raising=False)
    values = BookValues("demo.ipynb")
    values.add("psnr", 30.2034, tol=0.05)
    values.add("minutes", 12.4, rtol=1.0)
    bundle = published(values, monkeypatch)
    assert bundle[MIME] == {
        "values": {"psnr": {"value": 30.2034, "tol": 0.05}, "minutes": {"value": 12.4, "rtol": 1.0}}
    }
    assert "psnr" in bundle["text/plain"] and "30.2034" in bundle["text/plain"]
    # what a notebook file stores is what stored_values reads back (the MIME bundle survives a JSON round trip)
    path = tmp_path / "demo.ipynb"
    path.write_text(json.dumps(notebook_with(json.loads(json.dumps(bundle)))))
    assert stored_values(path) == bundle[MIME]["values"]


def test_stored_values_of_a_notebook_without_values_and_with_two_cells(tmp_path):
    path = tmp_path / "a.ipynb"
    path.write_text(json.dumps(notebook_with(None)))
    assert stored_values(path) == {}
    nb = notebook_with({MIME: {"values": {}}})
    nb["cells"].append(nb["cells"][0])
    path.write_text(json.dumps(nb))
    with pytest.raises(ValueError, match="in 2 cells"):
        stored_values(path)


def committed(tmp_path, values: dict) -> None:
    (tmp_path / "demo.ipynb").write_text(json.dumps(notebook_with({MIME: {"values": values}, "text/plain": ""})))


def test_under_the_test_suite_a_moved_value_fails(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(CHECK_ENV, "1")
    committed(tmp_path, {"psnr": {"value": 30.20, "tol": 0.05}, "minutes": {"value": 12.0, "rtol": 0.5}})

    ok = BookValues("demo.ipynb")
    ok.add("psnr", 30.24, tol=0.05)  # within 0.05
    ok.add("minutes", 17.9, rtol=0.5)  # within 50 % of 12
    ok.add("new_value", 3.0, tol=0)  # not in the committed run yet: fine
    published(ok, monkeypatch)

    moved = BookValues("demo.ipynb")
    moved.add("psnr", 30.26, tol=0.05)
    moved.add("minutes", 12.0, rtol=0.5)
    with pytest.raises(AssertionError, match=r"psnr: 30.2 -> 30.26 \(tolerance 0.05\)"):
        published(moved, monkeypatch)

    gone = BookValues("demo.ipynb")
    gone.add("psnr", 30.2, tol=0.05)
    with pytest.raises(AssertionError, match="minutes: published before"):
        published(gone, monkeypatch)


def test_outside_the_test_suite_values_are_only_shown(tmp_path, monkeypatch):
    """A reader's run (other package versions) and an author's re-execution never fail on moved values."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(CHECK_ENV, raising=False)
    committed(tmp_path, {"psnr": {"value": 30.20, "tol": 0.05}})
    values = BookValues("demo.ipynb")
    values.add("psnr", 31.0, tol=0.05)
    assert published(values, monkeypatch)[MIME]["values"]["psnr"]["value"] == 31.0


def test_every_notebook_publishes_its_values_once():
    """Each chapter notebook that the chapters quote publishes its values in one cell, under its own file name."""
    root = Path(__file__).resolve().parents[1]
    quoted = {}
    for qmd in sorted((root / "chapters").glob("*.qmd")):
        text = qmd.read_text(encoding="utf-8")
        for nb in set(re.findall(r"\{\{<\s*value\s+[^>]*?nb=([\w-]+)", text)):
            quoted[nb] = qmd
        if re.search(r"\{\{<\s*value\s+(?![^>]*nb=)", text):
            quoted.setdefault(qmd.stem, qmd)
    assert quoted, "no chapter quotes a value"
    for stem in quoted:
        path = root / "notebooks" / f"{stem}.ipynb"
        values = stored_values(path)
        assert values, f"{path.name} publishes no values but {quoted[stem].name} quotes them"
        source = json.loads(path.read_text())["cells"]
        assert any(f'BookValues("{stem}.ipynb")' in "".join(c["source"]) for c in source), path.name


def test_durations_are_published_but_never_compared(tmp_path, monkeypatch):
    """Wall-clock times depend on the machine's load: a re-run must publish them again, not reproduce them."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(CHECK_ENV, "1")
    committed(tmp_path, {"train_seconds": {"value": 68.6, "duration": True}, "psnr": {"value": 30.2, "tol": 0.05}})

    slower = BookValues("demo.ipynb")
    slower.add_duration("train_seconds", np.float64(158.3))  # the CI run that took 2.3 times as long
    slower.add("psnr", 30.2, tol=0.05)
    bundle = published(slower, monkeypatch)
    assert bundle[MIME]["values"]["train_seconds"] == {"value": 158.3, "duration": True}
    assert "not compared" in bundle["text/plain"]

    gone = BookValues("demo.ipynb")
    gone.add("psnr", 30.2, tol=0.05)
    with pytest.raises(AssertionError, match="train_seconds: published before"):
        published(gone, monkeypatch)

    values = BookValues("demo.ipynb")
    with pytest.raises(ValueError, match="must be a time >= 0"):
        values.add_duration("train_seconds", -1.0)
    assert len(values) == 0
    with pytest.raises(TypeError, match="must be a real number"):
        values.add_duration("train_seconds", "68 s")
