"""Tracks of a stored video: streamed one at a time from `player_detections`, teamed by jersey colour, and
kept in the `tracks` table (manual team overrides survive a re-run).

Every function takes the caller's `Session` and does not commit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..db.analytics import Track
from ..db.models import PlayerDetection, Video, utcnow
from ..exceptions import AnalyticsError, NotFound
from .teams import OTHER, TEAM_NAMES, TeamSplit, lab_to_hex, split_teams, torso_colour

SAMPLES_PER_TRACK = 12
STREAM_ROWS = 20_000


@dataclass(frozen=True)
class TrackRows:
    """One track's stored boxes in frame order."""

    tracking_id: int
    label: str
    frames: np.ndarray
    xyxy: np.ndarray


def _table():
    return PlayerDetection.__table__


def require_detections(session: Session, video_id: int) -> Video:
    """The video, or one clear error when it is unknown or has no stored detections."""
    video = session.get(Video, video_id)
    if video is None:
        raise NotFound(f"no video with id {video_id} (see `bball video list`)")
    t = _table()
    if session.execute(select(t.c.id).where(t.c.video_id == video_id).limit(1)).first() is None:
        raise AnalyticsError(f"video {video_id} has no detections yet: run `bball analyze {video_id}` or import "
                             "a cloud job first")
    return video


def iter_tracks(session: Session, video_id: int, labels: tuple[str, ...] | None = None,
                exclude: tuple[str, ...] = ()) -> Iterator[TrackRows]:
    """Each track's boxes, one track at a time, so memory holds the longest track, not the video."""
    t = _table()
    q = (select(t.c.tracking_id, t.c.frame_number, t.c.bbox_x, t.c.bbox_y, t.c.bbox_width, t.c.bbox_height,
                t.c.label)
         .where(t.c.video_id == video_id, t.c.tracking_id >= 0))
    if labels:
        q = q.where(t.c.label.in_(labels))
    if exclude:
        q = q.where(t.c.label.not_in(exclude))
    q = q.order_by(t.c.tracking_id, t.c.frame_number)
    current, parts, label = None, [], None
    result = session.execute(q.execution_options(yield_per=STREAM_ROWS))
    for chunk in result.partitions():
        columns = list(zip(*chunk))  # one pass of C-level transposition instead of a list per row
        arr = np.array(columns[:6], dtype=np.float64).T
        names = columns[6]
        ids = arr[:, 0].astype(np.int64)
        bounds = np.flatnonzero(np.diff(ids)) + 1
        for a, b in zip([0, *bounds.tolist()], [*bounds.tolist(), len(ids)]):
            tid = int(ids[a])
            if current is not None and tid != current:
                yield _rows(current, label, parts)
                parts = []
            current, label = tid, names[a]
            parts.append(arr[a:b])
    if current is not None:
        yield _rows(current, label, parts)


def _rows(tid: int, label: str, parts: list[np.ndarray]) -> TrackRows:
    arr = np.concatenate(parts)
    xyxy = np.c_[arr[:, 2], arr[:, 3], arr[:, 2] + arr[:, 4], arr[:, 3] + arr[:, 5]]
    return TrackRows(tid, label or "player", arr[:, 1].astype(np.int64), xyxy)


@dataclass(frozen=True)
class TeamReport:
    """What `assign_teams` found: the split, the stored rows, and each team's size and colour."""

    split: TeamSplit
    tracks: list[Track]
    off_court: frozenset[int] = frozenset()  # tracks seen mostly off the court: no team

    def sizes(self) -> dict[str, int]:
        """Tracks per team (unassigned under "unassigned", the bench and crowd under "off court")."""
        return dict(Counter(t.team or ("off court" if t.tracking_id in self.off_court else "unassigned")
                            for t in self.tracks))


