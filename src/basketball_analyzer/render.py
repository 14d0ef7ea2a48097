"""Pictures of stored detections: an annotated MP4 or a contact sheet PNG, drawn by supervision's annotators.

Boxes, `#id` labels and short motion trails are coloured by track id, so one player keeps one colour. A run
with `sample_interval` N stores every N-th frame; the frames in between show the last sampled frame's boxes.
"""

from __future__ import annotations

import math
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from .atomic import atomic_path
from .db.models import Video
from .detections import Detections
from .exceptions import BballError, NotFound
from .results.runs import sample_stride
from .video import FrameReader, iter_frames, probe, sha256_file

ProgressFn = Callable[[int, int], None]
"""Called as `on_progress(frames_done, frames_total)`."""

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv")
IMAGE_SUFFIXES = (".png",)
TILE_WIDTH = 480


@dataclass(frozen=True)
class RenderResult:
    """What a render wrote: the file, how many video frames it drew, how many boxes, its pixel size."""

    path: Path
    frames: int
    boxes: int
    width: int
    height: int


@dataclass(frozen=True)
class SheetLayout:
    """A contact sheet's grid: `columns` x `rows` tiles of `tile_width` x `tile_height` pixels."""

    columns: int
    rows: int
    tile_width: int
    tile_height: int

    @property
    def size(self) -> tuple[int, int]:
        """The sheet's (width, height) in pixels."""
        return self.columns * self.tile_width, self.rows * self.tile_height


class FrameAnnotator:
    """Draws one video's frames in order: boxes, `#id` labels and the last `trail_length` frames' trails."""

    def __init__(self, trail_length: int = 30, thickness: int = 2, text_scale: float = 0.5,
                 teams: TeamColours | None = None) -> None:
        import supervision as sv

        self.teams = teams
        kwargs: dict = {"color_lookup": sv.ColorLookup.TRACK}
        if teams is not None:
            # Once teams exist a box takes its team's colour (class ids index the palette), not its track's.
            kwargs = {"color_lookup": sv.ColorLookup.CLASS, "color": sv.ColorPalette.from_hex(teams.palette)}
        self._boxes = sv.BoxAnnotator(thickness=thickness, **kwargs)
        text = {}
        if teams is not None:  # dark text on light jerseys' labels, light text on dark ones
            text = {"text_color": sv.ColorPalette.from_hex(teams.text_palette)}
        self._labels = sv.LabelAnnotator(text_scale=text_scale, text_padding=4, **kwargs, **text)
        self._trails = sv.TraceAnnotator(trace_length=max(2, trail_length), thickness=thickness,
                                         position=sv.Position.BOTTOM_CENTER, **kwargs)

    def _supervision(self, detections: Detections):
        sv_det = detections.to_supervision()
        if self.teams is not None:
            sv_det.class_id = self.teams.indices(detections.tracker_id)
        return sv_det

    def annotate(self, image: np.ndarray, detections: Detections) -> np.ndarray:
        """A copy of `image` (BGR) with `detections` drawn; call once per frame, in frame order."""
        scene = image.copy()
        sv_det = self._supervision(detections)
        self._trails.annotate(scene, sv_det)
        self._boxes.annotate(scene, sv_det)
        if len(detections):
            named = self.teams.labels if self.teams is not None else {}
            labels = [named.get(t, f"#{t}") for t in detections.tracker_id.tolist()]
            if self.teams is not None:
                labels = [f"{label} {self.teams.name(t)}" for label, t in zip(labels, detections.tracker_id.tolist())]
            self._labels.annotate(scene, sv_det, labels=labels)
        return scene

    def advance(self, detections: Detections) -> None:
        """Record a frame's positions for the trails without drawing it (frames a contact sheet skips)."""
        self._trails.trace.put(self._supervision(detections))


