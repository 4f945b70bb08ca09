"""Book checks: everything about the Quarto sources that can be verified without Quarto.

Quarto cannot be installed on the development and CI machines, so these checks
stand in for the parts of `quarto render` that would catch authoring mistakes:

* `_quarto.yml` lists chapters that exist, and every chapter file is listed;
* every chapter has one level-1 heading with a ``{#sec-…}`` id, ids are unique;
* every ``@fig-``/``@sec-``/``@eq-``/``@tbl-`` reference resolves to a label in
  the book or in a notebook cell that the book embeds;
* every ``{{< embed >}}`` names an existing notebook by its project path
  (``/notebooks/…``, so that Quarto's figure files are not hidden files) and a
  cell with that label, a stored image output, a caption and alt text;
* every ``{{< value … >}}`` names a number that exactly one notebook published
  (or the notebook given with ``nb=``; ``bioimaging_guide.bookvalues``), with
  valid options;
* the PDF can print every character: no Greek letters, ≥, ≤, ≈ … outside math
  (LuaLaTeX's default Latin Modern fonts lack them) in chapters, figure
  captions and embedded outputs; no stored output line too long for the page
  and no long inline code (both run past the PDF's margin);
* ``_quarto.yml`` carries no option that Quarto ignores in book projects
  (``notebook-links``, ``notebook-view``: the book extension makes the links);
* every citation ``[@key]`` exists in ``references.bib``;
* every ``{{< glossary … >}}`` term exists in ``glossary.yml``;
* every figure has alt text;
* fenced divs are balanced and callouts use Quarto's five callout types;
* notebooks are named after a chapter listed in ``_quarto.yml``
  (``NN-<chapter>.ipynb`` or ``NN-<chapter>-<part>.ipynb``), start with an
  Open-in-Colab badge pointing at the configured repository, have exactly one
  Colab-guarded install cell, execution counts 1..N and stored outputs;
* the repository URL's derived copies agree with ``_quarto.yml`` (``repo.py``).

Each problem names the file and line.  Run ``python tools/bookcheck.py`` from
the repository root for a report; ``tools/tests/test_bookcheck.py`` runs the
same checks.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from bioimaging_guide.bookvalues import stored_values

# tools/repo.py: this script's folder is on sys.path when it runs (and in tools/tests/conftest.py)
from repo import CHAPTER_NAME, NOTEBOOK_NAME, chapter_list, load_quarto, load_repo, notebook_chapter
from repo import problems as repo_problems

CROSSREF_PREFIXES = ("fig", "sec", "eq", "tbl", "lst", "thm", "lem", "cor", "prp", "def", "exm", "exr", "cnj")
CALLOUT_TYPES = {"note", "tip", "warning", "caution", "important"}
UNNUMBERED_PAGES = {"index.qmd", "glossary.qmd", "references.qmd"}

SHORTCODE = re.compile(r"\{\{<\s*(?P<name>[\w-]+)(?P<args>.*?)>\}\}")
LABEL_DEF = re.compile(r"\{#(?P<label>(?:" + "|".join(CROSSREF_PREFIXES) + r")-[\w:.-]+)")
FENCE = re.compile(r"^(?P<colons>:{3,})\s*(?P<rest>.*?)\s*$")
CODE_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})")
GLOSSARY_SHORTCODES = {"glossary"}
VALUE_OPTIONS = {"digits", "percent", "sign", "nb"}
# Characters above U+036F that LuaLaTeX's default fonts (Latin Modern Roman and
# Mono) can print; every other one comes out blank in the PDF unless it is math.
# (Read from the cmaps of lmroman10-regular.otf and lmmono10-regular.otf.)
PDF_PRINTABLE = set("ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ‐‑–—‖‘’‚“”„†‡•…‰‹›⁄←↑→↓−∕∗√∞℃№Ω⌀◦\u00a0\u2009\u202f")
PDF_CODE_WIDTH = 72  # characters of Latin Modern Mono that fit the PDF's text width (A4, 11 pt)
INLINE_CODE_MAX = 30  # longer inline code cannot break and can run past the margin
MATH_SPAN = re.compile(r"\$\$.*?\$\$|\$[^$]+\$", re.S)


def unprintable(text: str) -> list[str]:
    """Characters of ``text`` the PDF's default fonts cannot print (each once, in order)."""
    out: list[str] = []
    for ch in text:
        if ord(ch) > 0x36F and ch not in PDF_PRINTABLE and ch not in out:
            out.append(ch)
    return out


