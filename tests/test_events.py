"""Mitosis annotation, event-detector helpers and the simulated event-driven microscope."""

import numpy as np
import pytest
from skimage.draw import disk

from bioimaging_guide.events import (
    FEATURE_NAMES,
    MITOSIS_EVENTS,
    candidate_patches,
    evaluate_events,
    event_frame_mask,
    find_candidates,
    fixed_schedule,
    label_candidates,
    schedule_summary,
    simulate_acquisition,
    simulate_low_light,
)

N = 48


def test_annotation_is_consistent():
    assert [e.name for e in MITOSIS_EVENTS] == ["A", "B", "C"]
    for ev in MITOSIS_EVENTS:
        assert ev.prophase_frame < ev.first_frame <= ev.last_frame < N
        assert sorted(ev.points) == list(ev.frames)
        if ev.anaphase_frame is not None:
            assert ev.first_frame < ev.anaphase_frame <= ev.last_frame
            assert len(ev.points[ev.anaphase_frame]) == 2
        for pts in ev.points.values():
            assert all(0 <= r < 130 and 0 <= c < 130 for r, c in pts)
    assert event_frame_mask(N).sum() == 5 + 9 + 5


def test_annotated_chromatin_is_bright_in_the_real_movie(real_data):
    from bioimaging_guide.data import load_mitosis_timelapse

    movie = load_mitosis_timelapse().astype(float)
    for ev in MITOSIS_EVENTS:
        for t, pts in ev.points.items():
            frame = movie[t]
            nuclear = np.median(frame[frame > np.percentile(frame, 80)])
            for r, c in pts:
                window = frame[max(r - 3, 0) : r + 4, max(c - 3, 0) : c + 4]
                assert window.max() > nuclear, (ev.name, t, r, c)


def _toy_frame():
    img = np.full((80, 80), 100.0)
    img[disk((20, 20), 9)] = 1000.0  # interphase-like nucleus
    img[disk((60, 60), 4)] = 3000.0  # small, bright, condensed
    return img + np.random.default_rng(0).normal(0, 5, img.shape)


def test_candidates_features_and_patches():
    feats, cents = find_candidates(_toy_frame())
    assert feats.shape == (2, len(FEATURE_NAMES)) and cents.shape == (2, 2)
    bright = int(np.argmin(np.linalg.norm(cents - [60, 60], axis=1)))
    other = 1 - bright
    assert feats[bright, 0] < feats[other, 0]  # smaller
    assert feats[bright, 1] > feats[other, 1]  # brighter
    patches = candidate_patches(_toy_frame(), cents, size=16)
    assert patches.shape == (2, 16, 16)


def test_label_candidates_and_low_light():
    ev = MITOSIS_EVENTS[0]
    cents = np.array([ev.points[5][0], (0.0, 0.0)], dtype=float)
    assert label_candidates(5, cents).tolist() == [1, 0]
    assert label_candidates(ev.prophase_frame, cents).tolist() == [-1, 0]
    assert label_candidates(40, cents).tolist() == [0, 0]
    low = simulate_low_light(_toy_frame(), 0.1, rng=1)
    assert low.shape == (80, 80) and low.min() >= 0
    assert np.array_equal(low, simulate_low_light(_toy_frame(), 0.1, rng=1))
    with pytest.raises(ValueError):
        simulate_low_light(_toy_frame(), 0.0)


def test_detector_that_never_fires_reproduces_the_slow_schedule():
    log = simulate_acquisition(N, lambda t, mode: False, slow_interval=4, fast_window=6, low_dose=0.1)
    assert log == fixed_schedule(N, interval=4, mode="low", low_dose=0.1)
    s = schedule_summary(log)
    assert s["high images"] == 0 and s["events captured"] == 0 and s["mean latency"] is None
    assert s["dose"] == pytest.approx(12 * 0.1)


def test_detector_that_always_fires_images_every_frame_at_high_light():
    log = simulate_acquisition(N, lambda t, mode: True, slow_interval=4, fast_window=6)
    assert [a.t for a in log] == list(range(N))
    assert [a.mode for a in log] == ["low"] + ["high"] * (N - 1)
    s = schedule_summary(log)
    assert s["events captured"] == 3 and s["mean latency"] == 0


def test_dose_accounting_and_fast_window():
    fire_at = {8}
    log = simulate_acquisition(
        N, lambda t, mode: t in fire_at, slow_interval=4, fast_window=3, low_dose=0.25, high_dose=2.0
    )
    times = [a.t for a in log]
    assert times == [0, 4, 8, 9, 10, 11, 15, 19, 23, 27, 31, 35, 39, 43, 47]
    modes = {a.t: a.mode for a in log}
    assert [modes[t] for t in (8, 9, 10, 11, 15)] == ["low", "high", "high", "high", "low"]
    s = schedule_summary(log)
    assert s["high images"] == 3 and s["low images"] == 12
    assert s["dose"] == pytest.approx(3 * 2.0 + 12 * 0.25)
    assert s["dose"] == pytest.approx(sum(a.dose for a in log))


def test_capture_and_latency_bookkeeping():
    # event A (MITOSIS_EVENTS[0]) is condensed in frames 4-8
    log = simulate_acquisition(N, lambda t, mode: t == 4, slow_interval=4, fast_window=6)
    s = schedule_summary(log)
    frac, latency = s["per event"]["A"]
    assert frac == pytest.approx(4 / 5) and latency == 1
    assert s["per event"]["C"] == (0.0, None)
    assert s["events captured"] == 1


def test_evaluate_events():
    ev = MITOSIS_EVENTS[0]
    dets = {ev.first_frame + 1: np.array([ev.points[ev.first_frame + 1][0]]), 40: np.array([[10.0, 10.0]])}
    table, false_alarms = evaluate_events(dets, frames=range(0, 11))
    assert list(table.index) == ["A"]
    assert bool(table.loc["A", "detected"]) and table.loc["A", "latency (frames)"] == 1
    assert false_alarms == []
    table, false_alarms = evaluate_events(dets, frames=range(N))
    assert not table.loc["C", "detected"]
    assert false_alarms == [(40, 10.0, 10.0)]


def test_data_module_exposes_the_books_annotation():
    from bioimaging_guide import data

    annotations = data.mitosis_annotations()
    assert annotations == tuple(MITOSIS_EVENTS)
    assert [ev.name for ev in annotations] == ["A", "B", "C"]
