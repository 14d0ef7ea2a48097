"""Video probing and frame reading with PyAV; decoding runs on a background thread."""

from __future__ import annotations

import functools
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
class FrameTiming:
    """Each frame's presentation timestamp, in presentation order: frame N is the N-th frame presented (0-based).

    This is the product's one frame numbering. It holds whatever the file's first timestamp, its rate's
    fraction or a variable rate; decoding a whole video, seeking into a segment and picking frames all number
    a frame by its position here, and the browser maps `mediaTime` through the same times.
    """

    pts: np.ndarray  # int64, sorted, in `time_base` units
    time_base: Fraction

    @property
    def count(self) -> int:
        """Frames in the stream."""
        return len(self.pts)

    @property
    def times(self) -> np.ndarray:
        """Each frame's presentation time in seconds (float64)."""
        return self.pts.astype(np.float64) * float(self.time_base)

    @property
    def start(self) -> float:
        """Frame 0's presentation time in seconds (often not 0 in phone and broadcast files)."""
        return float(self.pts[0] * self.time_base)

    @property
    def constant(self) -> bool:
        """Whether frames are evenly spaced: every gap within one tick (or 0.5 ms) of the median gap."""
        if self.count < 3:
            return True
        gaps = np.diff(self.pts)
        median = float(np.median(gaps))
        slack = max(1.0, 0.0005 / float(self.time_base))
        return median > 0 and bool(np.all(np.abs(gaps - median) <= slack))

    @property
    def mode(self) -> str:
        """`constant` or `variable`, as `bball video show` prints it."""
        return "constant" if self.constant else "variable"

    def rate(self, fallback: float = 30.0) -> float:
        """Frames per second over the whole stream (exact for a constant rate); `fallback` for one frame."""
        span = float((int(self.pts[-1]) - int(self.pts[0])) * self.time_base) if self.count > 1 else 0.0
        return (self.count - 1) / span if span > 0 else fallback

    def index_of(self, pts: int) -> int:
        """The frame number of a decoded frame with this timestamp (the first of equal ones)."""
        return int(np.searchsorted(self.pts, pts, side="left"))


