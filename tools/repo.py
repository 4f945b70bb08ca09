"""The book's repository URL, set once in ``_quarto.yml``, and what derives from it.

The Open-in-Colab badge and the Colab install cell of every notebook, and
``CITATION.cff``, contain the repository URL (the website's links to the
notebooks are made from it at render time by the book extension's
``notebook-links`` filter).  ``book.repo-url`` in ``_quarto.yml`` is the single source of
truth; this script rewrites the derived copies and reports any disagreement,
and likewise keeps every notebook's install cell equal to ``install_cell_source``.
It also creates new notebooks, named after their chapter: a chapter's file name
(``chapters/05-training-data.qmd`` gives ``notebooks/05-training-data.ipynb``),
optionally followed by ``-<part>`` for a chapter's further notebooks.
Run it from the repository root::

    python tools/repo.py check   # exit 1 and list mismatches (and outdated install cells)
    python tools/repo.py sync    # rewrite the derived copies and the install cells
    python tools/repo.py new 05-training-data-augmentation "Augmenting training data"

It is an authoring tool, not part of the ``bioimaging_guide`` package, and does
not import it.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

COLAB_BADGE_IMG = "https://colab.research.google.com/assets/colab-badge.svg"
# NN-<chapter stem>[-<part>].ipynb: lower case words joined by hyphens, after a two-digit chapter number.
NOTEBOOK_NAME = re.compile(r"^(?P<number>\d{2})-[a-z0-9]+(?:-[a-z0-9]+)*\.ipynb$")
CHAPTER_NAME = re.compile(r"^\d{2}-[a-z0-9-]+\.qmd$")


@dataclass(frozen=True)
class Repo:
    """Where the book's sources live on GitHub."""

    url: str  # e.g. https://github.com/OWNER/NAME
    branch: str = "main"

    @property
    def slug(self) -> str:
        """``OWNER/NAME``."""
        m = re.fullmatch(r"https://github\.com/([^/\s]+/[^/\s]+?)/?", self.url)
        if not m:
            raise ValueError(f"book.repo-url must look like https://github.com/OWNER/NAME, got {self.url!r}")
        return m.group(1)

    def colab_url(self, notebook: str | Path) -> str:
        """Link that opens ``notebook`` (a path relative to the repository root) in Colab."""
        path = Path(notebook).as_posix()
        return f"https://colab.research.google.com/github/{self.slug}/blob/{self.branch}/{path}"

    def badge(self, notebook: str | Path) -> str:
        """Markdown for the Open-in-Colab badge of ``notebook``."""
        return f"[![Open In Colab]({COLAB_BADGE_IMG})]({self.colab_url(notebook)})"

    @property
    def pip_spec(self) -> str:
        """What Colab installs of the book itself: this package from the repository, without extras.

        Not ``[dl]``: that extra pins ``cellpose==3.1.1.3``, whose numpy cap (<2.1)
        pip would enforce by downgrading Colab's numpy. The install cell adds the
        deep-learning tools itself (see ``install_cell_source``).
        """
        return f"bioimaging-guide @ git+{self.url}@{self.branch}"


