"""Shared pytest setup.

Tests that need the book's real data read it from a local mirror of the
download URLs when one is available (no network needed): if the environment
variable BIOIMAGING_GUIDE_MIRROR is unset and ``../shared/data`` (next to the
repository) exists, the variable is pointed there. Otherwise such tests are
skipped, see the ``data_mirror`` fixture.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
_MIRROR_ENV = "BIOIMAGING_GUIDE_MIRROR"
_default_mirror = REPO_ROOT.parent / "shared" / "data"
if not os.environ.get(_MIRROR_ENV) and _default_mirror.is_dir():
    os.environ[_MIRROR_ENV] = str(_default_mirror)


@pytest.fixture(scope="session")
def data_mirror() -> Path:
    """The data mirror folder; skips the test when there is none."""
    value = os.environ.get(_MIRROR_ENV)
    if not value:
        pytest.skip(f"no local data mirror ({_MIRROR_ENV} unset and ../shared/data missing)")
    if not Path(value).is_dir():
        pytest.skip(f"no local data mirror ({_MIRROR_ENV}={value!r} is not a folder)")
    return Path(value)


@pytest.fixture(scope="session")
def real_data() -> None:
    """The book's real data can be loaded: from the mirror, or downloaded from the pinned URLs.

    On a machine with neither (no mirror, no network) tests that need the
    data are skipped with the reason; everywhere else they run.
    """
    from bioimaging_guide import data

    try:
        data.fetch("dsb2018", "stage1_solution.csv")
    except data.DataUnavailableError as err:
        pytest.skip(f"real data unavailable (no mirror, no network): {err}")
