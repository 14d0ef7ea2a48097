"""What a person fixes about players: merge players, split a track off, set a player's team, number or name.

Each edit pins the players it touches (`source = manual` on the player and on his tracks): a later automatic
run (`identify_players`) keeps their tracks together and their fields as set, as `bball teams set` does for
teams. Every refusal is one line and changes nothing. Functions take the caller's `Session` and do not commit.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..analytics.teams import TEAM_NAMES
from ..db.models import utcnow
from ..db.players import Player, TrackPlayer
from ..exceptions import NotFound, PlayersError
from .store import MANUAL, PlayerInfo, list_players

MAX_NAME = 80


def normalise_number(number: str) -> str:
    """A jersey number as stored ("0".."99" and "00"), or one clear error."""
    text = str(number).strip().lstrip("#")
    if not (text.isdigit() and text.isascii() and 1 <= len(text) <= 2):
        raise PlayersError(f"jersey number {str(number)[:10]!r} is not 0-99 (or 00)")
    return text


def normalise_team(team: str) -> str:
    """A team name as stored (A, B or other), or one clear error."""
    names = {n.lower(): n for n in TEAM_NAMES}
    key = str(team).strip().lower()
    if key not in names:
        raise PlayersError(f"unknown team {str(team)[:20]!r}: choose one of {', '.join(TEAM_NAMES)}")
    return names[key]


def _player(session: Session, video_id: int, player_id: int) -> Player:
    row = session.get(Player, (video_id, player_id))
    if row is None:
        raise NotFound(f"video {video_id} has no player {player_id} (see `bball players {video_id}`)")
    return row


def _tracks(session: Session, video_id: int, player_id: int) -> list[TrackPlayer]:
    return list(session.execute(select(TrackPlayer).where(TrackPlayer.video_id == video_id,
                                                          TrackPlayer.player_id == player_id)).scalars())


def _require_players(session: Session, video_id: int) -> None:
    if session.execute(select(func.count()).select_from(Player).where(Player.video_id == video_id)).scalar_one() == 0:
        raise PlayersError(f"video {video_id} has no players yet: run `bball players {video_id}` first")


def _pin(player: Player, tracks: list[TrackPlayer]) -> None:
    player.source, player.updated_at = MANUAL, utcnow()
    for t in tracks:
        t.source = MANUAL


def _info(session: Session, video_id: int, player_id: int) -> PlayerInfo:
    return next(p for p in list_players(session, video_id) if p.player == player_id)


def merge_players(session: Session, video_id: int, player_ids: list[int]) -> PlayerInfo:
    """Join the players into the first one; refused when two of their tracks overlap in time (one person is in
    one place) or when they are on different teams."""
    _require_players(session, video_id)
    ids = list(dict.fromkeys(player_ids))
    if len(ids) < 2:
        raise PlayersError("name at least two different players to merge")
    players = [_player(session, video_id, pid) for pid in ids]
    teams = {p.team for p in players if p.team is not None}
    if len(teams) > 1:
        listed = ", ".join(f"{p.player_id} ({p.team})" for p in players if p.team)
        raise PlayersError(f"players {listed} are on different teams: set one's team first with "
                           f"`bball players set {video_id} PLAYER --team T`")
    tracks = [t for pid in ids for t in _tracks(session, video_id, pid)]
    for i, a in enumerate(tracks):
        for b in tracks[i + 1:]:
            if a.player_id != b.player_id and a.first_frame <= b.last_frame and b.first_frame <= a.last_frame:
                raise PlayersError(f"tracks {a.tracking_id} (player {a.player_id}) and {b.tracking_id} (player "
                                   f"{b.player_id}) overlap in time (frames {max(a.first_frame, b.first_frame)}-"
                                   f"{min(a.last_frame, b.last_frame)}): one person cannot be in two places")
    keep = players[0]
    keep.team = keep.team or next(iter(teams), None)
    keep.number = keep.number or next((p.number for p in players if p.number), None)
    keep.name = keep.name or next((p.name for p in players if p.name), None)
    for t in tracks:
        t.player_id = keep.player_id
    for p in players[1:]:
        session.delete(p)
    _pin(keep, tracks)
    session.flush()
    return _info(session, video_id, keep.player_id)


def split_track(session: Session, video_id: int, tracking_id: int) -> tuple[PlayerInfo, PlayerInfo]:
    """Take one track out of its player into a new player; both are pinned, so no later run rejoins them."""
    _require_players(session, video_id)
    row = session.get(TrackPlayer, (video_id, tracking_id))
    if row is None:
        raise NotFound(f"video {video_id} has no track {tracking_id} in its players (see `bball players {video_id}`)")
    old = _player(session, video_id, row.player_id)
    rest = [t for t in _tracks(session, video_id, old.player_id) if t.tracking_id != tracking_id]
    if not rest:
        raise PlayersError(f"track {tracking_id} is player {old.player_id}'s only track: nothing to split off")
    new_id = (session.execute(select(func.max(Player.player_id)).where(Player.video_id == video_id)).scalar_one()
              or 0) + 1
    new = Player(video_id=video_id, player_id=new_id, team=old.team, number=None, name=None)
    session.add(new)
    row.player_id = new_id
    _pin(old, rest)
    _pin(new, [row])
    session.flush()
    return _info(session, video_id, old.player_id), _info(session, video_id, new_id)


def set_player(session: Session, video_id: int, player_id: int, team: str | None = None, number: str | None = None,
               name: str | None = None) -> PlayerInfo:
    """Set a player's team, jersey number and/or name (an empty number or name clears it)."""
    _require_players(session, video_id)
    player = _player(session, video_id, player_id)
    if team is None and number is None and name is None:
        raise PlayersError("nothing to set: give --team, --number or --name")
    new_team = normalise_team(team) if team is not None else player.team
    new_number = (normalise_number(number) if number.strip() else None) if number is not None else player.number
    if name is not None:
        name = name.strip()
        if len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
            raise PlayersError(f"a name is at most {MAX_NAME} printable characters")
    if new_number is not None and new_team is not None:
        mine = _tracks(session, video_id, player_id)
        for other in session.execute(select(Player).where(Player.video_id == video_id, Player.team == new_team,
                                                          Player.number == new_number,
                                                          Player.player_id != player_id)).scalars():
            theirs = _tracks(session, video_id, other.player_id)
            overlap = any(a.first_frame <= b.last_frame and b.first_frame <= a.last_frame for a in mine for b in theirs)
            how = "at the same time" if overlap else f"already: merge them with `bball players merge {video_id} " \
                                                    f"{other.player_id} {player_id}`"
            raise PlayersError(f"player {other.player_id} of team {new_team} wears {new_number} {how}")
    player.team, player.number = new_team, new_number
    if name is not None:
        player.name = name or None
    _pin(player, _tracks(session, video_id, player_id))
    session.flush()
    return _info(session, video_id, player_id)


__all__ = ["merge_players", "normalise_number", "normalise_team", "set_player", "split_track"]
