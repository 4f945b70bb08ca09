"""requirements.txt and environment.yml pin the same, tested versions, and the venv has them."""

import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lines) -> dict[str, str]:
    out = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith(("#", "-")):
            continue
        name, sep, ver = line.partition("==")
        assert sep, f"not an exact pin: {line!r}"
        out[norm(name)] = ver
    return out


def requirements() -> dict[str, str]:
    return pins((ROOT / "requirements.txt").read_text().splitlines())


def test_requirements_pin_the_proven_stack():
    req = requirements()
    expected = {
        "torch": "2.13.0",
        "cellpose": "3.1.1.3",
        "tensorflow-cpu": "2.21.0",
        "stardist": "0.9.2",
        "csbdeep": "0.8.2",
    }
    for name, ver in expected.items():
        assert req.get(name) == ver, (name, req.get(name))
    for name in (
        "tensorboard",
        "bm3d",
        "nbval",
        "pytest",
        "pypandoc-binary",
        "pooch",
        "check-jsonschema",
        "bioimageio-spec",  # bioimaging-guide export (bioimaging_guide.modelzoo)
    ):
        assert name in req, name
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    first = next(line for line in lines if line and not line.startswith("#"))
    assert first.startswith("torch=="), "torch must come first (CPU build, installed before the rest)"


def test_environment_yml_matches_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_list = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pins(pip_list) == requirements()


def test_installed_versions_match_pins():
    wrong = {}
    for name, ver in requirements().items():
        try:
            got = version(name)
        except PackageNotFoundError:
            wrong[name] = "missing"
            continue
        if got.split("+")[0] != ver:
            wrong[name] = got
    assert not wrong, f"installed versions differ from requirements.txt (run scripts/setup-env): {wrong}"