@dataclass(frozen=True)
class TeamColours:
    """Each track's team and each team's drawing colour (`#rrggbb`); tracks without a team are grey. With
    players (`bball players`), each track is labelled with its player's jersey number or id."""

    team_of: dict[int, str | None]
    colour_of: dict[str, str]
    order: tuple[str, ...] = ("A", "B", "other", "")
    labels: dict[int, str] = field(default_factory=dict)  # track -> its player's label ("#23", "P4") once known

    @property
    def palette(self) -> list[str]:
        """Colours in class-id order."""
        defaults = {"A": "#f2f2f2", "B": "#1f3fbf", "other": "#111111", "": "#9a9a9a"}
        return [self.colour_of.get(team) or defaults[team] for team in self.order]

    @property
    def text_palette(self) -> list[str]:
        """Label text colours that stay readable on each palette colour."""
        out = []
        for colour in self.palette:
            r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
            out.append("#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#ffffff")
        return out

    def indices(self, track_ids: np.ndarray) -> np.ndarray:
        """Class ids (palette indices) for tracks."""
        return np.array([self.order.index(self.team_of.get(int(t)) or "") for t in track_ids], int)

    def name(self, track_id: int) -> str:
        """The track's team, or "" when it has none."""
        return self.team_of.get(int(track_id)) or ""


class FrameBoxes:
    """Stored boxes by video frame; frames between sampled ones get the last sampled frame's boxes.

    `sample_interval` is the run's (`results.runs.stored_run`); without it, it is read off the frame numbers.
    """

    def __init__(self, detections: Detections, frame_count: int | None = None,
                 sample_interval: int | None = None) -> None:
        self.stride = sample_interval or sample_stride(detections.frame_number, frame_count)
        self._frames: dict[int, Detections] = {}
        if len(detections):
            order = np.argsort(detections.frame_number, kind="stable")
            det = detections[order]
            bounds = np.flatnonzero(np.diff(det.frame_number)) + 1
            for part in np.split(np.arange(len(det)), bounds):
                self._frames[int(det.frame_number[part[0]])] = det[part]
        self._empty = Detections.empty()

    def __getitem__(self, frame: int) -> Detections:
        return self._frames.get(frame - frame % self.stride, self._empty)


def contact_sheet_layout(count: int, width: int, height: int, tile_width: int = TILE_WIDTH) -> SheetLayout:
    """A near-square grid for `count` tiles, each the video frame scaled to `tile_width` (never enlarged)."""
    if count < 1:
        raise BballError("a contact sheet needs at least 1 frame")
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    tw = min(tile_width, width)
    th = max(1, round(height * tw / width))
    return SheetLayout(columns, rows, tw, th)


def sheet_frame_indices(frame_count: int, count: int) -> list[int]:
    """`count` frame indices evenly spaced inside the video (all frames when it has no more than `count`).

    The first frame is left out when there is a choice: trackers confirm tracks a frame or two in.
    """
    if count >= frame_count:
        return list(range(frame_count))
    step = frame_count // (count + 1)
    return [k * step for k in range(1, count + 1)]


def find_video(session: Session, ref: str | os.PathLike) -> Video:
    """A registered video by id or by path (matched on content), without registering anything."""
    from .videos import get_video

    text = str(ref)
    if text.isdigit() and not Path(text).exists():  # an id, read as `videos.resolve_video` reads one
        return get_video(session, int(text))
    path = Path(text).expanduser()
    probe(path)  # one clear line when it is missing or not a video
    # By content, as `register_video` does: a moved or renamed file is still the same video.
    video = session.execute(select(Video).where(Video.sha256 == sha256_file(path))).scalar_one_or_none()
    if video is None:
        raise NotFound(f"{path} is not registered: analyze it first (`bball analyze {path}`)")
    return video


def check_output(output: str | os.PathLike, suffixes: tuple[str, ...]) -> Path:
    """`output` as a Path, or `BballError` when its suffix or folder will not do."""
    output = Path(output).expanduser()
    if output.suffix.lower() not in suffixes:
        raise BballError(f"output must end in {' or '.join(suffixes)}: {output}")
    if not output.parent.is_dir():
        raise BballError(f"output folder does not exist: {output.parent}")
    if output.is_dir():
        raise BballError(f"output is a folder: {output}")
    return output


def render_video(video_path: str | os.PathLike, detections: Detections, output: str | os.PathLike, *,
                 trail_length: int | None = None, on_progress: ProgressFn | None = None,
                 teams: TeamColours | None = None, sample_interval: int | None = None) -> RenderResult:
    """Write the video with its detections drawn on every frame (H.264, same size and frame rate).

    The file appears only when complete: it is written under a temporary name and renamed.
    `sample_interval`: the run's, so each stored frame's boxes stay up for the frames it stands for.
    """
    output = check_output(output, VIDEO_SUFFIXES)
    info = probe(video_path)
    boxes = FrameBoxes(detections, info.frame_count, sample_interval)
    annotator = FrameAnnotator(trail_length=trail_length or max(10, round(info.fps)), teams=teams)
    frames = drawn = 0
    with h264_writer(output, info.fps, info.width, info.height) as write:
        if on_progress:
            on_progress(0, info.frame_count)
        for frame in FrameReader(video_path):
            det = boxes[frame.index]
            write(annotator.annotate(frame.image, det))
            frames += 1
            drawn += len(det)
            if on_progress:
                on_progress(frames, max(frames, info.frame_count))
    return RenderResult(output, frames, drawn, info.width, info.height)


