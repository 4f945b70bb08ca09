"""Plotting helpers shared by the notebooks.

Colours follow the Okabe–Ito palette, which stays distinguishable for readers
with the common forms of colour blindness, and every overlay also differs in
line style so that it survives grey-scale printing.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from matplotlib.lines import Line2D
from skimage import measure

from .common import normalize_percentile

#: Okabe–Ito colours (Okabe & Ito 2008), by role.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
}
#: Colour and line style for true positives, false positives and false negatives.
ERROR_STYLE = {
    "TP": dict(color=OKABE_ITO["bluish green"], linestyle="-", label="true positive (found, IoU ≥ τ)"),
    "FP": dict(color=OKABE_ITO["vermillion"], linestyle="-", label="false positive (predicted, no match)"),
    "FN": dict(color=OKABE_ITO["sky blue"], linestyle="--", label="false negative (missed nucleus)"),
}


def show_image(ax, image, title: str | None = None, cmap: str = "gray") -> None:
    """Show an image with percentile contrast (1–99.8 %) and no axes."""
    image = np.asarray(image)
    if image.ndim == 3:
        ax.imshow(image[..., :3])
    else:
        ax.imshow(np.clip(normalize_percentile(image), 0, 1), cmap=cmap)
    if title:
        ax.set_title(title)
    ax.set_axis_off()


def draw_outlines(ax, labels: np.ndarray, ids: Iterable[int] | None = None, linewidth: float = 1.2, **style) -> None:
    """Draw the outline of each object ``ids`` of a label image (all objects if None)."""
    ids = np.unique(labels[labels > 0]) if ids is None else ids
    for i in ids:
        for contour in measure.find_contours((labels == i).astype(float), 0.5):
            ax.plot(contour[:, 1], contour[:, 0], linewidth=linewidth, **style)


def error_overlay(ax, image, gt, pred, tp_pred, fp_pred, fn_gt, title: str | None = None, legend: bool = True) -> None:
    """Outline true positives, false positives and false negatives on the image.

    ``tp_pred`` and ``fp_pred`` are ids in ``pred``; ``fn_gt`` are ids in ``gt``.
    """
    show_image(ax, image, title)
    for key, labels, ids in (("TP", pred, tp_pred), ("FP", pred, fp_pred), ("FN", gt, fn_gt)):
        style = {k: v for k, v in ERROR_STYLE[key].items() if k != "label"}
        draw_outlines(ax, labels, ids, **style)
    if legend:
        error_legend(ax)


def error_legend(ax_or_fig, **kwargs) -> None:
    """Legend for :func:`error_overlay`."""
    handles = [Line2D([], [], linewidth=2, **style) for style in ERROR_STYLE.values()]
    kwargs.setdefault("loc", "lower center")
    ax_or_fig.legend(handles=handles, fontsize="small", framealpha=0.9, **kwargs)


def label_colors(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """RGB image with each object in a random (seeded) bright colour on black."""
    rng = np.random.default_rng(seed)
    lut = rng.uniform(0.25, 1.0, size=(int(labels.max()) + 1, 3))
    lut[0] = 0
    return lut[labels]


def add_scale_bar(ax, length: float, label: str, color: str = "white", loc: str = "lower right") -> None:
    """Draw a scale bar of ``length`` data units (pixels, or µm for an image drawn in µm) with its ``label``.

    Every microscopy image in the book carries one; when the pixel size is
    unknown, say so in the label (e.g. ``"50 px (pixel size unknown)"``).
    """
    from matplotlib import patheffects
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    bar = AnchoredSizeBar(
        ax.transData, length, label, loc, pad=0.4, borderpad=0.5, sep=4, frameon=False, color=color, size_vertical=2
    )
    # a thin outline of the opposite brightness keeps the label readable on bright and dark backgrounds alike
    from matplotlib.colors import to_rgb

    halo = "black" if sum(to_rgb(color)) / 3 > 0.5 else "white"
    bar.txt_label._text.set_path_effects([patheffects.withStroke(linewidth=2, foreground=halo)])
    ax.add_artist(bar)


# --------------------------------------------------------------------------- concept diagrams


def diagram_canvas(width: float, height: float):
    """A figure for a concept diagram: axes without ticks, drawn in units of 0–100 on both axes."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.set_axis_off()
    return fig, ax


def diagram_box(
    ax,
    x: float,
    y: float,
    w: float,
    h: float,
    text: str,
    face: str = "white",
    edge: str = "black",
    linestyle: str = "-",
    size: float = 10,
    weight: str = "normal",
) -> tuple[float, float, float, float]:
    """Draw a rounded box with centred text at (x, y) (lower left) of size w × h; returns (x, y, w, h).

    The boxes of every concept diagram in the book look alike: rounded corners,
    black text, a thin black edge (dashed with ``linestyle="--"`` for optional
    or external elements) and an Okabe–Ito fill.
    """
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(
        FancyBboxPatch(
            (x, y),
            w,
            h,
            boxstyle="round,pad=0.4,rounding_size=1.2",
            facecolor=face,
            edgecolor=edge,
            linewidth=1.2,
            linestyle=linestyle,
        )
    )
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size, fontweight=weight, linespacing=1.15)
    return x, y, w, h


def diagram_arrow(ax, start: tuple[float, float], end: tuple[float, float], label: str | None = None, **style) -> None:
    """Draw an arrow from ``start`` to ``end``, with an optional ``label`` beside its middle."""
    from matplotlib.patches import FancyArrowPatch

    kw = dict(arrowstyle="-|>", mutation_scale=14, color="black", linewidth=1.4, shrinkA=2, shrinkB=2)
    kw.update(style)
    ax.add_patch(FancyArrowPatch(start, end, **kw))
    if label:
        mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
        ax.text(mx + 1, my, label, ha="left", va="center", fontsize=9, fontstyle="italic")
