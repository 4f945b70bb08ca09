"""Event detection and a simulated event-driven microscope.

An *event* is something that happens over time (here: a cell division),
as opposed to an *object*, something that is present in one image (a
nucleus). This module holds everything the smart-microscopy chapter needs:

1. :data:`MITOSIS_EVENTS`, the book's own annotation of the cell divisions
   in the mitosis time-lapse (:func:`bioimaging_guide.data.load_mitosis_timelapse`);
2. candidate objects and hand-crafted features for an event detector
   (:func:`find_candidates`, :func:`label_candidates`, :func:`candidate_patches`);
3. per-event evaluation of a detector (:func:`evaluate_events`);
4. a virtual microscope that replays the time-lapse, imaging slowly at low
   light and switching to fast imaging at high light when the detector fires
   (:func:`simulate_acquisition`), with fixed-rate schedules to compare with
   (:func:`fixed_schedule`) and the bookkeeping of light dose, events captured
   and decision latency (:func:`schedule_summary`).

About the annotation
--------------------
The mitosis time-lapse comes without event annotations, so the authors of
this book made their own. **They are the book's annotation, not a published
ground truth.** How they were made: every frame was displayed with a
percentile contrast stretch (1st to 99.8th percentile), first as whole-frame
montages of 12 frames and then as magnified crops around each candidate
division; the chromatin was followed by eye from frame to frame. For each
frame in which a cell's chromatin is condensed (prometaphase to telophase)
the centre of each condensed chromatin mass was read off the magnified crop
and cross-checked against the centroid of the bright (more than 1.8 times the
median nuclear intensity) region there. Three divisions were found; all
other nuclei stay in interphase for the whole movie (no global drift: phase
correlation between consecutive frames finds shifts of at most 2.2 pixels,
nearly all below 0.3 pixels).

Uncertainty: the first condensed frame is uncertain by about one frame,
because condensation is gradual and the prophase frame before it already
shows grainy chromatin; positions are uncertain by about 3 pixels. Event
``"B"`` is the least certain: its chromosomes stay condensed for nine
frames and no anaphase is visible in the focal plane; from frame 21 to 24 the
chromatin appears as a dim ring with one bright spot, and two nuclei are seen
nearby from frame 27. It may be a division completed partly out of focus or
a delayed or failed one. The frame interval is not recorded in the file the
book uses, so all times are in frames.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi
from skimage import filters, measure

from .segmentation import remove_small

__all__ = [
    "FEATURE_NAMES",
    "MITOSIS_EVENTS",
    "AcquiredFrame",
    "MitosisEvent",
    "candidate_patches",
    "evaluate_events",
    "event_frame_mask",
    "find_candidates",
    "fixed_schedule",
    "label_candidates",
    "schedule_summary",
    "simulate_acquisition",
    "simulate_low_light",
]


# ---------------------------------------------------------------------------
# The book's annotation
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MitosisEvent:
    """One annotated cell division.

    Attributes
    ----------
    name
        Short name used in the book ("A", "B", "C").
    prophase_frame
        Frame in which the chromatin first looks grainy (condensation starting).
    first_frame, last_frame
        First and last frame with condensed chromosomes (prometaphase to
        telophase): the event's *duration* used for evaluation.
    anaphase_frame
        Frame in which the chromatid sets are first seen apart (None if not
        seen).
    points
        ``{frame: ((row, col), ...)}``: centre of each condensed chromatin
        mass in every frame from ``first_frame`` to ``last_frame`` (one mass
        before anaphase, two after).
    note
        What was seen, in words.
    """

    name: str
    prophase_frame: int
    first_frame: int
    last_frame: int
    anaphase_frame: int | None
    points: dict[int, tuple[tuple[float, float], ...]] = field(repr=False)
    note: str = ""

    @property
    def frames(self) -> range:
        """Frames with condensed chromosomes."""
        return range(self.first_frame, self.last_frame + 1)

    @property
    def duration(self) -> int:
        """Number of frames with condensed chromosomes."""
        return self.last_frame - self.first_frame + 1

    def centre(self, frame: int) -> tuple[float, float]:
        """Mean of the annotated points in ``frame`` (nearest annotated frame outside the event)."""
        frame = min(max(frame, self.first_frame), self.last_frame)
        pts = np.asarray(self.points[frame], dtype=float)
        return tuple(pts.mean(axis=0))


#: The book's own annotation of the divisions in the mitosis time-lapse (see the module docstring).
MITOSIS_EVENTS: tuple[MitosisEvent, ...] = (
    MitosisEvent(
        name="A",
        prophase_frame=3,
        first_frame=4,
        last_frame=8,
        anaphase_frame=7,
        points={
            4: ((110, 57),),
            5: ((112, 56),),
            6: ((113, 58),),
            7: ((109, 50), (114, 66)),
            8: ((107, 48), (113, 67)),
        },
        note="Lower centre. Grainy chromatin at frame 3, star-shaped prometaphase figure at 4, "
        "metaphase plate at 5-6, two chromatid sets at 7, telophase at 8, daughter nuclei from 9.",
    ),
    MitosisEvent(
        name="B",
        prophase_frame=11,
        first_frame=12,
        last_frame=20,
        anaphase_frame=None,
        points={
            12: ((19, 74),),
            13: ((21, 76),),
            14: ((21, 76),),
            15: ((20, 75),),
            16: ((18, 76),),
            17: ((22, 76),),
            18: ((22, 76),),
            19: ((22, 75),),
            20: ((25, 76),),
        },
        note="Top centre. Grainy chromatin at frame 11, condensed chromosomes from 12 to 20; "
        "no anaphase seen in the focal plane; dim ring with a bright spot from 21 to 24 "
        "(outcome uncertain).",
    ),
    MitosisEvent(
        name="C",
        prophase_frame=20,
        first_frame=21,
        last_frame=25,
        anaphase_frame=24,
        points={
            21: ((54, 89),),
            22: ((53, 92),),
            23: ((53, 92),),
            24: ((48, 92), (62, 95)),
            25: ((50, 90), (68, 92)),
        },
        note="Centre right. Grainy chromatin at frame 20, prometaphase at 21, metaphase plate "
        "at 22-23, two chromatid sets at 24, telophase at 25, daughter nuclei from 26.",
    ),
)


def event_frame_mask(n_frames: int, events: Sequence[MitosisEvent] = MITOSIS_EVENTS) -> np.ndarray:
    """Boolean array, True for frames in which at least one event has condensed chromosomes."""
    mask = np.zeros(n_frames, dtype=bool)
    for ev in events:
        mask[ev.first_frame : ev.last_frame + 1] = True
    return mask


# ---------------------------------------------------------------------------
# Light level
# ---------------------------------------------------------------------------


def simulate_low_light(
    frame: np.ndarray, light_fraction: float, peak_photons: float = 200.0, rng: np.random.Generator | int | None = 0
) -> np.ndarray:
    """Simulate imaging the same field with less light.

    The frame is turned into expected photon counts (background at 0, the
    99.9th percentile at ``peak_photons``), multiplied by ``light_fraction``
    and replaced by a Poisson-distributed count: with less light every pixel
    collects fewer photons and shot noise becomes relatively larger. The
    original frame already contains noise of its own, so this is a
    simulation of *relative* light levels, not of the real camera.

    Returns
    -------
    numpy.ndarray of float32
        Photon counts (the detector rescales each frame itself).
    """
    if not 0 < light_fraction <= 1:
        raise ValueError("light_fraction must be in (0, 1]")
    rng = np.random.default_rng(rng)
    f = np.asarray(frame, dtype=np.float64)
    lo, hi = np.percentile(f, [5, 99.9])
    expected = np.clip((f - lo) / max(hi - lo, 1e-9), 0, None) * peak_photons * light_fraction
    return rng.poisson(expected).astype(np.float32)


# ---------------------------------------------------------------------------
# Candidates and features
# ---------------------------------------------------------------------------

#: Names of the per-candidate features computed by :func:`find_candidates`.
FEATURE_NAMES: tuple[str, ...] = (
    "area",
    "mean intensity",
    "peak intensity",
    "peak / median",
    "bright fraction",
    "texture",
    "spot strength",
    "solidity",
    "eccentricity",
)


def _normalise_frame(frame: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Smooth, then scale so that background ≈ 0 and the median nuclear pixel ≈ 1; also return the nuclei mask."""
    f = filters.gaussian(np.asarray(frame, dtype=np.float32), sigma, preserve_range=True)
    bg = np.percentile(f, 5)
    mask = f > filters.threshold_otsu(f)
    nuclear = np.median(f[mask]) if mask.any() else f.max()
    return (f - bg) / max(nuclear - bg, 1e-6), mask


