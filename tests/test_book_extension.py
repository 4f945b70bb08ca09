"""Tests for the book's own Quarto extension (_extensions/book/), run with `pandoc lua` like the glossary's.

* ``value.lua``: the ``{{< value NAME >}}`` shortcode prints a number that a
  notebook published (bioimaging_guide.bookvalues), rounded as asked, finds the
  notebook by the name alone (the PDF is rendered as one document, so the
  chapter's file name cannot tell), and stops the render on anything it cannot
  resolve, an ambiguous name included. It is called through the glossary's
  test harness, which stubs Quarto's Lua API and calls shortcodes as Quarto does.
* ``notebook-links.lua``: the filter that links each chapter and each embedded
  cell to its notebook in Colab and on GitHub, and removes the machine path
  Quarto leaves on embeds. It runs as an ordinary pandoc Lua filter on a
  fixture project (it reads ``_quarto.yml`` and ``notebooks/`` from there).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bioimaging_guide.bookvalues import MIME

ROOT = Path(__file__).resolve().parents[1]
EXT = ROOT / "_extensions" / "book"
HARNESS = ROOT / "tests" / "glossary_fixtures" / "harness.lua"
SLUG = "example-org/example-book"


def pandoc() -> str:
    pypandoc = pytest.importorskip("pypandoc")
    return pypandoc.get_pandoc_path()


def notebook(title: str, values: dict | None = None) -> dict:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": [f"# {title}\n", "\n", "Text.\n"]}]
    if values is not None:
        bundle = {MIME: {"values": values}, "text/plain": ["values"]}
        cells.append(
            {
                "cell_type": "code",
                "execution_count": 1,
                "metadata": {},
                "outputs": [{"output_type": "display_data", "data": bundle, "metadata": {}}],
                "source": ["values.publish()"],
            }
        )
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "_quarto.yml").write_text(
        f"project:\n  type: book\nbook:\n  title: Demo\n  repo-url: https://github.com/{SLUG}\n  repo-branch: main\n"
    )
    (tmp_path / "chapters").mkdir()
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    values = {
        "psnr": {"value": 30.2034, "tol": 0.05},
        "n_nuclei": {"value": 635, "tol": 0},
        "fraction": {"value": 0.0987, "tol": 0.001},
        "gain": {"value": -0.00049, "tol": 0.001},
        "delta": {"value": 0.26, "tol": 0.01},
        "difference": {"value": -0.0261, "tol": 0.001},
        "steps": {"value": 3000, "tol": 0},
        "pixels": {"value": 586985, "tol": 0},
        "big_float": {"value": -12345.678, "tol": 0.1},
    }
    (nbs / "06-demo.ipynb").write_text(json.dumps(notebook("Chapter 6: Denoising demo", values)))
    (nbs / "06-demo-optics.ipynb").write_text(
        json.dumps(notebook("Chapter 6: Optics part", {"strehl": {"value": 0.8, "tol": 0}}))
    )
    (nbs / "07-other.ipynb").write_text(json.dumps(notebook("Chapter 7: Without values")))
    (nbs / "08-twin.ipynb").write_text(
        json.dumps(notebook("Chapter 8: Shares a name", {"psnr": {"value": 1.0, "tol": 0}}))
    )
    return tmp_path


# ---------------------------------------------------------------------------- value shortcode


def run_value(project: Path, calls: list[dict], input_file: str = "index.qmd", fmt: str = "html"):
    spec = {
        "lua_file": str(EXT / "value.lua"),
        "format": fmt,
        "writer": "plain",
        "project_dir": str(project),
        "offset": "..",
        "input_file": str(project / input_file),
        "calls": [{"name": "value", "args": c.get("args", []), "kwargs": c.get("kwargs", {})} for c in calls],
    }
    return subprocess.run([pandoc(), "lua", str(HARNESS), json.dumps(spec)], capture_output=True, text=True)


def values_of(project: Path, calls: list[dict], **kw) -> list[str]:
    res = run_value(project, calls, **kw)
    assert res.returncode == 0, res.stderr
    return [r.strip() for r in json.loads(res.stdout)["results"]]


def test_value_prints_the_published_number_rounded_as_asked(project):
    got = values_of(
        project,
        [
            {"args": ["psnr"], "kwargs": {"digits": "1", "nb": "06-demo"}},
            {"args": ["psnr"], "kwargs": {"digits": "3", "nb": "06-demo"}},
            {"args": ["psnr"], "kwargs": {"nb": "06-demo"}},  # a float: two decimals by default
            {"args": ["n_nuclei"]},  # a whole number: no decimals
            {"args": ["fraction"], "kwargs": {"percent": "true", "digits": "1"}},
            {"args": ["gain"], "kwargs": {"digits": "2"}},  # never "-0.00"
            {"args": ["delta"], "kwargs": {"digits": "1", "sign": "true"}},
            {"args": ["strehl"], "kwargs": {"digits": "2"}},  # found by its name alone (only 06-demo-optics has it)
            {"args": ["difference"], "kwargs": {"digits": "3"}},  # a typographic minus
            {"args": ["difference"], "kwargs": {"digits": "1", "sign": "true"}},  # rounds to zero: no sign
            {"args": ["steps"]},  # four digits: no separator
            {"args": ["pixels"]},
            {"args": ["big_float"], "kwargs": {"digits": "1"}},
        ],
    )
    assert got == ["30.2", "30.203", "30.20", "635", "9.9", "0.00", "+0.3", "0.80", "\u22120.026", "0.0", "3000"] + [
        "586,985",
        "\u221212,345.7",
    ]


def test_the_shortcode_is_the_only_registered_handler(project):
    res = run_value(project, [])
    assert json.loads(res.stdout)["registered"] == ["value"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            {"args": ["psnr_care"], "kwargs": {"nb": "06-demo"}},
            "publishes no value 'psnr_care' (it has: big_float, delta",
        ),
        ({"args": ["psnr_care"]}, "no notebook in notebooks/ publishes a value 'psnr_care'"),
        ({"args": ["psnr"]}, "several notebooks publish 'psnr' (06-demo, 08-twin); say which with nb="),
        ({"args": ["delta"], "kwargs": {"dgits": "1"}}, "unknown option 'dgits'"),
        ({"args": ["delta"], "kwargs": {"digits": "one"}}, "digits must be a whole number"),
        ({"args": ["delta"], "kwargs": {"percent": "maybe"}}, "expected true or false"),
        ({"args": ["delta"], "kwargs": {"nb": "05-missing"}}, "no notebook"),
        ({"args": ["psnr"], "kwargs": {"nb": "07-other"}}, "publishes no values"),
        ({"args": []}, "usage:"),
        ({"args": ["psnr", "extra"]}, "usage:"),
    ],
)
def test_value_stops_the_render_with_a_message_that_says_what_to_do(project, call, message):
    res = run_value(project, [call])
    assert res.returncode != 0
    assert "[value]" in res.stderr and message in res.stderr, res.stderr


# ---------------------------------------------------------------------------- notebook links filter

# What Quarto writes for {{< embed /notebooks/06-demo.ipynb#fig-merges >}} (src/core/jupyter/jupyter-embed.ts)
EMBED = """\
# Denoising {{#sec-demo}}

