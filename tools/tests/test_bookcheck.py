"""The book checks (tools/bookcheck.py) on the real book, and on broken fixtures.

Every kind of check is shown to fail, with the right file and line, on a small
book that is valid except for one deliberate defect.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# tools/bookcheck.py and tools/repo.py, importable through tools/tests/conftest.py
from bookcheck import chapter_list, check_book, load_quarto
from repo import sync

ROOT = Path(__file__).resolve().parents[2]
REPO_URL = "https://github.com/example-org/example-book"
NB = "notebooks/01-demo.ipynb"  # the fixture book's notebook, named after its chapter chapters/01-demo.qmd
COLAB = f"https://colab.research.google.com/github/example-org/example-book/blob/main/{NB}"
PNG_1PX = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108000000003a7e9b55"
        "0000000a49444154789c6360000000020001e221bc330000000049454e44ae426082"
    )
).decode()


# ----------------------------------------------------------------------------- the real book


def test_real_book_passes_all_checks():
    problems = check_book(ROOT)
    assert not problems, "book checks failed:\n" + "\n".join(map(str, problems))


def test_real_book_structure():
    cfg = load_quarto(ROOT)
    assert cfg["book"]["title"] == "AI in Microscopy: A BioImaging Guide"
    chapters = chapter_list(cfg)
    assert chapters[0] == "index.qmd" and chapters[-2:] == ["glossary.qmd", "references.qmd"]
    numbered = [c for c in chapters if c.startswith("chapters/")]
    assert numbered, "no chapters/NN-topic.qmd listed in _quarto.yml"
    assert [int(Path(c).name[:2]) for c in numbered] == list(range(1, len(numbered) + 1))
    parts = [p["part"] for p in cfg["book"]["chapters"] if isinstance(p, dict)]
    assert parts == ["Getting Started with AI", "Image Acquisition", "Image Analysis"]
    html, pdf = cfg["format"]["html"], cfg["format"]["pdf"]
    assert html["code-copy"] and "light" in html["theme"] and "dark" in html["theme"]
    assert cfg["book"]["repo-actions"] == ["edit", "issue"] and cfg["book"]["downloads"] == ["pdf"]
    assert cfg["execute"]["freeze"] == "auto" and (ROOT / cfg["csl"]).is_file()
    assert pdf is not None
    # Quarto ignores notebook-links/notebook-view in books: the book extension's filter makes the links
    assert "notebook-view" not in html and "notebook-links" not in html and "book" in cfg["filters"]


def test_every_chapter_has_outline_callout_and_sections():
    for qmd in sorted((ROOT / "chapters").glob("*.qmd")):
        text = qmd.read_text(encoding="utf-8")
        assert re.search(r'^::: \{\.callout-note title="Chapter outline"\}', text, re.M), qmd.name
        assert len(re.findall(r"^## .*\{#sec-", text, re.M)) >= 4, qmd.name


# ----------------------------------------------------------------------------- fixture book


def notebook_json(
    badge_url=COLAB,
    counts=(1, 2),
    install=True,
    image=True,
    fig_alt=True,
    label="fig-demo",
    caption="A demo figure.",
    printed=None,
):
    opts = [f"#| label: {label}\n", f'#| fig-cap: "{caption}"\n']
    if fig_alt:
        opts.append('#| fig-alt: "A single grey pixel."\n')
    out = [{"output_type": "display_data", "metadata": {}, "data": {"image/png": PNG_1PX, "text/plain": ["<Figure>"]}}]
    if printed is not None:
        out.append({"output_type": "stream", "name": "stdout", "text": [printed + "\n"]})
    pip_spec = f"bioimaging-guide[dl] @ git+{REPO_URL}@main"
    install_src = [
        "import sys\n",
        'if "google.colab" in sys.modules:\n',
        f"    import subprocess; subprocess.run([sys.executable, '-m', 'pip', 'install', '{pip_spec}'])\n",
    ]
    badge = f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({badge_url})\n"
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Demo\n", "\n", badge]},
        {
            "cell_type": "code",
            "execution_count": counts[0],
            "metadata": {},
            "outputs": [],
            "source": install_src if install else ["import sys\n"],
        },
        {
            "cell_type": "code",
            "execution_count": counts[1],
            "metadata": {},
            "outputs": out if image else [],
            "source": opts + ["print('figure')\n"],
        },
    ]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


CHAPTER = """\
# Demo chapter {#sec-demo}

*A subtitle.*

::: {.callout-note title="Chapter outline"}
- What this is.
:::

## First section {#sec-demo-first}

As @fig-demo shows, and as discussed in @sec-demo-first, images help [@doe2020demo].
The {{< glossary IoU >}} and {{< glossary "ground truth" display="GT" >}} matter.