def find_candidates(
    frame: np.ndarray, sigma: float = 1.0, min_area: int = 20, spot_sigma: float = 2.0
) -> tuple[np.ndarray, np.ndarray]:
    """Find the objects (nuclei and chromatin figures) of one frame and describe each with features.

    Objects are the connected regions above Otsu's threshold after light
    smoothing. Intensities are scaled per frame so that the median nuclear
    pixel is 1, which makes frames taken at different light levels
    comparable. Condensed chromosomes are smaller, brighter, more textured
    and less regular than interphase nuclei, and they form bright spots
    inside a dimmer, rounded cell; the features capture this:

    ``area`` (pixels); ``mean intensity`` and ``peak intensity`` (99th
    percentile) relative to the median nucleus of the frame; ``peak /
    median`` (contrast inside the object); ``bright fraction`` (share of the
    object's pixels brighter than 1.5 times its mean); ``texture`` (standard
    deviation over mean); ``spot strength`` (95th percentile inside the object
    of the scale-normalised negative Laplacian of Gaussian with
    ``spot_sigma``, large on bright spots a few pixels wide); ``solidity``
    (area over convex-hull area) and ``eccentricity`` (0 for a circle,
    towards 1 for an elongated shape).

    Returns
    -------
    features : numpy.ndarray, shape (n_objects, 9)
        In the order of :data:`FEATURE_NAMES`.
    centroids : numpy.ndarray, shape (n_objects, 2)
        (row, col) of each object.
    """
    norm, mask = _normalise_frame(frame, sigma)
    labels = measure.label(remove_small(mask, min_area) > 0)
    spots = -(spot_sigma**2) * ndi.gaussian_laplace(norm, spot_sigma)
    feats, cents = [], []
    for p in measure.regionprops(labels):
        rr, cc = p.coords[:, 0], p.coords[:, 1]
        vals = norm[rr, cc]
        mean = float(vals.mean())
        peak = float(np.percentile(vals, 99))
        feats.append(
            [
                float(p.area),
                mean,
                peak,
                peak / max(float(np.median(vals)), 1e-6),
                float((vals > 1.5 * mean).mean()),
                float(vals.std() / max(mean, 1e-6)),
                float(np.percentile(spots[rr, cc], 95)),
                float(p.solidity),
                float(p.eccentricity),
            ]
        )
        cents.append(p.centroid)
    n = len(FEATURE_NAMES)
    return np.asarray(feats, dtype=np.float32).reshape(-1, n), np.asarray(cents, dtype=np.float32).reshape(-1, 2)