def glyph_advice(chars: list[str]) -> str:
    shown = " ".join(f"'{c}' (U+{ord(c):04X})" for c in chars)
    return (
        f"{shown} outside math: LuaLaTeX's default font has no such glyph, so the PDF shows a blank; "
        "write it as math ($\\tau$, $\\geq$, $\\approx$) or in words"
    )


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


# --------------------------------------------------------------------------- helpers


@lru_cache(maxsize=1)
def pandoc_path() -> str:
    import pypandoc

    return pypandoc.get_pandoc_path()


def pandoc_ast(text: str) -> dict:
    """Parse Quarto markdown with pandoc into its JSON AST.

    Quarto shortcodes are plain text to pandoc; everything else (headings with
    attributes, fenced divs, citations and cross-references, images) is parsed
    exactly as Quarto's pandoc parses it.
    """
    res = subprocess.run(
        [pandoc_path(), "-f", "markdown", "-t", "json"],
        input=text.encode("utf-8"),
        capture_output=True,
        check=False,
    )
    if res.returncode != 0:
        raise ValueError(res.stderr.decode("utf-8", "replace"))
    return json.loads(res.stdout)


def walk(node):
    """Yield every dict node of a pandoc JSON AST."""
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)


def stringify(inlines) -> str:
    out = []
    for n in walk(inlines):
        t = n.get("t")
        if t == "Str":
            out.append(n["c"])
        elif t in ("Space", "SoftBreak", "LineBreak"):
            out.append(" ")
        elif t in ("Code", "Math"):
            out.append(n["c"][-1])
    return "".join(out)


def line_of(text: str, needle: str, start: int = 0) -> int:
    """1-based line of the first occurrence of ``needle`` (1 if absent)."""
    i = text.find(needle, start)
    return text.count("\n", 0, i) + 1 if i >= 0 else 1


def masked_lines(text: str) -> list[str]:
    """Source lines with fenced code blocks and YAML front matter blanked out."""
    lines = text.split("\n")
    out, fence = [], None
    in_yaml = bool(lines) and lines[0].strip() == "---"
    for i, line in enumerate(lines):
        if in_yaml:
            out.append("")
            if i > 0 and line.strip() in ("---", "..."):
                in_yaml = False
            continue
        m = CODE_FENCE.match(line.lstrip())
        if fence is None and m:
            fence = m.group("fence")
            out.append("")
        elif fence is not None:
            if line.strip().startswith(fence[0] * len(fence)) and line.strip().strip(fence[0]) == "":
                fence = None
            out.append("")
        else:
            out.append(line)
    return out


def shortcode_args(raw: str) -> tuple[list[str], dict[str, str]]:
    """Split shortcode arguments the way Quarto does: positional and key=value."""
    args, kwargs = [], {}
    for tok in shlex.split(raw.strip()):
        if "=" in tok and re.match(r"^[\w-]+=", tok):
            k, v = tok.split("=", 1)
            kwargs[k] = v
        else:
            args.append(tok)
    return args, kwargs


# --------------------------------------------------------------------------- loaders


def bib_keys(path: Path) -> set[str]:
    if not path.exists():
        return set()
    text = path.read_text(encoding="utf-8")
    return set(re.findall(r"^\s*@\w+\s*\{\s*([^,\s]+)\s*,", text, flags=re.M))


REPO_ROOT = Path(__file__).resolve().parents[1]
# The stub of Quarto's Lua API that the glossary extension's own tests use.
GLOSSARY_HARNESS = REPO_ROOT / "tests" / "glossary_fixtures" / "harness.lua"


