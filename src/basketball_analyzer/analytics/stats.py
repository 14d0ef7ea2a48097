"""`video_stats`: per track and per team, time on screen, distance, average and top speed, possession.

Streams the stored boxes one track at a time (and, for possession, a chunk of frames at a time), so a
two-hour game's two million rows fit in the memory of its longest track. Each stored frame counts for the
video frames it stands for (`results.runs.stored_run`: the run's recorded sample interval), so a run that
kept every third frame reports the same seconds as one that kept them all.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import PlayerDetection
from ..results.runs import StoredRun, stored_run
from .positions import keyframes, load_path, off_court_tracks, track_positions
from .motion import MAX_SPEED_METRES, MIN_STEP_METRES, track_motion
from .possession import BALL_LABEL, PossessionTracker, best_ball
from .teams import REFEREE_LABELS
from .tracks import STREAM_ROWS, iter_tracks, require_detections, team_of


@dataclass
class TrackStats:
    """One track's numbers; distance in `unit`, speeds in `unit`/s, possession in seconds and share."""

    tracking_id: int
    label: str
    team: str | None
    seconds: float
    distance: float
    avg_speed: float
    top_speed: float
    possession_seconds: float | None = None
    possession_share: float | None = None
    mapped: float | None = None  # share of the track's boxes in frames the followed camera maps (None: no court)


@dataclass
class TeamStats:
    """A team's totals: tracks, summed time and distance, mean of its players' average speeds, top speed."""

    team: str
    tracks: int
    seconds: float
    distance: float
    avg_speed: float
    top_speed: float
    possession_share: float | None = None


@dataclass
class PlayerStats:
    """One player's numbers over all his tracks (players/joining.py): summed time, distance and possession,
    average speed weighted by time, top speed the best of his tracks."""

    player: int
    team: str | None
    number: str | None
    name: str | None
    tracks: list[int]
    seconds: float
    distance: float
    avg_speed: float
    top_speed: float
    possession_seconds: float | None = None
    possession_share: float | None = None


@dataclass
class StatsReport:
    """Everything `bball stats` prints."""

    video_id: int
    unit: str  # m, ft or px
    calibrated: bool
    possession: bool
    tracks: list[TrackStats] = field(default_factory=list)
    teams: list[TeamStats] = field(default_factory=list)
    players: list[PlayerStats] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)


def video_stats(session: Session, video_id: int) -> StatsReport:
    """Compute the stats of a video with stored detections (and its calibration and ball, when present)."""
    video = require_detections(session, video_id)
    loaded = load_path(session, video_id)
    court = loaded[1] if loaded else None
    teams = team_of(session, video_id)
    unit = court.unit if court else "px"
    report = StatsReport(video_id, unit, court is not None, False)
    if court is None and keyframes(session, video_id):
        report.notes.append("the court is calibrated but the camera is not followed yet: distances and speeds "
                            f"are in pixels (run `bball court follow {video_id}`)")
    elif court is None:
        report.notes.append("no court calibration: distances and speeds are in pixels "
                            f"(run `bball court set {video_id}` for metres or feet)")
    off = off_court_tracks(session, video_id) if court else set()
    if off:
        report.notes.append(f"{len(off)} tracks seen off the court (benches, staff, crowd) are left out")
    if not teams:
        report.notes.append(f"no teams yet (run `bball teams {video_id}`)")
    fps = video.fps or 30.0
    run = stored_run(session, video_id)
    interval = run.sample_interval
    for track in iter_tracks(session, video_id, exclude=(BALL_LABEL,)):
        if track.tracking_id in off:
            continue
        x1, y1, x2, y2 = track.xyxy.T
        mapped = None
        if court is not None:  # court positions, computed once (analytics/positions.py), on the court only
            frames, points, inside = track_positions(session, video_id, track.tracking_id)
            mapped = len(frames) / len(track.frames)
            frames, points = frames[inside], points[inside]
            min_step, max_speed = MIN_STEP_METRES / court.metres_per_unit, MAX_SPEED_METRES / court.metres_per_unit
        else:  # pixels: a player is about 2 m tall, so his box height is about 2 m
            height = float(np.median(y2 - y1))
            frames, points = track.frames, np.c_[(x1 + x2) / 2, y2]
            min_step, max_speed = 0.1 * height, MAX_SPEED_METRES / 2.0 * height
        m = track_motion(frames, points, fps, frame_step=interval, min_step=min_step, max_speed=max_speed)
        seconds = len(track.frames) * run.frame_seconds(fps)  # on screen, mapped or not
        report.tracks.append(TrackStats(track.tracking_id, track.label, teams.get(track.tracking_id), seconds,
                                        m.distance, m.avg_speed, m.top_speed, mapped=mapped))
    report.possession = _possession(session, video_id, fps, run, report)
    if not report.possession:
        report.notes.append("possession needs the ball: run SAM 3 with `--prompt basketball` as well")
    report.teams = _team_totals(report)
    report.players = _player_totals(session, video_id, report)
    if not report.players:
        report.notes.append(f"no players yet: run `bball players {video_id}` for stats per player")
    return report


