"""Check the notebooks' Colab install cell against Colab's published package list.

Google Colab publishes the Python packages of its runtime, with their versions,
in https://github.com/googlecolab/backend-info (``pip-freeze.txt``; the Python
version is in ``os-info.txt``).  This script takes the install cell that
``tools/repo.py`` writes into every notebook (``install_cell_source``, the one
source of truth), runs it without letting it install anything (its ``pip
freeze`` is answered with the published list, its ``pip install`` commands are
recorded), and lets pip resolve each recorded command as a dry run with every
Colab package held at its published version.  It prints what the cell adds and
fails (exit status 1) if the cell would change the version of a package Colab
has, if pip cannot resolve a command, or if pip would print a dependency
conflict after installing.  Run it from the repository root::

    python tools/colab_check.py --freeze path/to/pip-freeze.txt [--python path/to/python3.13]

How the dry run stands in for Colab (the decisions behind it):

* pip runs under a Python of Colab's minor version (``os-info.txt`` beside the
  freeze file, or ``--python-version``), in a throwaway virtual environment
  with Colab's pip version, and ignores this machine's pip configuration
  (``PIP_CONFIG_FILE=/dev/null``; only network settings such as ``PIP_CERT``
  and ``PIP_INDEX_URL`` are passed on).
* ``pip install --dry-run --report --ignore-installed`` resolves as if nothing
  were installed, with the cell's own constraints file (made from the freeze)
  plus one holding the packages Colab installed from a URL (torch 2.11.0+cpu:
  PyPI's torch 2.11.0 stands in, same public version) and those the cell's
  earlier commands added.  As on Colab, where pip keeps an installed version
  that the constraints allow, a command that would change a Colab package
  fails to resolve.
* Wheels only (``--only-binary=:all:``) for Linux x86_64 up to Colab's glibc
  (``--platform manylinux_2_35_x86_64`` and older, ``--glibc``): a package
  without such a wheel would be compiled on Colab (minutes), so it fails the
  check.  pip fetches only what resolution needs (metadata, or a wheel where
  the index offers no separate metadata); nothing it resolves depends on torch
  or TensorFlow (Cellpose, which needs torch, is installed with --no-deps), so
  their large wheels are not fetched.
* The book's package comes from this checkout (a copy of its files, so that
  building its metadata leaves the checkout untouched) instead of from git.
* A dry run installs nothing, so pip's conflict report after installing is
  reproduced from the resolved packages' metadata, as pip computes it: after
  each command, the requirements of the packages it adds, and of packages the
  cell added earlier that depend on them, are checked.  Commands with
  ``--no-deps`` make pip skip that report; their packages' version
  requirements are listed as knowingly set aside (Cellpose's numpy<2.1), but a
  requirement that nothing provides fails the check.

Not covered: whether the packages work together (run the notebooks on Colab for
that), and the requirements of Colab's own packages on a package the cell adds
(their metadata is not part of the resolution).

Needs internet access to PyPI (metadata of some 60 packages; a warm pip cache
makes it faster).  It is an authoring tool, not part of the ``bioimaging_guide``
package.
"""

from __future__ import annotations

import argparse
import builtins
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

import repo

ROOT = Path(__file__).resolve().parents[1]
# glibc of Colab's Ubuntu 22.04 (os-info.txt): the newest manylinux wheels it can use.
COLAB_GLIBC = "2.35"
# pip environment variables passed on to the dry run: network settings only, so that
# this machine's own indexes, wheel folders and constraints do not change the answer.
PIP_NETWORK_VARS = {
    "PIP_CERT",
    "PIP_CLIENT_CERT",
    "PIP_PROXY",
    "PIP_TRUSTED_HOST",
    "PIP_DEFAULT_TIMEOUT",
    "PIP_TIMEOUT",
    "PIP_RETRIES",
    "PIP_INDEX_URL",
    "PIP_CACHE_DIR",
}


class CheckError(Exception):
    """The check could not run (bad input, no suitable Python, no network): says what to do."""


# ---------------------------------------------------------------------------- the freeze file


def version_from_url(url: str) -> str | None:
    """The version in the file name of a wheel or source archive URL, or None (git URLs, …).

    ``https://download.pytorch.org/whl/cpu/torch-2.11.0%2Bcpu-cp313-cp313-manylinux_2_28_x86_64.whl``
    gives ``2.11.0+cpu``.
    """
    filename = unquote(url.split("#", 1)[0].split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1])
    if filename.endswith(".whl"):
        parts = filename[: -len(".whl")].split("-")
        candidate = parts[1] if len(parts) >= 5 else None
    else:
        stem = re.sub(r"\.(tar\.gz|tar\.bz2|tar\.xz|tgz|zip)$", "", filename)
        candidate = stem.rpartition("-")[2] if stem != filename and "-" in stem else None
    try:
        return str(Version(candidate)) if candidate else None
    except InvalidVersion:
        return None


