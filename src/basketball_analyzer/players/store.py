"""Players of a stored video: numbers read on its tracks, tracks joined into players (players/joining.py), and
the `players` / `track_players` rows, with what a person set kept across automatic runs.

Numbers are read here, on the laptop, after import (players/numbers.py): it works for every detector and every
import, costs no rented GPU time, and each track's read is kept in `track_players`, so a re-run reads only
tracks that are new or changed.

Every function takes the caller's `Session` and does not commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..analytics.positions import load_path, off_court_tracks, track_positions
from ..analytics.possession import BALL_LABEL
from ..analytics.tracks import TrackRows, iter_tracks, list_tracks, require_detections
from ..db.players import Player, RosterEntry, TrackPlayer
from ..db.models import utcnow
from .joining import OVERLAP_FRAMES, JoinSettings, Pinned, PlayerGroup, TrackSummary, join_tracks

END_BOXES = 5  # a track's start and end position: the median of this many boxes (one box's foot point is noisy)
TWIN_IOU = 0.5
AUTO, MANUAL = "auto", "manual"


@dataclass(frozen=True)
class PlayerInfo:
    """One player as listed: id, team, number, name, tracks, frames seen, extent, and who set him."""

    player: int
    team: str | None
    number: str | None
    name: str | None
    tracks: list[int]
    frames: int
    first_frame: int
    last_frame: int
    source: str

    def to_dict(self) -> dict:
        """The `bball players --json` object."""
        return {"player": self.player, "team": self.team, "number": self.number, "name": self.name,
                "tracks": self.tracks, "frames": self.frames, "first_frame": self.first_frame,
                "last_frame": self.last_frame, "source": self.source}


@dataclass
class PlayersReport:
    """What `identify_players` did: the players, how many tracks were read, and notes for the user."""

    video_id: int
    players: list[PlayerInfo]
    tracks_read: int = 0
    notes: list[str] = field(default_factory=list)
    tracks_cut: int = 0  # tracks cut where they switched people (players/switches.py)
    teams: object | None = None  # analytics.tracks.TeamReport when this run assigned the teams


def _lab(hex_colour: str | None) -> tuple[float, float, float] | None:
    if not hex_colour:
        return None
    import cv2

    v = hex_colour.lstrip("#")
    pixel = np.array([[[int(v[4:6], 16), int(v[2:4], 16), int(v[0:2], 16)]]], np.uint8)
    lab = cv2.cvtColor(pixel, cv2.COLOR_BGR2LAB)[0, 0].astype(np.float64)
    return (lab[0] * 100.0 / 255.0, lab[1] - 128.0, lab[2] - 128.0)


def _ends(frames: np.ndarray, xy: np.ndarray) -> tuple[tuple[float, float] | None, tuple[float, float] | None]:
    if len(frames) == 0:
        return None, None
    head, tail = np.median(xy[:END_BOXES], axis=0), np.median(xy[-END_BOXES:], axis=0)
    return (float(head[0]), float(head[1])), (float(tail[0]), float(tail[1]))


def _summaries(session: Session, video_id: int, skip: set[int], mapped: bool) -> tuple[list[TrackRows], dict]:
    """Each joinable track (no ball, no bench or crowd) and its start/end positions and size."""
    rows, geometry = [], {}
    for track in iter_tracks(session, video_id, exclude=(BALL_LABEL,)):
        if track.tracking_id in skip:
            continue
        height = float(np.median(track.xyxy[:, 3] - track.xyxy[:, 1]))
        if mapped:  # court positions: the followed camera's, computed once
            frames, points, _ = track_positions(session, video_id, track.tracking_id)
            start, end = _ends(frames, points)
            space = "court"
        else:
            feet = np.c_[(track.xyxy[:, 0] + track.xyxy[:, 2]) / 2, track.xyxy[:, 3]]
            start, end = _ends(track.frames, feet)
            space = "image"
        geometry[track.tracking_id] = (start, end, space, height)
        rows.append(track)
    return rows, geometry


def co_presence(rows: list[TrackRows], min_frames: int = OVERLAP_FRAMES,
                min_iou: float = TWIN_IOU) -> tuple[frozenset, dict]:
    """(twins, together): pairs of tracks seen on more than `min_frames` common frames, split into one person's
    two boxes (median IoU on those frames at least `min_iou`: a detector boxed him twice, or the tracker started
    a new track while it still held the old one) and two people. Tracks whose spans overlap but whose frames do
    not (a tracker's lost track and its stand-in) are neither. `together` maps a pair to its common frames."""
    from ..detection.stitching import box_iou

    order = sorted(rows, key=lambda t: int(t.frames[0]))
    alive: list[TrackRows] = []
    twins, together = set(), {}
    for track in order:
        start = int(track.frames[0])
        alive = [a for a in alive if int(a.frames[-1]) - start >= min_frames]
        for other in alive:
            common, i, j = np.intersect1d(other.frames, track.frames, assume_unique=True, return_indices=True)
            if len(common) <= min_frames:
                continue
            ious = np.diag(box_iou(other.xyxy[i], track.xyxy[j]))
            pair = frozenset((other.tracking_id, track.tracking_id))
            if float(np.median(ious)) >= min_iou:
                twins.add(pair)
            else:
                together[pair] = len(common)
        alive.append(track)
    return frozenset(twins), together


def identify_players(session: Session, video_id: int, reader=None,
                     on_progress: Callable[[int, int], None] | None = None, read_numbers: bool = True,
                     cut_switches: bool = True, recheck_cuts: bool = False,
                     on_cut_progress: Callable[[int, int], None] | None = None) -> PlayersReport:
    """Cut tracks that switch people midway, read jersey numbers on tracks not read yet, join tracks into
    players and store them (see module doc). `on_progress(done, total)` counts the boxes read for numbers,
    `on_cut_progress(done, total)` the frames looked at for switches. Only new or changed tracks are looked
    at for switches, unless `recheck_cuts`.

    Needs the video's teams (`bball teams`): they are assigned first when none are stored, and again after a
    cut (a manual team is kept)."""
    from ..analytics.tracks import assign_teams

    video = require_detections(session, video_id)
    notes: list[str] = []
    has_file = Path(video.path).is_file()
    loaded = load_path(session, video_id)
    if loaded is None:
        notes.append("the camera is not mapped: continuity is judged in the picture, as for a camera that never "
                     f"moves (run `bball court set {video_id}` for court positions)")
    cached = {r.tracking_id: r for r in session.execute(
        select(TrackPlayer).where(TrackPlayer.video_id == video_id)).scalars()}
    born = {}
    if cut_switches and has_file:
        born = _cut_switches(session, video, {} if recheck_cuts else cached, loaded is not None,
                             on_cut_progress, pinned={tid for tid, r in cached.items() if r.source == MANUAL})
        if born:
            notes.append(f"{len(set(born.values()))} track(s) changed shirts midway (the tracker handed them from one "
                         f"person to another): cut into {len(born) + len(set(born.values()))} pieces")
    stored_tracks, team_report = list_tracks(session, video_id), None
    if has_file and (born or not any(t.team for t in stored_tracks)):
        team_report = assign_teams(session, video_id)
        stored_tracks = list_tracks(session, video_id)
    teams = {t.tracking_id: t.team for t in stored_tracks}
    colours = {t.tracking_id: _lab(t.color) for t in stored_tracks}
    off = off_court_tracks(session, video_id) if loaded else set()
    rows, geometry = _summaries(session, video_id, off, loaded is not None)
    reads: dict[int, tuple[str | None, float, int]] = {
        tid: (r.number_read, r.number_confidence or 0.0, r.number_reads) for tid, r in cached.items()}
    todo = [t for t in rows if _changed(t, cached)]
    if todo and read_numbers and has_file:
        from .numbers import read_track_numbers

        votes = read_track_numbers(video.path, todo, reader=reader, on_progress=on_progress)
        for tid, vote in votes.items():
            reads[tid] = (vote.number, float(vote.confidence), int(vote.reads))
    elif todo and read_numbers:
        notes.append(f"video {video_id}'s file is gone ({video.path}): no jersey numbers read on "
                     f"{len(todo)} new track(s)")
    pinned_tracks = {tid: r.player_id for tid, r in cached.items() if r.source == MANUAL}
    manual = {p.player_id: p for p in session.execute(
        select(Player).where(Player.video_id == video_id, Player.source == MANUAL)).scalars()}
    summaries = []
    for t in rows:
        start, end, space, height = geometry[t.tracking_id]
        number, confidence, _ = reads.get(t.tracking_id, (None, 0.0, 0))
        summaries.append(TrackSummary(
            t.tracking_id, t.label, teams.get(t.tracking_id), int(t.frames[0]), int(t.frames[-1]), len(t.frames),
            number, confidence, start, end, space, height, colours.get(t.tracking_id),
            pinned_tracks.get(t.tracking_id)))
    twins, together = co_presence(rows)
    settings = JoinSettings(fps=video.fps or 30.0, metres_per_unit=loaded[1].metres_per_unit if loaded else 1.0,
                            twins=twins, together=together)
    groups = join_tracks(summaries, settings, {pid: Pinned(p.team, p.number) for pid, p in manual.items()})
    _store(session, video_id, groups, manual, pinned_tracks, reads)
    return PlayersReport(video_id, list_players(session, video_id), len(todo) if has_file and read_numbers else 0,
                         notes, len(set(born.values())), team_report)


def _changed(track: TrackRows, cached: dict[int, TrackPlayer]) -> bool:
    """Whether a track is new or changed since players were last stored (its reads and cuts are stale)."""
    return track.tracking_id not in cached or cached[track.tracking_id].frames_seen != len(track.frames)


def _cut_switches(session: Session, video, cached: dict[int, TrackPlayer], mapped: bool,
                  on_progress: Callable[[int, int], None] | None, pinned: set[int]) -> dict[int, int]:
    """Cut the new or changed tracks whose shirt colour changes for good (players/switches.py); returns new
    track id -> the track it was cut from. Tracks a person pinned (a player edit, a team set by hand) and
    tracks off the court are left whole; `cached` tracks whose frames are unchanged were looked at before."""
    from ..db.analytics import Track
    from .switches import MIN_SECONDS, apply_cuts, track_cuts

    fps = video.fps or 30.0
    pinned = set(pinned)
    pinned |= set(session.execute(select(Track.tracking_id).where(Track.video_id == video.id,
                                                                  Track.team_source == MANUAL)).scalars())
    off = off_court_tracks(session, video.id) if mapped else set()
    tracks = [t for t in iter_tracks(session, video.id, exclude=(BALL_LABEL,))
              if t.tracking_id not in pinned and t.tracking_id not in off and _changed(t, cached)
              and int(t.frames[-1]) - int(t.frames[0]) >= 2 * MIN_SECONDS * fps]
    if not tracks:
        return {}
    cuts = track_cuts(video.path, tracks, fps, on_progress=on_progress)
    return apply_cuts(session, video.id, cuts) if cuts else {}


def _store(session: Session, video_id: int, groups: list[PlayerGroup], manual: dict[int, Player],
           pinned_tracks: dict[int, int], reads: dict) -> None:
    roster = roster_names(session, video_id)
    session.execute(delete(TrackPlayer).where(TrackPlayer.video_id == video_id))
    session.execute(delete(Player).where(Player.video_id == video_id))
    taken = {g.pinned for g in groups if g.pinned is not None}
    free = (i for i in range(1, 10 ** 9) if i not in taken)
    now = utcnow()
    for g in groups:
        pid = g.pinned if g.pinned is not None else next(free)
        person = manual.get(pid)
        team = g.team
        name = person.name if person is not None and person.name else roster.get((team, g.number))
        session.add(Player(video_id=video_id, player_id=pid, team=team, number=g.number, name=name,
                           source=MANUAL if g.pinned is not None else AUTO, updated_at=now))
        for t in g.tracks:
            number, confidence, count = reads.get(t.tracking_id, (None, None, 0))
            session.add(TrackPlayer(video_id=video_id, tracking_id=t.tracking_id, player_id=pid,
                                    frames_seen=t.frames, first_frame=t.first_frame,
                                    last_frame=t.last_frame, number_read=number,
                                    number_confidence=confidence, number_reads=count,
                                    source=MANUAL if pinned_tracks.get(t.tracking_id) == pid else AUTO))
    session.flush()


def roster_names(session: Session, video_id: int) -> dict[tuple[str, str], str]:
    """(team, number) -> name from the video's imported roster."""
    return {(r.team, r.number): r.name for r in session.execute(
        select(RosterEntry).where(RosterEntry.video_id == video_id)).scalars()}


def list_players(session: Session, video_id: int) -> list[PlayerInfo]:
    """The stored players of a video, by player id (empty when players were never identified)."""
    players = session.execute(select(Player).where(Player.video_id == video_id)
                              .order_by(Player.player_id)).scalars().all()
    tracks: dict[int, list[TrackPlayer]] = {}
    for row in session.execute(select(TrackPlayer).where(TrackPlayer.video_id == video_id)
                               .order_by(TrackPlayer.tracking_id)).scalars():
        tracks.setdefault(row.player_id, []).append(row)
    out = []
    for p in players:
        rows = tracks.get(p.player_id, [])
        out.append(PlayerInfo(p.player_id, p.team, p.number, p.name, [r.tracking_id for r in rows],
                              sum(r.frames_seen for r in rows), min((r.first_frame for r in rows), default=-1),
                              max((r.last_frame for r in rows), default=-1), p.source))
    return out


def needs_identify(session: Session, video_id: int) -> bool:
    """Whether the stored players are missing or stale: a joinable track is new, gone or changed since."""
    from sqlalchemy import func

    from ..db.models import PlayerDetection

    require_detections(session, video_id)
    stored = dict(session.execute(select(TrackPlayer.tracking_id, TrackPlayer.frames_seen)
                                  .where(TrackPlayer.video_id == video_id)).all())
    if not stored:
        return True
    t = PlayerDetection.__table__
    now = dict(session.execute(select(t.c.tracking_id, func.count())
                               .where(t.c.video_id == video_id, t.c.tracking_id >= 0, t.c.label != BALL_LABEL)
                               .group_by(t.c.tracking_id)).all())
    off = off_court_tracks(session, video_id) if load_path(session, video_id) else set()
    return {k: v for k, v in now.items() if k not in off} != stored


def player_of(session: Session, video_id: int) -> dict[int, int]:
    """Track id -> player id (empty when players were never identified)."""
    return dict(session.execute(select(TrackPlayer.tracking_id, TrackPlayer.player_id)
                                .where(TrackPlayer.video_id == video_id)).all())


__all__ = ["PlayerInfo", "PlayersReport", "identify_players", "list_players", "needs_identify", "player_of",
           "roster_names"]
