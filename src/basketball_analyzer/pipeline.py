"""The detection pipeline every caller shares: video in, per-frame tracked `Detections` out.

`analyze`, the local worker and the cloud worker all call `run_detection`; only where the results go
differs (a transaction, a results file).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from .config import Settings
from .detection import DetectionParams, Detector, create_detector
from .detections import Detections
from .video import FrameReader, VideoInfo, probe

ProgressFn = Callable[[int, int], None]
"""Called as `on_progress(frames_done, frames_total)`; frames count sampled frames."""


@dataclass
class RunStats:
    """What a finished run did: sampled frames, boxes, distinct tracks, wall time."""

    frames: int = 0
    detections: int = 0
    tracks: set[int] = field(default_factory=set)
    seconds: float = 0.0
    detector: str = ""
    last_frame: int = -1  # the video frame of the last result yielded (the decoder's number for it)

    @property
    def fps(self) -> float:
        """Processed frames per second of wall time."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> dict:
        """JSON-ready numbers."""
        return {"frames": self.frames, "detections": self.detections, "tracks": len(self.tracks),
                "seconds": round(self.seconds, 3), "fps": round(self.fps, 2), "detector": self.detector}


def frame_bounds(info: VideoInfo, frame_range: tuple[int, int | None] | None = None) -> tuple[int, int]:
    """[start, end) of the frames a run covers: `frame_range` (a segment) or the whole video, never past the
    video's frame count (results numbered beyond it are refused at import: a stream can hold more frames than
    a header, or an older registration, counted)."""
    start, end = frame_range or (0, None)
    return start, info.frame_count if end is None else min(end, info.frame_count)


def sampled_frame_count(info: VideoInfo, sample_interval: int,
                        frame_range: tuple[int, int | None] | None = None) -> int:
    """How many frames a run with this interval processes (of `frame_range` [start, end) when given)."""
    return sampled_between(*frame_bounds(info, frame_range), sample_interval)


def sampled_between(start: int, end: int, sample_interval: int) -> int:
    """How many of the video frames start..end-1 a run keeps (every `sample_interval`-th from frame 0)."""
    return max(0, -(-end // sample_interval) - -(-start // sample_interval))


def run_detection(video_path: str | Path, params: DetectionParams, *, settings: Settings | None = None,
                  detector: Detector | None = None, info: VideoInfo | None = None,
                  on_progress: ProgressFn | None = None, stats: RunStats | None = None,
                  frame_range: tuple[int, int | None] | None = None) -> Iterator[Detections]:
    """Yield each sampled frame's tracked detections, decoding on a background thread.

    Pass `stats` to have it filled in as the run goes; pass `detector` to reuse a loaded model;
    `frame_range` (start, end) runs one segment of the video only.
    """
    info = info or probe(video_path, exact=True)
    total = sampled_frame_count(info, params.sample_interval, frame_range)
    own = detector is None
    detector = detector or create_detector(params, settings)
    stats = stats if stats is not None else RunStats()
    stats.detector = detector.name
    started = time.perf_counter()
    start, end = frame_bounds(info, frame_range)
    reader = FrameReader(video_path, sample_interval=params.sample_interval, start=start, end=end)
    given: deque[int] = deque()  # frames handed to the detector and not yet answered (it may read ahead)

    def frames():
        for frame in reader:
            given.append(frame.index)
            yield frame

    try:
        if on_progress:
            on_progress(0, total)
        for det in detector.track(frames(), fps=info.fps / params.sample_interval):
            stats.last_frame = given.popleft() if given else stats.last_frame + params.sample_interval
            stats.frames += 1
            stats.detections += len(det)
            stats.tracks.update(det.track_ids())
            stats.seconds = time.perf_counter() - started
            if on_progress:
                on_progress(stats.frames, max(total, stats.frames))
            yield det
    finally:
        reader.close()
        stats.seconds = time.perf_counter() - started
        if own:
            detector.close()
