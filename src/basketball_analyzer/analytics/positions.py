"""Court positions, computed once: keyframes, the followed camera, and every stored box's court position.

`set_keyframe` fits a calibration on one frame; `follow` carries the keyframes through the video
(camera.follow_camera, or one homography for a camera that never moves) and stores the per-frame mapping;
`compute_positions` maps every box's foot point through its own frame's homography into `player_positions`,
with `on_court` false for benches, staff and crowd. Stats, heatmaps, the minimap, the web app and SQL users
all read those rows: the homography is applied here and nowhere else.

Every function takes the caller's `Session` and does not commit.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from ..db.analytics import CameraPath as CameraPathRow
from ..db.analytics import CourtCalibration, PlayerPosition
from ..db.models import PlayerDetection, Video, utcnow
from ..exceptions import CalibrationError, NotFound
from .camera import KEYFRAME, SOURCE_NAMES, TRACKED, UNMAPPED, CameraPath, follow_camera
from .court import Calibration, CourtSpec, court_spec, fit_calibration

SIDELINE_MARGIN_METRES = 1.0
"""A foot point this far outside the lines still counts as on the court (a player saving a ball, a referee)."""


def _video(session: Session, video_id: int) -> Video:
    video = session.get(Video, video_id)
    if video is None:
        raise NotFound(f"no video with id {video_id} (see `bball video list`)")
    return video


def check_keyframe(session: Session, video_id: int, court_name: str, frame: int) -> tuple[Video, CourtSpec]:
    """(video, court) of a keyframe that may be fitted: refuses a frame outside the video and another court than
    the video's keyframes are on (with one line each). Stores nothing: a dry-run fit asks it too."""
    video = _video(session, video_id)
    court = court_spec(court_name)
    if not 0 <= frame < video.frame_count:
        raise CalibrationError(f"frame {frame} is outside video {video_id}'s frames 0..{video.frame_count - 1}")
    other = session.execute(select(CourtCalibration.court).where(CourtCalibration.video_id == video_id,
                                                                 CourtCalibration.court != court.name)).first()
    if other is not None:
        raise CalibrationError(f"video {video_id}'s keyframes are on a {other[0]} court, not {court.name}: clear "
                               f"them first with `bball court clear {video_id}`")
    return video, court


def set_keyframe(session: Session, video_id: int, image_points, court_points, court_name: str,
                 frame: int = 0, points: list[dict] | None = None) -> Calibration:
    """Fit and store the calibration of `frame` (a keyframe); refuses what `check_keyframe` refuses."""
    video, court = check_keyframe(session, video_id, court_name, frame)
    cal = fit_calibration(image_points, court_points, court, (video.width, video.height))
    row = session.get(CourtCalibration, (video_id, frame)) or CourtCalibration(video_id=video_id, frame_number=frame)
    row.court, row.unit = court.name, court.unit
    for i, value in enumerate(cal.matrix.reshape(-1).tolist()):
        setattr(row, f"h{i}", float(value))
    row.rms_error, row.max_error = cal.rms_error, cal.max_error
    row.points = points if points is not None else [
        {"image": [float(a), float(b)], "court": [float(c), float(d)]}
        for (a, b), (c, d) in zip(np.asarray(image_points).reshape(-1, 2), np.asarray(court_points).reshape(-1, 2))]
    row.created_at = utcnow()
    session.add(row)
    session.flush()
    return cal


def keyframes(session: Session, video_id: int) -> dict[int, Calibration]:
    """The video's keyframes by frame number (empty when it has none)."""
    rows = session.execute(select(CourtCalibration).where(CourtCalibration.video_id == video_id)
                           .order_by(CourtCalibration.frame_number)).scalars()
    return {r.frame_number: Calibration(court_spec(r.court),
                                        np.array([getattr(r, f"h{i}") for i in range(9)], np.float64).reshape(3, 3),
                                        r.rms_error, r.max_error, len(r.points)) for r in rows}


def clear(session: Session, video_id: int) -> int:
    """Delete the video's keyframes, camera path and positions; how many keyframes there were."""
    _video(session, video_id)
    session.execute(delete(PlayerPosition).where(PlayerPosition.video_id == video_id))
    session.execute(delete(CameraPathRow).where(CameraPathRow.video_id == video_id))
    return session.execute(delete(CourtCalibration).where(CourtCalibration.video_id == video_id)).rowcount


