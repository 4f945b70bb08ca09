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

import repo  # tools/repo.py, importable through tools/tests/conftest.py

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def book(tmp_path):
    for name in ("_quarto.yml", "CITATION.cff"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    return tmp_path


def test_real_repository_is_consistent():
    assert repo.problems(ROOT) == []


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
    assert any("notebook-view" in p for p in found)
    assert any("CITATION.cff" in p for p in found)
    assert any("badge" in p for p in found)
    changed = repo.sync(book)
    assert "_quarto.yml" in changed and "CITATION.cff" in changed
    assert repo.problems(book) == []
    nb = json.loads(next((book / "notebooks").glob("*.ipynb")).read_text())
    assert "new-org/new-book" in "".join(nb["cells"][0]["source"])
    assert "bioimaging-guide[dl] @ git+https://github.com/new-org/new-book@main" in "".join(nb["cells"][1]["source"])


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
