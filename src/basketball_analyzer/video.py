"""Video probing and frame reading with PyAV; decoding runs on a background thread."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from .exceptions import VideoError
from .prefetch import Prefetcher


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its 0-based index in the video and the image as BGR uint8 (H, W, 3)."""

    index: int
    image: np.ndarray


@dataclass(frozen=True)
class VideoInfo:
    """What `probe` learns about a video without decoding it all."""

    path: Path
    fps: float
    frame_count: int
    width: int
    height: int
    duration: float
    codec: str
    size_bytes: int

    @classmethod
    def from_path(cls, path: str | os.PathLike) -> "VideoInfo":
        """Probe `path`; raise `VideoError` with one clear line when it is not a readable video."""
        return probe(path)


def _open(path: Path):
    import av

    if not path.exists():
        raise VideoError(f"video not found: {path}")
    if not path.is_file():
        raise VideoError(f"not a file: {path}")
    if not os.access(path, os.R_OK):
        raise VideoError(f"video is not readable (permission denied): {path}")
    try:
        container = av.open(str(path))
    except Exception as exc:  # PyAV raises many InvalidDataError/OSError subclasses
        raise VideoError(f"not a readable video: {path} ({_short(exc)})") from None
    if not container.streams.video:
        container.close()
        raise VideoError(f"no video stream in {path}")
    return container


def _video_stream(container):
    """(stream, frames per second, time base or None, start pts): what numbering frames by time needs."""
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    rate = float(stream.average_rate or stream.guessed_rate or 30)
    base = float(stream.time_base or 0) or None
    return stream, rate, base, stream.start_time or 0


def probe(path: str | os.PathLike) -> VideoInfo:
    """Read fps, frame count, size, duration and codec. Counts frames by demuxing when the header lacks it."""
    path = Path(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate or Fraction(30)
        fps = float(rate)
        width, height = stream.codec_context.width, stream.codec_context.height
        if not width or not height:
            raise VideoError(f"video stream has no frame size: {path}")
        frames = int(stream.frames or 0)
        if frames <= 0:
            frames = sum(1 for p in container.demux(stream) if p.size)
        if frames <= 0:
            raise VideoError(f"video has no frames: {path}")
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / 1_000_000
        else:
            duration = frames / fps
        return VideoInfo(path, fps, frames, width, height, duration, stream.codec_context.name,
                         path.stat().st_size)
    except VideoError:
        raise
    except Exception as exc:
        raise VideoError(f"not a readable video: {path} ({_short(exc)})") from None
    finally:
        container.close()


def iter_frames(path: str | os.PathLike, sample_interval: int = 1, max_frames: int | None = None,
                start: int = 0, end: int | None = None) -> Iterator[Frame]:
    """Decode frames in order on the calling thread, keeping every `sample_interval`-th frame.

    Frames are numbered by presentation time at the stream's average rate, as `frames_at` numbers them, so
    a run that seeks and one that does not give every frame the same number. For a constant-rate video
    that is the count from 0; a video that dropped frames has gaps where they were, and of two frames that
    fall on one number (a variable rate) the first is kept. Without timestamps, frames are counted.
    With `start`/`end`, only frames `start <= index < end` (a segment): it seeks to the keyframe before
    `start` and decodes forward. Sampling stays aligned to frame 0, so a segment keeps exactly the frames a
    whole run would.
    """
    if sample_interval < 1:
        raise ValueError("sample_interval must be >= 1")
    path = Path(path)
    container = _open(path)
    try:
        stream, rate, base, first = _video_stream(container)
        ranged = start > 0 and base is not None
        if ranged:
            container.seek(int(first + start / rate / base), stream=stream, backward=True)
        index, last, decoded = -1, -1, 0
        try:
            for frame in container.decode(stream):
                timed = frame.pts is not None and base is not None
                index = int(round((frame.pts - first) * base * rate)) if timed else index + 1
                if end is not None and index >= end:
                    break
                if max_frames is not None and index >= max_frames:
                    break
                decoded += 1
                if index <= last:
                    continue  # a second frame on this number
                last = index
                if index >= start and index % sample_interval == 0:
                    yield Frame(index, frame.to_ndarray(format="bgr24"))
        except Exception as exc:
            if isinstance(exc, GeneratorExit):
                raise
            raise VideoError(f"video is corrupt at frame {index}: {path} ({_short(exc)})") from None
        if decoded == 0:
            raise VideoError(f"video has no decodable frames: {path}")
    finally:
        container.close()


SEEK_AHEAD_FRAMES = 150
"""Jump with a seek (to the keyframe before) rather than decode forward when the next frame is this far."""


def frames_at(path: str | os.PathLike, indices: Iterable[int]) -> Iterator[Frame]:
    """Decode only the frames at `indices` (any order; yielded in frame order), seeking over long gaps.

    Frame numbers come from presentation times at the stream's average rate, as `iter_frames` counts them
    for a constant-rate video.
    """
    wanted = sorted({int(i) for i in indices if int(i) >= 0})
    if not wanted:
        return
    path = Path(path)
    container = _open(path)
    try:
        stream, rate, base, start = _video_stream(container)
        pos, index, exhausted = 0, -1, False
        while pos < len(wanted):
            target = wanted[pos]
            if base is not None and target - index > SEEK_AHEAD_FRAMES:
                container.seek(int(start + target / rate / base), stream=stream, backward=True)
                exhausted = False
            if exhausted:
                return  # the rest lie past the end of the stream
            for frame in container.decode(stream):
                if frame.pts is not None and base is not None:
                    index = int(round((frame.pts - start) * base * rate))
                else:
                    index += 1
                while pos < len(wanted) and wanted[pos] < index:
                    pos += 1  # not in the video (or skipped by a seek that landed late)
                if pos < len(wanted) and wanted[pos] == index:
                    yield Frame(index, frame.to_ndarray(format="bgr24"))
                    pos += 1
                if pos >= len(wanted) or (base is not None and wanted[pos] - index > SEEK_AHEAD_FRAMES):
                    break
            else:
                exhausted = True
    except VideoError:
        raise
    except Exception as exc:
        if isinstance(exc, GeneratorExit):
            raise
        raise VideoError(f"cannot read frames of {path} ({_short(exc)})") from None
    finally:
        container.close()


class FrameReader(Prefetcher):
    """`iter_frames` decoded on a background thread into a bounded queue, so the detector never waits.

    Iterate it like `iter_frames`. Decoder errors are re-raised in the consuming thread; closing early
    (break, exception) stops the thread.
    """

    def __init__(self, path: str | os.PathLike, sample_interval: int = 1, prefetch: int = 16,
                 max_frames: int | None = None, start: int = 0, end: int | None = None):
        super().__init__(iter_frames(path, sample_interval, max_frames, start, end), depth=prefetch,
                         name="frame-reader")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20,
                on_progress: Callable[[int, int], None] | None = None) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks; `on_progress(bytes_done, bytes_total)` after each."""
    digest = hashlib.sha256()
    total = os.path.getsize(path)
    done = 0
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
            done += len(block)
            if on_progress is not None:
                on_progress(done, total)
    return digest.hexdigest()


def _short(exc: BaseException) -> str:
    import re

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", text)
    text = re.sub(r":\s*'[^']*'$", "", text)  # PyAV appends the path we already print
    return text[:200]
