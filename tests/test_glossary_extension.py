"""Tests for the project-local glossary extension (_extensions/glossary/).

Quarto is not needed: the real glossary.lua is run with `pandoc lua` (the
pandoc binary shipped with pypandoc) through tests/glossary_fixtures/harness.lua,
which stubs the bits of Quarto's Lua API the extension uses and calls the
shortcode handlers the way Quarto does. See _extensions/glossary/README.md.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXT = ROOT / "_extensions" / "glossary"
LUA = EXT / "glossary.lua"
FIXTURES = Path(__file__).resolve().parent / "glossary_fixtures"
HARNESS = FIXTURES / "harness.lua"
FIXTURE_PROJECT = FIXTURES / "project"
MALFORMED = FIXTURES / "malformed"
REAL_GLOSSARY = ROOT / "glossary.yml"


def _find_pandoc() -> str | None:
    try:
        import pypandoc  # type: ignore

        path = pypandoc.get_pandoc_path()
        if path and os.path.exists(path):
            return path
    except Exception:  # pragma: no cover - pypandoc missing or broken
        pass
    return shutil.which("pandoc")


PANDOC = _find_pandoc()


def _pandoc_has_lua(pandoc: str | None) -> bool:
    if not pandoc:
        return False
    try:
        out = subprocess.run(
            [pandoc, "lua", "-e", "print(pandoc.json ~= nil)"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "true" in out.stdout


pytestmark = pytest.mark.skipif(
    not _pandoc_has_lua(PANDOC),
    reason="needs pandoc >= 3.1 with `pandoc lua` (pip install pypandoc_binary)",
)

# The terms of the source draft's glossary that the book's glossary must keep.
SEED_TERMS = [
    "Backpropagation",
    "Batch",
    "Bayesian Optimization",
    "Binary Segmentation",
    "Computer Vision",
    "Data Augmentation",
    "Domain Randomization",
    "Effect Size",
    "Epoch",
    "F1 Score",
    "False Negatives",
    "False Positives",
    "Gaussian Process",
    "Genetic Algorithms",
    "Ground Truth",
    "Hallucinations",
    "Hyperparameters",
    "Image Classification",
    "Inferences",
    "Instance Segmentation",
    "IoU",
    "Manual Annotation",
    "Metadata",
    "Object Detection",
    "Panoptic Segmentation",
    "Pixel Classifiers",
    "Quality Control Metric",
    "Semantic Segmentation",
    "Star-convex Polygon",
    "Test Data",
    "Training Data",
    "Transfer Learning",
    "True Negatives",
    "True Positives",
    "Validation Data",
    "Virtual Machine",
]

# Terms the chapters need (the brief's list); each must resolve.
BOOK_TERMS = [
    "artificial intelligence",
    "machine learning",
    "deep learning",
    "neural network",
    "supervised learning",
    "unsupervised learning",
    "self-supervised learning",
    "clustering",
    "k-means",
    "random forest",
    "convolution",
    "convolutional neural network",
    "U-Net",
    "encoder",
    "decoder",
    "skip connection",
    "receptive field",
    "activation function",
    "weights",
    "parameters",
    "loss function",
    "gradient descent",
    "learning rate",
    "optimizer",
    "overfitting",
    "underfitting",
    "generalisation",
    "data augmentation",
    "augmentation",
    "normalisation",
    "patch",
    "label image",
    "segmentation",
    "watershed",
    "Otsu threshold",
    "precision",
    "recall",
    "accuracy",
    "average precision",
    "panoptic quality",
    "Hungarian matching",
    "IoU threshold",
    "PSNR",
    "SSIM",
    "signal-to-noise ratio",
    "Poisson noise",
    "denoising",
    "image restoration",
    "deconvolution",
    "CARE",
    "content-aware image restoration",
    "Noise2Void",
    "BM3D",
    "Anscombe transform",
    "blind-spot network",
    "hallucination",
    "hallucinations",
    "point spread function",
    "adaptive optics",
    "sensorless adaptive optics",
    "Zernike polynomials",
    "wavefront",
    "StarDist",
    "Cellpose",
    "fine-tuning",
    "foundation model",
    "large language model",
    "LLM",
    "vision-language model",
    "AI agent",
    "prompt",
    "transformer",
    "attention",
    "test-time augmentation",
    "uncertainty",
    "out-of-distribution",
    "domain shift",
    "class imbalance",
    "bootstrap",
    "confidence interval",
    "model card",
    "model zoo",
    "BioImage Model Zoo",
    "FAIR",
    "inference",
    "inferences",
    "event-driven microscopy",
    "smart microscopy",
    "photon transfer curve",
    "camera gain",
    "camera offset",
    "time-lapse",
    "GPU",
    "intersection over union",
    "false positive",
    "false positives",
    "false negative",
    "true positive",
    "true negatives",
]


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def run_harness(spec: dict, check: bool = True) -> subprocess.CompletedProcess:
    spec = {"lua_file": str(LUA), **spec}
    proc = subprocess.run(
        [PANDOC, "lua", str(HARNESS), json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(ROOT),
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"pandoc lua failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def report(spec: dict) -> dict:
    return json.loads(run_harness(spec).stdout)


def call(name: str, *args: str, context: str | None = "inline", **kwargs: str) -> dict:
    c: dict = {"name": name, "args": list(args), "kwargs": kwargs}
    if context is not None:
        c["context"] = context
    return c


def fixture_spec(fmt: str, calls: list[dict], **extra) -> dict:
    spec = {
        "format": fmt,
        "project_dir": str(FIXTURE_PROJECT),
        "offset": "..",
        "input_file": str(ROOT / "chapters" / "99-example.qmd"),
        "calls": calls,
    }
    spec.update(extra)
    return spec


def real_spec(fmt: str, calls: list[dict], **extra) -> dict:
    spec = {
        "format": fmt,
        "project_dir": str(ROOT),
        "offset": "..",
        "input_file": str(ROOT / "chapters" / "99-example.qmd"),
        "calls": calls,
    }
    spec.update(extra)
    return spec


def normalise(term: str) -> str:
    """Python twin of glossary.lua's M.normalise (used for sorting checks)."""
    s = term.lower()
    for a, b in [
        ("\u2019", "'"),
        ("\u2018", "'"),
        ("\u02bc", "'"),
        ("`", "'"),
        ("\u201c", ""),
        ("\u201d", ""),
        ('"', ""),
    ]:
        s = s.replace(a, b)
    for dash in ["\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "-", "_", "\u00a0"]:
        s = s.replace(dash, " ")
    s = re.sub(r"\s+", " ", s).strip()
    return re.sub(r"^[^0-9a-z]+", "", s)


class _Collector(HTMLParser):
    """Collects start tags with attributes and checks that tags nest properly."""

    VOID = {"br", "img", "hr", "input", "meta", "link", "wbr", "source"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self.errors: list[str] = []
        self.text_by_id: dict[str, list[str]] = {}
        self._id_stack: list[str | None] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag not in self.VOID:
            self.stack.append(tag)
            self._id_stack.append(a.get("id"))
            if a.get("id"):
                self.text_by_id.setdefault(a["id"], [])

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}>, open: {self.stack}")
            return
        self.stack.pop()
        self._id_stack.pop()

    def handle_data(self, data):
        for ident in self._id_stack:
            if ident:
                self.text_by_id[ident].append(data)


def parse_html(fragment: str) -> _Collector:
    c = _Collector()
    c.feed(fragment)
    c.close()
    assert not c.errors, c.errors
    assert not c.stack, f"unclosed tags: {c.stack}"
    return c


# --------------------------------------------------------------------------
# extension files
# --------------------------------------------------------------------------


def test_extension_files_exist_and_register_both_shortcodes():
    assert (EXT / "_extension.yml").is_file()
    manifest = (EXT / "_extension.yml").read_text()
    assert "shortcodes:" in manifest and "glossary.lua" in manifest
    for name in ("glossary.css", "glossary.js", "README.md"):
        assert (EXT / name).is_file(), name
    r = report(fixture_spec("html", []))
    # what Quarto's pairs() loop registers: exactly the two shortcodes
    assert r["registered"] == ["glossary", "glossary-page"]


def test_glossary_js_is_valid_javascript():
    node = shutil.which("node")
    if not node:
        pytest.skip("node not installed")
    proc = subprocess.run([node, "--check", str(EXT / "glossary.js")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# --------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------


def test_html_term_is_accessible_button_with_popup_and_link():
    r = report(fixture_spec("html", [call("glossary", "IoU")]))
    html = r["results"][0]
    c = parse_html(html)
    buttons = [a for t, a in c.tags if t == "button"]
    assert len(buttons) == 1
    b = buttons[0]
    assert b.get("type") == "button"
    assert b.get("aria-expanded") == "false"
    pop_id, def_id = b.get("aria-controls"), b.get("aria-describedby")
    assert pop_id and def_id
    ids = {a.get("id"): (t, a) for t, a in c.tags if a.get("id")}
    assert pop_id in ids and def_id in ids
    # popup starts hidden (JS toggles it); the definition is inside it
    assert "hidden" in ids[pop_id][1]
    # the visible term text is the author's text
    assert ">IoU</button>" in html
    # the entry link targets the glossary page, relative to chapters/
    links = [a["href"] for t, a in c.tags if t == "a" and "glossary-popup-link" in a.get("class", "")]
    assert links == ["../glossary.html#term-intersection-over-union"]
    # the CSS/JS dependency is registered
    assert r["deps"] and r["deps"][0]["name"] == "glossary"
    assert "glossary.js" in r["deps"][0]["scripts"]
    assert "glossary.css" in r["deps"][0]["stylesheets"]


def test_html_definition_markdown_is_rendered():
    r = report(fixture_spec("html", [call("glossary", "IoU"), call("glossary", "hallucination")]))
    assert "<em>cells</em>" in r["results"][0]
    assert "*cells*" not in r["results"][0]
    # multi-paragraph definition stays inline (no <p> inside a <p>)
    assert "<strong>bold</strong>" in r["results"][1]
    inner = r["results"][1][len("<p>") :]
    assert "<p>" not in inner


def test_html_special_characters_do_not_break_popup():
    r = report(
        fixture_spec(
            "html",
            [
                call("glossary", "tricky characters", display='Bob\'s <"odd"> & co'),
            ],
        )
    )
    html = r["results"][0]
    c = parse_html(html)
    # also well-formed XML inside a wrapper (catches unescaped & < in attributes)
    ET.fromstring("<root>" + html.replace("<br />", "<br/>") + "</root>")
    button = next(a for t, a in c.tags if t == "button")
    def_id = button["aria-describedby"]
    text = "".join(c.text_by_id[def_id])
    # the definition text round-trips: quotes, apostrophe, < and & intact
    assert "<b>" in text
    assert "&" in text and "x < y" in text
    assert "\u201cquoted\u201d" in text or '"quoted"' in text
    assert "It\u2019s" in text or "It's" in text
    assert "\\emph{raw}" in text  # raw TeX shown literally, not interpreted
    # the display text round-trips too
    btn_text = re.search(r"<button[^>]*>(.*?)</button>", html).group(1)
    assert btn_text == "Bob&#39;s &lt;&quot;odd&quot;&gt; &amp; co"
    # the link with & in its URL is escaped in the attribute
    hrefs = [a["href"] for t, a in c.tags if t == "a"]
    assert "https://example.org/?a=1&b=2" in hrefs


def test_html_ids_are_unique_per_document():
    r = report(
        fixture_spec("html", [call("glossary", "IoU"), call("glossary", "IoU"), call("glossary", "Jaccard index")])
    )
    c = parse_html(r["document"])
    ids = [a["id"] for _, a in c.tags if a.get("id")]
    assert len(ids) == len(set(ids))


def test_alias_and_case_insensitive_lookup_resolve_to_canonical_entry():
    r = report(
        fixture_spec(
            "html",
            [
                call("glossary", "IoU"),
                call("glossary", "jaccard INDEX"),
                call("glossary", "INTERSECTION OVER UNION"),
                call("glossary", "Intersection-over-union"),
            ],
        )
    )
    for html in r["results"]:
        assert 'data-glossary-entry="term-intersection-over-union"' in html
        assert '<span class="glossary-popup-title">Intersection over union</span>' in html
    assert ">jaccard INDEX</button>" in r["results"][1]


def test_plural_and_singular_fallback():
    r = report(
        fixture_spec(
            "html",
            [],
            lookups=[
                "false positives",
                "hallucination",
                "Hallucinations",
                "HALLUCINATION",
                "apples",
                "k means",
                "Bob's term",
                "Bob\u2019s term",
                "nothing like it",
            ],
        )
    )
    lk = r["lookups"]
    assert lk["false positives"] == "False positive"
    assert lk["hallucination"] == lk["Hallucinations"] == lk["HALLUCINATION"] == "Hallucination"
    assert lk["apples"] == "Apple"
    assert lk["k means"] == "k-means"
    assert lk["Bob's term"] == lk["Bob\u2019s term"] == "Tricky characters"
    assert lk["nothing like it"] == ""


def test_display_option():
    for fmt in ("html", "latex", "typst"):
        r = report(fixture_spec(fmt, [call("glossary", "IoU", display="overlap score")]))
        assert "overlap score" in r["results"][0], fmt
        assert "IoU" not in r["results"][0].replace("intersection-over-union", ""), fmt


def test_multiword_quoted_and_unquoted_terms():
    r = report(
        fixture_spec(
            "html",
            [
                call("glossary", '"false positive"'),  # quotes left on by Quarto
                call("glossary", "false", "positives"),  # unquoted multi-word
            ],
        )
    )
    assert ">false positive</button>" in r["results"][0]
    assert 'data-glossary-entry="term-false-positive"' in r["results"][1]


def test_text_context_returns_plain_text():
    r = report(fixture_spec("html", [call("glossary", "IoU", context="text")]))
    assert r["raw_results"] == ["IoU"]


def test_epub_gets_static_fallback():
    r = report(fixture_spec("epub", [call("glossary", "IoU")], writer="html"))
    assert "<button" not in r["results"][0]
    assert "<em>IoU</em>" in r["results"][0]


# --------------------------------------------------------------------------
# LaTeX / typst / docx
# --------------------------------------------------------------------------


def test_latex_term_stays_visible_and_links_to_entry():
    r = report(fixture_spec("latex", [call("glossary", "IoU"), call("glossary", "tricky characters")]))
    out = r["results"][0]
    assert "\\emph{IoU}" in out
    assert "\\hyperref[term-intersection-over-union]" in out
    assert not r["deps"]  # no HTML dependency outside HTML
    # option to turn the hyperref off
    r2 = report(fixture_spec("latex", [call("glossary", "IoU")], meta={"glossary": {"pdf-links": "false"}}))
    assert r2["results"][0].strip() == "\\emph{IoU}"


def test_typst_and_docx_terms_stay_visible():
    r = report(fixture_spec("typst", [call("glossary", "IoU")]))
    assert "#emph[IoU]" in r["results"][0]
    assert "link(" not in r["results"][0]  # no link to a label that may not exist
    r = report(fixture_spec("docx", [call("glossary", "IoU")], writer="native"))
    assert 'Emph [ Str "IoU" ]' in r["results"][0]


# --------------------------------------------------------------------------
# glossary page
# --------------------------------------------------------------------------


def test_page_html_has_ids_letters_aliases_and_markdown():
    r = report(fixture_spec("html", [call("glossary-page", context="block")], dump=True))
    html = r["document"]
    c = parse_html(html)
    ids = [a["id"] for _, a in c.tags if a.get("id")]
    for e in r["entries"]:
        assert e["slug"] in ids
    assert "glossary-letter-a" in ids and "glossary-letter-z" in ids
    assert "<em>cells</em>" in html
    assert "<em>Also:</em> IoU, Jaccard index" in html
    # pure plural variants are not listed as "Also"
    assert "<em>Also:</em> hallucinations" not in html
    # alphabetical, case-insensitive: Apple < False positive < ... < zebra crossing
    order = [m for m in re.findall(r'<span id="(term-[^"]+)"', html)]
    assert order[0] == "term-apple" and order[-1] == "term-zebra-crossing"
    assert r["sorted_terms"] == sorted(r["sorted_terms"], key=normalise)


def test_page_latex_renders_markdown_and_labels():
    r = report(fixture_spec("latex", [call("glossary-page", context="block")]))
    tex = r["document"]
    assert "\\emph{cells}" in tex
    assert "\\label{term-intersection-over-union}" in tex
    assert "\\begin{description}" in tex
    assert "\\emph{Also:} IoU, Jaccard index" in tex
    # raw TeX in a definition is escaped, not executed
    assert "\\textbackslash emph\\{raw\\}" in tex
    # letter headings do not clutter the PDF table of contents
    assert "\\subsection*{A}" in tex and "\\addcontentsline" not in tex


def test_page_typst_has_labels():
    r = report(fixture_spec("typst", [call("glossary-page", context="block")]))
    typ = r["document"]
    assert "<term-intersection-over-union>" in typ
    assert "#emph[cells]" in typ
    assert "outlined: false" in typ


def test_page_must_stand_alone():
    proc = run_harness(fixture_spec("html", [call("glossary-page", context="inline")]), check=False)
    assert proc.returncode != 0
    assert "own paragraph" in proc.stderr


def test_real_glossary_typst_compiles_if_typst_available(tmp_path):
    typst = pytest.importorskip("typst")
    r = report(real_spec("typst", [call("glossary", "IoU"), call("glossary-page", context="block")], standalone=True))
    src = tmp_path / "g.typ"
    src.write_text(r["document"], encoding="utf-8")
    pdf = typst.compile(str(src))
    assert pdf[:4] == b"%PDF"


def test_real_glossary_latex_compiles_if_latex_available(tmp_path):
    pdflatex = shutil.which("pdflatex")
    if not pdflatex:
        pytest.skip("pdflatex not installed")
    r = report(
        real_spec(
            "latex",
            [call("glossary", "IoU"), call("glossary", "hallucinations"), call("glossary-page", context="block")],
            standalone=True,
        )
    )
    tex = tmp_path / "g.tex"
    tex.write_text(r["document"], encoding="utf-8")
    proc = subprocess.run(
        [pdflatex, "-interaction=nonstopmode", "-halt-on-error", "g.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "g.pdf").exists()


# --------------------------------------------------------------------------
# failures
# --------------------------------------------------------------------------


def test_unknown_term_fails_loudly_with_suggestion():
    proc = run_harness(fixture_spec("html", [call("glossary", "intersection over unoin")]), check=False)
    assert proc.returncode != 0
    assert "intersection over unoin" in proc.stderr
    assert "glossary.yml" in proc.stderr
    assert "99-example.qmd" in proc.stderr
    assert "Intersection over union" in proc.stderr  # closest known term


@pytest.mark.parametrize("fmt", ["html", "latex", "typst"])
def test_unknown_term_fails_in_every_format(fmt):
    proc = run_harness(fixture_spec(fmt, [call("glossary", "flux capacitor")]), check=False)
    assert proc.returncode != 0
    assert '"flux capacitor"' in proc.stderr


def test_unknown_option_and_missing_term_fail():
    proc = run_harness(fixture_spec("html", [call("glossary", "IoU", dislay="x")]), check=False)
    assert proc.returncode != 0 and "dislay" in proc.stderr
    proc = run_harness(fixture_spec("html", [call("glossary")]), check=False)
    assert proc.returncode != 0 and "needs a term" in proc.stderr


def test_missing_glossary_file_fails():
    proc = run_harness(
        {
            "format": "html",
            "project_dir": str(FIXTURES / "nowhere"),
            "meta": {"glossary": {"path": "no/such/glossary.yml"}},
            "calls": [call("glossary", "IoU")],
        },
        check=False,
    )
    assert proc.returncode != 0
    assert "no/such/glossary.yml" in proc.stderr


def test_meta_path_override():
    r = report(
        {
            "format": "html",
            "project_dir": str(ROOT),
            "meta": {"glossary": {"path": str(FIXTURE_PROJECT / "glossary.yml")}},
            "calls": [call("glossary", "zebra crossing")],
        }
    )
    assert 'data-glossary-entry="term-zebra-crossing"' in r["results"][0]


def test_page_and_offset_options():
    r = report(fixture_spec("html", [call("glossary", "IoU")], offset="."))
    assert 'href="glossary.html#term-intersection-over-union"' in r["results"][0]
    r = report(fixture_spec("html", [call("glossary", "IoU")], meta={"glossary": {"page": "/reference/terms.qmd"}}))
    assert 'href="/reference/terms.html#term-intersection-over-union"' in r["results"][0]
    # no quarto.project.offset: derive it from the input file's folder
    spec = fixture_spec("html", [call("glossary", "IoU")])
    del spec["offset"]
    spec["project_dir"] = str(ROOT)
    spec["meta"] = {"glossary": {"path": str(FIXTURE_PROJECT / "glossary.yml")}}
    r = report(spec)
    assert 'href="../glossary.html#term-intersection-over-union"' in r["results"][0]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("missing_definition.yml", ["missing `definition`", "Beta", ":3"]),
        ("duplicate_term.yml", ["duplicate term", "alpha", "Alpha"]),
        ("alias_collision.yml", ["alias collision", "iou", "Intersection over union"]),
        ("alias_is_other_term.yml", ["alias collision", "ALPHA", "Alpha"]),
        ("unknown_key.yml", ["unknown key `alias`"]),
        ("not_a_list.yml", ["must be a YAML list"]),
        ("placeholder.yml", ["placeholder"]),
        ("bad_yaml.yml", ["not valid YAML", "line 2"]),
        ("aliases_not_list.yml", ["`aliases` must be a list"]),
        ("empty.yml", ["is empty"]),
    ],
)
def test_malformed_glossary_fails_clearly(name, expected):
    proc = run_harness(
        {
            "format": "html",
            "project_dir": str(ROOT),
            "meta": {"glossary": {"path": str(MALFORMED / name)}},
            "calls": [call("glossary", "Alpha")],
        },
        check=False,
    )
    assert proc.returncode != 0, proc.stdout
    assert "[glossary]" in proc.stderr
    assert name in proc.stderr
    for piece in expected:
        assert piece in proc.stderr, (piece, proc.stderr)


# --------------------------------------------------------------------------
# the book's real glossary.yml
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real():
    return report(
        real_spec("html", [call("glossary-page", context="block")], dump=True, lookups=SEED_TERMS + BOOK_TERMS)
    )


def test_real_glossary_definitions_are_real(real):
    entries = real["entries"]
    assert len(entries) >= 120
    for e in entries:
        text = e["definition_text"].strip()
        assert text, e["term"]
        assert "temporary" not in text.lower(), e["term"]
        assert "todo" not in text.lower().split(), e["term"]
        words = len(text.split())
        assert 8 <= words <= 90, (e["term"], words)


def test_real_glossary_contains_seed_and_book_terms(real):
    missing = [t for t in SEED_TERMS + BOOK_TERMS if not real["lookups"].get(t)]
    assert not missing, missing
    # the draft's own headwords are present as terms or aliases, not only via
    # the plural fallback
    names = set()
    for e in real["entries"]:
        names.add(normalise(e["term"]))
        names.update(normalise(a) for a in e["aliases"])
    assert not [t for t in SEED_TERMS if normalise(t) not in names]


def test_real_glossary_aliases_resolve_to_their_entry(real):
    assert real["lookups"]["IoU"] == "Intersection over union"
    assert real["lookups"]["hallucination"] == real["lookups"]["Hallucinations"]
    assert real["lookups"]["inference"] == real["lookups"]["Inferences"]
    assert real["lookups"]["augmentation"] == real["lookups"]["data augmentation"]


def test_real_glossary_page_is_alphabetical_and_complete(real):
    html = real["document"]
    parse_html(html)
    ids = re.findall(r'<span id="(term-[^"]+)" class="glossary-entry">', html)
    assert len(ids) == len(real["entries"]) == len(set(ids))
    for e in real["entries"]:
        assert f'id="{e["slug"]}"' in html
    terms = real["sorted_terms"]
    assert terms == sorted(terms, key=normalise)
    assert sorted(terms) == sorted(e["term"] for e in real["entries"])


def test_real_glossary_every_popup_is_well_formed():
    r = report(real_spec("html", [], dump=True))
    for e in r["entries"]:
        html = e["definition_html"]
        parse_html(html)
        ET.fromstring("<root>" + html.replace("<br />", "<br/>") + "</root>")


def test_real_glossary_page_latex_and_typst():
    r = report(real_spec("latex", [call("glossary-page", context="block")], dump=True))
    for e in r["entries"]:
        assert f"\\label{{{e['slug']}}}" in r["document"]
    r = report(real_spec("typst", [call("glossary-page", context="block")], dump=True))
    for e in r["entries"]:
        assert f"<{e['slug']}>" in r["document"]


def _seed_files() -> list[Path]:
    candidates = [ROOT.parent / "shared" / "seeds", Path("/work/shared/seeds")]
    for d in candidates:
        files = sorted(Path(p) for p in glob.glob(str(d / "*.txt")))
        if files:
            return files
    return []


def test_real_glossary_does_not_copy_the_draft(real):
    seeds = _seed_files()
    if not seeds:
        pytest.skip("source drafts (shared/seeds) not available")

    def words(text: str) -> list[str]:
        return re.findall(r"[a-z0-9]+", text.lower())

    grams = set()
    for f in seeds:
        w = words(f.read_text(encoding="utf-8", errors="replace"))
        grams.update(tuple(w[i : i + 8]) for i in range(len(w) - 7))
    copied = []
    for e in real["entries"]:
        w = words(e["definition_text"])
        copied += [(e["term"], " ".join(w[i : i + 8])) for i in range(len(w) - 7) if tuple(w[i : i + 8]) in grams]
    assert not copied, copied


def test_glossary_qmd_page():
    qmd = (ROOT / "glossary.qmd").read_text(encoding="utf-8")
    assert qmd.lstrip().startswith("# Glossary {.unnumbered}")
    assert "{{< glossary-page >}}" in qmd


def _book_glossary_terms() -> dict[str, list[str]]:
    """Every term used with {{< glossary ... >}} in the book's .qmd files."""
    import shlex

    found: dict[str, list[str]] = {}
    skip = {".venv", "_book", ".quarto", "tests", "_extensions", "node_modules"}
    for path in sorted(ROOT.rglob("*.qmd")):
        if skip & set(path.relative_to(ROOT).parts):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for m in re.finditer(r"(?<!\{)\{\{<\s*glossary\s+(.*?)>\}\}(?!\})", text):
            try:
                parts = shlex.split(m.group(1))
            except ValueError:
                parts = m.group(1).split()
            term = " ".join(p for p in parts if not re.match(r"^[\w-]+=", p))
            if term:
                found.setdefault(term, []).append(str(path.relative_to(ROOT)))
    return found


def test_every_glossary_shortcode_in_the_book_resolves():
    used = _book_glossary_terms()
    if not used:
        pytest.skip("no {{< glossary >}} shortcodes in the book yet")
    r = report(real_spec("html", [], lookups=sorted(used)))
    missing = {t: used[t] for t, hit in r["lookups"].items() if not hit}
    assert not missing, (
        f"these {{{{< glossary >}}}} terms are not in glossary.yml (add them as terms or aliases): {missing}"
    )