def label_candidates(
    frame_index: int, centroids: np.ndarray, events: Sequence[MitosisEvent] = MITOSIS_EVENTS, radius: float = 10.0
) -> np.ndarray:
    """Label candidates of one frame: 1 = mitotic, 0 = not, -1 = ambiguous (ignore).

    A candidate is mitotic if the frame lies within an event's condensed
    frames and the candidate's centroid is within ``radius`` pixels of one of
    the annotated chromatin masses. Candidates near an event in its prophase
    frame or in the two frames after it (chromatin still or already grainy)
    are ambiguous and get -1, so that they neither train nor count as errors.
    """
    y = np.zeros(len(centroids), dtype=np.int8)
    for ev in events:
        if ev.first_frame <= frame_index <= ev.last_frame:
            pts = np.asarray(ev.points[frame_index], dtype=float)
            d = (
                np.linalg.norm(centroids[:, None, :] - pts[None, :, :], axis=-1).min(axis=1)
                if len(centroids)
                else np.zeros(0)
            )
            y[d <= radius] = 1
        elif ev.prophase_frame <= frame_index <= ev.last_frame + 2:
            c = np.asarray(ev.centre(frame_index))
            d = np.linalg.norm(centroids - c, axis=1) if len(centroids) else np.zeros(0)
            y[(d <= 2 * radius) & (y == 0)] = -1
    return y


