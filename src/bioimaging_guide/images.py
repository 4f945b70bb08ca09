"""Reading your own microscopy images for ``bioimaging-guide segment``.

A microscopy file is often more than one 2D picture: several fluorescence
channels, a time-lapse, a z-stack, or a colour (RGB) photograph. The models
of the book segment one 2D grey-scale plane at a time, so this module

1. reads the file and works out what each axis of the pixel array is
   (:func:`read_image`), from the metadata written by Fiji/ImageJ or by OME
   tools when there is some, and otherwise by an explicit, reported guess;
2. turns it into the 2D planes to segment (:func:`planes`), refusing with
   an explanation whenever a choice is needed that only you can make (which
   channel? how to turn colour into grey?). Nothing is averaged or merged
   silently.

Axis letters (one per axis of the array): ``Y`` and ``X`` image rows and
columns, ``C`` channels, ``Z`` focal planes, ``T`` time points, ``S`` the
red/green/blue(/alpha) samples of a colour image, and ``Q`` planes of
unknown kind (time points or z-planes: the file does not say).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TIFF_SUFFIXES = {".tif", ".tiff"}
KNOWN_AXES = set("TZCYXSQ")
# Length units as written by ImageJ ('micron', '\u00B5m') and OME-XML ('µm', 'nm', ...), in micrometres.
UNIT_UM = {"µm": 1.0, "um": 1.0, "micron": 1.0, "microns": 1.0, "micrometer": 1.0, "micrometre": 1.0}
UNIT_UM |= {"nm": 1e-3, "å": 1e-4, "pm": 1e-6, "mm": 1e3, "cm": 1e4, "m": 1e6, "inch": 25400.0, "in": 25400.0}
TIFF_UNIT_UM = {2: 25400.0, 3: 1e4, 4: 1e3, 5: 1.0}  # TIFF ResolutionUnit: inch, centimetre (4, 5: tifffile's mm, µm)
SAMPLE_NAMES = {2: ("grey", "alpha"), 3: ("red", "green", "blue"), 4: ("red", "green", "blue", "alpha")}


class InputError(ValueError):
    """An image file that cannot be segmented as asked; the message says what to do."""


@dataclass(frozen=True, eq=False)
class ImageFile:
    """A microscopy image file as read from disk, with the meaning of each axis.

    ``data`` is the pixel array as stored; ``axes`` has one letter per axis of
    ``data`` (see the module description), e.g. ``"CYX"`` for a three-channel
    image or ``"TZCYX"`` for a multichannel time-lapse of z-stacks.
    ``axes_source`` says where the axes came from: ``"OME-XML"``,
    ``"ImageJ"``, ``"TIFF"`` (the TIFF structure itself, or tifffile's own
    description), the image format (e.g. ``"PNG"``) or ``"guessed"`` (from
    the shape alone). ``pixel_size_um`` is the side of one pixel in
    micrometres, or None when the file does not record it or records
    non-square pixels; ``pixel_size_source`` says which.
    """

    path: Path
    data: np.ndarray = field(repr=False)
    axes: str
    pixel_size_um: float | None
    axes_source: str
    pixel_size_source: str = ""
    channel_names: tuple[str, ...] = ()  # from OME-XML or ImageJ metadata, when they name every channel

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape


def read_image(path) -> ImageFile:
    """Read a TIFF (including OME-TIFF and ImageJ hyperstacks), PNG, JPEG or BMP file.

    Only the first image series of a TIFF file is read (the full-resolution
    image of a pyramid). Raises :class:`InputError` for unreadable files and
    for files whose axes cannot be worked out.
    """
    path = Path(path)
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            image = _read_tiff(path)
        else:
            import imageio.v3 as iio

            data = np.asarray(iio.imread(path))
            kind = path.suffix.lstrip(".").upper().replace("JPG", "JPEG") or "image"
            image = ImageFile(path, data, _guess_axes(path, data, None), None, kind, f"not read from {kind} files")
    except InputError:
        raise
    except Exception as err:  # any reader failure means "unreadable"
        raise InputError(f"cannot read {path} as an image ({type(err).__name__}: {err})") from err
    if image.data.dtype.kind not in "uif":
        raise InputError(f"{path}: unsupported pixel type {image.data.dtype}; save the image as integers or floats")
    if image.data.size == 0:
        raise InputError(f"{path}: the image is empty (shape {image.data.shape})")
    return image


def _read_tiff(path: Path) -> ImageFile:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        data = series.asarray()
        axes, page = series.axes, series.keyframe
        ome = ET.fromstring(tif.ome_metadata) if tif.is_ome and tif.ome_metadata else None
        pixels = next((e for e in ome.iter() if e.tag.endswith("}Pixels")), None) if ome is not None else None
        ij = tif.imagej_metadata if tif.is_imagej else None
        source = "OME-XML" if pixels is not None else "ImageJ" if ij else "TIFF"
        rgb = page.photometric in (2, 6)  # RGB or YCbCr (decoded to RGB)
        if "S" in axes and not (rgb and axes.endswith("S") and data.shape[-1] in (3, 4)):
            # Samples stored as separate planes, or not colours: in microscopy these are channels
            # (e.g. tifffile used to save any (3, height, width) array as planar RGB).
            axes, source = axes.replace("S", "C"), "guessed"
        if set(axes) & set("QI"):
            axes, source = _guess_axes(path, data, axes), "guessed"
        elif set(axes) - KNOWN_AXES:
            odd = ", ".join(f"'{a}' ({n})" for a, n in zip(axes, data.shape) if a not in KNOWN_AXES)
            raise InputError(
                f"{path}: axes {axes} of shape {data.shape} include {odd}, which this command does not handle "
                "(it knows time, z, channels and colour); save the planes you want as their own file"
            )
        size, size_source = _pixel_size(pixels, ij, page)
        return ImageFile(path, data, axes, size, source, size_source, _channel_names(pixels, ij, axes, data.shape))


def _guess_axes(path: Path, data: np.ndarray, tiff_axes: str | None) -> str:
    """Axes from the shape alone, for files without (usable) metadata; ``tiff_axes`` as tifffile read them."""
    shape = data.shape
    if data.ndim == 2:
        return "YX"
    if (
        data.ndim == 3
        and shape[-1] in ((3, 4) if tiff_axes else (2, 3, 4))
        and (data.dtype == np.uint8 or not tiff_axes)
    ):
        return "YXS"  # PNG/JPEG/BMP colour images; a TIFF whose 8-bit colours were saved as planes of width 3 or 4
    if tiff_axes and len(tiff_axes) == 4 and tiff_axes.endswith("YXS"):
        return "QYXS"  # a series of colour images
    if tiff_axes and data.ndim == 3:
        return "CYX" if shape[0] <= 5 else "QYX"  # a small first axis is almost always channels
    raise InputError(
        f"{path}: shape {shape} has {data.ndim} axes and the file does not say what they are "
        "(channels, z-planes, time points); save it from Fiji/ImageJ (File > Save As > Tiff...) "
        "or as OME-TIFF so that the axes are recorded, or split it into one file per channel or plane"
    )


def _pixel_size(pixels, ij: dict | None, page) -> tuple[float | None, str]:
    """Side of a pixel in µm, and where it came from (or why it is unknown)."""

    def square(x: float, y: float | None, where: str) -> tuple[float | None, str]:
        if y is not None and not math.isclose(x, y, rel_tol=1e-3):
            return None, f"{where}: pixels are not square ({x:.4g} µm wide, {y:.4g} µm high)"
        return x, where

    def tag(name: str):
        t = page.tags.get(name)
        return None if t is None else t.value

    def per_unit(name: str) -> float | None:  # pixels per resolution unit
        v = tag(name)
        return v[0] / v[1] if isinstance(v, tuple) and v[1] and v[0] else None

    if pixels is not None and pixels.get("PhysicalSizeX"):
        unit = pixels.get("PhysicalSizeXUnit", "µm")
        y_unit = _unit(pixels.get("PhysicalSizeYUnit", "µm"))
        if _unit(unit) is None:
            return None, f"OME-XML: pixel size unit {unit!r} is not a length"
        y = float(pixels.get("PhysicalSizeY")) * y_unit if pixels.get("PhysicalSizeY") and y_unit else None
        return square(float(pixels.get("PhysicalSizeX")) * _unit(unit), y, "OME-XML PhysicalSizeX")
    xres, yres = per_unit("XResolution"), per_unit("YResolution")
    if ij and ij.get("unit") and xres:
        factor = _unit(str(ij["unit"]))
        if factor is None:
            return None, f"ImageJ: unit {ij['unit']!r} is not a length (set it in Image > Properties)"
        return square(factor / xres, factor / yres if yres else None, "ImageJ unit and XResolution")
    factor = TIFF_UNIT_UM.get(int(tag("ResolutionUnit") or 1))
    if factor and xres:
        if factor == 25400.0 and xres in (72.0, 96.0):
            return None, f"TIFF: {xres:g} dots per inch, a software default rather than a measurement"
        return square(factor / xres, factor / yres if yres else None, "TIFF XResolution and ResolutionUnit")
    return None, "the file does not record a pixel size"


def _unit(name: str) -> float | None:
    name = name.strip().lower().replace("\\u00b5", "µ").replace("μ", "µ")  # micro sign, Greek mu
    return UNIT_UM.get(name)


def _channel_names(pixels, ij: dict | None, axes: str, shape: tuple[int, ...]) -> tuple[str, ...]:
    n = shape[axes.index("C")] if "C" in axes else 0
    names: list[str] = []
    if pixels is not None:
        names = [c.get("Name", "") for c in pixels if c.tag.endswith("}Channel")]
    elif ij and isinstance(ij.get("Labels"), list | tuple):
        names = list(ij["Labels"][:n])  # ImageJ stores planes channel-fastest: the first n are the channels
    return tuple(str(x) for x in names) if n and len(names) == n and all(names) else ()


def planes(
    image: ImageFile,
    channel: int | None = None,
    rgb_to_gray: bool = False,
    max_projection: bool = False,
    task: str = "segment",
) -> tuple[list[np.ndarray], str]:
    """The 2D grey-scale planes to segment, and a sentence saying what was done.

    * A multichannel image needs ``channel`` (counted from 0): the channel to
      segment, e.g. the nuclear stain.
    * A colour (RGB) image needs ``channel`` (0 red, 1 green, 2 blue) or
      ``rgb_to_gray=True`` (luminance, the usual colour-to-grey conversion).
    * Time points and z-planes are returned one by one, in order (for a
      time-lapse of z-stacks, all planes of the first time point first).
      With ``max_projection=True`` a z-stack becomes its maximum projection
      (the brightest value through z at each pixel); time points and channels
      are never merged.

    Raises :class:`InputError` when a choice is missing or does not fit the
    image; ``task`` ("segment", "denoise", …) words its messages.
    """
    name, data, axes = image.path.name, image.data, image.axes
    done: list[str] = []
    if channel is not None and rgb_to_gray:
        raise InputError(f"{name}: pass either --channel or --rgb-to-gray, not both")
    n_channels = data.shape[axes.index("C")] if "C" in axes else 1
    if "S" in axes and n_channels > 1:
        raise InputError(f"{name}: axes {axes} hold both channels and colours; save one channel as its own file")
    if "S" in axes:
        data, axes = _grey_from_colour(image, data, axes, channel, rgb_to_gray, done, task)
    elif n_channels > 1:
        listing = ", ".join(
            f"channel {i}" + (f" {image.channel_names[i]!r}" if image.channel_names else "") for i in range(n_channels)
        )
        if channel is None:
            raise InputError(
                f"{name}: {n_channels} channels ({listing}), but the models {task} one grey-scale channel; "
                "pass --channel N to choose one (e.g. the nuclear stain)"
                + ("; --max-projection merges z-planes, never channels" if max_projection else "")
            )
        if not 0 <= channel < n_channels:
            raise InputError(f"{name}: --channel {channel} does not exist; choose 0 to {n_channels - 1} ({listing})")
        data, axes = np.take(data, channel, axis=axes.index("C")), axes.replace("C", "")
        label = f" {image.channel_names[channel]!r}" if image.channel_names else ""
        done.append(f"channel {channel}{label} of {n_channels}")
    else:
        if channel is not None:
            raise InputError(f"{name}: a single-channel image has no channel to choose; drop --channel")
        if rgb_to_gray:
            raise InputError(f"{name}: not a colour image; drop --rgb-to-gray")
        if "C" in axes:
            data, axes = np.take(data, 0, axis=axes.index("C")), axes.replace("C", "")
    if max_projection:
        data, axes = _project(name, data, axes, done)
    stack_axes = [a for a in axes if a not in "YX"]
    data = np.transpose(data, [axes.index(a) for a in stack_axes] + [axes.index("Y"), axes.index("X")])
    counts = dict(zip(stack_axes, data.shape[:-2]))
    words = {"T": "time points", "Z": "z-planes", "Q": "planes of unknown kind (time points or z-planes; guessed)"}
    if counts:
        what = " × ".join(f"{n} {words[a]}" for a, n in counts.items())
        total = math.prod(counts.values())
        order = f" ({total} planes, time point by time point)" if len(counts) > 1 else ""
        done.append(f"{what}{order}, one by one")
    if min(data.shape[-2:]) < 8:
        raise InputError(f"{name}: planes of {data.shape[-2]} × {data.shape[-1]} pixels are too small to {task}")
    if float(np.ptp(data)) == 0:
        raise InputError(f"{name}: every pixel has the same value ({data.flat[0]}); nothing to {task}")
    return list(data.reshape(-1, *data.shape[-2:])), "; ".join(done) or "a single 2D image"


def _grey_from_colour(image, data, axes, channel, rgb_to_gray, done, task):
    name, s = image.path.name, axes.index("S")
    names = SAMPLE_NAMES.get(data.shape[s], tuple(f"sample {i}" for i in range(data.shape[s])))
    colours = [i for i, n in enumerate(names) if n != "alpha"]
    choices = ", ".join(f"{i} {names[i]}" for i in colours)
    if channel is None and not rgb_to_gray:
        same = all(np.array_equal(np.take(data, 0, axis=s), np.take(data, i, axis=s)) for i in colours)
        raise InputError(
            f"{name}: a colour image ({'/'.join(names)}), but the models {task} grey-scale images; pass "
            f"--channel N to segment one colour ({choices}) or --rgb-to-gray to convert it to grey (luminance)"
            + (
                "; its colours are identical (a grey image saved as colour), so --channel 0 keeps it exactly"
                if same
                else ""
            )
        )
    if channel is not None:
        if channel not in colours:
            raise InputError(f"{name}: --channel {channel} is not a colour of this image; choose {choices}")
        done.append(f"the {names[channel]} channel of a colour image")
        return np.take(data, channel, axis=s), axes.replace("S", "")
    if len(colours) == 1:
        done.append("the grey values of a grey-and-alpha image")
        return np.take(data, colours[0], axis=s), axes.replace("S", "")
    from skimage.color import rgb2gray

    rgb = np.take(np.moveaxis(data, s, -1), colours, axis=-1)
    done.append("colour converted to grey (luminance 0.2125 R + 0.7154 G + 0.0721 B, skimage rgb2gray)")
    return rgb2gray(rgb), axes.replace("S", "")  # the other axes keep their order


def _project(name: str, data: np.ndarray, axes: str, done: list[str]) -> tuple[np.ndarray, str]:
    """Maximum projection along z (or along planes of unknown kind, saying so)."""
    if "Z" in axes or "Q" in axes:
        a = "Z" if "Z" in axes else "Q"
        n = data.shape[axes.index(a)]
        done.append(
            f"maximum projection of {n} z-planes"
            if a == "Z"
            else f"maximum projection of {n} planes whose kind was guessed (z-planes or time points: the file does "
            "not say; if they are time points, drop --max-projection)"
        )
        return data.max(axis=axes.index(a)), axes.replace(a, "")
    if "T" in axes:
        raise InputError(
            f"{name}: a time-lapse of {data.shape[axes.index('T')]} time points without z-planes; a maximum "
            "projection of a time-lapse merges all time points: segment the frames one by one instead "
            "(drop --max-projection)"
        )
    raise InputError(
        f"{name}: a single 2D plane, nothing to project; --max-projection merges z-planes only "
        "(never channels): drop it"
    )


def read_plane(path, channel: int | None = None, rgb_to_gray: bool = False, task: str = "segment") -> np.ndarray:
    """Read a file that must hold one 2D grey-scale plane (after choosing a channel); for training and denoising.

    Stacks and time-lapses are refused with the advice to save their planes as separate files.
    """
    image = read_image(path)
    found, what = planes(image, channel=channel, rgb_to_gray=rgb_to_gray, task=task)
    if len(found) != 1:
        raise InputError(
            f"{image.path.name}: {what}; to {task} it needs one 2D image per file: save the planes as separate files"
        )
    return found[0]
