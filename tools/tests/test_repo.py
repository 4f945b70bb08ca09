"""tools/repo.py: the repository URL is set once, everything derived from it follows it;
notebooks are named after their chapters."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import colab_check  # tools/colab_check.py: runs the install cell without installing anything
import repo  # tools/repo.py, importable through tools/tests/conftest.py

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def book(tmp_path):
    for name in ("_quarto.yml", "CITATION.cff", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    return tmp_path


def test_real_repository_is_consistent():
    assert repo.problems(ROOT) == []


def test_notebooks_carry_the_current_install_cell():
    assert repo.install_cell_problems(ROOT) == [], "run: python tools/repo.py sync"


def test_colab_url_and_badge():
    r = repo.Repo("https://github.com/org/book", "main")
    assert (
        r.colab_url("notebooks/01-x.ipynb")
        == "https://colab.research.google.com/github/org/book/blob/main/notebooks/01-x.ipynb"
    )
    assert r.badge("notebooks/01-x.ipynb").startswith(
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
    )
    with pytest.raises(ValueError, match="https://github.com/OWNER/NAME"):
        _ = repo.Repo("https://gitlab.com/org/book").slug


def test_changing_the_url_once_is_detected_and_synced(book):
    q = book / "_quarto.yml"
    old = repo.load_repo(book).url
    q.write_text(q.read_text().replace(f"repo-url: {old}", "repo-url: https://github.com/new-org/new-book"))
    found = repo.problems(book)
    assert any("CITATION.cff" in p for p in found)
    assert any("badge" in p for p in found)
    assert any(
        p.startswith("README.md: no link to the book's website https://new-org.github.io/new-book/") for p in found
    )
    changed = repo.sync(book)
    assert {"CITATION.cff", "README.md"} <= set(changed) and any(c.startswith("notebooks/") for c in changed)
    assert repo.problems(book) == [] and repo.install_cell_problems(book) == []
    readme = (book / "README.md").read_text()
    assert "https://new-org.github.io/new-book/" in readme and "git+https://github.com/new-org/new-book@main" in readme
    assert "ai-microscopy-book" not in readme
    nb = json.loads(next((book / "notebooks").glob("*.ipynb")).read_text())
    assert "new-org/new-book" in "".join(nb["cells"][0]["source"])
    install = "".join(nb["cells"][1]["source"])
    assert install == repo.install_cell_source(repo.load_repo(book))
    assert '"bioimaging-guide @ git+https://github.com/new-org/new-book@main"' in install


def test_an_outdated_install_cell_is_reported_and_synced(book):
    nb_path = next((book / "notebooks").glob("*.ipynb"))
    repo.sync(book)
    assert repo.install_cell_problems(book) == []
    url = repo.load_repo(book).url
    nb = json.loads(nb_path.read_text())
    nb["cells"][1]["source"] = [  # an older cell, from the right repository
        "import sys\n",
        'if "google.colab" in sys.modules:\n',
        f"    !pip install 'bioimaging-guide[dl] @ git+{url}@main'\n",
    ]
    nb_path.write_text(json.dumps(nb, indent=1) + "\n")
    assert repo.problems(book) == []  # the repository URL is right
    assert repo.install_cell_problems(book) == [
        f"notebooks/{nb_path.name}: the Colab install cell is not the one tools/repo.py writes"
    ]
    assert repo.sync(book) == [f"notebooks/{nb_path.name}"]
    assert repo.install_cell_problems(book) == []


def test_new_notebook_scaffold(book):
    path = repo.new_notebook(book, "05-training-data-scaffold-example", "Scaffold example")
    assert path == book / "notebooks" / "05-training-data-scaffold-example.ipynb"
    nb = json.loads(path.read_text())
    assert "colab-badge" in "".join(nb["cells"][0]["source"])
    assert "google.colab" in "".join(nb["cells"][1]["source"])
    for bad in ("Chapter 5", "chapter5_training_data", "05-training_data", "5-training-data", "12-no-such-chapter"):
        with pytest.raises(ValueError, match="named after a chapter listed in _quarto.yml"):
            repo.new_notebook(book, bad, "bad")
    with pytest.raises(FileExistsError):
        repo.new_notebook(book, "05-training-data-scaffold-example", "again")


def test_notebooks_are_named_after_their_chapter():
    stems = repo.chapter_stems(ROOT)
    assert stems and stems == sorted(stems) and all(re.fullmatch(r"\d{2}-[a-z0-9-]+", s) for s in stems)
    assert all((ROOT / "chapters" / f"{s}.qmd").is_file() for s in stems)
    for nb in repo.notebooks(ROOT):
        assert repo.notebook_chapter(nb.name, stems), nb.name
    assert repo.notebook_chapter("06-image-restoration.ipynb", stems) == "06-image-restoration"
    assert repo.notebook_chapter("06-image-restoration-adaptive-optics.ipynb", stems) == "06-image-restoration"
    for bad in ("06-image.ipynb", "06-image-restorationx.ipynb", "chapter6_denoising.ipynb", "99-none.ipynb"):
        assert repo.notebook_chapter(bad, stems) is None, bad
    # the longest matching chapter stem wins
    assert repo.notebook_chapter("01-a-b-c.ipynb", ["01-a", "01-a-b"]) == "01-a-b"


def test_notebooks_sort_in_chapter_order_main_notebook_first(tmp_path):
    names = ["10-end.ipynb", "02-two-part.ipynb", "Odd Name.ipynb", "02-two.ipynb", "01-one.ipynb"]
    (tmp_path / "notebooks").mkdir()
    for name in names:
        (tmp_path / "notebooks" / name).write_text("{}")
    assert [p.name for p in repo.notebooks(tmp_path)] == [
        "01-one.ipynb",
        "02-two.ipynb",
        "02-two-part.ipynb",
        "10-end.ipynb",
        "Odd Name.ipynb",
    ]


def test_cli_runs_as_a_script_from_the_repository_root():
    res = subprocess.run([sys.executable, "tools/repo.py", "check"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "repository URL: consistent" in res.stdout


def test_repo_tool_does_not_import_the_package():
    source = (ROOT / "tools" / "repo.py").read_text(encoding="utf-8")
    assert not re.search(r"^\s*(from|import)\s+bioimaging_guide", source, re.M)


def test_welcome_bibtex_matches_citation_cff():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    text = (ROOT / "index.qmd").read_text()
    block = re.search(r"```bibtex\n(.*?)```", text, re.S).group(1)
    fields = dict(re.findall(r"(\w+)\s*=\s*\{+([^{}]*)\}+", block))
    assert fields["title"] == cff["title"]
    assert fields["author"] == cff["authors"][0]["name"]
    assert fields["year"] == str(cff["date-released"])[:4]
    assert fields["version"] == cff["version"]
    assert fields["url"] == cff["url"]


# ----------------------------------------------------------------------------- the Colab install cell

REPO = repo.Repo("https://github.com/org/book", "main")
FREEZE = """\
# a comment, as in Colab's published list
numpy==2.1.3
tifffile==2026.8.16
torch @ https://download.pytorch.org/whl/cpu/torch-2.11.0%2Bcpu-cp313-cp313-manylinux_2_28_x86_64.whl
-e git+https://github.com/org/tool@abc#egg=tool
"""


def test_install_cell_does_nothing_outside_colab(tmp_path):
    cell = repo.install_cell_source(REPO)
    assert colab_check.record_pip_commands(cell, FREEZE, on_colab=False, tmpdir=tmp_path) == []
    assert list(tmp_path.iterdir()) == []


def test_install_cell_keeps_every_colab_version_and_installs_cellpose_alone(tmp_path):
    cell = repo.install_cell_source(REPO)
    first, last = colab_check.record_pip_commands(cell, FREEZE, tmpdir=tmp_path)
    # everything but Cellpose: under constraints listing Colab's versions (its pinned lines only)
    assert first[:4] == ["install", "-q", "-c", first[3]]
    assert Path(first[3]).read_text().splitlines() == ["numpy==2.1.3", "tifffile==2026.8.16"]
    assert first[4:] == [
        *repo.COLAB_TOOLS,
        *repo.COLAB_CELLPOSE_NEEDS,
        "bioimaging-guide @ git+https://github.com/org/book@main",
    ]
    assert REPO.pip_spec == "bioimaging-guide @ git+https://github.com/org/book@main"  # no [dl]: see pip_spec
    # Cellpose last, without its dependencies: pip neither enforces nor reports its numpy<2.1
    assert last == ["install", "-q", "--no-deps", repo.COLAB_CELLPOSE]


def test_install_cell_installs_the_dl_extra_at_its_versions():
    tomllib = pytest.importorskip("tomllib")
    dl = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dl"]
    assert sorted(dl) == sorted([*repo.COLAB_TOOLS, repo.COLAB_CELLPOSE])


def test_install_cell_is_short_and_readable():
    cell = repo.install_cell_source(REPO)
    lines = cell.splitlines()
    assert len(lines) <= 30
    assert max(len(line) for line in lines if "git+" not in line) <= 90
    assert lines[0].startswith("# Runs only on Google Colab")
