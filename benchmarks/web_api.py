"""The viewer on a two-hour game: time to the first frame's boxes and to a seek, through the HTTP API.

    uv run python benchmarks/web_api.py [--rows N] [--seeks K] [--database-url URL]

Stores N synthetic boxes (default 2,160,000: 216,000 frames x 10 players), then measures what the video
page does: opening (the video's summary, then the first chunk of boxes) and K seeks to random frames (one
chunk each), through the real app over HTTP (Starlette's test client). The baseline, in the same run, is
a viewer that asks for every box of the video at once, as a naive API would (extrapolated from one
100,000-frame request). Targets: first frame under 1 s, a seek under 0.5 s.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time

from _common import add_video, frames_of, machine, scratch_database, synthetic_game

CHUNK = 300


def main(argv: list[str] | None = None) -> int:
    """Store the rows, open the page and seek through the API, print the comparison."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=2_160_000)
    p.add_argument("--seeks", type=int, default=20)
    p.add_argument("--database-url", default=None)
    args = p.parse_args(argv)
    from fastapi.testclient import TestClient

    from basketball_analyzer.browse import MAX_FRAME_RANGE, detections_in_range
    from basketball_analyzer.config import load_settings
    from basketball_analyzer.db import transaction
    from basketball_analyzer.db.detections import replace_detections
    from basketball_analyzer.web.app import create_app

    with scratch_database(args.database_url) as url:
        frames = frames_of(args.rows)
        video_id = add_video(url, frames)
        with transaction(url) as s:
            replace_detections(s, video_id, synthetic_game(args.rows))
        client = TestClient(create_app(load_settings(database_url=url)))
        total = client.get(f"/api/videos/{video_id}").json()["detections"]  # also warms the engine and cache
        started = time.perf_counter()
        client.get(f"/api/videos/{video_id}", params={"counts": "false"}).json()  # what the video page asks
        first = client.get(f"/api/videos/{video_id}/detections", params={"start": 0, "end": CHUNK}).json()
        open_seconds = time.perf_counter() - started
        rng = random.Random(0)
        seeks = []
        for _ in range(args.seeks):
            start = rng.randrange(0, frames - CHUNK) // CHUNK * CHUNK
            t = time.perf_counter()
            body = client.get(f"/api/videos/{video_id}/detections", params={"start": start, "end": start + CHUNK})
            seeks.append(time.perf_counter() - t)
            assert body.status_code == 200 and len(body.json()["frame"]) == CHUNK * 10
        span = min(frames, 100_000)
        t = time.perf_counter()
        with transaction(url) as s:
            for start in range(0, span, MAX_FRAME_RANGE):
                detections_in_range(s, video_id, start, min(span, start + MAX_FRAME_RANGE))
        naive = (time.perf_counter() - t) * frames / span
    seek = statistics.median(seeks)
    print(f"Viewer API on {args.rows:,} detections ({frames:,} frames), {machine()}")
    print(f"  open the page (summary + first {CHUNK} frames): {open_seconds:.3f} s "
          f"({total:,} boxes, {len(first['frame'])} in the first chunk)  target < 1 s")
    print(f"  seek (one {CHUNK}-frame chunk): median {seek * 1000:.0f} ms, max {max(seeks) * 1000:.0f} ms "
          f"over {len(seeks)} seeks  target < 500 ms")
    print(f"  baseline, every box of the video at once: {naive:.1f} s; ratio {naive / max(open_seconds, 1e-9):.0f}x")
    return 0 if open_seconds < 1.0 and seek < 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