def parse_freeze(text: str) -> dict[str, str | None]:
    """``pip freeze`` output as {canonical package name: version}.

    ``name==version`` lines give their version; ``name @ URL`` lines the version
    in the URL's file name, or None when it has none (a git URL).  Comments,
    blank lines and options (``-e``, ``-r``, …) are skipped.
    """
    out: dict[str, str | None] = {}
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        if " @ " in line:
            name, url = (s.strip() for s in line.split(" @ ", 1))
            out[canonicalize_name(name)] = version_from_url(url)
        elif "==" in line:
            name, version = (s.strip() for s in line.split("==", 1))
            out[canonicalize_name(name)] = version.lstrip("=")
    return out


def url_constraints(text: str) -> list[str]:
    """Constraints holding the packages a freeze lists with a URL at their (public) version.

    The install cell drops ``name @ URL`` lines from its constraints (pip cannot
    hold a package to a URL); on Colab pip keeps such a package anyway when it
    satisfies what is asked.  A dry run that ignores what is installed needs
    ``torch==2.11.0`` to do the same (it matches Colab's ``2.11.0+cpu``).
    """
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if " @ " in line and not line.startswith(("#", "-")):
            name, url = (s.strip() for s in line.split(" @ ", 1))
            version = version_from_url(url)
            if version:
                out.append(f"{name}=={Version(version).public}")
    return out


def colab_python_version(freeze: Path) -> str | None:
    """Colab's Python ``X.Y``, from the ``os-info.txt`` published beside ``freeze``; None without one."""
    info = freeze.parent / "os-info.txt"
    if not info.is_file():
        return None
    m = re.search(r"^Python (\d+)\.(\d+)", info.read_text(encoding="utf-8"), re.M)
    return f"{m.group(1)}.{m.group(2)}" if m else None


# ---------------------------------------------------------------------------- the install cell


def record_pip_commands(cell: str, freeze_text: str, *, on_colab: bool = True, tmpdir: str | Path | None = None):
    """Run the install cell as Colab would, but record its pip commands instead of running them.

    The cell sees ``google.colab`` among the loaded modules (unless ``on_colab``
    is false) and a ``subprocess`` that answers ``pip freeze`` with
    ``freeze_text`` and records every ``pip install``.  Files the cell writes
    with ``tempfile`` (its constraints file) go to ``tmpdir``.  Returns each
    command's pip arguments, e.g. ``["install", "-q", "--no-deps", "cellpose==3.1.1.3"]``.
    """
    commands: list[list[str]] = []

    def run(args, *_, **kwargs):
        args = [str(a) for a in args]
        if args[1:3] != ["-m", "pip"]:
            raise ValueError(f"the install cell runs something other than pip: {args}")
        pip_args = args[3:]
        if pip_args[:1] == ["freeze"]:
            text_mode = kwargs.get("text") or kwargs.get("universal_newlines") or kwargs.get("encoding")
            stdout = freeze_text if text_mode else freeze_text.encode()
            return subprocess.CompletedProcess(args, 0, stdout=stdout, stderr="" if text_mode else b"")
        if pip_args[:1] != ["install"]:
            raise ValueError(f"the check understands `pip freeze` and `pip install` only, not: pip {pip_args}")
        commands.append(pip_args)
        return subprocess.CompletedProcess(args, 0, stdout="", stderr="")

    fake_subprocess = types.ModuleType("subprocess")
    fake_subprocess.__dict__.update(
        run=run,
        check_call=lambda args, *a, **k: run(args, *a, **k).returncode,
        check_output=lambda args, *a, **k: run(args, *a, **k).stdout,
        CompletedProcess=subprocess.CompletedProcess,
        CalledProcessError=subprocess.CalledProcessError,
        PIPE=subprocess.PIPE,
        DEVNULL=subprocess.DEVNULL,
        STDOUT=subprocess.STDOUT,
    )
    fake_sys = types.ModuleType("sys")
    fake_sys.__dict__.update(sys.__dict__)
    modules = {k: v for k, v in sys.modules.items() if k != "google.colab" and not k.startswith("google.colab.")}
    if on_colab:
        modules["google.colab"] = types.ModuleType("google.colab")
    fake_sys.__dict__.update(modules=modules, executable="python")

    def fake_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and name == "sys":
            return fake_sys
        if level == 0 and name == "subprocess":
            return fake_subprocess
        return builtins.__import__(name, globals, locals, fromlist, level)

    namespace = {"__builtins__": {**builtins.__dict__, "__import__": fake_import}, "__name__": "__main__"}
    saved = tempfile.tempdir
    tempfile.tempdir = None if tmpdir is None else str(tmpdir)
    try:
        exec(compile(cell, "<install cell>", "exec"), namespace)
    finally:
        tempfile.tempdir = saved
    return commands