def follow(session: Session, video_id: int, fixed: bool = False,
           on_progress: Callable[[int, int], None] | None = None) -> CameraPath:
    """Map every frame from the keyframes (follow the camera, or `fixed`: one homography for all frames), store
    the path and recompute the positions."""
    video = _video(session, video_id)
    keys = keyframes(session, video_id)
    if not keys:
        raise CalibrationError(f"video {video_id} has no court keyframe: run `bball court set {video_id} ...` first")
    court = next(iter(keys.values())).court
    if fixed:
        path = _fixed_path(keys, video.frame_count)
    else:
        boxes = _boxes_by_frame(session, video_id)
        empty = np.empty((0, 4))
        path = follow_camera(video.path, {k: c.matrix for k, c in keys.items()}, court, video.frame_count,
                             video.width, video.height, boxes=lambda f: boxes.get(f, empty),
                             on_progress=on_progress)
    save_path(session, video_id, court, path)
    compute_positions(session, video_id)
    return path


def _fixed_path(keys: dict[int, Calibration], frames: int) -> CameraPath:
    """A camera that never moves: each frame takes the nearest keyframe's homography at or before it."""
    path = CameraPath.empty(frames)
    ordered = sorted(keys)
    for n, k in enumerate(ordered):
        end = ordered[n + 1] if n + 1 < len(ordered) else frames
        start = 0 if n == 0 else k
        path.matrices[start:end] = keys[k].matrix
        path.source[start:end] = TRACKED
        path.source[k] = KEYFRAME
    return path


def _boxes_by_frame(session: Session, video_id: int) -> dict[int, np.ndarray]:
    t = PlayerDetection.__table__
    rows = session.execute(select(t.c.frame_number, t.c.bbox_x, t.c.bbox_y, t.c.bbox_width, t.c.bbox_height)
                           .where(t.c.video_id == video_id)).all()
    if not rows:
        return {}
    a = np.array(rows, np.float64)
    xyxy = np.c_[a[:, 1:3], a[:, 1:3] + a[:, 3:5]]
    frames = a[:, 0].astype(np.int64)
    order = np.argsort(frames, kind="stable")
    frames, xyxy = frames[order], xyxy[order]
    cuts = np.flatnonzero(np.diff(frames)) + 1
    return {int(f[0]): b for f, b in zip(np.split(frames, cuts), np.split(xyxy, cuts))}


def save_path(session: Session, video_id: int, court: CourtSpec, path: CameraPath) -> None:
    """Store the followed camera (one row per video)."""
    row = session.get(CameraPathRow, video_id) or CameraPathRow(video_id=video_id)
    row.court, row.frames = court.name, path.frames
    row.matrices = zlib.compress(path.matrices.reshape(-1, 9).astype("<f8").tobytes())
    row.sources = zlib.compress(path.source.astype(np.uint8).tobytes())
    row.breaks = {str(k): v for k, v in path.breaks.items()}
    row.computed_at = utcnow()
    session.add(row)
    session.flush()


def load_path(session: Session, video_id: int) -> tuple[CameraPath, CourtSpec] | None:
    """The stored camera path and its court, or None before `follow` ran."""
    row = session.get(CameraPathRow, video_id)
    if row is None:
        return None
    matrices = np.frombuffer(zlib.decompress(row.matrices), "<f8").reshape(-1, 3, 3).copy()
    sources = np.frombuffer(zlib.decompress(row.sources), np.uint8).copy()
    return CameraPath(matrices, sources, {int(k): v for k, v in row.breaks.items()}), court_spec(row.court)


def on_court(court: CourtSpec, xy: np.ndarray) -> np.ndarray:
    """Which court points (N, 2) are on the court, sidelines plus SIDELINE_MARGIN_METRES."""
    m = SIDELINE_MARGIN_METRES / court.metres_per_unit
    x, y = xy[:, 0], xy[:, 1]
    with np.errstate(invalid="ignore"):
        return (x >= -m) & (x <= court.length + m) & (y >= -m) & (y <= court.width + m)


