"""Checks of the rendered website (``_book/``) that only a real Quarto render can show.

Run after ``quarto render`` (the GitHub workflow does)::

    python tools/sitecheck.py _book

It fails when

* a file or folder in the site is hidden (its name starts with a dot):
  ``actions/upload-pages-artifact`` and ``upload-artifact`` leave hidden files
  out, so the published site would lose them (Quarto names embedded figures
  ``..-notebooks-…`` when a chapter embeds ``../notebooks/…``);
* a page keeps a path of the machine that rendered it (``data-notebook=``
  attributes, or the project folder itself);
* a chapter page that embeds notebook cells has no Open-in-Colab link, or an
  embedded cell has no line linking to its notebook (the book extension's
  ``notebook-links`` filter makes both).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

EMBED = re.compile(r'class="[^"]*\bquarto-embed-nb-cell\b')
SOURCE = re.compile(r'class="[^"]*\bnotebook-source\b')
COLAB = "https://colab.research.google.com/github/"


def check_site(site: str | Path, project: str | Path | None = None) -> list[str]:
    """Problems of the rendered site in ``site``; ``project`` is the folder it was rendered from."""
    site = Path(site)
    if not (site / "index.html").is_file():
        return [f"{site}: no index.html; render the book first (make book)"]
    problems = []
    for path in sorted(site.rglob("*")):
        rel = path.relative_to(site)
        if any(part.startswith(".") for part in rel.parts):
            if not any(part.startswith(".") for part in rel.parts[:-1]):  # report the topmost hidden item only
                problems.append(f"{rel}: hidden file or folder (upload-pages-artifact leaves it out of the website)")
    machine = str(Path(project).resolve()) if project else None
    for page in sorted(site.rglob("*.html")):
        rel = page.relative_to(site)
        text = page.read_text(encoding="utf-8", errors="replace")
        if "data-notebook" in text:
            problems.append(f"{rel}: data-notebook attributes (a path on the machine that rendered the book)")
        if machine and machine in text:
            problems.append(f"{rel}: contains the project folder {machine}")
        embeds = len(EMBED.findall(text))
        if embeds:
            if COLAB not in text:
                problems.append(f"{rel}: embeds notebook cells but has no Open-in-Colab link")
            sources = len(SOURCE.findall(text))
            if sources < embeds:
                problems.append(f"{rel}: {embeds - sources} of {embeds} embedded cells have no link to their notebook")
    return problems


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    site = argv[0] if argv else "_book"
    found = check_site(site, project=Path.cwd())
    for p in found:
        print(p)
    print(f"{len(found)} problem(s) in {site}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