def platform_tags(glibc: str = COLAB_GLIBC, arch: str = "x86_64") -> list[str]:
    """pip ``--platform`` values for a Linux with this glibc: every manylinux tag it can run."""
    major, minor = (int(x) for x in glibc.split("."))
    if major != 2 or minor < 17:
        raise ValueError(f"expected a glibc version 2.17 or newer, got {glibc!r}")
    tags = [f"manylinux_2_{m}_{arch}" for m in range(minor, 4, -1)]
    return tags + [f"manylinux2014_{arch}", f"manylinux2010_{arch}", f"manylinux1_{arch}", f"linux_{arch}"]


def dry_run_command(
    python: str | Path,
    command: list[str],
    *,
    report: str | Path,
    replace: dict[str, str],
    constraints: list[str | Path],
    platforms: list[str],
) -> list[str]:
    """The pip command that resolves one of the cell's ``pip install`` commands without installing.

    The cell's own arguments are kept (``replace`` swaps a few, e.g. the book's
    git URL for the local checkout) but for ``-q``, so that pip explains a
    failure; the check adds the dry run, its report, extra constraints, and
    the wheel-only, Colab-platform options.
    """
    if command[:1] != ["install"]:
        raise ValueError(f"not a pip install command: {command}")
    args = [replace.get(a, a) for a in command[1:] if not re.fullmatch(r"-q+|--quiet", a)]
    extra = ["--dry-run", "--report", str(report), "--ignore-installed", "--only-binary=:all:", "--progress-bar=off"]
    extra += [f"--platform={p}" for p in platforms]
    for c in constraints:
        extra += ["-c", str(c)]
    return [str(python), "-m", "pip", "install", *extra, *args]


# ---------------------------------------------------------------------------- the outcome


@dataclass(frozen=True)
class Dist:
    """A package pip would install: name and version, and what it requires (``Requires-Dist``)."""

    name: str
    version: str
    requires: tuple[str, ...] = ()
    direct: bool = False  # from a URL or path, not from the index

    @property
    def key(self) -> str:
        return canonicalize_name(self.name)


@dataclass
class Step:
    """One of the cell's ``pip install`` commands and what pip would install for it."""

    command: list[str]
    installs: list[Dist] = field(default_factory=list)
    error: str = ""  # pip's error output when it could not resolve the command
    seconds: float = 0.0
    pip_messages: str = ""  # pip's warnings on a successful resolution

    @property
    def reports_conflicts(self) -> bool:
        """pip checks the installed packages' requirements after installing (no --no-deps, --no-warn-conflicts)."""
        return "--no-deps" not in self.command and "--no-warn-conflicts" not in self.command


@dataclass
class Outcome:
    added: list[tuple[int, Dist]] = field(default_factory=list)  # (step number, package)
    kept: set[str] = field(default_factory=set)  # Colab packages resolved at Colab's version
    changed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # what pip would print after installing
    missing: list[str] = field(default_factory=list)  # requirements of --no-deps packages nothing provides
    set_aside: list[str] = field(default_factory=list)  # version requirements skipped with --no-deps
    errors: list[str] = field(default_factory=list)  # resolver errors

    @property
    def ok(self) -> bool:
        return not (self.changed or self.conflicts or self.missing or self.errors)


def read_report(data: dict) -> tuple[list[Dist], dict]:
    """The packages of a ``pip install --report`` file, and the marker environment pip resolved for."""
    dists = []
    for item in data.get("install", []):
        meta = item.get("metadata", {})
        dists.append(
            Dist(
                name=meta["name"],
                version=meta["version"],
                requires=tuple(meta.get("requires_dist") or ()),
                direct=bool(item.get("is_direct")),
            )
        )
    return dists, dict(data.get("environment") or {})