def candidate_patches(frame: np.ndarray, centroids: np.ndarray, size: int = 32, sigma: float = 1.0) -> np.ndarray:
    """Square crops (n, size, size) of the normalised frame centred on each candidate (for a small CNN)."""
    norm, _ = _normalise_frame(frame, sigma)
    half = size // 2
    padded = np.pad(norm, half, mode="reflect")
    out = np.empty((len(centroids), size, size), dtype=np.float32)
    for k, (r, c) in enumerate(np.round(centroids).astype(int)):
        out[k] = padded[r : r + size, c : c + size]
    return out


# ---------------------------------------------------------------------------
# Per-event evaluation
# ---------------------------------------------------------------------------


def evaluate_events(
    detections: dict[int, np.ndarray],
    frames: Sequence[int],
    events: Sequence[MitosisEvent] = MITOSIS_EVENTS,
    radius: float = 15.0,
):
    """Score detections event by event.

    Parameters
    ----------
    detections
        ``{frame: array of (row, col)}``: where the detector fired.
    frames
        The frames that were looked at (events outside them are skipped).
    events
        Annotated events.
    radius
        A detection within this distance of an event's annotated centre,
        in a frame from its prophase frame to two frames after its last
        condensed frame, belongs to that event.

    Returns
    -------
    per_event : pandas.DataFrame
        One row per event that overlaps ``frames``: ``detected`` (any
        detection during the condensed frames), ``first detection``,
        ``latency`` (first detection minus first condensed frame; negative
        means the detector fired already in prophase) and ``frames detected``.
    false_alarms : list of (frame, row, col)
        Detections that belong to no event.
    """
    import pandas as pd

    frames = set(int(f) for f in frames)
    rows, false_alarms = [], []
    claimed: set[tuple[int, int]] = set()
    for ev in events:
        window = [f for f in range(ev.prophase_frame, ev.last_frame + 3) if f in frames]
        if not any(f in frames for f in ev.frames):
            continue
        hits = []
        for f in window:
            pts = np.asarray(detections.get(f, np.zeros((0, 2))), dtype=float).reshape(-1, 2)
            if not len(pts):
                continue
            near = np.linalg.norm(pts - np.asarray(ev.centre(f)), axis=1) <= radius
            for k in np.flatnonzero(near):
                claimed.add((f, int(k)))
            if near.any():
                hits.append(f)
        during = [f for f in hits if ev.first_frame <= f <= ev.last_frame]
        early = [f for f in hits if f <= ev.last_frame]
        first = min(early) if early else None
        rows.append(
            {
                "event": ev.name,
                "condensed frames": f"{ev.first_frame}–{ev.last_frame}",
                "detected": bool(during),
                "first detection": first,
                "latency (frames)": (first - ev.first_frame) if first is not None else None,
                "frames detected": f"{len(during)}/{sum(f in frames for f in ev.frames)}",
            }
        )
    for f in sorted(frames):
        pts = np.asarray(detections.get(f, np.zeros((0, 2))), dtype=float).reshape(-1, 2)
        for k, (r, c) in enumerate(pts):
            if (f, k) not in claimed:
                false_alarms.append((f, float(r), float(c)))
    return pd.DataFrame(rows).set_index("event") if rows else pd.DataFrame(rows), false_alarms


# ---------------------------------------------------------------------------
# The virtual microscope
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AcquiredFrame:
    """One image taken by the virtual microscope."""

    t: int
    mode: str  # "low" (slow, low light) or "high" (fast, high light)
    dose: float
    fired: bool


