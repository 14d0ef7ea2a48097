"""Distance and speed from noisy positions: within 5% and 10% of the truth, jitter not counted as running."""

from __future__ import annotations

import numpy as np

from basketball_analyzer.analytics.motion import segments, track_motion

FPS = 30.0


def _path(seconds: float):
    """A player jogging then sprinting round a bend: known length and top speed (m, m/s)."""
    t = np.arange(int(seconds * FPS)) / FPS
    speed = np.where(t < seconds / 2, 3.0, 7.0)  # jog 3 m/s, then sprint 7 m/s
    s = np.concatenate([[0.0], np.cumsum(speed[1:] * np.diff(t))])
    radius = 6.0
    xy = np.c_[2 + radius * np.cos(s / radius / 2.5), 7 + radius * np.sin(s / radius / 2.5) * 0.8]
    steps = np.linalg.norm(np.diff(xy, axis=0), axis=1)
    true_top = float((steps / np.diff(t)).max())
    return np.arange(len(t)), xy, float(steps.sum()), true_top


def test_distance_and_top_speed_from_jittery_positions():
    frames, xy, length, top = _path(8.0)
    rng = np.random.default_rng(3)
    noisy = xy + rng.normal(0, 0.06, xy.shape)  # box jitter of ~6 cm per frame
    raw = float(np.linalg.norm(np.diff(noisy, axis=0), axis=1).sum())
    assert raw > length * 1.3  # summing the raw jitter overstates distance badly
    m = track_motion(frames, noisy, FPS)
    assert abs(m.distance - length) / length < 0.05
    assert abs(m.top_speed - top) / top < 0.10
    assert abs(m.seconds - len(frames) / FPS) < 1e-9
    assert abs(m.avg_speed - length / ((len(frames) - 1) / FPS)) / m.avg_speed < 0.06


def test_standing_still_is_not_running():
    rng = np.random.default_rng(1)
    xy = np.c_[np.full(300, 5.0), np.full(300, 5.0)] + rng.normal(0, 0.05, (300, 2))
    m = track_motion(np.arange(300), xy, FPS)
    assert m.distance < 1.0 and m.top_speed < 0.5


def test_no_distance_across_a_gap_and_sampled_runs():
    frames = np.r_[np.arange(0, 60), np.arange(200, 260)]
    xy = np.c_[np.r_[np.linspace(0, 6, 60), np.linspace(20, 26, 60)], np.zeros(120)]
    assert [(s.start, s.stop) for s in segments(frames, FPS)] == [(0, 60), (60, 120)]
    m = track_motion(frames, xy, FPS)
    assert abs(m.distance - 12.0) < 0.05  # the 14 m jump while off screen is not counted
    every_third = track_motion(frames[::3], xy[::3], FPS, frame_step=3)
    sampled_length = 2 * 6.0 * 57 / 59  # each segment's last sample is frame 57 of 59
    assert abs(every_third.seconds - m.seconds) < 0.01
    assert abs(every_third.distance - sampled_length) < 0.05


def test_a_jump_faster_than_anyone_runs_is_not_counted():
    frames = np.arange(60)
    xy = np.c_[np.linspace(0, 3, 60), np.zeros(60)]
    xy[30:, 1] += 8.0  # the tracker swapped players: 8 m sideways in one frame
    m = track_motion(frames, xy, FPS, max_speed=11.0)
    assert abs(m.distance - 3.0 * 58 / 59) < 0.1 and m.top_speed < 2.0
    assert track_motion(frames, xy, FPS).distance > 10  # without the cap, the swap counts as a run