def read_timing(path: str | os.PathLike) -> FrameTiming | None:
    """Every frame's timestamp, read by demuxing (no decoding; about 1 s per GB); None when the stream has none.

    Cached per file (path, size, modification time), so one process demuxes a file once.
    """
    path = Path(path)
    stat = path.stat()
    return _read_timing(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _read_timing(path: str, _size: int, _mtime: int) -> FrameTiming | None:
    container = _open(Path(path))
    try:
        stream = container.streams.video[0]
        if not stream.time_base:
            return None
        stamps = []
        for packet in container.demux(stream):
            if not packet.size:
                continue  # the flush packet at the end
            if packet.pts is None:
                return None  # a stream without timestamps is counted as it decodes
            stamps.append(packet.pts)
        if not stamps:
            return None
        return FrameTiming(np.sort(np.array(stamps, np.int64)), Fraction(stream.time_base))
    except Exception as exc:
        raise VideoError(f"not a readable video: {path} ({_short(exc)})") from None
    finally:
        container.close()


@dataclass(frozen=True)
class VideoInfo:
    """What `probe` learns about a video; with `exact=True` the frame count and rate come from `timing`."""

    path: Path
    fps: float
    frame_count: int
    width: int
    height: int
    duration: float
    codec: str
    size_bytes: int
    timing: FrameTiming | None = None

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


def probe(path: str | os.PathLike, exact: bool = False) -> VideoInfo:
    """Read fps, frame count, size, duration and codec from the header (counting packets when it has none).

    `exact=True` also reads every frame's timestamp (`read_timing`, one demux of the file): the frame count is
    then the frames really there and fps their true average rate, not what the header claims. Registering and
    submitting a video, and every run, use it.
    """
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
        if frames <= 0 and not exact:
            frames = sum(1 for p in container.demux(stream) if p.size)
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / 1_000_000
        else:
            duration = frames / fps
        codec = stream.codec_context.name
    except VideoError:
        raise
    except Exception as exc:
        raise VideoError(f"not a readable video: {path} ({_short(exc)})") from None
    finally:
        container.close()
    timing = read_timing(path) if exact else None
    if timing is not None:
        # Timestamps in milliseconds (Matroska) only approximate a constant rate such as 30000/1001: a camera's
        # standard rate, else a header that agrees, is the exact one. A header that disagrees (30.136 for a
        # 30 fps phone clip) loses; a variable rate is the frames' average.
        measured = timing.rate(fallback=fps)
        standard = _standard_rate(measured) if timing.constant else None
        if standard is not None:
            fps = standard
        elif not (timing.constant and abs(fps / measured - 1) < 0.002):
            fps = measured
        frames = timing.count
        duration = float((int(timing.pts[-1]) - int(timing.pts[0])) * timing.time_base) + 1 / fps
    elif exact and frames <= 0:
        frames = sum(1 for _ in iter_frames(path))
    if frames <= 0:
        raise VideoError(f"video has no frames: {path}")
    return VideoInfo(path, fps, frames, width, height, duration, codec, path.stat().st_size, timing)


STANDARD_RATES = (Fraction(24000, 1001), 24, 25, Fraction(30000, 1001), 30, 50, Fraction(60000, 1001), 60, 100,
                  Fraction(120000, 1001), 120, 240)
"""Rates cameras record at: a rate measured from rounded timestamps within 0.05% of one of them is that one."""


def _standard_rate(measured: float) -> float | None:
    for rate in STANDARD_RATES:
        if abs(measured / float(rate) - 1) < 5e-4:
            return float(rate)
    return None


class _Numbering:
    """Gives decoded frames their numbers: the position of their timestamp in `FrameTiming`, else a count.

    A frame whose timestamp repeats the previous one's (a broken muxer) takes the next number, so no number is
    given twice and numbers only grow.
    """

    def __init__(self, timing: FrameTiming | None):
        self.timing = timing
        self.last = -1

    def restart(self) -> None:
        """After a seek: numbers come from timestamps again (a count cannot continue across a jump)."""
        self.last = -1

    def next(self, frame) -> int:
        if self.timing is not None and frame.pts is not None:
            index = self.timing.index_of(frame.pts)
            index = index if index > self.last else self.last + 1
        else:
            index = self.last + 1
        self.last = index
        return index


SEEK_MARGIN_FRAMES = 16
"""Seek this many frames early: demuxers find the keyframe by decode time, which runs ahead of presentation
time by the B-frame delay, so a seek to a frame's own timestamp can land on a keyframe shown after it."""


def _seek(container, stream, timing: FrameTiming | None, index: int) -> bool:
    """Seek to a keyframe shown before frame `index`; False (nothing done) without timestamps to seek by."""
    if timing is None or index - SEEK_MARGIN_FRAMES <= 0 or index >= timing.count:
        return False
    container.seek(int(timing.pts[index - SEEK_MARGIN_FRAMES]), stream=stream, backward=True)
    return True


def _pixels(frame, size: tuple[int, int] | None, gray: bool) -> np.ndarray:
    """The decoded frame as BGR (or one grey channel with `gray`), scaled to `size` (w, h) by the decoder's scaler."""
    fmt = "gray" if gray else "bgr24"
    if size is None:
        return frame.to_ndarray(format=fmt)
    return frame.reformat(width=size[0], height=size[1], format=fmt, interpolation="AREA").to_ndarray()


def iter_frames(path: str | os.PathLike, sample_interval: int = 1, max_frames: int | None = None,
                start: int = 0, end: int | None = None, size: tuple[int, int] | None = None,
                gray: bool = False) -> Iterator[Frame]:
    """Decode frames in order on the calling thread, keeping every `sample_interval`-th frame.

    Frame N is the N-th frame presented (`FrameTiming`), so a whole run, a segment's seeked run and
    `frames_at` give every frame the same number, on constant- and variable-rate files alike.
    With `start`/`end`, only frames `start <= index < end` (a segment): it seeks to the keyframe before
    `start` and decodes forward. Sampling stays aligned to frame 0, so a segment keeps exactly the frames a
    whole run would. `size` (w, h) and `gray` have the decoder scale and convert (camera following reads small
    grey frames, several times faster than full-size BGR).
    """
    if sample_interval < 1:
        raise ValueError("sample_interval must be >= 1")
    path = Path(path)
    timing = read_timing(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        numbering = _Numbering(timing)
        _seek(container, stream, timing, start)
        index, decoded = -1, 0
        try:
            for frame in container.decode(stream):
                index = numbering.next(frame)
                if end is not None and index >= end:
                    break
                if max_frames is not None and index >= max_frames:
                    break
                decoded += 1
                if index >= start and index % sample_interval == 0:
                    yield Frame(index, _pixels(frame, size, gray))
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


def frames_at(path: str | os.PathLike, indices: Iterable[int], size: tuple[int, int] | None = None,
              gray: bool = False) -> Iterator[Frame]:
    """Decode only the frames at `indices` (any order; yielded in frame order), seeking over long gaps.

    Numbered as `iter_frames` numbers them (`FrameTiming`).
    """
    wanted = sorted({int(i) for i in indices if int(i) >= 0})
    if not wanted:
        return
    path = Path(path)
    timing = read_timing(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        numbering = _Numbering(timing)
        pos, exhausted, sought = 0, False, -1
        while pos < len(wanted):
            target = wanted[pos]
            if timing is not None and target >= timing.count:
                return  # the rest lie past the end of the stream
            if target - numbering.last > SEEK_AHEAD_FRAMES and target != sought \
                    and _seek(container, stream, timing, target):
                numbering.restart()
                exhausted, sought = False, target
            if exhausted:
                return
            for frame in container.decode(stream):
                index = numbering.next(frame)
                while pos < len(wanted) and wanted[pos] < index:
                    pos += 1  # not in the video (or skipped by a seek that landed late)
                if pos < len(wanted) and wanted[pos] == index:
                    yield Frame(index, _pixels(frame, size, gray))
                    pos += 1
                # Far from the next frame: seek there, unless this decode started from a seek for it (its
                # keyframe can lie further back than SEEK_AHEAD_FRAMES: seeking again would land here again).
                if pos >= len(wanted) or (timing is not None and wanted[pos] - index > SEEK_AHEAD_FRAMES
                                          and wanted[pos] != sought):
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