def _same_version(a: str | None, b: str) -> bool:
    """Same public version (Colab's torch 2.11.0+cpu is PyPI's torch 2.11.0 built for CPU)."""
    if a is None:
        return False
    try:
        return Version(a).public == Version(b).public
    except InvalidVersion:
        return a == b


def _requirements(dist: Dist, env: dict) -> list[Requirement]:
    """What ``dist`` requires in this environment, without optional extras (as pip's check sees it)."""
    out = []
    for text in dist.requires:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if req.marker is None or req.marker.evaluate({**env, "extra": ""}):
            out.append(req)
    return out


def unmet(dist: Dist, versions: dict[str, str | None], env: dict) -> list[tuple[Requirement, str | None]]:
    """Requirements of ``dist`` that ``versions`` do not meet: (requirement, installed version or None if missing)."""
    out = []
    for req in _requirements(dist, env):
        key = canonicalize_name(req.name)
        if key not in versions:
            out.append((req, None))
            continue
        have = versions[key]
        if have is None or not req.specifier:
            continue
        try:
            ok = req.specifier.contains(have, prereleases=True)
        except InvalidVersion:
            ok = True  # a version pip could not compare either
        if not ok:
            out.append((req, have))
    return out


def analyse(colab: dict[str, str | None], steps: list[Step], env: dict) -> Outcome:
    """What the cell's commands, resolved one after the other, do to Colab's packages."""
    out = Outcome()
    versions = dict(colab)  # what is installed after each command
    added: dict[str, Dist] = {}  # what the cell added so far
    quiet: list[Dist] = []  # added by commands that make pip skip its conflict check
    for number, step in enumerate(steps, 1):
        if step.error:
            out.errors.append(f"command {number}: {step.error}")
            continue
        new = []
        for d in step.installs:
            if d.key in colab:
                if _same_version(colab[d.key], d.version):
                    out.kept.add(d.key)
                else:
                    was = colab[d.key] or "a version installed from a URL"
                    out.changed.append(f"{d.name}: Colab has {was}, command {number} would install {d.version}")
            elif d.key in added:
                if added[d.key].version != d.version:
                    earlier = added[d.key].version
                    out.changed.append(
                        f"{d.name}: command {number} would replace {earlier} (added earlier) by {d.version}"
                    )
            else:
                new.append(d)
        for d in new:
            versions[d.key] = d.version
            added[d.key] = d
            out.added.append((number, d))
        if not step.reports_conflicts:
            quiet += new
            continue
        new_keys = {d.key for d in new}
        dependents = [
            d
            for d in added.values()
            if d.key not in new_keys and any(canonicalize_name(r.name) in new_keys for r in _requirements(d, env))
        ]
        for d in new + dependents:
            for req, have in unmet(d, versions, env):
                state = "which is not installed" if have is None else f"but {have} is installed"
                out.conflicts.append(f"after command {number}: {d.name} {d.version} requires {req}, {state}")
    for d in quiet:  # once the whole cell has run
        for req, have in unmet(d, versions, env):
            if have is None:
                out.missing.append(
                    f"{d.name} {d.version} requires {req.name}, which neither Colab nor the cell installs"
                )
            else:
                source = "Colab has" if canonicalize_name(req.name) in colab else "the cell installs"
                out.set_aside.append(f"{d.name} {d.version} requires {req}; {source} {req.name} {have}")
    return out


def pip_explanation(stdout: str, stderr: str) -> str:
    """pip's error messages, with its explanation of a conflict ("The conflict is caused by: …") when it gives one."""
    lines = stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("The conflict is caused by")), None)
    block = []
    if start is not None:
        block = [line for line in lines[start:] if line.strip()]
        end = next((i for i, line in enumerate(block) if line.startswith("To fix this")), len(block))
        block = block[:end]
    return "\n".join([*stderr.strip().splitlines(), *block])


def show_command(command: list[str]) -> str:
    """A recorded pip command as text, with the constraints file shown by its name only."""
    shown, after_c = [], False
    for a in command:
        shown.append(Path(a).name if after_c else a)
        after_c = a in ("-c", "--constraint")
    return "pip " + shlex.join(shown)