def assign_teams(session: Session, video_id: int, samples: int = SAMPLES_PER_TRACK) -> TeamReport:
    """Sample each track's torso colour from the video, split into teams, and store the `tracks` rows.

    With a followed camera, tracks seen mostly off the court (benches, staff, crowd) are left out of the split
    and get no team."""
    from ..video import frames_at
    from .positions import off_court_tracks

    video = require_detections(session, video_id)
    if not Path(video.path).is_file():
        raise AnalyticsError(f"video {video_id}'s file is gone ({video.path}): teams need its pixels")
    extents: dict[int, tuple[str, int, int, int]] = {}
    wanted: dict[int, list[tuple[int, np.ndarray]]] = {}
    off = frozenset(off_court_tracks(session, video_id))
    for track in iter_tracks(session, video_id, exclude=("ball",)):
        extents[track.tracking_id] = (track.label, len(track.frames), int(track.frames[0]), int(track.frames[-1]))
        if track.tracking_id in off:
            continue
        pick = np.unique(np.linspace(0, len(track.frames) - 1, min(samples, len(track.frames))).astype(int))
        for i in pick:
            wanted.setdefault(int(track.frames[i]), []).append((track.tracking_id, track.xyxy[i]))
    colours: dict[int, list[np.ndarray]] = {tid: [] for tid in extents if tid not in off}
    for frame in frames_at(video.path, wanted):
        for tid, box in wanted.get(frame.index, ()):
            colour = torso_colour(frame.image, box)
            if colour is not None:
                colours[tid].append(colour)
    medians = {tid: (np.median(np.stack(c), axis=0) if c else None) for tid, c in colours.items()}
    split = split_teams(medians, {tid: extents[tid][1] for tid in medians}, {tid: extents[tid][0] for tid in medians})
    manual = {t.tracking_id: t.team for t in session.execute(
        select(Track).where(Track.video_id == video_id, Track.team_source == "manual")).scalars()}
    session.execute(delete(Track).where(Track.video_id == video_id))
    rows = []
    for tid, (label, seen, first, last) in sorted(extents.items()):
        colour = medians.get(tid)
        row = Track(video_id=video_id, tracking_id=tid, label=label, frames_seen=seen, first_frame=first,
                    last_frame=last, color=lab_to_hex(colour) if colour is not None else None,
                    team=manual.get(tid, None if tid in off else split.teams.get(tid)),
                    team_source="manual" if tid in manual else "auto", updated_at=utcnow())
        session.add(row)
        rows.append(row)
    session.flush()
    return TeamReport(split, rows, off)


def list_tracks(session: Session, video_id: int) -> list[Track]:
    """The stored `tracks` rows of a video, by track id."""
    return list(session.execute(select(Track).where(Track.video_id == video_id)
                                .order_by(Track.tracking_id)).scalars())


def set_team(session: Session, video_id: int, tracking_id: int, team: str) -> Track:
    """Override one track's team (A, B or other); kept across later `assign_teams` runs."""
    team = team.strip()
    names = {n.lower(): n for n in TEAM_NAMES}
    if team.lower() not in names:
        raise AnalyticsError(f"unknown team {team[:20]!r}: choose one of {', '.join(TEAM_NAMES)}")
    require_detections(session, video_id)
    row = session.get(Track, (video_id, tracking_id))
    if row is None:
        t = _table()
        stats = session.execute(select(func.count(), func.min(t.c.frame_number), func.max(t.c.frame_number),
                                       func.min(t.c.label))
                                .where(t.c.video_id == video_id, t.c.tracking_id == tracking_id)).one()
        if not stats[0]:
            raise NotFound(f"video {video_id} has no track {tracking_id} (see `bball teams {video_id}`)")
        row = Track(video_id=video_id, tracking_id=tracking_id, label=stats[3] or "player", frames_seen=stats[0],
                    first_frame=stats[1], last_frame=stats[2])
        session.add(row)
    row.team, row.team_source, row.updated_at = names[team.lower()], "manual", utcnow()
    session.flush()
    return row


def team_of(session: Session, video_id: int) -> dict[int, str | None]:
    """Track id -> team for a video (empty when teams were never assigned)."""
    return {t.tracking_id: t.team for t in list_tracks(session, video_id)}


__all__ = ["OTHER", "TeamReport", "TrackRows", "assign_teams", "iter_tracks", "list_tracks", "require_detections",
           "set_team", "team_of"]