def resolve_glossary_terms(root: Path, terms: list[str]) -> tuple[dict[str, str], str | None]:
    """Resolve glossary terms with the real extension (``_extensions/glossary/glossary.lua``).

    The lookup rules (case, dashes, plural endings, aliases) live only in the
    Lua extension; this runs it under ``pandoc lua`` with a stub of Quarto's
    API. Returns ``({term: canonical term or ""}, error message or None)``.
    """
    lua = root / "_extensions" / "glossary" / "glossary.lua"
    if not lua.is_file():
        lua = REPO_ROOT / "_extensions" / "glossary" / "glossary.lua"
    spec = {
        "lua_file": str(lua),
        "format": "html",
        "project_dir": str(root),
        "offset": ".",
        "calls": [],
        "lookups": sorted(set(terms)),
    }
    res = subprocess.run(
        [pandoc_path(), "lua", str(GLOSSARY_HARNESS), json.dumps(spec)], capture_output=True, text=True, check=False
    )
    if res.returncode != 0:
        return {}, res.stderr.strip().splitlines()[-1] if res.stderr.strip() else "pandoc lua failed"
    return json.loads(res.stdout)["lookups"], None


def load_notebook(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def cell_options(cell: dict) -> dict:
    """The ``#| key: value`` options at the top of a code cell."""
    lines = []
    for line in "".join(cell.get("source", "")).splitlines():
        if line.startswith("#|"):
            lines.append(line[2:].strip() and line[3:] if line.startswith("#| ") else line[2:])
        else:
            break
    if not lines:
        return {}
    try:
        opts = yaml.safe_load("\n".join(lines))
    except yaml.YAMLError as err:
        return {"__error__": str(err)}
    return opts if isinstance(opts, dict) else {}


def notebook_labels(nb: dict) -> dict[str, dict]:
    out = {}
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            label = cell_options(cell).get("label")
            if label:
                out[str(label)] = cell
    return out


def has_image_output(cell: dict) -> bool:
    return any(
        o.get("output_type") in ("display_data", "execute_result")
        and any(k.startswith("image/") for k in (o.get("data") or {}))
        for o in cell.get("outputs", [])
    )


# --------------------------------------------------------------------------- checks


class BookChecker:
    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        self.problems: list[Problem] = []
        self.cfg = load_quarto(self.root)
        self.keys = bib_keys(self.root / str(self.cfg.get("bibliography", "references.bib")))
        self.glossary_uses: list[tuple[Path, int, str]] = []
        self.labels: dict[str, str] = {}  # label -> where defined
        self.pending_refs: list[tuple[str, int, str]] = []
        self.values: dict[Path, dict] = {}  # notebook -> the values it published
        self.repo = None

    def add(self, file: Path | str, line: int, message: str) -> None:
        rel = Path(file).resolve().relative_to(self.root).as_posix() if Path(file).is_absolute() else str(file)
        self.problems.append(Problem(rel, line, message))

    def define(self, label: str, where: str, file: Path, line: int) -> None:
        if label in self.labels and self.labels[label] != where:
            self.add(file, line, f"label '{label}' is defined twice (also at {self.labels[label]})")
        self.labels[label] = where

    # -- structure ---------------------------------------------------------
    def check_config(self) -> list[Path]:
        qpath = self.root / "_quarto.yml"
        project = self.cfg.get("project") or {}
        if project.get("type") != "book":
            self.add(qpath, 1, "project.type must be 'book'")
        chapters = chapter_list(self.cfg)
        files = []
        for ch in chapters:
            p = self.root / ch
            if not p.is_file():
                line = line_of(qpath.read_text(encoding="utf-8"), ch)
                self.add(qpath, line, f"chapter '{ch}' is listed but does not exist")
            else:
                files.append(p)
        listed = {(self.root / c).resolve() for c in chapters}
        for p in sorted((self.root / "chapters").glob("*.qmd")):
            if p.resolve() not in listed:
                self.add(p, 1, "chapter file is not listed in _quarto.yml")
            if not CHAPTER_NAME.match(p.name):
                self.add(p, 1, "chapter files are named NN-topic.qmd")
        if len(set(chapters)) != len(chapters):
            self.add(qpath, 1, "a chapter is listed twice in _quarto.yml")
        html = ((self.cfg.get("format") or {}).get("html")) or {}
        for key in ("notebook-links", "notebook-view"):
            if isinstance(html, dict) and key in html:
                self.add(
                    qpath,
                    line_of(qpath.read_text(encoding="utf-8"), key),
                    f"format.html.{key} does nothing in a book project (Quarto ignores it); the book extension's "
                    "notebook-links filter makes the links: remove it",
                )
        try:
            self.repo = load_repo(self.root)
        except Exception as err:
            self.add(qpath, 1, f"repository URL: {err}")
        return files

    # -- one .qmd file ----------------------------------------------------------
    def check_qmd(self, path: Path) -> None:
        text = path.read_text(encoding="utf-8")
        lines = masked_lines(text)
        masked = "\n".join(lines)
        try:
            ast = pandoc_ast(text)
        except ValueError as err:
            self.add(path, 1, f"pandoc cannot parse this file: {err}")
            return

        # headings and section ids
        level1 = [b for b in ast["blocks"] if b.get("t") == "Header" and b["c"][0] == 1]
        if path.name not in UNNUMBERED_PAGES or path.parent.name == "chapters":
            if len(level1) != 1:
                self.add(path, 1, f"a chapter has exactly one level-1 heading (found {len(level1)})")
            elif not level1[0]["c"][1][0].startswith("sec-"):
                title = stringify(level1[0]["c"][2])
                self.add(
                    path,
                    line_of(text, "# " + title.split(" ")[0]),
                    f"the chapter heading '{title}' needs a {{#sec-…}} id",
                )
        for node in walk(ast["blocks"]):
            if node.get("t") == "Header":
                ident = node["c"][1][0]
                if ident.startswith("sec-"):
                    line = line_of(text, "#" + ident)
                    self.define(ident, f"{path.relative_to(self.root).as_posix()}:{line}", path, line)

        # labels written in the source ({#fig-…}, {#eq-…}, {#tbl-…}, div ids)
        for i, line in enumerate(lines, 1):
            for m in LABEL_DEF.finditer(line):
                if not m.group("label").startswith("sec-"):
                    self.define(m.group("label"), f"{path.relative_to(self.root).as_posix()}:{i}", path, i)

        # images: alt text
        for node in walk(ast["blocks"]):
            if node.get("t") == "Image":
                attr, inlines, (src, _title) = node["c"]
                kv = dict(attr[2])
                if not stringify(inlines).strip() and not kv.get("fig-alt", "").strip():
                    self.add(
                        path,
                        line_of(text, src),
                        f"image '{src}' has no alt text (write ![alt text](…) or add fig-alt=\"…\")",
                    )
            if node.get("t") == "Div":
                ident, classes, kv = node["c"][0]
                for c in classes:
                    if c.startswith("callout"):
                        kind = c.split("-", 1)[1] if "-" in c else ""
                        if kind not in CALLOUT_TYPES:
                            self.add(
                                path,
                                line_of(text, c),
                                f"'.{c}' is not a Quarto callout; use one of {sorted(CALLOUT_TYPES)}",
                            )
                if ident.startswith("fig-"):
                    has_img = any(n.get("t") == "Image" for n in walk(node["c"][1]))
                    if not has_img and not dict(kv).get("fig-alt"):
                        self.add(
                            path, line_of(text, "#" + ident), f"figure '{ident}' has no alt text (add fig-alt=\"…\")"
                        )

        # citations and cross-references
        for node in walk(ast["blocks"]):
            if node.get("t") == "Cite":
                for cit in node["c"][0]:
                    cid = cit["citationId"]
                    prefix = cid.split("-", 1)[0]
                    if "-" in cid and prefix in CROSSREF_PREFIXES:
                        self.pending_refs.append((str(path), line_of(masked, "@" + cid), cid))
                    elif cid not in self.keys:
                        self.add(path, line_of(masked, "@" + cid), f"citation '@{cid}' is not in references.bib")

        # fenced divs
        stack: list[tuple[int, str]] = []
        for i, line in enumerate(lines, 1):
            m = FENCE.match(line)
            if not m:
                continue
            rest = m.group("rest")
            if rest:
                stack.append((i, rest))
            elif stack:
                stack.pop()
            else:
                self.add(path, i, "':::' closes a fenced div that was never opened")
        for i, rest in stack:
            self.add(path, i, f"fenced div '::: {rest}' is never closed")

        # shortcodes
        for i, line in enumerate(lines, 1):
            for m in SHORTCODE.finditer(line):
                name, raw = m.group("name"), m.group("args")
                if name == "embed":
                    self.check_embed(path, i, raw.strip())
                elif name in GLOSSARY_SHORTCODES:
                    self.check_glossary(path, i, raw)
                elif name == "value":
                    self.check_value(path, i, raw)

        # what the PDF cannot print (math removed, keeping line numbers), and inline code too long to break
        no_math = MATH_SPAN.sub(lambda m: "\n" * m.group().count("\n"), text)
        for i, line in enumerate(no_math.split("\n"), 1):
            bad = unprintable(line)
            if bad:
                self.add(path, i, glyph_advice(bad))
        for node in walk(ast["blocks"]):
            if node.get("t") == "Code" and len(node["c"][1]) > INLINE_CODE_MAX:
                content = node["c"][1]
                self.add(
                    path,
                    line_of(text, content),
                    f"inline code '{content[:30]}…' is {len(content)} characters long and cannot break, so it "
                    f"runs past the PDF's margin: keep inline code under {INLINE_CODE_MAX} characters "
                    "(link a long path, or put it in a code block)",
                )

    def check_glossary(self, path: Path, line: int, raw: str) -> None:
        try:
            args, _kw = shortcode_args(raw)
        except ValueError as err:
            self.add(path, line, f"glossary shortcode cannot be parsed ({err})")
            return
        if not args:
            self.add(path, line, "glossary shortcode without a term")
            return
        self.glossary_uses.append((path, line, " ".join(args)))

    def check_glossary_terms(self) -> None:
        if not self.glossary_uses:
            return
        found, error = resolve_glossary_terms(self.root, [t for _, _, t in self.glossary_uses])
        if error:
            self.add(self.root / "glossary.yml", 1, f"the glossary extension cannot load glossary.yml: {error}")
            return
        for path, line, term in self.glossary_uses:
            if not found.get(term):
                self.add(
                    path, line, f"glossary term '{term}' is not in glossary.yml (add it there, or fix the spelling)"
                )

    def check_embed(self, path: Path, line: int, raw: str) -> None:
        target = raw.split()[0] if raw else ""
        if "#" not in target:
            self.add(path, line, f"embed '{target}' must name a cell: notebook.ipynb#label")
            return
        nbref, label = target.split("#", 1)
        if not nbref.startswith("/notebooks/"):
            self.add(
                path,
                line,
                f"embed '{nbref}': write the notebook's project path, /notebooks/NAME.ipynb (a relative path such "
                "as ../notebooks/… makes Quarto name the figure files '..-notebooks-…', hidden files that "
                "GitHub's upload actions leave out of the website)",
            )
        nb_path = (self.root / nbref.lstrip("/")) if nbref.startswith("/") else (path.parent / nbref).resolve()
        where = f"{path.relative_to(self.root).as_posix()}:{line}"
        if not nb_path.is_file():
            self.add(path, line, f"embedded notebook '{nbref}' does not exist")
            return
        cell = notebook_labels(load_notebook(nb_path)).get(label)
        if cell is None:
            self.add(path, line, f"notebook '{nbref}' has no cell labelled '{label}'")
            return
        opts = cell_options(cell)
        if not has_image_output(cell) and label.startswith("fig-"):
            self.add(
                path,
                line,
                f"cell '{label}' of '{nbref}' has no stored image output (run the notebook and commit its outputs)",
            )
        if label.startswith("fig-"):
            if not str(opts.get("fig-cap", "")).strip():
                self.add(path, line, f"cell '{label}' of '{nbref}' has no fig-cap")
            if not str(opts.get("fig-alt", "")).strip():
                self.add(path, line, f"cell '{label}' of '{nbref}' has no fig-alt (alt text)")
        self.define(label, where, path, line)
        self.check_embedded_cell(path, line, nbref, label, cell)

    def check_embedded_cell(self, path: Path, line: int, nbref: str, label: str, cell: dict) -> None:
        """What an embedded cell brings into the PDF: its caption and its stored text outputs."""
        opts = cell_options(cell)
        for key in ("fig-cap", "tbl-cap"):
            bad = unprintable(MATH_SPAN.sub("", str(opts.get(key, ""))))
            if bad:
                self.add(path, line, f"{key} of cell '{label}' in '{nbref}': {glyph_advice(bad)}")
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                text = "".join(out.get("text", ""))
            else:
                data = out.get("data") or {}
                if any(k.startswith("image/") or k in ("text/latex", "text/markdown") for k in data):
                    continue
                text = "".join(data.get("text/plain", ""))
            bad = unprintable(text)
            if bad:
                self.add(
                    path,
                    line,
                    f"stored output of cell '{label}' in '{nbref}' prints {' '.join(bad)}, which the PDF's code font "
                    "lacks: print the name in words (tau, sigma, >=) and re-run the notebook",
                )
            long = [t for t in text.splitlines() if len(t) > PDF_CODE_WIDTH]
            if long:
                self.add(
                    path,
                    line,
                    f"stored output of cell '{label}' in '{nbref}' has {len(long)} line(s) longer than "
                    f"{PDF_CODE_WIDTH} characters, which run past the PDF's margin (longest {max(map(len, long))}): "
                    "print shorter lines and re-run the notebook",
                )

    def check_value(self, path: Path, line: int, raw: str) -> None:
        try:
            args, kwargs = shortcode_args(raw)
        except ValueError as err:
            self.add(path, line, f"value shortcode cannot be parsed ({err})")
            return
        if len(args) != 1:
            self.add(path, line, "usage: {{< value NAME [digits=N] [percent=true] [sign=true] [nb=NOTEBOOK] >}}")
            return
        unknown = sorted(set(kwargs) - VALUE_OPTIONS)
        if unknown:
            self.add(path, line, f"value '{args[0]}': unknown option(s) {unknown} (known: {sorted(VALUE_OPTIONS)})")
        digits = kwargs.get("digits")
        if digits is not None and not (digits.isdigit() and int(digits) <= 10):
            self.add(path, line, f"value '{args[0]}': digits must be a whole number from 0 to 10, got '{digits}'")
        for key in ("percent", "sign"):
            if key in kwargs and kwargs[key].lower() not in ("true", "false", "yes", "no", "1", "0"):
                self.add(path, line, f"value '{args[0]}': {key} must be true or false")
        stem = kwargs.get("nb")
        if stem is None:  # the one notebook that publishes the name (as the book extension finds it)
            owners = [
                nb.stem for nb in sorted((self.root / "notebooks").glob("*.ipynb")) if args[0] in self.published(nb)
            ]
            if len(owners) != 1:
                self.add(
                    path,
                    line,
                    f"value '{args[0]}': "
                    + (
                        f"several notebooks publish it ({', '.join(owners)}); say which with nb=…"
                        if owners
                        else "no notebook publishes it; add it with values.add(…) in the notebook that computes it "
                        "and re-run that notebook"
                    ),
                )
            return
        nb_path = self.root / "notebooks" / f"{stem}.ipynb"
        if not nb_path.is_file():
            self.add(path, line, f"value '{args[0]}': no notebook notebooks/{stem}.ipynb (name it with nb=…)")
            return
        values = self.published(nb_path)
        if not values:
            self.add(path, line, f"notebooks/{stem}.ipynb publishes no values: add BookValues(…).publish() at its end")
        elif args[0] not in values:
            self.add(
                path,
                line,
                f"notebooks/{stem}.ipynb publishes no value '{args[0]}' "
                f"(it has {len(values)}: {', '.join(sorted(values)[:8])}…); add it with values.add(…) and re-run",
            )

    def published(self, nb_path: Path) -> dict:
        """The values a notebook published (cached); a notebook that publishes twice is reported."""
        if nb_path not in self.values:
            try:
                self.values[nb_path] = stored_values(nb_path)
            except ValueError as err:
                self.add(nb_path, 1, str(err))
                self.values[nb_path] = {}
        return self.values[nb_path]

    # -- notebooks ---------------------------------------------------------------
    def check_notebook(self, path: Path, chapters: list[Path]) -> None:
        """Check one notebook; ``chapters`` are the existing chapter files listed in ``_quarto.yml``."""
        rel = path.relative_to(self.root).as_posix()
        stems = [p.stem for p in chapters if CHAPTER_NAME.match(p.name)]
        if not NOTEBOOK_NAME.match(path.name):
            self.add(
                path,
                1,
                "notebooks are named after their chapter: NN-<chapter>.ipynb or "
                "NN-<chapter>-<part>.ipynb (lower case, hyphens)",
            )
        elif notebook_chapter(path.name, stems) is None:
            self.add(
                path,
                1,
                f"no chapter for this notebook: its name must be the file name of a chapter "
                f"listed in _quarto.yml, optionally followed by -<part> "
                f"(chapters: {', '.join(stems) or 'none'})",
            )
        try:
            nb = load_notebook(path)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            self.add(path, 1, f"not a readable notebook ({err})")
            return
        cells = nb.get("cells", [])
        head = "".join("".join(c.get("source", "")) for c in cells[:3])
        if "colab.research.google.com/assets/colab-badge.svg" not in head:
            self.add(path, 1, "no Open-in-Colab badge in the first cells")
        elif self.repo is not None and f"({self.repo.colab_url(rel)})" not in head:
            self.add(path, 1, f"the Colab badge does not point at {self.repo.colab_url(rel)}")
        code = [c for c in cells if c.get("cell_type") == "code"]
        installs = [i for i, c in enumerate(code) if re.search(r"pip\W+install", "".join(c.get("source", "")))]
        guarded = [i for i in installs if "google.colab" in "".join(code[i].get("source", ""))]
        if len(guarded) != 1:
            self.add(path, 1, f"needs exactly one install cell guarded by 'google.colab' (found {len(guarded)})")
        if len(installs) != len(guarded):
            self.add(path, 1, "installs packages outside the Colab-guarded install cell")
        if guarded and guarded[0] != 0:
            self.add(path, 1, "the Colab install cell must be the first code cell")
        counts = [c.get("execution_count") for c in code]
        if any(n is None for n in counts):
            self.add(path, 1, "some code cells were never run: commit the outputs of a clean top-to-bottom run")
        elif counts != list(range(1, len(counts) + 1)):
            self.add(path, 1, f"execution counts are {counts[:12]}…, not 1..N: restart the kernel and run all cells")
        if not any(c.get("outputs") for c in code):
            self.add(path, 1, "no stored outputs")
        seen = set()
        for c in code:
            opts = cell_options(c)
            if "__error__" in opts:
                self.add(path, 1, f"cell options are not valid YAML: {opts['__error__']}")
            label = opts.get("label")
            if not label:
                continue
            if label in seen:
                self.add(path, 1, f"label '{label}' is used by two cells")
            seen.add(label)
            if str(label).startswith("fig-"):
                for key in ("fig-cap", "fig-alt"):
                    if not str(opts.get(key, "")).strip():
                        self.add(path, 1, f"figure cell '{label}' has no {key}")
                if not has_image_output(c):
                    self.add(path, 1, f"figure cell '{label}' has no stored image output")
            for o in c.get("outputs", []):
                if o.get("output_type") == "error":
                    self.add(path, 1, f"cell '{label}' stored an error output")
        for c in code:
            for o in c.get("outputs", []):
                if o.get("output_type") == "error":
                    self.add(path, 1, f"a stored output is an error ({o.get('ename')}): re-run the notebook")
                    break

    # -- everything ----------------------------------------------------------------
    def run(self) -> list[Problem]:
        files = self.check_config()
        for nb in sorted((self.root / "notebooks").glob("*.ipynb")):
            self.check_notebook(nb, files)
        for f in files:
            self.check_qmd(f)
        self.check_glossary_terms()
        for file, line, ref in self.pending_refs:
            if ref not in self.labels:
                self.add(
                    Path(file),
                    line,
                    f"cross-reference '@{ref}' does not resolve to any label in the book or its embedded cells",
                )
        if self.repo is not None:
            try:
                for p in repo_problems(self.root):
                    f, _, msg = p.partition(": ")
                    self.add(f, 1, msg)
            except Exception as err:
                self.add("_quarto.yml", 1, f"repository URL checks failed: {err}")
        return sorted(set(self.problems))


def check_book(root: str | Path) -> list[Problem]:
    return BookChecker(root).run()


if __name__ == "__main__":
    found = check_book(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])
    for p in found:
        print(p)
    print(f"{len(found)} problem(s)")
    sys.exit(1 if found else 0)