def compute_positions(session: Session, video_id: int) -> int:
    """Recompute `player_positions` of the video from its boxes and camera path; rows written."""
    session.execute(delete(PlayerPosition).where(PlayerPosition.video_id == video_id))
    loaded = load_path(session, video_id)
    if loaded is None:
        return 0
    path, court = loaded
    t = PlayerDetection.__table__
    rows = session.execute(select(t.c.id, t.c.frame_number, t.c.tracking_id, t.c.label, t.c.bbox_x, t.c.bbox_y,
                                  t.c.bbox_width, t.c.bbox_height).where(t.c.video_id == video_id)).all()
    if not rows:
        return 0
    ids = np.array([r[0] for r in rows], np.int64)
    frames = np.array([r[1] for r in rows], np.int64)
    box = np.array([r[4:] for r in rows], np.float64)
    video = session.get(Video, video_id)
    xy = path.to_court(frames, foot_points(path, frames, box, video.height))
    keep = np.isfinite(xy).all(axis=1)
    inside = on_court(court, xy)
    values = [{"detection_id": int(ids[i]), "video_id": video_id, "frame_number": int(frames[i]),
               "tracking_id": int(rows[i][2]), "label": rows[i][3] or "player", "court_x": float(xy[i, 0]),
               "court_y": float(xy[i, 1]), "on_court": bool(inside[i]), "unit": court.unit}
              for i in np.flatnonzero(keep)]
    for start in range(0, len(values), 20_000):
        session.execute(insert(PlayerPosition), values[start:start + 20_000])
    return len(values)


