"""The GitHub workflows validate against GitHub's workflow schema (offline, vendored)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def validate(path: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    return subprocess.run(
        [exe, "--builtin-schema", "vendor.github-workflows", str(path)], capture_output=True, text=True
    )


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_github_schema(path):
    res = validate(path)
    assert res.returncode == 0, res.stdout + res.stderr


def test_validator_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    stepz:\n      - run: echo\n")
    assert validate(broken).returncode != 0


def test_book_workflow_does_what_the_readme_says():
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    triggers = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads `on:` as True
    assert {"push", "pull_request", "workflow_dispatch", "schedule"} <= set(triggers)

    def steps(job):
        return " ".join(str(s.get("run", "")) + str(s.get("uses", "")) for s in wf["jobs"][job]["steps"])

    assert "make test" in steps("test")
    render = steps("render")
    for needed in (
        "quarto-actions/setup",
        "make book",
        "a11y-check",
        "lychee",
        "upload-artifact",
        "upload-pages-artifact",
    ):
        assert needed in render, needed
    assert "refs/heads/main" in wf["jobs"]["deploy"]["if"] and "deploy-pages" in steps("deploy")
