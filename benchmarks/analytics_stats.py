"""`bball stats` on a two-hour game's worth of rows: time and peak memory, streamed vs loaded whole.

    uv run python benchmarks/analytics_stats.py [--rows N] [--database-url URL]

Stores N synthetic boxes (10 players a frame; default 2,160,000 = 216,000 frames, two hours at 30 fps) with
a court calibration, then runs `video_stats` (one track at a time) and, as the baseline in the same run,
the same numbers computed after loading every box with `load_detections`. Prints seconds, the Python heap
peak of each (tracemalloc) and the ratios.
"""

from __future__ import annotations

import sys
import time
import tracemalloc

import numpy as np
from _common import add_video, frames_of, machine, scratch_database, synthetic_game


def _calibrate(url: str, video_id: int) -> None:
    from basketball_analyzer.analytics.calibration import set_calibration
    from basketball_analyzer.db import transaction

    pairs = ["0,0=far_left_corner", "1920,0=far_right_corner", "0,1080=near_left_corner",
             "1920,1080=near_right_corner"]
    with transaction(url) as s:
        set_calibration(s, video_id, pairs, "fiba")


def _streamed(url: str, video_id: int):
    from basketball_analyzer.analytics.stats import video_stats
    from basketball_analyzer.db import transaction

    with transaction(url) as s:
        return video_stats(s, video_id)


def _loaded(url: str, video_id: int):
    """The baseline: every box in memory at once, then the same per-track motion."""
    from basketball_analyzer.analytics.calibration import get_calibration
    from basketball_analyzer.analytics.motion import track_motion
    from basketball_analyzer.db import transaction
    from basketball_analyzer.db.detections import load_detections

    with transaction(url) as s:
        det = load_detections(s, video_id)
        cal = get_calibration(s, video_id)
    out = []
    for tid in np.unique(det.tracker_id):
        part = det[det.tracker_id == tid]
        feet = np.c_[(part.xyxy[:, 0] + part.xyxy[:, 2]) / 2, part.xyxy[:, 3]]
        out.append(track_motion(part.frame_number, cal.to_court(feet), 30.0))
    return out


def _measure(fn, *args):
    tracemalloc.start()
    started = time.perf_counter()
    result = fn(*args)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, seconds, peak


def main(argv: list[str] | None = None) -> int:
    """Store the rows, run both sides, print the comparison."""
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=2_160_000)
    p.add_argument("--database-url", default=None)
    args = p.parse_args(argv)
    from basketball_analyzer.db import transaction
    from basketball_analyzer.db.detections import replace_detections

    with scratch_database(args.database_url) as url:
        video_id = add_video(url, frames_of(args.rows))
        det = synthetic_game(args.rows)
        started = time.perf_counter()
        with transaction(url) as s:
            replace_detections(s, video_id, det)
        del det
        print(f"stored {args.rows:,} boxes in {time.perf_counter() - started:.1f} s")
        _calibrate(url, video_id)
        import scipy.signal  # noqa: F401 - imported before timing, so neither side pays for it
        report, s_seconds, s_peak = _measure(_streamed, url, video_id)
        _, l_seconds, l_peak = _measure(_loaded, url, video_id)
    print(f"Analytics on {args.rows:,} detections ({len(report.tracks)} tracks), {machine()}")
    print(f"  streamed video_stats : {s_seconds:7.1f} s, peak Python heap {s_peak / 1e6:8.1f} MB")
    print(f"  load-everything      : {l_seconds:7.1f} s, peak Python heap {l_peak / 1e6:8.1f} MB")
    print(f"  memory ratio (loaded / streamed): {l_peak / max(s_peak, 1):.1f}x; "
          f"time ratio: {l_seconds / max(s_seconds, 1e-9):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