def _units_per_pixel(path: CameraPath, frames: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Court units per image pixel around each point (the square root of the mapping's area scale)."""
    eps = 1.0
    c = path.to_court(frames, xy)
    dx = path.to_court(frames, xy + [eps, 0]) - c
    dy = path.to_court(frames, xy + [0, eps]) - c
    return np.sqrt(np.abs(dx[:, 0] * dy[:, 1] - dx[:, 1] * dy[:, 0])) / eps


def foot_points(path: CameraPath, frames: np.ndarray, box: np.ndarray, height: int) -> np.ndarray:
    """Where each box's person stands in the image: the bottom middle of the box, or, for a box the frame's
    bottom edge cuts off (the bench and the front rows of a broadcast), below the edge, as far below the head
    as the video's whole figures are tall for their place on the floor."""
    x, top, bottom = box[:, 0] + box[:, 2] / 2, box[:, 1], box[:, 1] + box[:, 3]
    foot = np.c_[x, bottom]
    cut = bottom >= height - 2
    if not cut.any() or cut.all():
        return foot
    whole = ~cut
    tall = box[whole, 3] * _units_per_pixel(path, frames[whole], foot[whole])  # figure height in court units
    tall = tall[np.isfinite(tall)]
    if len(tall) < 10:
        return foot
    figure = float(np.median(tall))
    y = bottom[cut].copy()
    for _ in range(8):  # the foot is where the figure's height in pixels, at that spot, reaches down from the head
        scale = _units_per_pixel(path, frames[cut], np.c_[x[cut], y])
        y = np.where(np.isfinite(scale) & (scale > 0), top[cut] + figure / np.maximum(scale, 1e-12), y)
        y = np.clip(y, bottom[cut], bottom[cut] + 4 * height)
    foot[cut, 1] = y
    return foot


def track_positions(session: Session, video_id: int, tracking_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One track's (frames, court xy (N, 2), on_court) in frame order (its boxes in mapped frames only)."""
    p = PlayerPosition.__table__
    rows = session.execute(select(p.c.frame_number, p.c.court_x, p.c.court_y, p.c.on_court)
                           .where(p.c.video_id == video_id, p.c.tracking_id == tracking_id)
                           .order_by(p.c.frame_number)).all()
    if not rows:
        return np.empty(0, np.int64), np.empty((0, 2)), np.empty(0, bool)
    a = np.array([r[:3] for r in rows], np.float64)
    return a[:, 0].astype(np.int64), a[:, 1:3], np.array([bool(r[3]) for r in rows])


def off_court_tracks(session: Session, video_id: int) -> set[int]:
    """Tracks seen mostly off the court where their frames are mapped: benches, staff, crowd."""
    from sqlalchemy import Integer, cast, func

    p = PlayerPosition.__table__
    rows = session.execute(select(p.c.tracking_id, func.avg(cast(p.c.on_court, Integer)))
                           .where(p.c.video_id == video_id).group_by(p.c.tracking_id)).all()
    return {int(tid) for tid, share in rows if share is not None and float(share) < 0.5}


def refresh_positions(session: Session, video_id: int) -> None:
    """After the video's boxes were replaced: positions again, if its camera was followed."""
    if session.get(CameraPathRow, video_id) is not None:
        compute_positions(session, video_id)


@dataclass(frozen=True)
class Positions:
    """Court positions of a video's boxes, parallel arrays sorted by track then frame."""

    frame: np.ndarray
    tracking_id: np.ndarray
    label: np.ndarray
    xy: np.ndarray  # (N, 2) in `court.unit`
    on_court: np.ndarray
    court: CourtSpec

    def __len__(self) -> int:
        return len(self.frame)


def load_positions(session: Session, video_id: int, on_court_only: bool = True) -> Positions | None:
    """The stored positions (only on-court ones by default), or None when the video has no camera path."""
    loaded = load_path(session, video_id)
    if loaded is None:
        return None
    court = loaded[1]
    p = PlayerPosition.__table__
    q = select(p.c.frame_number, p.c.tracking_id, p.c.label, p.c.court_x, p.c.court_y, p.c.on_court).where(
        p.c.video_id == video_id)
    if on_court_only:
        q = q.where(p.c.on_court.is_(True))
    rows = session.execute(q.order_by(p.c.tracking_id, p.c.frame_number)).all()
    if not rows:
        empty = np.empty(0, np.int64)
        return Positions(empty, empty, np.empty(0, object), np.empty((0, 2)), np.empty(0, bool), court)
    return Positions(np.array([r[0] for r in rows], np.int64), np.array([r[1] for r in rows], np.int64),
                     np.array([r[2] for r in rows], object), np.array([(r[3], r[4]) for r in rows], np.float64),
                     np.array([bool(r[5]) for r in rows]), court)


@dataclass(frozen=True)
class FrameMapping:
    """The mapping in force at one frame: its homography and how it was obtained, or why there is none."""

    frame: int
    court: CourtSpec
    matrix: np.ndarray | None
    source: str | None  # keyframe, tracked, or None when unmapped
    reason: str | None

    def to_dict(self) -> dict:
        """`bball court show --json`'s object."""
        return {"frame": self.frame, "court": self.court.name, "unit": self.court.unit,
                "image_to_court": None if self.matrix is None else self.matrix.tolist(),
                "source": self.source, "reason": self.reason}


def mapping_at(session: Session, video_id: int, frame: int) -> FrameMapping:
    """The mapping of `frame` (before `follow` ran, only keyframes are mapped)."""
    video = _video(session, video_id)
    if not 0 <= frame < video.frame_count:
        raise CalibrationError(f"frame {frame} is outside video {video_id}'s frames 0..{video.frame_count - 1}")
    keys = keyframes(session, video_id)
    if not keys:
        raise NotFound(f"video {video_id} has no court calibration (run `bball court set {video_id} ...`)")
    court = next(iter(keys.values())).court
    if frame in keys:
        return FrameMapping(frame, court, keys[frame].matrix, "keyframe", None)
    loaded = load_path(session, video_id)
    if loaded is None or loaded[0].frames != video.frame_count:
        return FrameMapping(frame, court, None, None, f"the camera is not followed yet: run `bball court follow "
                                                      f"{video_id}`")
    path = loaded[0]
    m = path.at(frame)
    if m is None:
        return FrameMapping(frame, court, None, None, path.reason(frame))
    return FrameMapping(frame, court, m, SOURCE_NAMES[int(path.source[frame])], None)


def coverage(session: Session, video_id: int) -> dict[int, float]:
    """Per track: the share of its boxes whose frame is mapped (stats say how much of each track they cover)."""
    loaded = load_path(session, video_id)
    t = PlayerDetection.__table__
    rows = session.execute(select(t.c.tracking_id, t.c.frame_number).where(t.c.video_id == video_id)).all()
    if not rows:
        return {}
    a = np.array(rows, np.int64)
    mapped = np.zeros(len(a), bool)
    if loaded is not None:
        path = loaded[0]
        inside = a[:, 1] < path.frames
        mapped[inside] = path.source[a[inside, 1]] != UNMAPPED
    out = {}
    for tid in np.unique(a[:, 0]):
        sel = a[:, 0] == tid
        out[int(tid)] = float(mapped[sel].mean())
    return out
