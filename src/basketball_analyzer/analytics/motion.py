"""Distance and speed of one track from its positions over time, smoothed so box jitter is not running.

A detector's box wobbles by a few pixels from frame to frame; summed over a game, that wobble would add
kilometres. Positions are smoothed with a Savitzky-Golay filter over about half a second (it keeps the
curvature of real cuts and turns, which a moving average flattens), and speeds over another half second
before the top speed is taken. Distance then counts only moves of at least `min_step` from the last
counted point (0.2 m): what is left of the jitter of a player standing still never adds up, while a real
run loses nothing but the chord-versus-arc difference of 20 cm steps. A gap in the track (off screen, occluded) splits it: no distance is
counted across a gap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SMOOTH_SECONDS = 0.5
TOP_SPEED_SECONDS = 0.5
MAX_GAP_SECONDS = 1.0
MIN_STEP_METRES = 0.2
MAX_SPEED_METRES = 11.0  # faster than any player sprints: a jump this fast is an id switch, not a run


@dataclass(frozen=True)
class Motion:
    """What one track did: time on screen (s), distance and speeds in the positions' unit (per second)."""

    seconds: float
    distance: float
    avg_speed: float
    top_speed: float


def _odd_window(samples: int, wanted: int) -> int:
    window = min(wanted, samples if samples % 2 else samples - 1)
    return window if window >= 3 else 0


def smooth_path(times: np.ndarray, xy: np.ndarray, seconds: float = SMOOTH_SECONDS) -> np.ndarray:
    """Savitzky-Golay smoothing of (N, 2) positions sampled at `times` over about `seconds`."""
    from scipy.signal import savgol_filter

    n = len(xy)
    if n < 3:
        return np.asarray(xy, np.float64)
    step = float(np.median(np.diff(times))) if n > 1 else 1.0
    window = _odd_window(n, max(3, int(round(seconds / max(step, 1e-9))) | 1))
    if window == 0:
        return np.asarray(xy, np.float64)
    return savgol_filter(np.asarray(xy, np.float64), window, min(2, window - 1), axis=0, mode="interp")


def path_length(path: np.ndarray, min_step: float) -> float:
    """Length of a path counting only moves of at least `min_step` from the last counted point."""
    if min_step <= 0:
        return float(np.linalg.norm(np.diff(path, axis=0), axis=1).sum())
    # Plain floats: the walk is sequential, and Python floats are ~10x faster here than numpy scalars.
    points = np.asarray(path, np.float64).tolist()
    total, (ax, ay) = 0.0, points[0]
    for x, y in points[1:]:
        d = math.hypot(x - ax, y - ay)
        if d >= min_step:
            total += d
            ax, ay = x, y
    # The last stretch counts too, so a run's length does not depend on where its last step fell.
    lx, ly = points[-1]
    return total + math.hypot(lx - ax, ly - ay)


def segments(frames: np.ndarray, fps: float, max_gap_seconds: float = MAX_GAP_SECONDS,
             xy: np.ndarray | None = None, max_speed: float | None = None) -> list[slice]:
    """Runs of a track's frames with no gap longer than `max_gap_seconds` and, given positions and
    `max_speed`, no jump faster than that between two stored frames (a tracker's id switch)."""
    if len(frames) == 0:
        return []
    jump = np.diff(frames) > max_gap_seconds * fps
    if xy is not None and max_speed is not None and len(frames) > 1:
        speed = np.linalg.norm(np.diff(xy, axis=0), axis=1) / (np.diff(frames) / fps)
        jump |= speed > max_speed
    breaks = np.flatnonzero(jump) + 1
    bounds = [0, *breaks.tolist(), len(frames)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def track_motion(frames: np.ndarray, xy: np.ndarray, fps: float, frame_step: int = 1,
                 min_step: float = MIN_STEP_METRES, max_speed: float | None = None, smooth_seconds: float = SMOOTH_SECONDS, top_speed_seconds: float = TOP_SPEED_SECONDS
                 ) -> Motion:
    """Motion of one track: `frames` sorted frame numbers, `xy` its (N, 2) positions, `fps` of the video.

    `frame_step` is the sampling stride of the stored run: each stored frame stands for that many frames
    of screen time. `min_step` is in the positions' unit (0.2 m by default; pass it converted for feet or
    pixels). `max_speed` (same unit per second) splits the track where it jumps faster than anyone runs.
    """
    frames = np.asarray(frames, np.int64)
    xy = np.asarray(xy, np.float64).reshape(-1, 2)
    if len(frames) != len(xy):
        raise ValueError("frames and positions differ in length")
    fps = float(fps) if fps and fps > 0 else 30.0
    keep = np.isfinite(xy).all(axis=1)
    frames, xy = frames[keep], xy[keep]
    seconds = len(frames) * max(1, frame_step) / fps
    distance, moving, top = 0.0, 0.0, 0.0
    for part in segments(frames, fps, xy=xy, max_speed=max_speed):
        times = frames[part] / fps
        if len(times) < 2:
            continue
        path = smooth_path(times, xy[part], smooth_seconds)
        steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
        dt = np.diff(times)
        distance += path_length(path, min_step)
        moving += float(times[-1] - times[0])
        speeds = steps / dt
        window = max(1, int(round(top_speed_seconds / float(np.median(dt)))))
        if len(speeds) >= window:
            averaged = np.convolve(speeds, np.ones(window) / window, mode="valid")
            top = max(top, float(averaged.max()))

    avg = distance / moving if moving > 0 else 0.0
    # A track whose pieces are all shorter than the top-speed window has no windowed top speed; it ran at
    # least its average (a top speed under the average reads as a bug).
    return Motion(seconds, distance, avg, max(top, avg))
