"""The repository URL is set once; everything derived from it follows it."""

import json
import shutil
from pathlib import Path

import pytest

from bioimaging_guide import repo

ROOT = Path(__file__).resolve().parents[1]


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
    assert r.colab_url("notebooks/chapter1_x.ipynb") == \
        "https://colab.research.google.com/github/org/book/blob/main/notebooks/chapter1_x.ipynb"
    assert r.badge("notebooks/chapter1_x.ipynb").startswith("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]")
    with pytest.raises(ValueError, match="https://github.com/OWNER/NAME"):
        repo.Repo("https://gitlab.com/org/book").slug


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
    path = repo.new_notebook(book, "chapter5_scaffold_example", "Scaffold example")
    nb = json.loads(path.read_text())
    assert "colab-badge" in "".join(nb["cells"][0]["source"])
    assert "google.colab" in "".join(nb["cells"][1]["source"])
    with pytest.raises(ValueError, match="chapter5_training_data"):
        repo.new_notebook(book, "Chapter 5", "bad")
    with pytest.raises(FileExistsError):
        repo.new_notebook(book, "chapter5_scaffold_example", "again")


def test_welcome_bibtex_matches_citation_cff():
    import re

    import yaml

    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    text = (ROOT / "index.qmd").read_text()
    block = re.search(r"```bibtex\n(.*?)```", text, re.S).group(1)
    fields = dict(re.findall(r"(\w+)\s*=\s*\{+([^{}]*)\}+", block))
    assert fields["title"] == cff["title"]
    assert fields["author"] == cff["authors"][0]["name"]
    assert fields["year"] == str(cff["date-released"])[:4]
    assert fields["version"] == cff["version"]
    assert fields["url"] == cff["url"]