def _player_totals(session: Session, video_id: int, report: StatsReport) -> list[PlayerStats]:
    from ..players.store import list_players

    by_track = {r.tracking_id: r for r in report.tracks}
    out = []
    for p in list_players(session, video_id):
        rows = [by_track[t] for t in p.tracks if t in by_track]
        if not rows:
            continue
        seconds = sum(r.seconds for r in rows)
        avg = sum(r.avg_speed * r.seconds for r in rows) / seconds if seconds else 0.0
        held = [r.possession_seconds for r in rows if r.possession_seconds is not None]
        share = [r.possession_share for r in rows if r.possession_share is not None]
        out.append(PlayerStats(p.player, p.team, p.number, p.name, [r.tracking_id for r in rows], seconds,
                               sum(r.distance for r in rows), avg, max(r.top_speed for r in rows),
                               sum(held) if report.possession else None, sum(share) if report.possession else None))
    return out


def _possession(session: Session, video_id: int, fps: float, run: StoredRun, report: StatsReport) -> bool:
    t = PlayerDetection.__table__
    if session.execute(select(t.c.id).where(t.c.video_id == video_id, t.c.label == BALL_LABEL).limit(1)).first() \
            is None:
        return False
    tracker = PossessionTracker(fps=fps, sample_interval=run.sample_interval)
    for frame, ids, boxes, labels, conf in _frames(session, video_id):
        ball = labels == BALL_LABEL
        people = ~ball & ~np.isin(labels, list(REFEREE_LABELS)) & (ids >= 0)
        tracker.update(frame, best_ball(boxes[ball], conf[ball]), ids[people], boxes[people])
    total = sum(tracker.frames.values())
    for row in report.tracks:
        held = tracker.frames.get(row.tracking_id, 0)
        row.possession_seconds = held * run.frame_seconds(fps)
        row.possession_share = held / total if total else 0.0
    return True


def _frames(session: Session, video_id: int):
    """(frame, ids, xyxy, labels, confidence) per frame in order, streamed in chunks."""
    t = PlayerDetection.__table__
    q = (select(t.c.frame_number, t.c.tracking_id, t.c.bbox_x, t.c.bbox_y, t.c.bbox_width, t.c.bbox_height,
                t.c.confidence_score, t.c.label)
         .where(t.c.video_id == video_id).order_by(t.c.frame_number, t.c.tracking_id))
    carry: list = []
    for chunk in session.execute(q.execution_options(yield_per=STREAM_ROWS)).partitions():
        rows = carry + list(chunk)
        last = rows[-1][0]
        done = [r for r in rows if r[0] != last]
        carry = [r for r in rows if r[0] == last]
        yield from _group(done)
    yield from _group(carry)


def _group(rows: list):
    if not rows:
        return
    arr = np.array([r[:7] for r in rows], np.float64)
    labels = np.array([r[7] for r in rows], dtype=object)
    frames = arr[:, 0].astype(np.int64)
    bounds = np.flatnonzero(np.diff(frames)) + 1
    for a, b in zip([0, *bounds.tolist()], [*bounds.tolist(), len(frames)]):
        x, y, w, h = arr[a:b, 2], arr[a:b, 3], arr[a:b, 4], arr[a:b, 5]
        yield int(frames[a]), arr[a:b, 1].astype(np.int64), np.c_[x, y, x + w, y + h], labels[a:b], arr[a:b, 6]


def _team_totals(report: StatsReport) -> list[TeamStats]:
    groups: dict[str, list[TrackStats]] = defaultdict(list)
    for row in report.tracks:
        if row.team:
            groups[row.team].append(row)
    out = []
    for team in sorted(groups):
        rows = groups[team]
        share = None
        if report.possession:
            share = float(sum(r.possession_share or 0.0 for r in rows))
        out.append(TeamStats(team, len(rows), sum(r.seconds for r in rows), sum(r.distance for r in rows),
                             float(np.mean([r.avg_speed for r in rows])), max(r.top_speed for r in rows), share))
    return out