def find_root(start: str | Path | None = None) -> Path:
    """The book's root folder: the nearest parent of ``start`` holding ``_quarto.yml``."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_quarto.yml").is_file():
            return folder
    raise FileNotFoundError(f"No _quarto.yml in {here} or its parents: run this from inside the book's repository.")


def load_quarto(root: str | Path) -> dict:
    """``_quarto.yml``, parsed."""
    return yaml.safe_load((Path(root) / "_quarto.yml").read_text(encoding="utf-8")) or {}


def chapter_list(cfg: dict) -> list[str]:
    """Every file listed under ``book.chapters`` and ``book.appendices``, in book order."""
    out = []

    def visit(items):
        for item in items or []:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, dict):
                if "href" in item:
                    out.append(item["href"])
                if "file" in item:
                    out.append(item["file"])
                part = item.get("part")
                if isinstance(part, str) and part.endswith((".qmd", ".md")):
                    out.append(part)
                visit(item.get("chapters"))

    book = cfg.get("book") or {}
    visit(book.get("chapters"))
    visit(book.get("appendices"))
    return out


def chapter_stems(root: str | Path) -> list[str]:
    """File name stems of the numbered chapters listed in ``_quarto.yml`` (``01-introduction``, …)."""
    return [Path(c).stem for c in chapter_list(load_quarto(root)) if CHAPTER_NAME.match(Path(c).name)]


def notebook_chapter(name: str, stems: list[str]) -> str | None:
    """The chapter stem that notebook file ``name`` belongs to, or None.

    A notebook is named after its chapter: ``<stem>.ipynb`` or ``<stem>-<part>.ipynb``
    (``06-image-restoration.ipynb``, ``06-image-restoration-adaptive-optics.ipynb``).
    """
    if not NOTEBOOK_NAME.match(name):
        return None
    nb_stem = name.removesuffix(".ipynb")
    return max((s for s in stems if nb_stem == s or nb_stem.startswith(f"{s}-")), key=len, default=None)


def load_repo(root: str | Path) -> Repo:
    """Read ``book.repo-url`` and ``book.repo-branch`` from ``_quarto.yml``."""
    book = load_quarto(root).get("book") or {}
    if not book.get("repo-url"):
        raise ValueError("_quarto.yml has no book.repo-url: set the repository URL there (once).")
    repo = Repo(str(book["repo-url"]).rstrip("/"), str(book.get("repo-branch", "main")))
    _ = repo.slug  # raises if the URL is not a GitHub repository URL
    return repo


def notebooks(root: str | Path) -> list[Path]:
    """The book's notebooks, ``notebooks/NN-<chapter>[-<part>].ipynb``, in chapter order.

    Names start with the zero-padded chapter number, so sorting by name (without
    the extension, so that a chapter's main notebook comes before its parts)
    gives chapter order; badly named notebooks come last.
    """
    nbs = (Path(root) / "notebooks").glob("*.ipynb")
    return sorted(nbs, key=lambda p: (not NOTEBOOK_NAME.match(p.name), p.stem))


# What the Colab install cell adds to Colab's preinstalled packages: the ``dl`` extra of
# pyproject.toml (same versions; tools/tests/test_repo.py checks that they agree). Cellpose
# 3.1.1.3 declares numpy<2.1 but works with Colab's newer numpy, so it is installed without
# its dependencies, after the ones Colab lacks (COLAB_CELLPOSE_NEEDS, from its metadata).
# tools/colab_check.py checks the cell against Colab's published package list.
COLAB_TOOLS = ["stardist==0.9.2", "csbdeep==0.8.2", "bm3d", "tensorboard"]
COLAB_CELLPOSE_NEEDS = ["fastremap", "fill-voids", "imagecodecs", "roifile"]
COLAB_CELLPOSE = "cellpose==3.1.1.3"


def install_cell_source(repo: Repo) -> str:
    """The one install cell every notebook carries; it does nothing outside Colab.

    It never changes a package Colab already has: ``pip freeze`` lists them, and
    pip installs under those versions as constraints (it stops with an error
    rather than change one). Cellpose comes last and alone, with ``--no-deps``,
    so that pip neither enforces nor reports its numpy cap.
    """

    def quoted(specs: list[str]) -> str:
        return ", ".join(f'"{s}"' for s in specs)

    return (
        "# Runs only on Google Colab: adds the book's helper package and the deep-learning\n"
        "# tools the notebooks use (about a minute), without changing any package Colab\n"
        "# already has. On your own computer, follow the README instead.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        "    import subprocess\n"
        "    import tempfile\n"
        "\n"
        '    pip = [sys.executable, "-m", "pip"]\n'
        "    # Write down the version of every package Colab has (lines like numpy==2.1.3).\n"
        '    colab = subprocess.run([*pip, "freeze"], capture_output=True, text=True, check=True)\n'
        '    keep = tempfile.mkdtemp() + "/colab-versions.txt"\n'
        '    with open(keep, "w") as f:\n'
        '        f.write("\\n".join(line for line in colab.stdout.splitlines() if "==" in line))\n'
        "    # Add what is missing while keeping those versions (pip stops rather than change one).\n"
        "    add = [\n"
        f"        {quoted(COLAB_TOOLS)},  # the book's tools\n"
        f"        {quoted(COLAB_CELLPOSE_NEEDS)},  # needed by Cellpose\n"
        "        # the book's helper package, from GitHub\n"
        f'        "{repo.pip_spec}",\n'
        "    ]\n"
        '    subprocess.run([*pip, "install", "-q", "-c", keep, *add], check=True)\n'
        "    # Cellpose asks for an older numpy than Colab's but works with it: install it on\n"
        "    # its own, without its dependencies, so that numpy stays as it is.\n"
        f'    subprocess.run([*pip, "install", "-q", "--no-deps", "{COLAB_CELLPOSE}"], check=True)'
    )


_BADGE_RE = re.compile(r"\(https://colab\.research\.google\.com/github/[^)\s]+\)")


def _is_install_cell(cell: dict) -> bool:
    return cell.get("cell_type") == "code" and "google.colab" in "".join(cell.get("source", ""))


def _cff_lines(repo: Repo) -> dict[str, str]:
    owner, name = repo.slug.split("/")
    return {"repository-code": repo.url, "url": f"https://{owner}.github.io/{name}/"}


#: Derived copies of the repository URL in README.md: the website and the reader's pip install line.
_README_SITE_RE = re.compile(r"https://[A-Za-z0-9-]+\.github\.io/[A-Za-z0-9._-]+/")
_README_GIT_RE = re.compile(r"git\+https://github\.com/[A-Za-z0-9._-]+/[A-Za-z0-9._-]+@[A-Za-z0-9._/-]+")


def _readme_problems(root: Path, repo: Repo) -> list[str]:
    readme = root / "README.md"
    if not readme.exists():
        return []
    text = readme.read_text(encoding="utf-8")
    out = []
    site, source = _cff_lines(repo)["url"], f"git+{repo.url}@{repo.branch}"
    if site not in text:
        out.append(f"README.md: no link to the book's website {site}")
    if source not in text:
        out.append(f"README.md: no reader's install line from {source}")
    stale = sorted(
        {m for m in _README_SITE_RE.findall(text) if m != site} | set(_README_GIT_RE.findall(text)) - {source}
    )
    out += [f"README.md: outdated {m}" for m in stale]
    return out


def problems(root: str | Path) -> list[str]:
    """Every place where a derived copy of the repository URL is out of date."""
    root = Path(root)
    repo = load_repo(root)
    out: list[str] = []
    for nb_path in notebooks(root):
        rel = nb_path.relative_to(root).as_posix()
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        head = "".join("".join(c.get("source", "")) for c in nb.get("cells", [])[:3])
        if f"({repo.colab_url(rel)})" not in head:
            out.append(f"{rel}: no Open-in-Colab badge pointing at {repo.colab_url(rel)} in its first cells")
        source = f"git+{repo.url}@{repo.branch}"
        if source not in "".join("".join(c.get("source", "")) for c in nb.get("cells", [])):
            out.append(f"{rel}: the Colab install cell does not install the book's package from {source}")
    out += _readme_problems(root, repo)
    cff = root / "CITATION.cff"
    if cff.exists():
        data = yaml.safe_load(cff.read_text(encoding="utf-8"))
        for k, v in _cff_lines(repo).items():
            if data.get(k) != v:
                out.append(f"CITATION.cff: {k} is {data.get(k)!r}, expected {v!r}")
    return out


def install_cell_problems(root: str | Path) -> list[str]:
    """Notebooks whose Colab install cell is not the one ``install_cell_source`` writes (``sync`` rewrites it)."""
    root = Path(root)
    repo = load_repo(root)
    out = []
    for nb_path in notebooks(root):
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        install = [c for c in nb.get("cells", [])[:3] if _is_install_cell(c)]
        if not install or "".join(install[0].get("source", "")) != install_cell_source(repo):
            out.append(
                f"{nb_path.relative_to(root).as_posix()}: the Colab install cell is not the one tools/repo.py writes"
            )
    return out


def sync(root: str | Path) -> list[str]:
    """Rewrite every derived copy of the repository URL; return the files changed."""
    root = Path(root)
    repo = load_repo(root)
    changed = []
    for nb_path in notebooks(root):
        rel = nb_path.relative_to(root).as_posix()
        text = nb_path.read_text(encoding="utf-8")
        nb = json.loads(text)
        for cell in nb["cells"][:3]:
            src = "".join(cell.get("source", ""))
            if "colab-badge" in src:
                cell["source"] = _BADGE_RE.sub(f"({repo.colab_url(rel)})", src).splitlines(keepends=True)
            if _is_install_cell(cell):
                cell["source"] = install_cell_source(repo).splitlines(keepends=True)
        new_text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
        if new_text != text:
            nb_path.write_text(new_text, encoding="utf-8")
            changed.append(rel)
    readme = root / "README.md"
    if readme.exists():
        text = readme.read_text(encoding="utf-8")
        new_text = _README_SITE_RE.sub(_cff_lines(repo)["url"], text)
        new_text = _README_GIT_RE.sub(f"git+{repo.url}@{repo.branch}", new_text)
        if new_text != text:
            readme.write_text(new_text, encoding="utf-8")
            changed.append("README.md")
    cff = root / "CITATION.cff"
    if cff.exists():
        text = cff.read_text(encoding="utf-8")
        new_text = text
        for k, v in _cff_lines(repo).items():
            new_text = re.sub(rf"(?m)^{re.escape(k)}:.*$", f'{k}: "{v}"', new_text)
        if new_text != text:
            cff.write_text(new_text, encoding="utf-8")
            changed.append("CITATION.cff")
    return changed


def new_notebook(root: str | Path, name: str, title: str) -> Path:
    """Create ``notebooks/<name>.ipynb`` with the badge, install cell and setup cell."""
    root = Path(root)
    repo = load_repo(root)
    fname = name if name.endswith(".ipynb") else f"{name}.ipynb"
    stems = chapter_stems(root)
    if notebook_chapter(fname, stems) is None:
        example = stems[0] if stems else "05-training-data"
        raise ValueError(
            f"A notebook is named after a chapter listed in _quarto.yml: {example}.ipynb, "
            f"or {example}-<part>.ipynb for a further notebook (lower case, hyphens); got {fname!r}"
        )
    path = root / "notebooks" / fname
    if path.exists():
        raise FileExistsError(f"{path} exists already; pick another name or edit it.")
    rel = path.relative_to(root).as_posix()

    def md(text):
        return {"cell_type": "markdown", "metadata": {}, "source": text.splitlines(keepends=True)}

    def code(text):
        return {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": text.splitlines(keepends=True),
        }

    nb = {
        "cells": [
            md(f"# {title}\n\n{repo.badge(rel)}\n"),
            code(install_cell_source(repo)),
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    root = find_root()
    if argv[:1] == ["check"]:
        found = problems(root) + install_cell_problems(root)
        for p in found:
            print(p)
        print("repository URL: consistent" if not found else f"{len(found)} problem(s); run: python tools/repo.py sync")
        return 1 if found else 0
    if argv[:1] == ["sync"]:
        changed = sync(root)
        print("\n".join(changed) if changed else "nothing to change")
        return 0
    if argv[:1] == ["new"] and len(argv) == 3:
        print(new_notebook(root, argv[1], argv[2]))
        sync(root)
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
