"""What ``bioimaging-guide segment`` writes beside each label image: measurements and a picture to check by eye.

* :func:`measure_objects`: one row per object (label, area, centroid,
  intensity of the segmented channel, shape), from scikit-image's
  ``regionprops_table``;
* :func:`overlay_image`: the image in grey with every object's outline in
  colour, as an RGB array to save as PNG.

Object sizes alone (equivalent diameters, for comparing with the size a model
was trained on) come from :func:`bioimaging_guide.evaluation.object_stats`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MEASUREMENT_COLUMNS", "measure_objects", "overlay_image"]

_PROPERTIES = ("label", "area", "centroid", "intensity_mean", "eccentricity", "solidity", "equivalent_diameter_area")
#: Columns of :func:`measure_objects` (``area_um2`` only when the pixel size is known).
MEASUREMENT_COLUMNS = (
    "label",
    "area_px",
    "area_um2",
    "centroid_y",
    "centroid_x",
    "mean_intensity",
    "total_intensity",
    "eccentricity",
    "solidity",
    "equivalent_diameter_px",
)


def measure_objects(labels: np.ndarray, intensity: np.ndarray, pixel_size_um: float | None = None):
    """One row per object of ``labels``: size, position, intensity of ``intensity``, shape.

    Parameters
    ----------
    labels
        2D instance label image (0 = background).
    intensity
        The 2D image that was segmented (same shape), as read from the file:
        mean and total intensity are in its units (grey levels).
    pixel_size_um
        Side of a pixel in micrometres; adds ``area_um2``.

    Returns
    -------
    pandas.DataFrame with the columns of :data:`MEASUREMENT_COLUMNS`
    (``area_um2`` only with a pixel size); total intensity = area × mean.
    """
    import pandas as pd
    from skimage.measure import regionprops_table

    labels = np.asarray(labels)
    intensity = np.asarray(intensity, dtype=np.float64)
    if labels.shape != intensity.shape or labels.ndim != 2:
        raise ValueError(f"labels {labels.shape} and intensity {intensity.shape} must be 2D images of the same shape")
    columns = [c for c in MEASUREMENT_COLUMNS if c != "area_um2" or pixel_size_um]
    if labels.max() == 0:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in columns}).astype({"label": int, "area_px": int})
    table = regionprops_table(labels.astype(np.int32), intensity_image=intensity, properties=_PROPERTIES)
    df = pd.DataFrame(
        {
            "label": table["label"],
            "area_px": table["area"].astype(int),
            "centroid_y": table["centroid-0"],
            "centroid_x": table["centroid-1"],
            "mean_intensity": table["intensity_mean"],
            "total_intensity": table["intensity_mean"] * table["area"],
            "eccentricity": table["eccentricity"],
            "solidity": table["solidity"],
            "equivalent_diameter_px": table["equivalent_diameter_area"],
        }
    )
    if pixel_size_um:
        df.insert(2, "area_um2", df["area_px"] * pixel_size_um**2)
    return df[columns]


def overlay_image(image: np.ndarray, labels: np.ndarray, low: float = 1, high: float = 99.8) -> np.ndarray:
    """``image`` in grey (percentiles ``low``–``high`` stretched) with object outlines in yellow; uint8 RGB."""
    from skimage.segmentation import find_boundaries

    from .common import normalize_percentile

    image = np.asarray(image, dtype=np.float64)
    if image.shape != np.shape(labels) or image.ndim != 2:
        raise ValueError(f"image {image.shape} and labels {np.shape(labels)} must be 2D images of the same shape")
    grey = np.clip(normalize_percentile(image, low, high, dtype=np.float64), 0, 1) if np.ptp(image) else image * 0
    rgb = np.repeat((grey * 255).astype(np.uint8)[..., None], 3, axis=-1)
    rgb[find_boundaries(np.asarray(labels), mode="inner")] = (255, 220, 0)  # yellow (Okabe–Ito), seen on grey
    return rgb
