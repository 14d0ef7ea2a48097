"""Shared benchmark helpers: synthetic game detections, a scratch database, timing, and the report lines."""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from basketball_analyzer.detections import Detections

PLAYERS = 10


def synthetic_game(rows: int, players: int = PLAYERS, seed: int = 0) -> Detections:
    """`rows` boxes, `players` per frame from frame 0 on, each player moving smoothly: a real game's shape."""
    rng = np.random.default_rng(seed)
    frames = (rows + players - 1) // players

    def walk(low: float, high: float, step: float) -> np.ndarray:
        start = rng.uniform(low, high, players)
        path = start + np.cumsum(rng.normal(0, step, (frames, players)), axis=0)
        return np.clip(path, low, high).astype(np.float32).ravel()[:rows]

    x, y = walk(0, 1800, 2.0), walk(0, 1000, 1.0)
    w, h = walk(30, 120, 0.5), walk(60, 240, 0.5)
    conf = rng.uniform(0.3, 1.0, rows).astype(np.float32)
    return Detections.from_xywh(np.arange(rows) // players, np.arange(rows) % players, x, y, w, h, conf)


def frames_of(rows: int, players: int = PLAYERS) -> int:
    """Frames a synthetic game of `rows` boxes spans."""
    return (rows + players - 1) // players


def parser(description: str, rows: int, naive_rows: int) -> argparse.ArgumentParser:
    """The options every benchmark takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--rows", type=int, default=rows, help=f"boxes stored the bulk way (default {rows:,})")
    p.add_argument("--naive-rows", type=int, default=naive_rows,
                   help=f"sample stored one ORM object per row, extrapolated (default {naive_rows:,})")
    p.add_argument("--database-url", default=None,
                   help="database to use (default: a fresh SQLite file in a temporary directory)")
    return p


@contextmanager
def scratch_database(url: str | None) -> Iterator[str]:
    """A database URL: the one given, or a fresh SQLite file removed afterwards."""
    from basketball_analyzer.db.engine import dispose_all

    if url:
        yield url
        dispose_all()
        return
    with tempfile.TemporaryDirectory(prefix="bball-bench-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        dispose_all()


def add_video(url: str, frame_count: int, name: str = "game.mp4") -> int:
    """A registered-video row for the boxes to belong to (no real file is needed to store boxes)."""
    from basketball_analyzer.db import Video, transaction

    with transaction(url) as s:
        video = Video(path=f"/bench/{name}", file_name=name, size_bytes=0, sha256=os.urandom(32).hex(),
                      fps=30.0, frame_count=frame_count, width=1920, height=1080, duration=frame_count / 30,
                      codec="h264")
        s.add(video)
        s.flush()
        return video.id


def clear_detections(url: str) -> None:
    """Empty `player_detections` between the two sides, so neither pays for the other's rows."""
    from basketball_analyzer.db import transaction
    from basketball_analyzer.db.detections import delete_detections

    with transaction(url) as s:
        delete_detections(s)


def naive_insert(url: str, video_id: int, detections: Detections, cloud_job_id: str | None = None) -> None:
    """The baseline: one `PlayerDetection` ORM object per box, one commit at the end."""
    from basketball_analyzer.db import PlayerDetection, transaction

    with transaction(url) as s:
        for frame, track, x, y, w, h, conf in detections.rows():
            s.add(PlayerDetection(video_id=video_id, cloud_job_id=cloud_job_id, frame_number=frame,
                                  tracking_id=track, bbox_x=x, bbox_y=y, bbox_width=w, bbox_height=h,
                                  confidence_score=conf))


@dataclass
class Timing:
    """Rows handled in seconds."""

    rows: int
    seconds: float

    @property
    def rate(self) -> float:
        """Rows per second."""
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


@contextmanager
def timed(rows: int) -> Iterator[Timing]:
    """Time a block; the yielded `Timing` gets its seconds when the block ends."""
    timing = Timing(rows, 0.0)
    start = time.perf_counter()
    yield timing
    timing.seconds = time.perf_counter() - start


def machine() -> str:
    """CPU model and core count, for the report."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def report(title: str, unit: str, bulk: Timing, naive: Timing, target: float, extrapolated_to: int) -> bool:
    """Print both rates, the naive time extrapolated to the bulk size, and the ratio; True when on target."""
    ratio = bulk.rate / naive.rate
    met = ratio >= target
    print(f"{title}")
    print(f"  machine: {machine()}")
    print(f"  bulk : {bulk.rows:>10,} {unit} in {bulk.seconds:8.2f} s = {bulk.rate:>12,.0f} {unit}/s")
    print(f"  naive: {naive.rows:>10,} {unit} in {naive.seconds:8.2f} s = {naive.rate:>12,.0f} {unit}/s "
          f"(sample; {extrapolated_to:,} would take ~{extrapolated_to / naive.rate:,.0f} s)")
    print(f"  ratio: {ratio:.1f}x faster (target >= {target:g}x: {'met' if met else 'NOT met'})")
    return met


class FixedCostDetector:
    """Sleeps `seconds` per frame and reports one box per frame, track 0 (a GPU-bound detector's shape)."""

    name = "fixed-cost"

    def __init__(self, seconds: float):
        self.seconds = seconds

    def track(self, frames, fps: float = 30.0):
        for frame in frames:
            time.sleep(self.seconds)
            yield Detections.for_frame(frame.index, [[10, 10, 40, 100]], [0.9], [0])

    def describe(self) -> str:
        return f"fixed cost {self.seconds * 1000:.1f} ms/frame"

    def close(self) -> None:
        pass


class OneDetector:
    """A worker's detector cache that always hands out one detector (benchmarks inject their own)."""

    def __init__(self, detector):
        self.detector = detector

    def get(self, params):
        return self.detector

    def preload(self):
        pass

    def close(self):
        pass
