"""``bioimaging-guide``: the book's command line.

Apply the book's trained models (``models/``, each with a model card) to your own images::

    bioimaging-guide segment --model stardist-dsb2018 images/ --output labels/
    bioimaging-guide denoise --model care-gigadb noisy/ --output restored/

Re-train any of the four shipped models from its saved recipe (``models/NAME/training.json``)::

    bioimaging-guide train n2v-gigadb --output retrained/

Every input is read and checked before anything is written; outputs are written atomically.
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


def read_image(path: Path, max_projection: bool = False, allow_rgb: bool = True, task: str = "segment") -> np.ndarray:
    """Read a 2D grey-scale (or, if ``allow_rgb``, RGB(A)) image; refuse stacks unless ``max_projection``."""
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            image = tifffile.imread(path)
        else:
            import imageio.v3 as iio

            image = iio.imread(path)
    except Exception as err:  # any reader failure means "unreadable"
        raise InputError(f"cannot read {path} as an image ({type(err).__name__}: {err})") from err
    image = np.asarray(image)
    if image.dtype.kind not in "uif":
        raise InputError(f"{path}: unsupported pixel type {image.dtype}; save the image as integers or floats")
    if image.size == 0:
        raise InputError(f"{path}: the image is empty (shape {image.shape})")
    rgb = image.ndim == 3 and image.shape[-1] in (3, 4)
    if rgb and not allow_rgb:
        raise InputError(
            f"{path}: shape {image.shape} is a colour (RGB) image, but the model takes one grey-scale "
            "channel; save the channel you want as its own file"
        )
    if image.ndim == 3 and not rgb or image.ndim > 3:
        if not max_projection:
            raise InputError(
                f"{path}: shape {image.shape} looks like a stack, but these models {task} single 2D images; "
                + (
                    "pass --max-projection to use the maximum projection along the first axis, or "
                    if task == "segment"
                    else ""
                )
                + "save the plane you want as its own file"
            )
        image = image.max(axis=0)
        if image.ndim == 3 and image.shape[-1] not in (3, 4):
            raise InputError(f"{path}: still not 2D after a maximum projection (shape {image.shape})")
    if image.ndim < 2 or min(image.shape[:2]) < 8:
        raise InputError(f"{path}: shape {image.shape} is too small to {task}")
    if float(np.ptp(image)) == 0:
        raise InputError(f"{path}: every pixel has the same value ({image.flat[0]}); nothing to {task}")
    return image


def write_tiff(array: np.ndarray, destination: Path) -> None:
    """Write a TIFF atomically (a temporary file renamed into place): a reader never sees half a file."""
    import tifffile

    fd, tmp = tempfile.mkstemp(suffix=".tif.part", dir=destination.parent)
    os.close(fd)
    try:
        tifffile.imwrite(tmp, array, compression="zlib")
        os.replace(tmp, destination)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_labels(labels: np.ndarray, destination: Path) -> None:
    """Write a uint16 label TIFF atomically."""
    if labels.max() > np.iinfo(np.uint16).max:
        raise InputError(f"{destination.name}: {labels.max()} objects do not fit a uint16 label image")
    write_tiff(labels.astype(np.uint16), destination)


def _plan_outputs(inputs: list[str], output: str, overwrite: bool) -> tuple[list[Path], list[Path]]:
    """Input files and their output paths (``output/<stem>.tif``); refuse to replace outputs unless ``overwrite``."""
    files = collect_inputs(inputs)
    out_dir = Path(output)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--output {out_dir} exists and is not a folder")
    targets = [out_dir / f"{f.stem}.tif" for f in files]
    existing = [t for t in targets if t.exists()]
    if existing and not overwrite:
        raise InputError(
            f"{existing[0]} exists already ({len(existing)} output(s) would be replaced); "
            "pass --overwrite to replace them"
        )
    return files, targets


# --------------------------------------------------------------------------- commands


def _apply(inputs, output, overwrite, read, model, task, verb, write, progress) -> list[Path]:
    """Check every input and the output folder, load the model, then write one output per input."""
    from tqdm.auto import tqdm

    from .models import load_model

    files, targets = _plan_outputs(inputs, output, overwrite)
    images = [read(f) for f in files]  # validate all first: bad input leaves nothing behind
    loaded = load_model(model, task=task)
    Path(output).mkdir(parents=True, exist_ok=True)
    written = []
    disable = (not progress) if progress is not None else None
    for image, target in tqdm(list(zip(images, targets)), f"{verb} with {loaded.name}", unit="image", disable=disable):
        write(loaded.predict(image), target)
        written.append(target)
    return written


def segment(
    inputs: list[str],
    model: str,
    output: str,
    overwrite: bool = False,
    max_projection: bool = False,
    progress: bool | None = None,
) -> list[Path]:
    """Segment every input image with ``model``; return the label files written (uint16 TIFFs)."""
    return _apply(
        inputs,
        output,
        overwrite,
        lambda f: read_image(f, max_projection=max_projection),
        model,
        "segmentation",
        "segmenting",
        write_labels,
        progress,
    )


def denoise(
    inputs: list[str], model: str, output: str, overwrite: bool = False, progress: bool | None = None
) -> list[Path]:
    """Denoise every input image with ``model``; return the files written (float32 TIFFs, input's intensity scale)."""
    return _apply(
        inputs,
        output,
        overwrite,
        lambda f: read_image(f, allow_rgb=False, task="denoise"),
        model,
        "restoration",
        "denoising",
        lambda x, target: write_tiff(x.astype(np.float32), target),
        progress,
    )


def train(name: str, output: str, overrides: dict | None = None, overwrite: bool = False) -> Path:
    """Train a shipped model from its saved recipe; writes ``output/name`` with its model card."""
    from .models import REGISTRY, train_model

    if name not in REGISTRY:
        raise InputError(f"unknown model {name!r}: choose one of {list(REGISTRY)}")
    try:
        return train_model(name, output, overrides=overrides, overwrite=overwrite)
    except FileExistsError as err:
        raise InputError(str(err)) from err


def _setting(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. epochs=2), got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def main(argv: list[str] | None = None) -> int:
    from .models import REGISTRY

    segmenters = [n for n, m in REGISTRY.items() if m.task == "segmentation"]
    denoisers = [n for n, m in REGISTRY.items() if m.task == "restoration"]
    parser = argparse.ArgumentParser(
        prog="bioimaging-guide", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("segment", help="segment images with a trained model, writing uint16 label TIFFs")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders of images")
    p.add_argument(
        "--model",
        default=segmenters[0],
        help=f"{' or '.join(segmenters)} (default: {segmenters[0]}), or a model folder",
    )
    p.add_argument("--output", "-o", required=True, help="folder for the label images (<input stem>.tif)")
    p.add_argument("--overwrite", action="store_true", help="replace existing label images")
    p.add_argument(
        "--max-projection",
        action="store_true",
        help="segment the maximum projection of 3D stacks (otherwise stacks are refused)",
    )
    d = sub.add_parser("denoise", help="denoise grey-scale images with a trained model, writing float32 TIFFs")
    d.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders of images")
    d.add_argument(
        "--model", default=denoisers[0], help=f"{' or '.join(denoisers)} (default: {denoisers[0]}), or a model folder"
    )
    d.add_argument("--output", "-o", required=True, help="folder for the restored images (<input stem>.tif)")
    d.add_argument("--overwrite", action="store_true", help="replace existing restored images")
    t = sub.add_parser("train", help="re-train one of the book's shipped models from its saved recipe")
    t.add_argument("name", choices=list(REGISTRY), help="the shipped model to train")
    t.add_argument(
        "--output",
        "-o",
        required=True,
        help="folder to write the model into (as OUTPUT/NAME; 'models' replaces the shipped one)",
    )
    t.add_argument(
        "--set",
        dest="overrides",
        action="append",
        type=_setting,
        default=[],
        metavar="KEY=VALUE",
        help="change one setting of the recipe (training.json), e.g. --set epochs=2 (JSON values)",
    )
    t.add_argument("--overwrite", action="store_true", help="replace OUTPUT/NAME if it exists")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        if args.command == "segment":
            written = segment(args.inputs, args.model, args.output, args.overwrite, args.max_projection)
            print(f"wrote {len(written)} label image(s) to {args.output} in {time.perf_counter() - start:.1f} s")
        elif args.command == "denoise":
            written = denoise(args.inputs, args.model, args.output, args.overwrite)
            print(f"wrote {len(written)} restored image(s) to {args.output} in {time.perf_counter() - start:.1f} s")
        else:
            folder = train(args.name, args.output, dict(args.overrides), args.overwrite)
            metrics = json.loads((folder / "metrics.json").read_text())
            print(
                f"model written to {folder} in {time.perf_counter() - start:.0f} s; "
                f"test metrics: {json.dumps(metrics['test'])}"
            )
    except (InputError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