def render_contact_sheet(video_path: str | os.PathLike, detections: Detections, output: str | os.PathLike, *,
                         frames: int = 12, tile_width: int = TILE_WIDTH, trail_length: int | None = None,
                         on_progress: ProgressFn | None = None, teams: TeamColours | None = None,
                         sample_interval: int | None = None) -> RenderResult:
    """Write a PNG grid of `frames` annotated frames, evenly spaced through the video, each labelled."""
    import cv2

    output = check_output(output, IMAGE_SUFFIXES)
    if frames < 1:
        raise BballError("--frames must be at least 1")
    info = probe(video_path)
    wanted = sheet_frame_indices(info.frame_count, frames)
    layout = contact_sheet_layout(len(wanted), info.width, info.height, tile_width)
    boxes = FrameBoxes(detections, info.frame_count, sample_interval)
    trail = trail_length or max(10, round(info.fps))
    width, height = layout.size
    sheet = np.full((height, width, 3), 32, np.uint8)
    step = math.gcd(*wanted) or 1
    done = drawn = 0
    if on_progress:
        on_progress(0, len(wanted))
    # Decoding with a stride converts only the wanted frames to pixels; the rest are decoded and dropped.
    for frame in iter_frames(video_path, sample_interval=step, max_frames=wanted[-1] + 1):
        if done >= len(wanted):
            break
        if frame.index != wanted[done]:
            continue
        annotator = FrameAnnotator(trail_length=trail, teams=teams)
        for earlier in range(max(0, frame.index - trail + 1), frame.index):
            annotator.advance(boxes[earlier])
        det = boxes[frame.index]
        tile = annotator.annotate(frame.image, det)
        tile = cv2.resize(tile, (layout.tile_width, layout.tile_height), interpolation=cv2.INTER_AREA)
        _caption(tile, f"frame {frame.index}")
        r, c = divmod(done, layout.columns)
        sheet[r * layout.tile_height:(r + 1) * layout.tile_height,
              c * layout.tile_width:(c + 1) * layout.tile_width] = tile
        done += 1
        drawn += len(det)
        if on_progress:
            on_progress(done, len(wanted))
    write_png(sheet, output)
    return RenderResult(output, done, drawn, width, height)


@contextmanager
def h264_writer(output: Path, fps: float, width: int, height: int, crf: int = 20) -> Iterator[Callable]:
    """Yield `write(image_bgr)` for an H.264 file at `output` (container from its suffix), written under a
    temporary name and renamed only when the block ends without error: a stopped render leaves nothing."""
    import av

    container = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska"}[output.suffix.lower()]
    with atomic_path(output) as tmp, av.open(str(tmp), "w", format=container) as out:
        stream = out.add_stream("libx264", rate=_rate(fps))
        stream.width, stream.height = width, height
        # 4:2:0 needs even sizes; 4:4:4 keeps odd-sized videos at their exact size.
        stream.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}

        def write(image: np.ndarray) -> None:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)

        yield write
        for packet in stream.encode():
            out.mux(packet)


def write_png(image: np.ndarray, output: Path) -> None:
    """Encode `image` (BGR) as PNG and write it under a temporary name, renamed once complete."""
    import cv2

    ok, encoded = cv2.imencode(".png", image)
    if not ok:  # pragma: no cover - OpenCV only fails here on an impossible image
        raise BballError(f"could not encode {output}")
    with atomic_path(output) as tmp:
        tmp.write_bytes(encoded.tobytes())


def _caption(tile: np.ndarray, text: str) -> None:
    import cv2

    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
    cv2.rectangle(tile, (0, 0), (w + 8, h + base + 6), (0, 0, 0), -1)
    cv2.putText(tile, text, (4, h + 3), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)


def _rate(fps: float):
    from fractions import Fraction

    # 29.97 and friends stay exact; whole rates stay whole.
    return Fraction(fps).limit_denominator(1001)