{{< embed /notebooks/01-demo.ipynb#fig-demo >}}

![A local picture of a cell.](cell.png){#fig-local}

See @fig-local.
"""


@pytest.fixture
def book(tmp_path: Path) -> Path:
    (tmp_path / "chapters").mkdir()
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "_quarto.yml").write_text(
        "project:\n  type: book\n"
        f"book:\n  title: Demo\n  repo-url: {REPO_URL}\n"
        "  chapters:\n    - index.qmd\n    - chapters/01-demo.qmd\n"
        "bibliography: references.bib\n"
        "format:\n  html:\n    toc: true\n",
        encoding="utf-8",
    )
    (tmp_path / "index.qmd").write_text("# Welcome {.unnumbered}\n\nHello.\n", encoding="utf-8")
    (tmp_path / "chapters" / "01-demo.qmd").write_text(CHAPTER, encoding="utf-8")
    (tmp_path / NB).write_text(json.dumps(notebook_json()), encoding="utf-8")
    (tmp_path / "references.bib").write_text(
        "@article{doe2020demo,\n  title = {Demo},\n  author = {Doe, Jane},\n"
        "  year = {2020},\n  doi = {10.1000/demo}\n}\n",
        encoding="utf-8",
    )
    (tmp_path / "glossary.yml").write_text(
        "- term: Intersection over union\n  aliases: [IoU]\n  definition: Overlap divided by union.\n"
        "- term: Ground truth\n  definition: The reference answer.\n",
        encoding="utf-8",
    )
    return tmp_path


def test_fixture_book_is_valid(book):
    assert check_book(book) == []


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture does not contain {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def write_notebook(**kwargs):
    """A mutation: replace the fixture's notebook with ``notebook_json(**kwargs)``."""
    return lambda b: (b / NB).write_text(json.dumps(notebook_json(**kwargs)))


def publish_values(b: Path, values: dict) -> None:
    """Give the fixture's notebook a last cell that published ``values`` (as BookValues.publish stores them)."""
    nb = json.loads((b / NB).read_text())
    data = {"application/vnd.bioimaging-guide.values+json": {"values": values}, "text/plain": ["values"]}
    cell = {"cell_type": "code", "execution_count": 3, "metadata": {}, "source": ["values.publish()"]}
    cell["outputs"] = [{"output_type": "display_data", "metadata": {}, "data": data}]
    nb["cells"].append(cell)
    (b / NB).write_text(json.dumps(nb))


def copy_notebook(name: str):
    """A mutation: add a copy of the fixture's notebook as ``notebooks/<name>``."""
    return lambda b: shutil.copy(b / NB, b / "notebooks" / name)


def add_unlisted_chapter_with_notebook(b: Path) -> None:
    (b / "chapters" / "02-extra.qmd").write_text("# Extra {#sec-extra}\n")
    shutil.copy(b / NB, b / "notebooks" / "02-extra.ipynb")


CH = "chapters/01-demo.qmd"
NAMING = "notebooks are named after their chapter"
NO_CHAPTER = "no chapter for this notebook"
BROKEN = {
    # name: (mutation, expected file, expected line, message fragment)
    "missing chapter file": (
        lambda b: (b / CH).rename(b / "chapters" / "01-other.qmd"),
        "_quarto.yml",
        None,
        "'chapters/01-demo.qmd' is listed but does not exist",
    ),
    "unlisted chapter": (
        lambda b: (b / "chapters" / "02-extra.qmd").write_text("# Extra {#sec-extra}\n"),
        "chapters/02-extra.qmd",
        1,
        "not listed in _quarto.yml",
    ),
    "chapter without sec id": (
        lambda b: edit(b / CH, "# Demo chapter {#sec-demo}", "# Demo chapter"),
        CH,
        1,
        "needs a {#sec-…} id",
    ),
    "unresolved figure reference": (
        lambda b: edit(b / CH, "See @fig-local.", "See @fig-missing."),
        CH,
        18,
        "'@fig-missing' does not resolve",
    ),
    "unresolved section reference": (
        lambda b: edit(b / CH, "@sec-demo-first", "@sec-nowhere"),
        CH,
        11,
        "'@sec-nowhere' does not resolve",
    ),
    "unresolved equation reference": (
        lambda b: edit(b / CH, "See @fig-local.", "See @eq-energy."),
        CH,
        18,
        "'@eq-energy' does not resolve",
    ),
    "unresolved table reference": (
        lambda b: edit(b / CH, "See @fig-local.", "See @tbl-results."),
        CH,
        18,
        "'@tbl-results' does not resolve",
    ),
    "missing citation": (
        lambda b: edit(b / CH, "[@doe2020demo]", "[@smith2021missing]"),
        CH,
        11,
        "'@smith2021missing' is not in references.bib",
    ),
    "unknown glossary term": (
        lambda b: edit(b / CH, "{{< glossary IoU >}}", "{{< glossary frobnication >}}"),
        CH,
        12,
        "glossary term 'frobnication' is not in glossary.yml",
    ),
    "malformed glossary.yml": (
        lambda b: (b / "glossary.yml").write_text("- term: IoU\n  definition: One.\n- term: iou\n  definition: Two.\n"),
        "glossary.yml",
        1,
        "the glossary extension cannot load glossary.yml",
    ),
    "embed of missing notebook": (
        lambda b: edit(b / CH, "01-demo.ipynb#fig-demo", "01-demo-nope.ipynb#fig-demo"),
        CH,
        14,
        "'/notebooks/01-demo-nope.ipynb' does not exist",
    ),
    "embed of missing cell": (
        lambda b: edit(b / CH, "#fig-demo >}}", "#fig-other >}}"),
        CH,
        14,
        "has no cell labelled 'fig-other'",
    ),
    "embed without stored image": (write_notebook(image=False), CH, 14, "has no stored image output"),
    "embed without alt text": (write_notebook(fig_alt=False), CH, 14, "has no fig-alt"),
    "image without alt text": (
        lambda b: edit(b / CH, "![A local picture of a cell.](cell.png)", "![](cell.png)"),
        CH,
        16,
        "image 'cell.png' has no alt text",
    ),
    "unclosed fenced div": (
        lambda b: edit(b / CH, "- What this is.\n:::\n", "- What this is.\n"),
        CH,
        5,
        "is never closed",
    ),
    "stray div closer": (
        lambda b: edit(b / CH, "See @fig-local.\n", "See @fig-local.\n:::\n"),
        CH,
        19,
        "closes a fenced div that was never opened",
    ),
    "unknown callout type": (
        lambda b: edit(b / CH, ".callout-note", ".callout-danger"),
        CH,
        5,
        "'.callout-danger' is not a Quarto callout",
    ),
    "badly named notebook": (copy_notebook("Demo Notebook.ipynb"), "notebooks/Demo Notebook.ipynb", 1, NAMING),
    "notebook with the old chapterN_topic name": (
        copy_notebook("chapter1_demo.ipynb"),
        "notebooks/chapter1_demo.ipynb",
        1,
        NAMING,
    ),
    "notebook without zero-padded chapter number": (copy_notebook("1-demo.ipynb"), "notebooks/1-demo.ipynb", 1, NAMING),
    "notebook of a chapter that does not exist": (
        copy_notebook("02-demo.ipynb"),
        "notebooks/02-demo.ipynb",
        1,
        NO_CHAPTER,
    ),
    "notebook of a chapter not listed in _quarto.yml": (
        add_unlisted_chapter_with_notebook,
        "notebooks/02-extra.ipynb",
        1,
        NO_CHAPTER,
    ),
    "notebook name that only starts like a chapter": (
        copy_notebook("01-demos.ipynb"),
        "notebooks/01-demos.ipynb",
        1,
        NO_CHAPTER,
    ),
    "badge for another repository": (
        write_notebook(badge_url=COLAB.replace("example-org", "someone-else")),
        NB,
        1,
        "the Colab badge does not point at",
    ),
    "no Colab install cell": (
        write_notebook(install=False),
        NB,
        1,
        "exactly one install cell guarded by 'google.colab'",
    ),
    "out-of-order execution counts": (write_notebook(counts=(3, 2)), NB, 1, "not 1..N"),
    "unexecuted notebook": (write_notebook(counts=(None, None), image=False), NB, 1, "never run"),
    "relative embed path (hidden figure files)": (
        lambda b: edit(b / CH, "{{< embed /notebooks/", "{{< embed ../notebooks/"),
        CH,
        14,
        "write the notebook's project path, /notebooks/NAME.ipynb",
    ),
    "value that no notebook publishes": (
        lambda b: edit(b / CH, "See @fig-local.", "See @fig-local ({{< value psnr digits=1 >}} dB)."),
        CH,
        18,
        "value 'psnr': no notebook publishes it",
    ),
    "value from a named notebook that publishes none": (
        lambda b: edit(b / CH, "See @fig-local.", "See @fig-local ({{< value psnr nb=01-demo >}} dB)."),
        CH,
        18,
        "notebooks/01-demo.ipynb publishes no values",
    ),
    "value that two notebooks publish": (
        lambda b: (
            publish_values(b, {"psnr": {"value": 30.2, "tol": 0.05}}),
            shutil.copy(b / NB, b / "notebooks" / "01-demo-copy.ipynb"),
            sync(b),
            edit(b / CH, "See @fig-local.", "See @fig-local ({{< value psnr >}})."),
        ),
        CH,
        18,
        "several notebooks publish it (01-demo-copy, 01-demo); say which with nb=",
    ),
    "value the notebook does not publish": (
        lambda b: (
            publish_values(b, {"psnr": {"value": 30.2, "tol": 0.05}}),
            edit(b / CH, "See @fig-local.", "See @fig-local ({{< value ssim nb=01-demo digits=2 >}})."),
        ),
        CH,
        18,
        "publishes no value 'ssim' (it has 1: psnr",
    ),
    "value with an unknown option": (
        lambda b: (
            publish_values(b, {"psnr": {"value": 30.2, "tol": 0.05}}),
            edit(b / CH, "See @fig-local.", "See @fig-local ({{< value psnr dgits=1 >}})."),
        ),
        CH,
        18,
        "unknown option(s) ['dgits']",
    ),
    "value from a missing notebook": (
        lambda b: edit(b / CH, "See @fig-local.", "See @fig-local ({{< value psnr nb=01-gone >}})."),
        CH,
        18,
        "no notebook notebooks/01-gone.ipynb",
    ),
    "Greek letter in prose": (
        lambda b: edit(b / CH, "images help", "images at τ = 0.5 help"),
        CH,
        11,
        "'τ' (U+03C4) outside math",
    ),
    "inequality sign in a figure caption": (
        lambda b: edit(b / CH, "![A local picture of a cell.]", "![A cell with IoU ≥ 0.5.]"),
        CH,
        16,
        "'≥' (U+2265) outside math",
    ),
    "Greek letter in an embedded caption": (
        write_notebook(caption="At α = 0.05."),
        CH,
        14,
        "fig-cap of cell 'fig-demo'",
    ),
    "long stored output line in an embedded cell": (
        write_notebook(printed="x" * 90),
        CH,
        14,
        "1 line(s) longer than 72 characters",
    ),
    "Greek letter in an embedded output": (write_notebook(printed="sigma = 1, σ"), CH, 14, "prints σ"),
    "long inline code": (
        lambda b: edit(b / CH, "See @fig-local.", "See `notebooks/01-demo-a-very-long-name.ipynb`."),
        CH,
        18,
        "is 40 characters long and cannot break",
    ),
    "notebook-view in _quarto.yml": (
        lambda b: edit(b / "_quarto.yml", "    toc: true\n", "    toc: true\n    notebook-view: []\n"),
        "_quarto.yml",
        None,
        "format.html.notebook-view does nothing in a book project",
    ),
    "duplicate label": (
        lambda b: edit(b / CH, "See @fig-local.", "![Another cell.](b.png){#fig-local}\n\nSee @fig-local."),
        CH,
        18,
        "label 'fig-local' is defined twice",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_check_fails_on_broken_fixture(book, name):
    mutate, file, line, fragment = BROKEN[name]
    mutate(book)
    problems = check_book(book)
    hits = [p for p in problems if fragment in p.message]
    assert hits, f"{name}: expected a problem containing {fragment!r}, got:\n" + "\n".join(map(str, problems))
    assert hits[0].file == file, hits[0]
    if line is not None:
        assert hits[0].line == line, hits[0]


def test_a_chapter_can_have_more_notebooks(book):
    shutil.copy(book / NB, book / "notebooks" / "01-demo-second-part.ipynb")
    sync(book)  # points the new notebook's badge at itself
    assert check_book(book) == []


def test_chapters_and_their_numbers_come_from_quarto_yml(book):
    (book / "chapters" / "12-late.qmd").write_text("# A late chapter {#sec-late}\n\nText.\n", encoding="utf-8")
    listed = "    - chapters/01-demo.qmd\n"
    edit(book / "_quarto.yml", listed, listed + "    - chapters/12-late.qmd\n")
    shutil.copy(book / NB, book / "notebooks" / "12-late.ipynb")
    sync(book)
    assert check_book(book) == []


def test_a_published_value_passes(book):
    publish_values(book, {"psnr": {"value": 30.2, "tol": 0.05}})
    edit(book / CH, "See @fig-local.", "See @fig-local ({{< value psnr digits=1 >}} dB, $\\tau \\geq 0.5$).")
    assert check_book(book) == []


def test_code_blocks_are_ignored(book):
    edit(book / CH, "See @fig-local.\n", "See @fig-local.\n\n```\n:::\n{{< glossary nonsense >}}\n```\n")
    assert check_book(book) == []


def test_cli_reports_problems_and_exit_code(book):
    edit(book / CH, "[@doe2020demo]", "[@nobody2000none]")
    res = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "bookcheck.py"), str(book)], capture_output=True, text=True
    )
    assert res.returncode == 1
    assert "chapters/01-demo.qmd:11: citation '@nobody2000none' is not in references.bib" in res.stdout