def fixed_schedule(
    n_frames: int, interval: int = 1, mode: str = "high", low_dose: float = 0.1, high_dose: float = 1.0
) -> list[AcquiredFrame]:
    """A conventional time-lapse: one image every ``interval`` frames, all at the same light level."""
    if interval < 1:
        raise ValueError("interval must be at least 1")
    if mode not in ("low", "high"):
        raise ValueError("mode must be 'low' or 'high'")
    dose = low_dose if mode == "low" else high_dose
    return [AcquiredFrame(t, mode, dose, False) for t in range(0, n_frames, interval)]


def simulate_acquisition(
    n_frames: int,
    detector: Callable[[int, str], bool],
    slow_interval: int = 4,
    fast_window: int = 6,
    low_dose: float = 0.1,
    high_dose: float = 1.0,
) -> list[AcquiredFrame]:
    """Replay a time-lapse as an event-driven microscope.

    The rules, applied frame by frame:

    * **slow mode** (default): take an image at low light every
      ``slow_interval`` frames;
    * after each image, ask ``detector(t, mode)`` whether an event is
      starting or going on;
    * if it fires, switch to **fast mode**: image every frame at high light
      for at least the next ``fast_window`` frames; every further detection
      extends fast mode by ``fast_window`` frames from that frame;
    * when fast mode runs out, fall back to slow mode (the next low-light
      image is ``slow_interval`` frames after the last image).

    The detector decides only from images already taken, as on a real
    microscope: the decision made on frame ``t`` changes what happens from
    frame ``t + 1`` on.

    Parameters
    ----------
    n_frames
        Length of the experiment, in frames of the original time-lapse.
    detector
        ``detector(t, mode) -> bool``; ``mode`` is ``"low"`` or ``"high"``,
        so that the detector can look at the image taken with that light.
    slow_interval, fast_window
        See above.
    low_dose, high_dose
        Light dose of one low-light and one high-light image (relative units).

    Returns
    -------
    list of AcquiredFrame
        The images taken, in time order, with their mode, dose and whether
        the detector fired on them.
    """
    if slow_interval < 1 or fast_window < 1:
        raise ValueError("slow_interval and fast_window must be at least 1")
    log: list[AcquiredFrame] = []
    fast_until = -1
    next_slow = 0
    for t in range(n_frames):
        if t <= fast_until:
            mode = "high"
        elif t >= next_slow:
            mode = "low"
        else:
            continue
        fired = bool(detector(t, mode))
        log.append(AcquiredFrame(t, mode, high_dose if mode == "high" else low_dose, fired))
        if fired:
            fast_until = t + fast_window
        next_slow = t + slow_interval
    return log


def schedule_summary(
    log: Sequence[AcquiredFrame], events: Sequence[MitosisEvent] = MITOSIS_EVENTS, capture_fraction: float = 0.5
) -> dict:
    """Light dose, events captured and decision latency of an acquisition.

    An event counts as **captured at high temporal resolution** when at
    least ``capture_fraction`` of its condensed frames were imaged in fast,
    high-light mode. The **decision latency** of an event is the number of
    frames from its first condensed frame to the first high-light image at
    or after it (0 if fast mode was already running); it is None for an
    event never imaged at high light.

    Returns
    -------
    dict
        ``dose`` (total), ``images``, ``high images``, ``low images``,
        ``events captured`` (count), ``fraction captured``,
        ``per event`` (``{name: (fraction of condensed frames at high light,
        latency)}``) and ``mean latency`` over events with a latency.
    """
    high = {a.t for a in log if a.mode == "high"}
    per_event = {}
    for ev in events:
        frac = sum(f in high for f in ev.frames) / ev.duration
        later = [t for t in sorted(high) if ev.first_frame <= t <= ev.last_frame]
        latency = later[0] - ev.first_frame if later else None
        per_event[ev.name] = (frac, latency)
    captured = sum(frac >= capture_fraction for frac, _ in per_event.values())
    latencies = [lat for _, lat in per_event.values() if lat is not None]
    return {
        "dose": float(sum(a.dose for a in log)),
        "images": len(log),
        "high images": len(high),
        "low images": sum(a.mode == "low" for a in log),
        "events captured": int(captured),
        "fraction captured": captured / len(events) if events else float("nan"),
        "per event": per_event,
        "mean latency": float(np.mean(latencies)) if latencies else None,
    }