Some text.

:::{{.quarto-embed-nb-cell notebook="{abs}/notebooks/06-demo.ipynb" notebook-title="Chapter 6: Denoising demo" \
notebook-cellId="fig-merges"}}

![A figure.](a.png){{#fig-merges}}

:::

:::{{.quarto-embed-nb-cell notebook="{abs}/notebooks/07-other.ipynb" notebook-cellId="cell-7"}}

Printed output.

:::
"""


def run_filter(project: Path, to: str, name: str = "06-demo.qmd", text: str | None = None, meta: str = "") -> str:
    qmd = project / "chapters" / name
    qmd.write_text(meta + (text if text is not None else EMBED.format(abs="/home/someone/build")))
    res = subprocess.run(
        [pandoc(), "-f", "markdown", "-t", to, "--lua-filter", str(EXT / "notebook-links.lua"), str(qmd)],
        capture_output=True,
        text=True,
        cwd=project,
    )
    assert res.returncode == 0, res.stderr
    return res.stdout


def colab(rel: str) -> str:
    return f"https://colab.research.google.com/github/{SLUG}/blob/main/{rel}"


def github(rel: str) -> str:
    return f"https://github.com/{SLUG}/blob/main/{rel}"


def test_html_chapter_box_and_figure_links(project):
    html = run_filter(project, "html")
    # no machine path and no notebook-* attributes left on the embeds
    assert "/home/someone" not in html and "data-notebook" not in html and "notebook=" not in html
    # the box sits right under the chapter title and lists the chapter's notebooks first, then other embedded ones
    head, box = html.split('<div class="notebook-links">', 1)
    assert head.strip().startswith("<h1") and head.count("<p>") == 0
    box = box.split("</div>", 1)[0]
    order = [box.index(colab(f"notebooks/{n}.ipynb")) for n in ("06-demo", "06-demo-optics", "07-other")]
    assert order == sorted(order)
    assert "<em>Denoising demo</em>" in box and "Chapter 6" not in box  # the notebook's title, without "Chapter 6: "
    flat = " ".join(box.split())
    assert flat.count(">Open in Colab</a>") == 3 and flat.count(">view on GitHub</a>") == 3
    # under each embedded cell: GitHub and Colab links, and the cell's label when it has one
    sources = html.split('<div class="notebook-source">')[1:]
    assert len(sources) == 2
    assert github("notebooks/06-demo.ipynb") in sources[0] and colab("notebooks/06-demo.ipynb") in sources[0]
    assert "<code>fig-merges</code>" in sources[0]
    assert "cell-7" not in sources[1]  # an id that is not a label is not shown
    # every link's accessible name contains its visible text (WCAG label-in-name)
    for label, text in (
        ("Open in Colab: 06-demo.ipynb", "Open in Colab"),
        ("view on GitHub: 06-demo.ipynb", "view on GitHub"),
    ):
        assert f'aria-label="{label}"' in html and label.startswith(text)


def test_latex_prints_the_notebook_path_linked_to_github(project):
    tex = run_filter(project, "latex")
    assert "/home/someone" not in tex
    assert f"\\href{{{github('notebooks/06-demo.ipynb')}}}{{\\texttt{{notebooks/06-demo.ipynb}}}}" in tex
    assert "Made by" in tex and "\\footnotesize" in tex
    assert "open in Google Colab" in " ".join(tex.split())
    assert "cell-7" not in tex


def test_repository_comes_from_metadata_when_given(project):
    meta = "---\nbook:\n  repo-url: https://github.com/other/repo\n  repo-branch: dev\n---\n\n"
    html = run_filter(project, "html", meta=meta)
    assert "https://colab.research.google.com/github/other/repo/blob/dev/notebooks/06-demo.ipynb" in html
    assert SLUG not in html


def test_a_page_without_notebooks_is_unchanged(project):
    html = run_filter(project, "html", name="11-outlook.qmd", text="# Outlook {#sec-outlook}\n\nNo notebook.\n")
    assert "notebook-links" not in html and "colab" not in html


def test_a_bad_repository_url_stops_the_render(project):
    (project / "_quarto.yml").write_text("project:\n  type: book\nbook:\n  repo-url: git@github.com:x/y.git\n")
    qmd = project / "chapters" / "06-demo.qmd"
    qmd.write_text(EMBED.format(abs="/x"))
    res = subprocess.run(
        [pandoc(), "-f", "markdown", "-t", "html", "--lua-filter", str(EXT / "notebook-links.lua"), str(qmd)],
        capture_output=True,
        text=True,
        cwd=project,
    )
    assert res.returncode != 0 and "book.repo-url must be https://github.com/OWNER/NAME" in res.stderr


def test_pdf_book_gets_one_box_per_chapter(project):
    """The PDF edition is one document (input file index.qmd): each chapter's box lists only its own notebooks."""
    two = (
        EMBED.format(abs="/b")
        + "\n# Outlook {#sec-outlook}\n\nNo notebook here.\n\n"
        + (
            ':::{.quarto-embed-nb-cell notebook="/b/notebooks/07-other.ipynb" notebook-cellId="fig-x"}\n\n'
            "![X.](x.png){#fig-x}\n\n:::\n"
        )
    )
    tex = run_filter(
        project,
        "latex",
        name="index.qmd",
        text=two.replace('07-other.ipynb" notebook-cellId="cell-7', '06-demo-optics.ipynb" notebook-cellId="cell-7'),
    )
    chapters = tex.split("\\chapter")[1:] if "\\chapter" in tex else tex.split("\\section")[1:]
    assert len(chapters) == 2
    assert "06-demo.ipynb" in chapters[0] and "06-demo-optics.ipynb" in chapters[0] and "07-other" not in chapters[0]
    assert chapters[0].index("notebooks/06-demo.ipynb") < chapters[0].index("notebooks/06-demo-optics.ipynb")
    assert "07-other.ipynb" in chapters[1] and "06-demo" not in chapters[1]


def test_the_box_follows_the_chapters_lead_sentence(project):
    text = EMBED.format(abs="/b").replace("Some text.", "*A lead sentence.*\n\nSome text.")
    html = run_filter(project, "html", text=text)
    assert html.index("A lead sentence.") < html.index('class="notebook-links"') < html.index("Some text.")


def test_without_a_title_block_the_box_follows_the_lead_sentence(project):
    """On the website Quarto has moved the chapter title into the metadata before the filter runs."""
    text = EMBED.format(abs="/b").replace("# Denoising {#sec-demo}\n\nSome text.", "*A lead sentence.*\n\nSome text.")
    html = run_filter(project, "html", text=text)
    assert "<h1" not in html
    assert html.index("A lead sentence.") < html.index('class="notebook-links"') < html.index("Some text.")
