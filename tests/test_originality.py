"""The book's prose is our own: no long word sequence is shared with the seed drafts.

The seed drafts (outline, briefs, two drafted chapters, glossary) live outside
the repository.  The test looks for them in $BIOIMAGING_GUIDE_SEEDS or in
../shared/seeds next to the repository and is skipped where neither exists.
"""

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN = 8  # words
SEEDS = Path(os.environ.get("BIOIMAGING_GUIDE_SEEDS", ROOT.parent / "shared" / "seeds"))


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower())


def shingles(ws: list[str], n: int = RUN) -> set[tuple[str, ...]]:
    return {tuple(ws[i : i + n]) for i in range(len(ws) - n + 1)}


def shared_runs(ours: str, theirs: set) -> list[str]:
    ws = words(ours)
    return [" ".join(ws[i : i + RUN]) for i in range(len(ws) - RUN + 1) if tuple(ws[i : i + RUN]) in theirs]


def test_shared_runs_detects_copying():
    seed = shingles(words("the quick brown fox jumps over the lazy dog near the river bank"))
    assert shared_runs("He said the quick brown fox jumps over the lazy dog today.", seed)
    assert not shared_runs("A fast brown fox leapt over a sleepy dog near the bank.", seed)


@pytest.mark.skipif(not SEEDS.is_dir(), reason=f"seed drafts not found at {SEEDS}")
def test_no_long_runs_shared_with_seeds():
    seed = set()
    for f in SEEDS.glob("*.txt"):
        seed |= shingles(words(f.read_text(encoding="utf-8", errors="replace")))
    assert seed, "seed folder is empty"
    files = [*ROOT.glob("*.qmd"), *ROOT.glob("chapters/*.qmd"), ROOT / "glossary.yml", *ROOT.glob("notebooks/*.ipynb")]
    found = {}
    for f in files:
        if f.exists():
            runs = shared_runs(f.read_text(encoding="utf-8"), seed)
            if runs:
                found[f.relative_to(ROOT).as_posix()] = runs[:5]
    assert not found, f"runs of {RUN}+ words shared with the seed drafts: {found}"
