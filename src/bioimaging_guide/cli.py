"""``bioimaging-guide``: the book's command line.

Segment your own images with one of the book's trained models::

    bioimaging-guide segment --model stardist-dsb2018 images/ --output labels/

Re-train a shipped model (about 30 min on 2 CPU cores)::

    bioimaging-guide train stardist-dsb2018 --output models/
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = {".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp"}


class InputError(ValueError):
    """Bad input: reported as ``error: …`` with exit status 2."""


# --------------------------------------------------------------------------- reading

def collect_inputs(items: list[str]) -> list[Path]:
    """Image files named directly, plus the image files inside named folders (sorted)."""
    files: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise InputError(f"folder {p} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise InputError(f"{p} does not exist")
    stems = [f.stem for f in files]
    dupes = sorted({s for s in stems if stems.count(s) > 1})
    if dupes:
        raise InputError(f"several inputs share the name {dupes[0]!r}; their outputs would overwrite each other")
    return files


def read_image(path: Path, max_projection: bool = False) -> np.ndarray:
    """Read a 2D grayscale or RGB(A) image; refuse stacks unless ``max_projection``."""
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            image = tifffile.imread(path)
        else:
            import imageio.v3 as iio

            image = iio.imread(path)
    except Exception as err:  # noqa: BLE001 - any reader failure means "unreadable"
        raise InputError(f"cannot read {path} as an image ({type(err).__name__}: {err})") from err
    image = np.asarray(image)
    if image.dtype.kind not in "uifb":
        raise InputError(f"{path}: unsupported pixel type {image.dtype}")
    if image.size == 0:
        raise InputError(f"{path}: the image is empty (shape {image.shape})")
    rgb = image.ndim == 3 and image.shape[-1] in (3, 4)
    if image.ndim == 3 and not rgb or image.ndim > 3:
        if not max_projection:
            raise InputError(
                f"{path}: shape {image.shape} looks like a stack, but these models segment single 2D images; "
                "pass --max-projection to segment the maximum projection along the first axis, "
                "or save the plane you want as its own file"
            )
        image = image.max(axis=0)
        if image.ndim == 3 and image.shape[-1] not in (3, 4):
            raise InputError(f"{path}: still not 2D after a maximum projection (shape {image.shape})")
    if image.ndim < 2 or min(image.shape[:2]) < 8:
        raise InputError(f"{path}: shape {image.shape} is too small to segment")
    if float(np.ptp(image)) == 0:
        raise InputError(f"{path}: every pixel has the same value ({image.flat[0]}); nothing to segment")
    return image


def write_labels(labels: np.ndarray, destination: Path) -> None:
    """Write a uint16 label TIFF atomically (a temporary file renamed into place)."""
    import tifffile

    if labels.max() > np.iinfo(np.uint16).max:
        raise InputError(f"{destination.name}: {labels.max()} objects do not fit a uint16 label image")
    fd, tmp = tempfile.mkstemp(suffix=".tif.part", dir=destination.parent)
    os.close(fd)
    try:
        tifffile.imwrite(tmp, labels.astype(np.uint16), compression="zlib")
        os.replace(tmp, destination)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- commands

def segment(inputs: list[str], model: str, output: str, overwrite: bool = False,
            max_projection: bool = False, progress: bool | None = None) -> list[Path]:
    """Segment every input image with ``model``; return the label files written.

    Every input is read and checked before anything is written, so bad input
    leaves no output behind; each label image is written atomically.
    """
    from tqdm.auto import tqdm

    from .models import load_model

    files = collect_inputs(inputs)
    out_dir = Path(output)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--output {out_dir} exists and is not a folder")
    targets = [out_dir / f"{f.stem}.tif" for f in files]
    existing = [t for t in targets if t.exists()]
    if existing and not overwrite:
        raise InputError(f"{existing[0]} exists already ({len(existing)} output(s) would be replaced); "
                         "pass --overwrite to replace them")
    images = [read_image(f, max_projection=max_projection) for f in files]  # validate all first
    seg = load_model(model)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for image, target in tqdm(list(zip(images, targets)), desc=f"segmenting with {seg.name}", unit="image",
                              disable=(not progress) if progress is not None else None):
        write_labels(seg.predict(image), target)
        written.append(target)
    return written


def train(name: str, output: str, epochs: int | None = None, seed: int = 2018) -> Path:
    """Train a shipped model from scratch and write its model card."""
    from . import models

    if name not in models.SHIPPED:
        raise InputError(f"unknown model {name!r}: choose one of {list(models.SHIPPED)}")
    out = Path(output)
    if name == "stardist-dsb2018":
        kw = {"epochs": epochs} if epochs else {}
        _model, history, seconds = models.train_stardist(out, name=name, seed=seed, verbose=1, **kw)
    else:
        kw = {"epochs": epochs} if epochs else {}
        _path, history, seconds = models.train_cellpose(out, name=name, seed=seed, verbose=1, **kw)
    folder = out / name
    (folder / "history.json").write_text(json.dumps(history))
    models.write_model_card(folder, seconds=seconds, seed=seed, history=history)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bioimaging-guide", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("segment", help="segment images with a trained model, writing uint16 label TIFFs")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders of images")
    p.add_argument("--model", default="stardist-dsb2018",
                   help="stardist-dsb2018 (default), cellpose-dsb2018, or a model folder")
    p.add_argument("--output", "-o", required=True, help="folder for the label images (<input stem>.tif)")
    p.add_argument("--overwrite", action="store_true", help="replace existing label images")
    p.add_argument("--max-projection", action="store_true",
                   help="segment the maximum projection of 3D stacks (otherwise stacks are refused)")
    t = sub.add_parser("train", help="re-train one of the book's shipped models")
    t.add_argument("name", help="stardist-dsb2018 or cellpose-dsb2018")
    t.add_argument("--output", "-o", default="models", help="folder to write the model into (default: models)")
    t.add_argument("--epochs", type=int, default=None, help="override the number of epochs")
    t.add_argument("--seed", type=int, default=2018)
    args = parser.parse_args(argv)
    try:
        if args.command == "segment":
            start = time.perf_counter()
            written = segment(args.inputs, args.model, args.output, args.overwrite, args.max_projection)
            print(f"wrote {len(written)} label image(s) to {args.output} in {time.perf_counter() - start:.1f} s")
        else:
            print(f"model written to {train(args.name, args.output, args.epochs, args.seed)}")
    except (InputError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
