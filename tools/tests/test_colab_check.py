"""tools/colab_check.py: the pure parts (freeze parsing, recording the cell's commands, pip's
command line, the analysis of pip's reports) and its errors on bad input.

The check itself needs PyPI and a Python of Colab's version; it runs only when asked:
COLAB_FREEZE=path/to/pip-freeze.txt pytest tools/tests/test_colab_check.py
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import colab_check
import repo
from colab_check import Dist, Step

ROOT = Path(__file__).resolve().parents[2]
TORCH_URL = "https://download.pytorch.org/whl/cpu/torch-2.11.0%2Bcpu-cp313-cp313-manylinux_2_28_x86_64.whl"
FREEZE = f"""\
# Do not modify this file directly
#  $ python3 -m pip freeze
absl-py==1.4.0
google-colab @ file:///colabtools/dist/google_colab-1.0.0.tar.gz
jupyter_kernel_gateway @ git+https://github.com/googlecolab/kernel_gateway@b134e9945df25c2dcb98ade9129399be10788671
numpy==2.1.3
PyWavelets==1.9.0
torch @ {TORCH_URL}
-e git+https://github.com/org/tool@abc#egg=tool

tifffile==2026.8.16
"""
COLAB = colab_check.parse_freeze(FREEZE)
ENV = {"python_version": "3.13", "python_full_version": "3.13.0", "sys_platform": "linux", "platform_system": "Linux"}


def test_version_from_url():
    assert colab_check.version_from_url(TORCH_URL) == "2.11.0+cpu"
    assert colab_check.version_from_url("file:///colabtools/dist/google_colab-1.0.0.tar.gz") == "1.0.0"
    assert colab_check.version_from_url("https://x/en_core_web_sm-3.8.0-py3-none-any.whl#sha256=19") == "3.8.0"
    assert colab_check.version_from_url("git+https://github.com/googlecolab/kernel_gateway@b134e99") is None
    assert colab_check.version_from_url("https://x/not-a-version.tar.gz") is None


def test_parse_freeze():
    assert COLAB == {
        "absl-py": "1.4.0",
        "google-colab": "1.0.0",
        "jupyter-kernel-gateway": None,
        "numpy": "2.1.3",
        "pywavelets": "1.9.0",
        "torch": "2.11.0+cpu",
        "tifffile": "2026.8.16",
    }


def test_url_constraints_hold_url_installs_at_their_public_version():
    assert colab_check.url_constraints(FREEZE) == ["google-colab==1.0.0", "torch==2.11.0"]


def test_colab_python_version(tmp_path):
    freeze = tmp_path / "pip-freeze.txt"
    assert colab_check.colab_python_version(freeze) is None
    (tmp_path / "os-info.txt").write_text("# header\nUbuntu 22.04.5 LTS\nPython 3.13.15\nR version 4.6.1\n")
    assert colab_check.colab_python_version(freeze) == "3.13"


def test_recording_a_cell_runs_nothing(tmp_path):
    cell = (
        "import sys, subprocess\n"
        'if "google.colab" in sys.modules:\n'
        '    out = subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True, text=True).stdout\n'
        '    assert out.startswith("# Do not modify")\n'
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "x==1"], check=True)\n'
    )
    assert colab_check.record_pip_commands(cell, FREEZE, tmpdir=tmp_path) == [["install", "-q", "x==1"]]
    assert colab_check.record_pip_commands(cell, FREEZE, on_colab=False, tmpdir=tmp_path) == []
    assert "google.colab" not in sys.modules
    with pytest.raises(ValueError, match="something other than pip"):
        colab_check.record_pip_commands("import subprocess\nsubprocess.run(['ls'])", FREEZE)
    with pytest.raises(ValueError, match="`pip freeze` and `pip install` only"):
        colab_check.record_pip_commands(
            "import subprocess, sys\nsubprocess.run([sys.executable, '-m', 'pip', 'list'])", ""
        )


def test_the_real_cell_is_recorded_with_its_constraints(tmp_path):
    cell = repo.install_cell_source(repo.Repo("https://github.com/o/b"))
    first, last = colab_check.record_pip_commands(cell, FREEZE, tmpdir=tmp_path)
    constraints = Path(first[first.index("-c") + 1])
    assert constraints.read_text().splitlines() == [
        "absl-py==1.4.0",
        "numpy==2.1.3",
        "PyWavelets==1.9.0",
        "tifffile==2026.8.16",
    ]
    assert last[-1] == repo.COLAB_CELLPOSE


def test_platform_tags():
    tags = colab_check.platform_tags("2.35")
    assert tags[0] == "manylinux_2_35_x86_64"
    assert {"manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64", "manylinux_2_5_x86_64"} <= set(tags)
    assert "manylinux_2_36_x86_64" not in tags
    with pytest.raises(ValueError, match="2.17 or newer"):
        colab_check.platform_tags("2.12")


def test_dry_run_command_keeps_the_cells_arguments():
    cmd = colab_check.dry_run_command(
        "py",
        ["install", "-q", "-c", "/t/colab-versions.txt", "a==1", "book @ git+https://x"],
        report="r.json",
        replace={"book @ git+https://x": "book @ file:///local"},
        constraints=["held.txt"],
        platforms=["manylinux_2_35_x86_64"],
    )
    assert cmd[:4] == ["py", "-m", "pip", "install"]
    for option in ("--dry-run", "--ignore-installed", "--only-binary=:all:", "--platform=manylinux_2_35_x86_64"):
        assert option in cmd
    assert cmd[cmd.index("--report") + 1] == "r.json"
    assert cmd[-4:] == ["-c", "/t/colab-versions.txt", "a==1", "book @ file:///local"]
    assert "-q" not in cmd  # so that pip explains a failure
    assert cmd[cmd.index("held.txt") - 1] == "-c"
    with pytest.raises(ValueError):
        colab_check.dry_run_command("py", ["freeze"], report="r", replace={}, constraints=[], platforms=[])


def test_read_report():
    data = {
        "install": [
            {"is_direct": False, "metadata": {"name": "fastremap", "version": "1.21.0", "requires_dist": ["numpy"]}},
            {"is_direct": True, "metadata": {"name": "bioimaging-guide", "version": "0.1.0"}},
        ],
        "environment": ENV,
    }
    dists, env = colab_check.read_report(data)
    assert dists == [Dist("fastremap", "1.21.0", ("numpy",)), Dist("bioimaging-guide", "0.1.0", (), direct=True)]
    assert env == ENV


CELLPOSE = Dist("cellpose", "3.1.1.3", ("numpy<2.1,>=1.20.0", "fastremap", "torch>=1.6", "sphinx; extra == 'docs'"))


def test_analyse_a_clean_install():
    steps = [
        Step(
            ["install", "-c", "c.txt", "fastremap"], [Dist("fastremap", "1.21.0", ("numpy",)), Dist("numpy", "2.1.3")]
        ),
        Step(["install", "--no-deps", "cellpose==3.1.1.3"], [CELLPOSE]),
    ]
    out = colab_check.analyse(COLAB, steps, ENV)
    assert out.ok
    assert [(n, d.name) for n, d in out.added] == [(1, "fastremap"), (2, "cellpose")]
    assert out.kept == {"numpy"}
    # --no-deps: the numpy cap is set aside (not enforced, not reported by pip), the extra is ignored
    assert out.set_aside == ["cellpose 3.1.1.3 requires numpy<2.1,>=1.20.0; Colab has numpy 2.1.3"]
    text = "\n".join(colab_check.format_outcome(out, steps, len(COLAB)))
    assert "adds 1: fastremap 1.21.0" in text and "keeps 1 of Colab's packages" in text
    assert text.splitlines()[-1] == "OK: the cell adds 2 packages and changes none of Colab's 7; no resolver error."


def test_analyse_finds_changes_errors_conflicts_and_missing_requirements():
    steps = [
        Step(["install", "--no-deps", "cellpose==3.1.1.3"], [CELLPOSE]),
        # adding a dependency of cellpose afterwards makes pip check cellpose, and print its numpy conflict
        Step(["install", "fastremap", "tifffile"], [Dist("fastremap", "1.21.0"), Dist("tifffile", "2024.1.1")]),
        Step(
            ["install", "torch==2.11.0", "jupyter-kernel-gateway"],
            [Dist("torch", "2.11.0"), Dist("jupyter-kernel-gateway", "3")],
        ),
        Step(["install", "nothing-fits"], error="ERROR: ResolutionImpossible"),
        Step(["install", "--no-deps", "needy"], [Dist("needy", "1", ("not-anywhere>=2", "numpy"))]),
    ]
    out = colab_check.analyse(COLAB, steps, ENV)
    assert not out.ok
    assert out.changed == [
        "tifffile: Colab has 2026.8.16, command 2 would install 2024.1.1",
        "jupyter-kernel-gateway: Colab has a version installed from a URL, command 3 would install 3",
    ]
    assert out.kept == {"torch"}  # 2.11.0 from PyPI stands for Colab's 2.11.0+cpu
    assert out.conflicts == [
        "after command 2: cellpose 3.1.1.3 requires numpy<2.1,>=1.20.0, but 2.1.3 is installed",
    ]
    assert out.errors == ["command 4: ERROR: ResolutionImpossible"]
    assert out.missing == ["needy 1 requires not-anywhere, which neither Colab nor the cell installs"]
    text = "\n".join(colab_check.format_outcome(out, steps, len(COLAB)))
    assert "pip could not resolve it" in text and text.splitlines()[-1].startswith("FAILED")


def test_unmet_requirements_of_packages_added_in_the_same_command():
    steps = [Step(["install", "a"], [Dist("a", "1", ("b<2",)), Dist("b", "2")])]
    out = colab_check.analyse({}, steps, ENV)
    assert out.conflicts == ["after command 1: a 1 requires b<2, but 2 is installed"]


def test_pip_explanation():
    stdout = "Collecting x\n\nThe conflict is caused by:\n    a depends on numpy<2.1\n\nTo fix this you could try to:\n"
    assert colab_check.pip_explanation(stdout, "ERROR: ResolutionImpossible\n") == (
        "ERROR: ResolutionImpossible\nThe conflict is caused by:\n    a depends on numpy<2.1"
    )
    assert colab_check.pip_explanation("Collecting x\n", "ERROR: No matching distribution found for y") == (
        "ERROR: No matching distribution found for y"
    )


def test_show_command():
    shown = colab_check.show_command(["install", "-q", "-c", "/tmp/abc/colab-versions.txt", "a @ git+https://x"])
    assert shown == "pip install -q -c colab-versions.txt 'a @ git+https://x'"


def test_pip_env_leaves_this_machines_pip_configuration_out():
    env = colab_check.pip_env(
        {"PATH": "/bin", "PIP_CERT": "c.pem", "PIP_FIND_LINKS": "/opt/wheels", "PIP_CONSTRAINT": "x"}
    )
    assert env["PATH"] == "/bin" and env["PIP_CERT"] == "c.pem"
    assert "PIP_FIND_LINKS" not in env and "PIP_CONSTRAINT" not in env
    assert env["PIP_CONFIG_FILE"] == os.devnull


def run_script(*args):
    return subprocess.run(
        [sys.executable, "tools/colab_check.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_a_missing_freeze_file_says_where_to_get_one(tmp_path):
    res = run_script("--freeze", str(tmp_path / "nowhere.txt"))
    assert res.returncode == 2
    assert "no freeze file at" in res.stderr and "googlecolab/backend-info" in res.stderr


def test_a_python_of_the_wrong_version_is_refused(tmp_path):
    (tmp_path / "pip-freeze.txt").write_text(FREEZE)
    (tmp_path / "os-info.txt").write_text("Python 3.99.1\n")
    res = run_script("--freeze", str(tmp_path / "pip-freeze.txt"), "--python", sys.executable)
    assert res.returncode == 2
    assert "but Colab runs Python 3.99: pass a Python 3.99 interpreter" in res.stderr
    res = run_script("--freeze", str(tmp_path / "pip-freeze.txt"))
    assert res.returncode == 2
    assert "no Python 3.99 found" in res.stderr and "pyenv install 3.99" in res.stderr
    (tmp_path / "os-info.txt").unlink()
    res = run_script("--freeze", str(tmp_path / "pip-freeze.txt"))
    assert res.returncode == 2 and "--python-version" in res.stderr


@pytest.mark.skipif(not os.environ.get("COLAB_FREEZE"), reason="needs PyPI: set COLAB_FREEZE=path/to/pip-freeze.txt")
def test_the_install_cell_installs_cleanly_on_colab():
    res = subprocess.run(
        [sys.executable, "tools/colab_check.py", "--freeze", os.environ["COLAB_FREEZE"]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "OK: the cell adds" in res.stdout
