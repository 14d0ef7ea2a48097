"""Registering videos: probe, hash, and one row per distinct file content."""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from .db.models import Video
from .exceptions import NotFound, VideoError
from .video import FrameTiming, VideoInfo, probe, read_timing, sha256_file


@dataclass(frozen=True)
class Registration:
    """The result of `register_video`: the row, and whether it existed before."""

    video: Video
    created: bool


def video_file(path: str | os.PathLike) -> Path:
    """`path` (with ~ expanded) when it names a file, else `VideoError`: one line for a missing file, a
    directory, or a path the system refuses to look at (a name too long, a loop of links)."""
    from .logs import printable

    path = Path(path).expanduser()
    try:
        if path.is_file():
            return path
        exists = path.exists()
    except OSError as exc:  # ENAMETOOLONG and the like: pathlib only swallows "not there"
        raise VideoError(f"cannot open video file {printable(str(path), 80)}: "
                         f"{exc.strerror or type(exc).__name__}") from None
    raise VideoError(f"not a file: {path}" if exists else f"video not found: {path}")


def register_video(session: Session, path: str | os.PathLike, info: VideoInfo | None = None,
                   on_hash_progress: Callable[[int, int], None] | None = None) -> Registration:
    """Probe and hash `path`, then insert it unless the same content is already registered.

    Probing happens before anything is written, so a bad file leaves the database untouched.
    """
    path = video_file(path)
    if info is None or info.timing is None:
        info = probe(path, exact=True)  # the frame count and rate the frames' timestamps say
    digest = sha256_file(path, on_progress=on_hash_progress)
    existing = session.execute(select(Video).where(Video.sha256 == digest)).scalar_one_or_none()
    if existing is not None:
        if existing.frame_rate_mode is None and info.timing is not None:
            for column, value in timing_values(info.timing).items():  # registered before timing was kept
                setattr(existing, column, value)
        return Registration(existing, created=False)
    video = Video(
        path=str(path.resolve()), file_name=path.name, size_bytes=info.size_bytes, sha256=digest, fps=info.fps,
        frame_count=info.frame_count, width=info.width, height=info.height, duration=info.duration,
        codec=info.codec, **timing_values(info.timing),
    )
    session.add(video)
    session.flush()
    return Registration(video, created=True)


def get_video(session: Session, video_id: int) -> Video:
    """The video with this id, or `NotFound`."""
    video = session.get(Video, video_id)
    if video is None:
        raise NotFound(f"no video with id {video_id} (see `bball video list`)")
    return video


def list_videos(session: Session) -> list[Video]:
    """Every registered video, oldest first."""
    return list(session.execute(select(Video).order_by(Video.id)).scalars())


def resolve_video(session: Session, ref: str) -> Registration:
    """An id ("3") or a path; a path not yet registered is registered."""
    if ref.isdigit() and not Path(ref).exists():
        return Registration(get_video(session, int(ref)), created=False)
    return register_video(session, ref)


def timing_values(timing: FrameTiming | None) -> dict:
    """The `videos` columns that keep a video's frame timing (all None for a stream without timestamps)."""
    if timing is None:
        return {"start_time": None, "frame_rate_mode": None, "frame_times": None}
    times = None if timing.constant else zlib.compress(timing.times.astype("<f8").tobytes())
    return {"start_time": timing.start, "frame_rate_mode": timing.mode, "frame_times": times}


def timing_columns(path: str | os.PathLike) -> dict:
    """`timing_values` read from the file at `path` (the 0004 migration fills older rows with it)."""
    return timing_values(read_timing(path))


@dataclass(frozen=True)
class Timing:
    """How a registered video's frames map to presentation times: what the viewer needs to number frames."""

    mode: str  # constant, variable, or unknown (registered before timing was kept, file gone since)
    start: float
    rate: float
    times: list[float] | None

    def to_dict(self) -> dict:
        """JSON-ready form (the web API's `timing`)."""
        return {"mode": self.mode, "start": self.start, "rate": self.rate, "times": self.times}


def video_timing(video: Video) -> Timing:
    """The stored timing of `video`: frame N is shown at start + N / rate, or at times[N] for a variable rate."""
    if video.frame_rate_mode is None:
        return Timing("unknown", 0.0, video.fps, None)
    times = None
    if video.frame_times is not None:
        import numpy as np

        times = np.frombuffer(zlib.decompress(video.frame_times), "<f8").round(6).tolist()
    return Timing(video.frame_rate_mode, video.start_time or 0.0, video.fps, times)
