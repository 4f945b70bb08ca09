"""Checks for the book's bibliography (references.bib) and citation style (csl/).

The bibliography is parsed with the pandoc that ``pypandoc_binary`` ships, in
both of its readers: ``biblatex`` (what Quarto uses for a ``.bib`` file) and
``bibtex``.  The checks:

* the file parses without a single pandoc warning, and no entry is dropped;
* keys are unique and follow ``surname + year + first title word``
  (``^[a-z]+[0-9]{4}[a-z0-9]+$``, e.g. ``krull2019noise2void``);
* every entry has a title, an author (a person or an organisation), a year and
  a DOI or a URL; DOIs are bare (``10.xxxx/...``, no ``https://doi.org/``);
* no two entries share a DOI or a title (case- and punctuation-insensitive);
* the entries the chapters rely on (REQUIRED_KEYS) are present;
* the CSL style in ``csl/`` is well-formed, independent CSL 1.0 XML with its
  licence statement, and pandoc's citeproc renders every entry with it
  without a warning.
"""

from __future__ import annotations

import json
import re
import subprocess
import unicodedata
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIB = ROOT / "references.bib"
CSL_DIR = ROOT / "csl"
CSL_NS = "{http://purl.org/net/xbiblio/csl}"

KEY_PATTERN = re.compile(r"^[a-z]+[0-9]{4}[a-z0-9]+$")
DOI_PATTERN = re.compile(r"^10\.\d{4,9}/\S+$")
URL_PATTERN = re.compile(r"^https?://\S+$")

# Works the chapters cite by these exact keys.
REQUIRED_KEYS = {
    "maierhein2024metrics",  # Metrics Reloaded
    "reinke2024understanding",  # metric pitfalls companion
    "krull2019noise2void",  # Noise2Void
    "weigert2018content",  # CARE
    "ronneberger2015unet",  # U-Net
    "schmidt2018cell",  # StarDist (2D)
    "weigert2020star",  # StarDist 3D
    "stringer2021cellpose",  # Cellpose
    "pachitariu2022cellpose",  # Cellpose 2.0
    "stringer2025cellpose3",  # Cellpose3
    "dabov2007image",  # BM3D
    "caicedo2019nucleus",  # DSB2018 / BBBC038
    "hagen2021fluorescence",  # GigaDB low/high-SNR dataset
}

# `@type{key,` at the start of a line, skipping @comment/@string/@preamble.
ENTRY_START = re.compile(r"^@(?P<type>[A-Za-z]+)\s*\{\s*(?P<key>[^,\s]+)\s*,", re.MULTILINE)
NON_ENTRY_TYPES = {"comment", "string", "preamble"}


def pandoc_path() -> str:
    pypandoc = pytest.importorskip("pypandoc")
    return pypandoc.get_pandoc_path()


def run_pandoc(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [pandoc_path(), *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        timeout=120,
    )


@cache
def csl_items(reader: str = "biblatex") -> tuple[dict, ...]:
    result = run_pandoc(str(BIB), "-f", reader, "-t", "csljson")
    assert result.returncode == 0, result.stderr
    return tuple(json.loads(result.stdout))


@cache
def raw_entries() -> tuple[tuple[str, str, str], ...]:
    """(type, key, body) of every entry, read straight from the .bib text."""
    text = BIB.read_text(encoding="utf-8")
    starts = [m for m in ENTRY_START.finditer(text) if m.group("type").lower() not in NON_ENTRY_TYPES]
    entries = []
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        entries.append((m.group("type").lower(), m.group("key"), text[m.end() : end]))
    return tuple(entries)


def raw_field(body: str, name: str) -> str | None:
    m = re.search(rf"^\s*{name}\s*=\s*\{{(?P<value>.*?)\}}\s*,?\s*$", body, re.MULTILINE | re.IGNORECASE)
    return m.group("value").strip() if m else None


def csl_files() -> list[Path]:
    return sorted(CSL_DIR.glob("*.csl"))


def normalise_title(title: str) -> str:
    title = unicodedata.normalize("NFKD", title).casefold()
    return re.sub(r"[\W_]+", "", title)


# --------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------


def test_bib_is_utf8_and_nonempty():
    text = BIB.read_bytes().decode("utf-8")
    assert raw_entries(), "references.bib has no entries"
    assert "\ufffd" not in text


@pytest.mark.parametrize("reader", ["biblatex", "bibtex"])
def test_pandoc_parses_without_warnings(reader):
    result = run_pandoc(str(BIB), "-f", reader, "-t", "csljson", "--verbose")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line.upper()]
    assert not warnings, "\n".join(warnings)


@pytest.mark.parametrize("reader", ["biblatex", "bibtex"])
def test_pandoc_keeps_every_entry(reader):
    raw_keys = sorted(key for _, key, _ in raw_entries())
    parsed_keys = sorted(item["id"] for item in csl_items(reader))
    assert parsed_keys == raw_keys


# --------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------


def test_keys_are_unique():
    keys = [key for _, key, _ in raw_entries()]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    assert not duplicates, f"duplicate keys: {duplicates}"
    lowered = [k.lower() for k in keys]
    assert len(set(lowered)) == len(lowered), "keys differ only by case"


def test_keys_follow_pattern():
    bad = [key for _, key, _ in raw_entries() if not KEY_PATTERN.match(key)]
    assert not bad, f"keys not matching {KEY_PATTERN.pattern}: {bad}"


