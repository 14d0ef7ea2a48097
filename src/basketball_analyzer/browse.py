"""Read-side queries the web app shows: video summaries and stored boxes by frame range, compact.

Every function takes the caller's `Session` and does not commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .db.analytics import CourtCalibration, PlayerPosition, Track
from .db.models import DetectionJob, PlayerDetection, Video
from .exceptions import BballError, NotFound
from .videos import video_timing

MAX_FRAME_RANGE = 3000
"""Frames one detections request may cover (100 s at 30 fps): a two-hour game streams in chunks."""


class RangeError(BballError):
    """A frame range outside the video or wider than one request may ask for."""


@dataclass(frozen=True)
class VideoSummary:
    """A video's row with what the viewer shows beside it: boxes stored, tracks, teams, latest job."""

    id: int
    file_name: str
    frame_count: int
    fps: float
    width: int
    height: int
    duration: float
    detections: int
    tracks: int
    teams: bool
    calibrated: bool
    latest_job: dict | None
    timing: dict  # videos.Timing: how the browser maps a presentation time to frame N

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return dict(self.__dict__)


def summaries(session: Session, video_ids: list[int] | None = None, counts: bool = True,
              times: bool = False) -> list[VideoSummary]:
    """Summaries of the given videos (all when None), by id; counts in two grouped queries.

    A variable-rate video's every frame time (`timing.times`, 8 bytes a frame) comes only with `times=True`.

    Counting a two-hour game's boxes takes about a second; `counts=False` skips it (the counts read -1) for
    the viewer, which needs only the video's size and rate to start playing.
    """
    t = PlayerDetection.__table__
    q = select(Video).order_by(Video.id)
    if video_ids is not None:
        q = q.where(Video.id.in_(video_ids))
    videos = list(session.execute(q).scalars())
    ids = [v.id for v in videos]
    if not ids:
        return []
    boxes: dict[int, int] = {}
    tracks: dict[int, int] = {}
    if counts:
        boxes = dict(session.execute(select(t.c.video_id, func.count()).where(t.c.video_id.in_(ids))
                                     .group_by(t.c.video_id)).all())
        tracks = dict(session.execute(select(t.c.video_id, func.count(func.distinct(t.c.tracking_id)))
                                      .where(t.c.video_id.in_(ids), t.c.tracking_id >= 0)
                                      .group_by(t.c.video_id)).all())
    teamed = set(session.execute(select(Track.video_id).where(Track.video_id.in_(ids), Track.team.is_not(None))
                                 .distinct()).scalars())
    calibrated = set(session.execute(select(CourtCalibration.video_id)
                                     .where(CourtCalibration.video_id.in_(ids))).scalars())
    latest: dict[int, dict] = {}
    for job in session.execute(select(DetectionJob).where(DetectionJob.video_id.in_(ids))
                               .order_by(DetectionJob.id)).scalars():
        latest[job.video_id] = {"id": job.id, "status": job.status, "progress": round(job.progress or 0.0, 4)}
    return [VideoSummary(v.id, v.file_name, v.frame_count, v.fps, v.width, v.height, v.duration,
                         int(boxes.get(v.id, 0)) if counts else -1, int(tracks.get(v.id, 0)) if counts else -1,
                         v.id in teamed, v.id in calibrated,
                         latest.get(v.id), _timing(v, times)) for v in videos]


def _timing(video: Video, times: bool) -> dict:
    timing = video_timing(video).to_dict()
    if not times:
        timing["times"] = None
    return timing


def summary(session: Session, video_id: int, counts: bool = True) -> VideoSummary:
    """One video's summary, or `NotFound`."""
    found = summaries(session, [video_id], counts, times=True)
    if not found:
        raise NotFound(f"no video with id {video_id}")
    return found[0]


def detections_in_range(session: Session, video_id: int, start: int, end: int) -> dict:
    """Boxes of frames start..end-1 as parallel arrays (frame, id, x, y, w, h, confidence, label index), with
    each box's court position and whether it is on the court (`court_x`, `court_y`, `on_court`: null where the
    frame is unmapped or the camera was never followed), read from `player_positions`.

    Labels are sent once (`labels`) and referenced by index, so a frame of ten players costs about 450 bytes.
    """
    video = session.get(Video, video_id)
    if video is None:
        raise NotFound(f"no video with id {video_id}")
    if start < 0 or end <= start or start >= video.frame_count:
        raise RangeError(f"frame range {start}..{end} is outside video {video_id}'s frames 0..{video.frame_count - 1}")
    if end - start > MAX_FRAME_RANGE:
        raise RangeError(f"frame range {start}..{end} covers {end - start} frames; ask for at most "
                         f"{MAX_FRAME_RANGE} at a time")
    t, p = PlayerDetection.__table__, PlayerPosition.__table__
    # Positions are computed once (analytics/positions.py); the viewer and its minimap only read them.
    rows = session.execute(
        select(t.c.frame_number, t.c.tracking_id, t.c.bbox_x, t.c.bbox_y, t.c.bbox_width, t.c.bbox_height,
               t.c.confidence_score, t.c.label, p.c.court_x, p.c.court_y, p.c.on_court)
        .select_from(t.outerjoin(p, p.c.detection_id == t.c.id))
        .where(t.c.video_id == video_id, t.c.frame_number >= start, t.c.frame_number < end)
        .order_by(t.c.frame_number, t.c.tracking_id)).all()
    labels: dict[str, int] = {}
    out: dict = {"video_id": video_id, "start": start, "end": min(end, video.frame_count), "frame": [], "id": [],
                 "x": [], "y": [], "w": [], "h": [], "confidence": [], "label": [], "court_x": [], "court_y": [],
                 "on_court": []}
    for frame, tid, x, y, w, h, conf, label, cx, cy, inside in rows:
        out["frame"].append(frame)
        out["id"].append(tid)
        out["x"].append(round(x, 1))
        out["y"].append(round(y, 1))
        out["w"].append(round(w, 1))
        out["h"].append(round(h, 1))
        out["confidence"].append(round(conf, 3))
        out["label"].append(labels.setdefault(label or "player", len(labels)))
        out["court_x"].append(None if cx is None else round(cx, 2))
        out["court_y"].append(None if cy is None else round(cy, 2))
        out["on_court"].append(None if inside is None else bool(inside))
    out["labels"] = list(labels)
    return out