def format_outcome(outcome: Outcome, steps: list[Step], colab_count: int) -> list[str]:
    """The check's findings, one line each."""
    lines = []
    for number, step in enumerate(steps, 1):
        lines.append(f"command {number}: {show_command(step.command)}")
        if step.error:
            lines.append("  pip could not resolve it (see the errors below)")
            continue
        mine = sorted((d for n, d in outcome.added if n == number), key=lambda d: d.key)
        listed = ", ".join(f"{d.name} {d.version}" for d in mine) or "nothing"
        lines.append(f"  adds {len(mine)}: {listed}")
        kept = sum(1 for d in step.installs if d.key in outcome.kept)
        if kept:
            lines.append(f"  keeps {kept} of Colab's packages it depends on at Colab's versions")
        lines.append(f"  resolved in {step.seconds:.1f} s")
        for message in step.pip_messages.splitlines():
            lines.append(f"  pip: {message}")
    lines.append("")
    for title, items in (
        ("Colab packages the cell would change", outcome.changed),
        ("resolver errors (only wheels count: a package Colab would have to compile is unavailable)", outcome.errors),
        ("dependency conflicts pip would print after installing", outcome.conflicts),
        ("requirements nothing provides", outcome.missing),
        (
            "version requirements set aside on purpose (--no-deps: pip neither enforces nor reports them)",
            outcome.set_aside,
        ),
    ):
        if items:
            lines.append(f"{title}:")
            lines += [f"  {line}" for item in items for line in item.splitlines()]
    total = len(outcome.added)
    if outcome.ok:
        lines.append(
            f"OK: the cell adds {total} packages and changes none of Colab's {colab_count}; no resolver error."
        )
    else:
        lines.append("FAILED: the install cell would not install cleanly on this Colab runtime.")
    return lines


# ---------------------------------------------------------------------------- running pip


def pip_env(environ: dict[str, str]) -> dict[str, str]:
    """The environment for pip: this machine's pip configuration left out, network settings kept."""
    env = {k: v for k, v in environ.items() if not k.startswith("PIP_") or k in PIP_NETWORK_VARS}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    return env


