"""``bioimaging-guide``: the book's command line.

Apply the book's trained models (``models/``, each with a model card) to your own images::

    bioimaging-guide segment --model stardist-dsb2018 images/ --output labels/
    bioimaging-guide segment screen.tif --channel 0 --diameter 30 --output labels/
    bioimaging-guide denoise --model care-gigadb noisy/ --output restored/

Check your own annotations before training, and score predictions against them::

    bioimaging-guide check --images images/ --labels labels/
    bioimaging-guide evaluate --truth labels/ --pred predicted/

Fine-tune the book's StarDist (or Cellpose) model on your own annotated images, or re-train any of the four
shipped models from its saved recipe (``models/NAME/training.json``)::

    bioimaging-guide train stardist --images images/ --labels labels/ --output my-model/
    bioimaging-guide train n2v-gigadb --output retrained/

Package the book's StarDist model for software that reads BioImage Model Zoo (bioimage.io) models
(deepImageJ in Fiji, ilastik, QuPath, napari)::

    bioimaging-guide export stardist-dsb2018 --output stardist-dsb2018.bioimageio.zip

Every input is read and checked before anything is written; outputs are written atomically.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .common import write_atomic
from .images import InputError, read_plane  # InputError: bad input: reported as ``error: …`` with exit status 2

IMAGE_SUFFIXES = {".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp"}
#: Ending of the quick-look picture ``segment`` writes beside each label file (``a_overlay.png``); folder
#: listings of ``check``/``evaluate``/``train`` skip it, so a ``segment`` output folder can be evaluated as it is.
OVERLAY_SUFFIX = "_overlay.png"


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


def write_tiff(array: np.ndarray, destination: Path) -> None:
    """Write a TIFF atomically."""
    import tifffile

    write_atomic(destination, lambda tmp: tifffile.imwrite(tmp, array, compression="zlib"))


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


def _apply(inputs, output, overwrite, read, model, task, verb, write, progress, **predict_options) -> list[Path]:
    """Check every input and the output folder, load the model, then write one output per input.

    ``predict_options`` are passed on to the loaded model's ``predict``.
    """
    from tqdm import tqdm  # a bar in the terminal; notebooks pass progress=False

    from .models import load_model

    files, targets = _plan_outputs(inputs, output, overwrite)
    images = [read(f) for f in files]  # validate all first: bad input leaves nothing behind
    loaded = load_model(model, task=task)
    Path(output).mkdir(parents=True, exist_ok=True)
    written = []
    disable = (not progress) if progress is not None else None
    for image, target in tqdm(list(zip(images, targets)), f"{verb} with {loaded.name}", unit="image", disable=disable):
        write(loaded.predict(image, **predict_options), target)
        written.append(target)
    return written


def _rescale(image: np.ndarray, factor: float) -> np.ndarray:
    from skimage.transform import rescale

    if factor == 1:
        return image
    return rescale(image.astype(np.float32), factor, order=1, preserve_range=True, anti_aliasing=factor < 1)


def _back_to_shape(labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    from skimage.transform import resize

    if labels.shape == tuple(shape):
        return labels
    return resize(labels, shape, order=0, preserve_range=True, anti_aliasing=False).astype(labels.dtype)


class Segmented(list):
    """The label files ``segment`` wrote, in input order; ``details`` says what it did with each input."""

    details: list

    def with_details(self, details: list) -> Segmented:
        self.details = list(details)
        return self


@dataclass
class SegmentedFile:
    """What ``segment`` did with one input file."""

    source: Path
    labels: Path
    measurements: Path | None
    overlay: Path | None
    description: str  # channel, planes, scale
    n_planes: int
    n_objects: int
    median_diameter_px: float  # of the objects found, in the input's pixels (nan if none)
    warnings: list[str]


def segment(
    inputs: list[str],
    model: str,
    output: str,
    overwrite: bool = False,
    max_projection: bool = False,
    progress: bool | None = None,
    *,
    channel: int | None = None,
    rgb_to_gray: bool = False,
    diameter: float | None = None,
    pixel_size: float | None = None,
    extras: bool = True,
    tta: bool = False,
) -> Segmented:
    """Segment every input image with ``model``; return the label files written (``.details``: per file).

    Each input gives ``OUTPUT/<stem>.tif`` (uint16 labels; a stack of label
    planes for a time-lapse or z-stack), and with ``extras`` also
    ``<stem>_measurements.csv`` (one row per object) and ``<stem>_overlay.png``
    (outlines on the first plane), plus ``OUTPUT/summary.csv`` (one row per
    input). ``channel``, ``rgb_to_gray`` and ``max_projection`` choose the
    planes (see :func:`bioimaging_guide.images.planes`); ``diameter`` is the
    typical object diameter in the input's pixels, and the input is rescaled
    so that it matches the size of the objects the model was trained on;
    ``pixel_size`` (µm) overrides the file's own and adds areas in µm².
    ``tta`` (test-time augmentation) averages the network over flipped and
    rotated copies of each plane (see ``SegmentationModel.predict``).
    """
    import warnings

    import pandas as pd
    from tqdm import tqdm  # a bar in the terminal; notebooks pass progress=False

    from . import images
    from .evaluation import object_stats
    from .measurements import measure_objects, overlay_image
    from .models import load_model

    for value, name in ((diameter, "--diameter"), (pixel_size, "--pixel-size")):
        if value is not None and not (np.isfinite(value) and value > 0):
            raise InputError(f"{name} must be a positive number (got {value})")
    files, targets = _plan_outputs(inputs, output, overwrite)
    out_dir = Path(output)
    extra_targets = []
    if extras:
        extra_targets = [out_dir / f"{f.stem}{s}" for f in files for s in ("_measurements.csv", OVERLAY_SUFFIX)]
        extra_targets.append(out_dir / "summary.csv")
        existing = [t for t in extra_targets if t.exists()]
        if existing and not overwrite:
            raise InputError(f"{existing[0]} exists already; pass --overwrite to replace it")
    jobs = []
    for f in files:  # read and check everything before writing anything
        image = images.read_image(f)
        found, what = images.planes(image, channel=channel, rgb_to_gray=rgb_to_gray, max_projection=max_projection)
        jobs.append((f, image, found, what))
    loaded = load_model(model, task="segmentation")
    trained = getattr(loaded, "object_diameter_px", None)
    if diameter is not None and trained is None:
        raise InputError(f"model {loaded.name} does not record the object size it was trained on; drop --diameter")
    factor = trained / diameter if diameter is not None else 1.0
    out_dir.mkdir(parents=True, exist_ok=True)
    results, rows = [], []
    disable = (not progress) if progress is not None else None
    for (f, image, found, what), target in tqdm(
        list(zip(jobs, targets)), f"segmenting with {loaded.name}", unit="file", disable=disable
    ):
        size = pixel_size if pixel_size is not None else image.pixel_size_um
        stack, tables, notes, diameters = [], [], [], []
        for k, plane in enumerate(found):
            scaled = _rescale(plane, factor)
            labels = loaded.predict(scaled, tta=tta) if np.ptp(plane) > 0 else np.zeros(scaled.shape, np.int32)
            diameters.append(object_stats(labels)["equivalent_diameter"].to_numpy())  # at the model's scale
            labels = _back_to_shape(np.asarray(labels), plane.shape)
            stack.append(labels)
            if extras:
                table = measure_objects(labels, plane, size)
                if len(found) > 1:
                    table.insert(0, "plane", k)
                tables.append(table)
        found_d = np.concatenate(diameters) if diameters else np.array([])
        n_objects = int(sum(len(np.unique(s[s > 0])) for s in stack))
        if trained is not None:
            low, high = 0.5 * trained, 2 * trained
            if found_d.size and not low <= np.median(found_d) <= high:
                notes.append(
                    f"{f.name}: the objects found have a median diameter of {np.median(found_d):.0f} px at the "
                    f"model's scale, but {loaded.name} was trained on objects of about {trained:.0f} px; "
                    "pass --diameter with your objects' typical diameter in pixels (and check the overlay)"
                )
        if n_objects == 0:
            notes.append(f"{f.name}: no objects found ({what}); check the channel and --diameter")
        labels_out = np.stack(stack) if len(stack) > 1 else stack[0]
        write_labels(labels_out, target)
        csv = png = None
        if extras:
            csv = out_dir / f"{f.stem}_measurements.csv"
            table = pd.concat(tables, ignore_index=True)
            write_atomic(csv, lambda p, t=table: t.to_csv(p, index=False))
            png = out_dir / f"{f.stem}{OVERLAY_SUFFIX}"
            rgb = overlay_image(found[0], stack[0])
            write_atomic(png, lambda p, rgb=rgb: _write_png(p, rgb))
        scale_note = f"; rescaled by {factor:.2f} for the model" if factor != 1 else ""
        median_d = float(np.median(found_d) / factor) if found_d.size else float("nan")
        results.append(SegmentedFile(f, target, csv, png, what + scale_note, len(found), n_objects, median_d, notes))
        rows.append(
            {
                "image": f.name,
                "planes": len(found),
                "objects": n_objects,
                "objects_per_plane": n_objects / len(found),
                "median_diameter_px": median_d,
                "pixel_size_um": size,
                "what": what + scale_note,
            }
        )
        for note in notes:
            warnings.warn(note, stacklevel=2)
    if extras:
        write_atomic(out_dir / "summary.csv", lambda p: pd.DataFrame(rows).to_csv(p, index=False))
    return Segmented(r.labels for r in results).with_details(results)


def _write_png(path, rgb: np.ndarray) -> None:
    import imageio.v3 as iio

    iio.imwrite(path, rgb, extension=".png")


def denoise(
    inputs: list[str],
    model: str,
    output: str,
    overwrite: bool = False,
    progress: bool | None = None,
    channel: int | None = None,
    tta: bool = False,
) -> list[Path]:
    """Denoise every input image with ``model``; return the files written (float32 TIFFs, input's intensity scale).

    ``tta=True`` averages the model over the eight flips and quarter turns of each image
    (see :meth:`bioimaging_guide.restoration_models.RestorationModel.predict`).
    """
    return _apply(
        inputs,
        output,
        overwrite,
        lambda f: read_plane(f, channel=channel, task="denoise"),
        model,
        "restoration",
        "denoising",
        lambda x, target: write_tiff(x.astype(np.float32), target),
        progress,
        tta=tta,
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
    from .userdata import TRAIN_DEFAULTS  # frameworks that train on your own images, and their settings

    own_data = tuple(TRAIN_DEFAULTS)

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
        "--channel",
        type=int,
        metavar="N",
        help="the channel to segment in a multichannel or colour image, counted from 0 (e.g. the nuclear stain)",
    )
    p.add_argument(
        "--rgb-to-gray", action="store_true", help="turn a colour (RGB) image into grey (luminance) before segmenting"
    )
    p.add_argument(
        "--max-projection",
        action="store_true",
        help="segment the maximum projection of a z-stack instead of each plane; never use it on a time-lapse "
        "(it merges time points) or on channels (it merges stains); by default stacks are segmented plane by plane",
    )
    p.add_argument(
        "--diameter",
        type=float,
        metavar="PX",
        help="typical diameter of your objects in pixels: the image is rescaled to the object size the model "
        "was trained on (see its model card), and the labels back",
    )
    p.add_argument(
        "--pixel-size",
        type=float,
        metavar="UM",
        help="pixel size in micrometres (default: read from the file's metadata), for areas in µm²",
    )
    p.add_argument(
        "--labels-only",
        action="store_true",
        help="write only the label images (no measurements, overlays or summary)",
    )
    p.add_argument(
        "--tta",
        action="store_true",
        help="test-time augmentation: average the network over flipped and rotated copies of each image "
        "(StarDist: the eight flips and quarter turns; Cellpose: flipped, half-overlapping tiles); several "
        "times slower; check on annotated images of your own whether it helps",
    )
    d = sub.add_parser("denoise", help="denoise grey-scale images with a trained model, writing float32 TIFFs")
    d.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders of images")
    d.add_argument(
        "--model", default=denoisers[0], help=f"{' or '.join(denoisers)} (default: {denoisers[0]}), or a model folder"
    )
    d.add_argument("--output", "-o", required=True, help="folder for the restored images (<input stem>.tif)")
    d.add_argument("--overwrite", action="store_true", help="replace existing restored images")
    d.add_argument("--channel", type=int, metavar="N", help="the channel to denoise in multichannel images")
    d.add_argument(
        "--tta",
        action="store_true",
        help="test-time augmentation: restore the eight flipped and quarter-turned copies of each image and "
        "average them; eight times slower; chapter 6 shows what it gained on the book's images",
    )
    c = sub.add_parser("check", help="check an images/ + labels/ folder pair before training on it")
    c.add_argument("--images", required=True, help="folder of images")
    c.add_argument("--labels", required=True, help="folder of label images (same names, or with _labels/_masks)")
    c.add_argument("--channel", type=int, metavar="N", help="the channel to use in multichannel images")
    c.add_argument(
        "--no-star-convex", action="store_true", help="skip the star-convexity check (only matters for StarDist)"
    )
    e = sub.add_parser("evaluate", help="score predicted label images against annotated ones")
    e.add_argument("--truth", required=True, help="folder of annotated label images")
    e.add_argument("--pred", required=True, help="folder of predicted label images (same names)")
    e.add_argument("--csv", help="write the per-image scores to this CSV file")
    e.add_argument("--overwrite", action="store_true", help="replace the CSV file if it exists")
    t = sub.add_parser(
        "train",
        help="train a model on your own images (stardist, cellpose) or re-train a shipped one from its recipe",
        description="bioimaging-guide train stardist --images DIR --labels DIR --output MODEL_DIR fine-tunes the "
        "book's StarDist model on your annotated images (cellpose likewise); bioimaging-guide train NAME --output "
        "DIR re-trains one of the shipped models from its saved recipe into DIR/NAME.",
    )
    t.add_argument("name", choices=[*own_data, *REGISTRY], help="what to train")
    t.add_argument(
        "--output",
        "-o",
        required=True,
        help="your model's folder (stardist/cellpose); for a shipped model, the folder to write OUTPUT/NAME into "
        "('models' replaces the shipped one)",
    )
    t.add_argument("--images", help="folder of your images (stardist/cellpose only)")
    t.add_argument("--labels", help="folder of your label images, same names (stardist/cellpose only)")
    t.add_argument("--channel", type=int, metavar="N", help="the channel to train on in multichannel images")
    t.add_argument(
        "--from",
        dest="init_from",
        default="default",
        metavar="MODEL",
        help="start from this trained model: default the book's model of that framework (stardist-dsb2018, "
        "cellpose-dsb2018), a model folder, or 'none' to train from scratch",
    )
    t.add_argument(
        "--set",
        dest="overrides",
        action="append",
        type=_setting,
        default=[],
        metavar="KEY=VALUE",
        help="change one setting, e.g. --set epochs=2 (JSON values); for stardist/cellpose: "
        + "; ".join(f"{k}: {', '.join(v)}" for k, v in TRAIN_DEFAULTS.items()),
    )
    t.add_argument("--overwrite", action="store_true", help="replace the output model folder if it exists")
    stardists = [n for n, m in REGISTRY.items() if m.framework == "stardist"]
    x = sub.add_parser(
        "export",
        help="write a StarDist model as a bioimage.io package (.zip) to open in deepImageJ, ilastik, QuPath or napari",
        description="bioimaging-guide export stardist-dsb2018 --output stardist-dsb2018.bioimageio.zip writes the "
        "model as a BioImage Model Zoo (bioimage.io) package: one .zip file with the network (TensorFlow "
        "SavedModel), its description (rdf.yaml, checked with bioimageio.spec), a test image and a README. "
        "Software that reads bioimage.io models opens it: deepImageJ in Fiji (with the attached StarDist "
        "post-processing macro), ilastik, QuPath, napari.",
    )
    x.add_argument(
        "model", metavar="MODEL", help=f"{' or '.join(stardists)}, or a StarDist model folder (e.g. one you trained)"
    )
    x.add_argument("--output", "-o", required=True, help="the .zip file to write, e.g. MODEL.bioimageio.zip")
    x.add_argument("--overwrite", action="store_true", help="replace the .zip file if it exists")
    x.add_argument(
        "--author",
        dest="authors",
        action="append",
        metavar="NAME",
        help="an author of the model, once per person (needed for your own models; default for the book's "
        "models: the book's authors)",
    )
    x.add_argument(
        "--license",
        metavar="SPDX",
        help="licence of the weights as an SPDX identifier (default CC-BY-4.0, the licence of the book's models)",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        if args.command == "segment":
            import warnings

            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", UserWarning)
                written = segment(
                    args.inputs,
                    args.model,
                    args.output,
                    args.overwrite,
                    args.max_projection,
                    channel=args.channel,
                    rgb_to_gray=args.rgb_to_gray,
                    diameter=args.diameter,
                    pixel_size=args.pixel_size,
                    extras=not args.labels_only,
                    tta=args.tta,
                )
            for d in written.details:
                print(f"{d.source.name}: {d.n_objects} objects in {d.n_planes} plane(s) ({d.description})")
            for w in caught:
                print(f"warning: {w.message}", file=sys.stderr)
            extra = "" if args.labels_only else " with measurements, overlays and summary.csv"
            print(f"wrote {len(written)} label image(s){extra} to {args.output} in {time.perf_counter() - start:.1f} s")
        elif args.command == "check":
            from .userdata import check_dataset

            report = check_dataset(args.images, args.labels, star_convex=not args.no_star_convex, channel=args.channel)
            print(report)
            return 0 if report.ok else 1
        elif args.command == "evaluate":
            from .userdata import evaluate_folders

            if args.csv and Path(args.csv).exists() and not args.overwrite:
                raise InputError(f"{args.csv} exists already; pass --overwrite to replace it")
            result = evaluate_folders(args.truth, args.pred)
            print(result)
            if args.csv:
                result.write_csv(args.csv)
                print(f"per-image scores written to {args.csv}")
        elif args.command == "denoise":
            written = denoise(args.inputs, args.model, args.output, args.overwrite, channel=args.channel, tta=args.tta)
            print(f"wrote {len(written)} restored image(s) to {args.output} in {time.perf_counter() - start:.1f} s")
        elif args.command == "export":
            from .modelzoo import export_bioimageio, validation_summary

            path = export_bioimageio(
                args.model, args.output, overwrite=args.overwrite, authors=args.authors, license=args.license
            )
            summary = validation_summary(path)
            print(
                f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - start:.0f} s; "
                f"bioimageio.spec: {summary.status}, {len(summary.warnings)} warning(s)"
            )
            for w in summary.warnings:
                print(f"warning: {'.'.join(map(str, w.loc))}: {w.msg}", file=sys.stderr)
            print("open it in deepImageJ, ilastik, QuPath or napari; its README.md says how to get labelled nuclei")
        elif args.name in own_data:
            from .userdata import train_on_folders

            if not args.images or not args.labels:
                raise InputError(f"train {args.name} needs --images DIR and --labels DIR (your annotated images)")
            init = None if args.init_from.lower() == "none" else args.init_from
            folder = train_on_folders(
                args.name,
                args.images,
                args.labels,
                args.output,
                init_from=init,
                channel=args.channel,
                overwrite=args.overwrite,
                progress=True,
                **dict(args.overrides),
            )
            metrics = json.loads((folder / "metrics.json").read_text())
            print(
                f"model written to {folder} in {time.perf_counter() - start:.0f} s; validation scores (optimistic: "
                f"they chose the weights): {json.dumps({k: round(v, 3) for k, v in metrics['validation'].items()})}\n"
                f"use it with: bioimaging-guide segment IMAGES --model {folder} --output LABELS"
            )
        else:
            if args.images or args.labels or args.channel is not None or args.init_from != "default":
                raise InputError(
                    f"{args.name} is re-trained from its saved recipe; --images, --labels, --channel and --from "
                    "are for training stardist or cellpose on your own images"
                )
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
