"""tools/sitecheck.py on a small fake rendered site, valid and then broken one way at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from sitecheck import check_site, main

PAGE = """<html><body><h1>Denoising</h1>
<div class="notebook-links"><a href="https://colab.research.google.com/github/o/r/blob/main/notebooks/06.ipynb">
Open in Colab</a></div>
<div class="quarto-embed-nb-cell"><figure><img src="06_files/figure-html/-notebooks-06-fig-a-output-1.png"></figure>
<div class="notebook-source"><p>Notebook: …</p></div></div>
</body></html>
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    out = tmp_path / "_book"
    (out / "chapters" / "06_files" / "figure-html").mkdir(parents=True)
    (out / "index.html").write_text("<html><body>Welcome</body></html>")
    (out / "chapters" / "06.html").write_text(PAGE)
    (out / "chapters" / "06_files" / "figure-html" / "-notebooks-06-fig-a-output-1.png").write_bytes(b"png")
    return out


def test_a_good_site_passes(site):
    assert check_site(site, project=site.parent / "project") == []
    assert main([str(site)]) == 0


def test_hidden_figure_files_fail(site):
    figs = site / "chapters" / "06_files" / "figure-html"
    (figs / "..-notebooks-06-fig-a-output-1.png").write_bytes(b"png")
    (site / ".hidden-dir").mkdir()
    (site / ".hidden-dir" / "x.png").write_bytes(b"png")
    found = check_site(site)
    assert len(found) == 2
    assert any("..-notebooks-06-fig-a-output-1.png: hidden file" in p for p in found)
    assert any(p.startswith(".hidden-dir: hidden") for p in found)


def test_machine_paths_fail(site, tmp_path):
    page = site / "chapters" / "06.html"
    page.write_text(PAGE.replace('class="quarto-embed-nb-cell"', 'class="quarto-embed-nb-cell" data-notebook="/x"'))
    assert any("data-notebook attributes" in p for p in check_site(site))
    page.write_text(PAGE.replace("Welcome", "") + f"<!-- {tmp_path.resolve()}/notebooks/06.ipynb -->")
    assert any("contains the project folder" in p for p in check_site(site, project=tmp_path))


def test_missing_notebook_links_fail(site):
    page = site / "chapters" / "06.html"
    page.write_text(PAGE.replace("https://colab.research.google.com/github/", "https://example.org/"))
    assert any("no Open-in-Colab link" in p for p in check_site(site))
    page.write_text(PAGE.replace('class="notebook-source"', 'class="something-else"'))
    assert any("1 of 1 embedded cells have no link" in p for p in check_site(site))


def test_an_unrendered_folder_is_reported(tmp_path):
    assert "no index.html" in check_site(tmp_path)[0]