def test_key_year_matches_entry_year():
    bad = []
    for item in csl_items():
        key_year = int(re.search(r"[0-9]{4}", item["id"]).group())
        year = item["issued"]["date-parts"][0][0]
        if key_year != year:
            bad.append(f"{item['id']} (year {year})")
    assert not bad, f"key year differs from the entry's year: {bad}"


def test_required_keys_present():
    keys = {key for _, key, _ in raw_entries()}
    missing = sorted(REQUIRED_KEYS - keys)
    assert not missing, f"missing required references: {missing}"


# --------------------------------------------------------------------------
# Fields
# --------------------------------------------------------------------------


def test_every_entry_has_title_author_year():
    problems = []
    for item in csl_items():
        if not item.get("title", "").strip():
            problems.append(f"{item['id']}: no title")
        authors = item.get("author") or []
        if not authors or not all(a.get("family") or a.get("literal") for a in authors):
            problems.append(f"{item['id']}: no author or organisation")
        parts = (item.get("issued") or {}).get("date-parts") or [[None]]
        year = parts[0][0] if parts and parts[0] else None
        if not isinstance(year, int) or not 1000 <= year <= 2100:
            problems.append(f"{item['id']}: no year")
    assert not problems, "\n".join(problems)


def test_every_entry_has_a_venue():
    problems = []
    for item in csl_items():
        if not (item.get("container-title") or item.get("publisher")):
            problems.append(item["id"])
    assert not problems, f"entries without journal/booktitle/publisher: {problems}"


def test_every_entry_has_doi_or_url():
    missing = [item["id"] for item in csl_items() if not (item.get("DOI") or item.get("URL"))]
    assert not missing, f"entries without doi or url: {missing}"


def test_dois_are_bare_and_well_formed():
    bad = []
    for _, key, body in raw_entries():
        doi = raw_field(body, "doi")
        if doi is not None and not DOI_PATTERN.match(doi):
            bad.append(f"{key}: {doi!r}")
    for item in csl_items():
        if "DOI" in item and not DOI_PATTERN.match(item["DOI"]):
            bad.append(f"{item['id']}: {item['DOI']!r}")
    assert not bad, "\n".join(bad)


def test_urls_are_absolute():
    bad = [f"{i['id']}: {i['URL']!r}" for i in csl_items() if "URL" in i and not URL_PATTERN.match(i["URL"])]
    assert not bad, "\n".join(bad)


def test_no_duplicate_dois():
    seen: dict[str, str] = {}
    duplicates = []
    for item in csl_items():
        doi = item.get("DOI", "").lower()
        if not doi:
            continue
        if doi in seen:
            duplicates.append(f"{doi}: {seen[doi]} and {item['id']}")
        seen[doi] = item["id"]
    assert not duplicates, "\n".join(duplicates)


def test_no_duplicate_titles():
    seen: dict[str, str] = {}
    duplicates = []
    for item in csl_items():
        title = normalise_title(item["title"])
        if title in seen:
            duplicates.append(f"{seen[title]} and {item['id']}: {item['title']!r}")
        seen[title] = item["id"]
    assert not duplicates, "\n".join(duplicates)


def test_no_unescaped_latex_specials():
    """A bare & or % in a field value breaks BibTeX/LaTeX output."""
    bad = []
    for _, key, body in raw_entries():
        for line in body.splitlines():
            if line.lstrip().startswith("%"):
                continue
            if re.search(r"(?<!\\)[&%]", line.split("=", 1)[-1]) and "url" not in line.split("=", 1)[0].lower():
                bad.append(f"{key}: {line.strip()}")
    assert not bad, "\n".join(bad)


# --------------------------------------------------------------------------
# Citation style
# --------------------------------------------------------------------------


def test_exactly_one_csl_style():
    files = csl_files()
    assert len(files) == 1, f"expected one .csl file in csl/, found {[f.name for f in files]}"


def test_csl_is_wellformed_independent_style():
    (path,) = csl_files()
    root = ET.parse(path).getroot()
    assert root.tag == f"{CSL_NS}style", root.tag
    assert root.get("version", "").startswith("1.0")
    assert root.get("class") in {"in-text", "note"}
    info = root.find(f"{CSL_NS}info")
    assert info is not None and info.find(f"{CSL_NS}title") is not None
    rels = {link.get("rel") for link in info.findall(f"{CSL_NS}link")}
    assert "independent-parent" not in rels, "dependent style: it needs its parent file"
    assert root.find(f"{CSL_NS}citation") is not None
    assert root.find(f"{CSL_NS}bibliography") is not None
    rights = info.find(f"{CSL_NS}rights")
    assert rights is not None and "by-sa/3.0" in rights.get("license", ""), "CC BY-SA 3.0 licence statement missing"


def test_citeproc_renders_every_entry_without_warnings():
    (path,) = csl_files()
    document = '---\nnocite: "@*"\n---\n\nAll references.\n\n::: {#refs}\n:::\n'
    result = run_pandoc(
        "-f",
        "markdown",
        "-t",
        "plain",
        "--citeproc",
        "--bibliography",
        str(BIB),
        "--csl",
        str(path),
        stdin=document,
    )
    assert result.returncode == 0, result.stderr
    assert not result.stderr.strip(), result.stderr
    rendered = result.stdout
    assert rendered.count("https://doi.org/10.") >= sum(1 for i in csl_items() if i.get("DOI"))
    assert "???" not in rendered