def interpreter_version(python: str | Path) -> str:
    """``X.Y`` of a Python interpreter."""
    try:
        res = subprocess.run(
            [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except OSError as err:
        raise CheckError(f"cannot run the Python interpreter {python}: {err}") from err
    if res.returncode != 0:
        raise CheckError(f"cannot run the Python interpreter {python}: {res.stderr.strip()}")
    return res.stdout.strip()


def find_python(version: str) -> str | None:
    """A Python ``version`` (X.Y) interpreter: ``pythonX.Y`` on the PATH, else one installed by pyenv."""
    candidates = [shutil.which(f"python{version}")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    found = glob.glob(str(pyenv / "versions" / f"{version}.*" / "bin" / "python"))
    candidates += sorted(
        found, key=lambda p: [int(x) for x in re.findall(r"\d+", Path(p).parents[1].name)], reverse=True
    )
    for c in candidates:
        try:
            if c and interpreter_version(c) == version:
                return c
        except CheckError:  # e.g. a pyenv shim for a version that is not selected
            continue
    return None


def make_resolver(python: str, pip_version: str | None, venv: Path, env: dict[str, str]) -> Path:
    """A throwaway virtual environment whose pip (Colab's version, if known) resolves the commands."""
    res = subprocess.run([python, "-m", "venv", str(venv)], capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise CheckError(f"cannot create a virtual environment with {python} (its venv module): {res.stderr.strip()}")
    vpython = venv / "bin" / "python"
    if pip_version:
        res = subprocess.run(
            [str(vpython), "-m", "pip", "install", "-q", f"pip=={pip_version}"], capture_output=True, text=True, env=env
        )
        if res.returncode != 0:
            raise CheckError(
                f"cannot install pip {pip_version} (Colab's) from PyPI; is PyPI reachable?\n{res.stderr.strip()}"
            )
    return vpython


def copy_checkout(root: Path, dest: Path) -> Path:
    """Copy the checkout's files (tracked and new, not ignored ones) to ``dest``: the book package to resolve."""
    res = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
    )
    if res.returncode != 0:
        raise CheckError(f"{root} is not a git checkout (git ls-files failed): run the check in the book's repository")
    for name in res.stdout.decode().split("\0"):
        src = root / name
        if name and src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def check(freeze: Path, python: str | None, python_version: str | None, glibc: str, root: Path = ROOT) -> int:
    """Run the whole check and print its findings; 0 if the cell installs cleanly, 1 if not."""
    started = time.monotonic()
    if not freeze.is_file():
        raise CheckError(
            f"no freeze file at {freeze}: copy pip-freeze.txt (and os-info.txt) from "
            "https://github.com/googlecolab/backend-info and pass its path with --freeze"
        )
    freeze_text = freeze.read_text(encoding="utf-8")
    colab = parse_freeze(freeze_text)
    if "numpy" not in colab:
        raise CheckError(f"{freeze} does not look like a pip freeze of Colab's runtime (no numpy line)")
    version = python_version or colab_python_version(freeze)
    if not version:
        raise CheckError(f"no os-info.txt with a 'Python X.Y' line beside {freeze}: pass Colab's --python-version X.Y")
    if python is None:
        python = find_python(version)
        if python is None:
            raise CheckError(
                f"no Python {version} found (Colab's version): install one (e.g. `pyenv install {version}`) "
                f"or pass --python /path/to/python{version}"
            )
    elif interpreter_version(python) != version:
        raise CheckError(
            f"--python {python} is Python {interpreter_version(python)}, but Colab runs Python {version}: "
            f"pass a Python {version} interpreter"
        )
    try:
        platforms = platform_tags(glibc)
    except ValueError as err:
        raise CheckError(f"--glibc {glibc}: {err}") from err
    book = repo.load_repo(root)
    cell = repo.install_cell_source(book)
    env = pip_env(dict(os.environ))
    print(f"freeze:  {freeze} ({len(colab)} packages, Python {version}, pip {colab.get('pip', '?')})")
    print(f"python:  {python}; wheels for {platforms[0]} and older only")
    if env.get("PIP_INDEX_URL"):
        print(f"index:   {env['PIP_INDEX_URL']} (PIP_INDEX_URL)")
    print(f"book:    {book.pip_spec.split(' @ ')[0]} from {root} instead of {book.pip_spec.split(' @ ', 1)[1]}")
    print()
    with tempfile.TemporaryDirectory(prefix="colab-check-") as tmp:
        tmp = Path(tmp)
        (tmp / "cell").mkdir()
        commands = record_pip_commands(cell, freeze_text, tmpdir=tmp / "cell")
        if not any(book.pip_spec in c for c in commands):
            raise CheckError(f"the install cell no longer installs {book.pip_spec!r}: update tools/colab_check.py")
        local = copy_checkout(root, tmp / "book")
        replace = {book.pip_spec: f"{book.pip_spec.split(' @ ')[0]} @ {local.as_uri()}"}
        resolver = make_resolver(python, colab.get("pip"), tmp / "venv", env)
        held = url_constraints(freeze_text)  # grows with what each command adds
        steps, marker_env = [], {}
        for number, command in enumerate(commands, 1):
            held_file = tmp / f"held-{number}.txt"
            held_file.write_text("\n".join(held) + "\n", encoding="utf-8")
            report = tmp / f"report-{number}.json"
            argv = dry_run_command(
                resolver,
                command,
                report=report,
                replace=replace,
                constraints=[held_file],
                platforms=platforms,
            )
            t0 = time.monotonic()
            res = subprocess.run(argv, capture_output=True, text=True, env=env)
            step = Step(command, seconds=time.monotonic() - t0)
            if res.returncode != 0 or not report.is_file():
                step.error = pip_explanation(res.stdout, res.stderr) or f"pip exited with status {res.returncode}"
            else:
                step.installs, marker_env = read_report(json.loads(report.read_text(encoding="utf-8")))
                step.pip_messages = res.stderr.strip()
                held += [f"{d.name}=={d.version}" for d in step.installs if d.key not in colab and not d.direct]
            steps.append(step)
    outcome = analyse(colab, steps, marker_env)
    for line in format_outcome(outcome, steps, len(colab)):
        print(line)
    print(f"(check took {time.monotonic() - started:.0f} s)")
    return 0 if outcome.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Check the notebooks' Colab install cell against Colab's published package list.",
        epilog="Get the list from https://github.com/googlecolab/backend-info (pip-freeze.txt and os-info.txt).",
    )
    parser.add_argument("--freeze", required=True, type=Path, help="Colab's pip-freeze.txt (os-info.txt beside it)")
    parser.add_argument("--python", help="a Python of Colab's version (default: pythonX.Y on the PATH, or pyenv's)")
    parser.add_argument("--python-version", help="Colab's Python X.Y (default: from os-info.txt beside the freeze)")
    parser.add_argument("--glibc", default=COLAB_GLIBC, help=f"Colab's glibc version (default {COLAB_GLIBC})")
    args = parser.parse_args(argv)
    try:
        return check(args.freeze, args.python, args.python_version, args.glibc)
    except CheckError as err:
        print(f"colab_check: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
