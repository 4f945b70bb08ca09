"""Numbers that a chapter quotes, published by the notebook that computes them.

A chapter never retypes a result. The notebook collects the values the chapter
quotes and publishes them in its last cell::

    values = BookValues("06-image-restoration.ipynb")   # this notebook's file name
    values.add("care_psnr", care.psnr.mean(), tol=0.05)     # absolute tolerance
    values.add("n_nuclei", n, rtol=0.05)                    # relative tolerance
    values.add_duration("training_minutes", minutes)        # wall-clock time: shown, never compared
    values.publish()

``publish`` shows a small table and stores the values in the cell's output
under the MIME type :data:`MIME`, so they are saved in the committed notebook.
The chapter prints one with the book extension's shortcode, rounded as the
author asks::

    CARE reached {{< value care_psnr digits=1 >}} dB.

(The value is found by its name in whichever notebook publishes it; a name
that several notebooks publish needs ``nb=<notebook file stem>``.)

Under the test suite (environment variable :data:`CHECK_ENV` set, as
``notebooks/conftest.py`` does for nbval), ``publish`` compares the new values
with those stored in the committed notebook file and fails if one moved beyond
its tolerance or disappeared. Durations (:meth:`BookValues.add_duration`) are
only required to be present: wall-clock time depends on the machine and its
load, and the book quotes it as "on our 2-core run", not as a result that a
re-run must reproduce. Elsewhere (a reader's session, an author
re-executing the notebook to update it) it only shows and stores them; the
book quotes the committed run, made with the pinned versions of
``requirements.txt``.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
from pathlib import Path

__all__ = ["CHECK_ENV", "MIME", "BookValues", "stored_values"]

#: MIME type of the published values in a notebook's outputs.
MIME = "application/vnd.bioimaging-guide.values+json"
#: Environment variable that turns moved values into errors (set for nbval).
CHECK_ENV = "BIOIMAGING_GUIDE_CHECK_VALUES"

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def stored_values(notebook: str | os.PathLike) -> dict[str, dict]:
    """The values a notebook file published (``{name: {"value": v, "tol": t}}``); empty if none.

    Raises ``ValueError`` if the notebook published values in more than one cell.
    """
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    found = []
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) or []:
            data = output.get("data", {})
            if MIME in data:
                found.append(data[MIME])
    if len(found) > 1:
        raise ValueError(f"{notebook}: values are published in {len(found)} cells; publish them once, at the end")
    return dict(found[0]["values"]) if found else {}


class BookValues:
    """The numbers a chapter quotes from this notebook (see the module documentation)."""

    def __init__(self, notebook: str | os.PathLike):
        #: This notebook's file; relative paths are taken from the kernel's working directory (the notebook's
        #: folder under Jupyter and nbval). It need not exist (a reader's Colab session has no copy of it).
        self.notebook = Path(notebook)
        if self.notebook.suffix != ".ipynb":
            raise ValueError(f"BookValues needs the notebook's own file name (…/name.ipynb), got {str(notebook)!r}")
        self._values: dict[str, dict] = {}

    def __len__(self) -> int:
        return len(self._values)

    def __getitem__(self, name: str) -> float:
        return self._values[name]["value"]

    def add(self, name: str, value, *, tol: float | None = None, rtol: float | None = None) -> None:
        """Record ``value`` under ``name``; give the absolute (``tol``) or relative (``rtol``) tolerance.

        The tolerance says how far a re-run may move the value before the
        chapter's text (which quotes it) must be re-read.
        """
        if (tol is None) == (rtol is None):
            raise ValueError(f"value {name!r}: give exactly one of tol= (absolute) or rtol= (relative)")
        value = self._checked(name, value)
        bound = tol if tol is not None else rtol
        if not (isinstance(bound, numbers.Real) and bound >= 0):
            raise ValueError(f"value {name!r}: the tolerance must be a number >= 0, got {bound!r}")
        self._values[name] = {"value": value, "tol" if tol is not None else "rtol": float(bound)}

    def _checked(self, name: str, value) -> int | float:
        """``value`` as a Python number, after the checks that every quoted number must pass."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"value name {name!r}: use letters, digits and underscores, starting with a letter")
        if name in self._values:
            raise ValueError(f"value {name!r} was already added; each quoted number has one name")
        if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
            value = value.item()  # NumPy scalar -> Python number
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"value {name!r} must be a real number, got {type(value).__name__}")
        value = int(value) if isinstance(value, numbers.Integral) else float(value)
        if not math.isfinite(value):
            raise ValueError(f"value {name!r} is {value}; only finite numbers can be quoted")
        return value

    def add_duration(self, name: str, value) -> None:
        """Record a wall-clock time (seconds or minutes, as the name says): published, never compared.

        Timings change with the machine and its load (a test run on a busy CI runner took twice as long as the
        committed run), so a re-run only has to publish the value again, not reproduce it.
        """
        value = self._checked(name, value)
        if value < 0:
            raise ValueError(f"duration {name!r} must be a time >= 0, got {value!r}")
        self._values[name] = {"value": value, "duration": True}

    def allowed(self, name: str, old: float) -> float:
        """How far the value ``name`` may be from ``old``."""
        entry = self._values[name]
        if entry.get("duration"):
            return math.inf
        return entry["tol"] if "tol" in entry else entry["rtol"] * abs(old)

    def differences(self, stored: dict[str, dict]) -> list[str]:
        """One line per stored value that is missing now or moved beyond its tolerance."""
        problems = []
        for name, old in sorted(stored.items()):
            if name not in self._values:
                problems.append(f"{name}: published before ({old['value']}) but not now")
                continue
            new = self._values[name]["value"]
            if abs(new - old["value"]) > self.allowed(name, old["value"]) + 1e-12 * max(1.0, abs(old["value"])):
                problems.append(
                    f"{name}: {old['value']:.6g} -> {new:.6g} (tolerance {self.allowed(name, old['value']):.3g})"
                )
        return problems

    def publish(self):
        """Show the values, store them in this cell's output, and compare them with the committed notebook."""
        from IPython.display import display

        if not self._values:
            raise ValueError("no values to publish: add the numbers the chapter quotes with values.add(...)")
        if os.environ.get(CHECK_ENV) and self.notebook.exists():
            problems = self.differences(stored_values(self.notebook))
            if problems:
                raise AssertionError(
                    f"{len(problems)} number(s) quoted in the chapter moved beyond their tolerance compared with the "
                    f"committed {self.notebook.name}:\n  "
                    + "\n  ".join(problems)
                    + "\nRead the chapter text that quotes them; if the change is intended, re-execute the notebook "
                    "(jupyter nbconvert --execute --inplace) and commit it."
                )
        width = max(len(n) for n in self._values)
        lines = [f"{len(self._values)} values quoted in the chapter:"]
        for name, entry in self._values.items():
            if entry.get("duration"):
                bound = "wall-clock time, not compared"
            else:
                bound = f"± {entry['tol']:g}" if "tol" in entry else f"± {entry['rtol']:.0%}"
            lines.append(f"  {name:<{width}}  {entry['value']:.6g}  ({bound})")
        display({MIME: {"values": self._values}, "text/plain": "\n".join(lines)}, raw=True)
