"""The players routes: a video's players (tracks joined into one id per person, players/store.py) for the viewer,
merging, splitting and setting them from the page (players/edit.py, as `bball players merge/split/set`), and one
player's heatmap over all his tracks.

Reading never identifies players: reading jersey numbers takes minutes on a game, so a video without players
answers an empty list and says which command makes them. Each write is one transaction: a refusal is a 4xx with
the library's one line and nothing is written.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from ..db import transaction
from ..detections import INT32_MAX
from ..exceptions import NotFound, PlayersError

router = APIRouter()

VideoId = Annotated[int, Path(ge=1, le=INT32_MAX, description="a registered video's id")]
PlayerId = Annotated[int, Path(ge=1, le=INT32_MAX, description="a player id of the video")]
MAX_MERGE = 100
"""Players one merge may name (a person split into a hundred tracks is already a lot to check by eye)."""


class MergeRequest(BaseModel):
    """The players to join into one: the first one's id is kept."""

    model_config = ConfigDict(strict=True, extra="forbid")

    players: list[Annotated[int, Field(ge=1, le=INT32_MAX)]] = Field(max_length=MAX_MERGE)


class SplitRequest(BaseModel):
    """The track to take out of its player into a player of its own."""

    model_config = ConfigDict(strict=True, extra="forbid")

    track: int = Field(ge=0, le=INT32_MAX)


class SetRequest(BaseModel):
    """What to set on a player; absent fields stay as they are, an empty number or name clears it."""

    model_config = ConfigDict(strict=True, extra="forbid")

    team: str | None = Field(default=None, max_length=16)
    number: str | None = Field(default=None, max_length=8)  # a string: "07" is not 7
    name: str | None = Field(default=None, max_length=200)  # the library's own limit is shorter, with its message


def _url(request: Request) -> str:
    return request.app.state.settings.database_url


def _players(session, video_id: int) -> dict:
    from ..players.store import list_players, player_of

    players = list_players(session, video_id)
    hint = None if players else (f"no players yet: run `bball players {video_id}` to read jersey numbers and join "
                                 "the tracks into players")
    return {"players": [p.to_dict() for p in players],
            "track_players": {str(t): p for t, p in sorted(player_of(session, video_id).items())}, "hint": hint}


@router.get("/videos/{video_id}/players")
def players(request: Request, video_id: VideoId) -> dict:
    """The video's players (`bball players --json` objects) and each track's player (`track_players`, track id ->
    player id); an empty list and a `hint` naming the command when players were never identified."""
    from ..videos import get_video

    with transaction(_url(request), readonly=True) as s:
        get_video(s, video_id)
        return _players(s, video_id)


@router.post("/videos/{video_id}/players/merge")
def merge(request: Request, video_id: VideoId, body: MergeRequest) -> dict:
    """Join the players into the first one (as `bball players merge`); refused when two of their tracks overlap in
    time or they are on different teams. Answers the merged player and the video's players."""
    from ..players.edit import merge_players

    with transaction(_url(request)) as s:
        kept = merge_players(s, video_id, list(body.players))
        return {"player": kept.to_dict(), **_players(s, video_id)}


@router.post("/videos/{video_id}/players/split")
def split(request: Request, video_id: VideoId, body: SplitRequest) -> dict:
    """Take a track out of its player into a new player (as `bball players split`); both are kept apart by later
    runs. Answers the two players and the video's players."""
    from ..players.edit import split_track

    with transaction(_url(request)) as s:
        old, new = split_track(s, video_id, body.track)
        return {"player": old.to_dict(), "new_player": new.to_dict(), **_players(s, video_id)}


@router.post("/videos/{video_id}/players/{player_id}")
def set_player(request: Request, video_id: VideoId, player_id: PlayerId, body: SetRequest) -> dict:
    """Set a player's team, jersey number and/or name (as `bball players set`); a number another player of the
    team wears is refused. Answers the player and the video's players."""
    from ..players.edit import set_player as set_fields

    if body.team is None and body.number is None and body.name is None:
        raise PlayersError("nothing to set: give team, number or name")
    with transaction(_url(request)) as s:
        player = set_fields(s, video_id, player_id, team=body.team, number=body.number, name=body.name)
        return {"player": player.to_dict(), **_players(s, video_id)}


@router.get("/videos/{video_id}/players/{player_id}/heatmap.png")
def player_heatmap(request: Request, video_id: VideoId, player_id: PlayerId) -> Response:
    """Where one player was on the court over all his tracks, as a heatmap PNG (needs a court calibration; frames
    the camera path leaves unmapped, and moments off the court, are left out)."""
    import numpy as np

    from ..analytics.calibration import get_calibration
    from ..analytics.pictures import player_label
    from ..analytics.positions import track_positions
    from ..players.store import list_players
    from ..videos import get_video
    from .viewer_api import heatmap_png

    with transaction(_url(request), readonly=True) as s:
        get_video(s, video_id)
        cal = get_calibration(s, video_id)
        if cal is None:
            raise NotFound(f"video {video_id} has no court calibration: run `bball court set {video_id} ...`")
        player = next((p for p in list_players(s, video_id) if p.player == player_id), None)
        if player is None:
            raise NotFound(f"video {video_id} has no player {player_id} (see `bball players {video_id}`)")
        spots = []
        for tid in player.tracks:
            _frames, xy, inside = track_positions(s, video_id, tid)
            spots.append(xy[inside])
    xy = np.concatenate(spots) if spots else np.zeros((0, 2))
    title = player_label(player) + (f" team {player.team}" if player.team else "")
    return heatmap_png(cal.court, xy, title + ("" if len(xy) else " (no mapped frames)"))
