"""`bball players` (list, merge, split, set) and `bball roster import`: who is who."""

from __future__ import annotations

import click

from .analytics import _DefaultGroup, _video_id
from .common import BballGroup


def _print_players(title: str, players, as_json: bool) -> None:
    from .common import print_json, print_table

    if as_json:
        print_json([p.to_dict() for p in players])
        return
    print_table(title, ["player", "team", "number", "name", "tracks", "frames", "first", "last", "set by"],
                [(p.player, p.team or "", p.number or "", p.name or "", " ".join(map(str, p.tracks)), p.frames,
                  p.first_frame, p.last_frame, p.source) for p in players])


@click.group("players", cls=_DefaultGroup)
def players() -> None:
    """Join tracks into players by jersey number and continuity: `bball players VIDEO`; fix them with
    `players merge`, `players split` and `players set`."""


@players.command("show", hidden=True)
@click.argument("video")
@click.option("--refresh", is_flag=True, help="Look for switched tracks and join the tracks again even when "
              "players are stored (numbers already read are kept).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of players instead of a table.")
@click.option("--no-cut", is_flag=True, help="Leave tracks whole even where the tracker handed one from a "
              "player to another (their shirt colour changes midway): tracking ids stay as imported.")
def players_show(video: str, refresh: bool, as_json: bool, no_cut: bool) -> None:
    """List VIDEO's players; the first time (or with --refresh, or after new tracks were imported) cut the
    tracks that switch people midway, read jersey numbers on its tracks and join them into players."""
    from ..db import transaction
    from ..players.store import identify_players, list_players, needs_identify
    from .common import progress_bar

    with transaction() as s:
        video_id = _video_id(s, video)
        notes: list[str] = []
        if refresh or needs_identify(s, video_id):
            cutting = "Looking for tracks that switch people"
            with progress_bar(cutting, unit="frames") as update:
                report = identify_players(
                    s, video_id, cut_switches=not no_cut, recheck_cuts=refresh,
                    on_cut_progress=lambda done, total: update(done, total, cutting),
                    on_progress=lambda done, total: update(done, total, "Reading jersey numbers"))
            found, notes = report.players, report.notes
        else:
            found = list_players(s, video_id)
    _print_players(f"Players of video {video_id}", found, as_json)
    if not as_json:
        numbered = sum(1 for p in found if p.number)
        click.echo(f"{len(found)} players from {sum(len(p.tracks) for p in found)} tracks; {numbered} with a "
                   "jersey number.")
        for note in notes:
            click.echo(f"Note: {note}.")


@players.command("merge")
@click.argument("video")
@click.argument("player_ids", nargs=-1, type=int, required=True)
def players_merge(video: str, player_ids: tuple[int, ...]) -> None:
    """Make PLAYER_IDS of VIDEO one player (the first one's id); later runs keep it."""
    from ..db import transaction
    from ..players.edit import merge_players

    with transaction() as s:
        p = merge_players(s, _video_id(s, video), list(player_ids))
    click.echo(f"Player {p.player} now holds tracks {' '.join(map(str, p.tracks))} ({p.frames} frames).")


@players.command("split")
@click.argument("video")
@click.argument("track", type=int)
def players_split(video: str, track: int) -> None:
    """Take TRACK of VIDEO out of its player into a player of its own; later runs keep them apart."""
    from ..db import transaction
    from ..players.edit import split_track

    with transaction() as s:
        old, new = split_track(s, _video_id(s, video), track)
    click.echo(f"Track {track} is now player {new.player}; player {old.player} keeps tracks "
               f"{' '.join(map(str, old.tracks))}.")


@players.command("set")
@click.argument("video")
@click.argument("player", type=int)
@click.option("--team", help="A, B or other.")
@click.option("--number", help="Jersey number 0-99 or 00 (empty to clear).")
@click.option("--name", help="The player's name (empty to clear).")
def players_set(video: str, player: int, team: str | None, number: str | None, name: str | None) -> None:
    """Set PLAYER of VIDEO's team, jersey number or name; later runs keep them."""
    from ..db import transaction
    from ..players.edit import set_player

    with transaction() as s:
        p = set_player(s, _video_id(s, video), player, team=team, number=number, name=name)
    click.echo(f"Player {p.player}: team {p.team or '-'}, number {p.number or '-'}, name {p.name or '-'}.")


@click.group("roster", cls=BballGroup)
def roster() -> None:
    """Name a video's players from a roster (CSV: team,number,name)."""


@roster.command("import")
@click.argument("video")
@click.argument("csv_file", metavar="ROSTER_CSV", type=click.Path(dir_okay=False))
def roster_import(video: str, csv_file: str) -> None:
    """Replace VIDEO's roster with ROSTER_CSV (columns team,number,name; teams A and B as `bball teams` names
    them) and name the players who wear those numbers."""
    from ..db import transaction
    from ..players.roster import import_roster, read_roster

    lines = read_roster(csv_file)
    with transaction() as s:
        report = import_roster(s, _video_id(s, video), lines)
    click.echo(f"Roster of {len(report.entries)} names stored; {len(report.named)} players named.")
    if report.unseen:
        click.echo("Not seen (yet) on any player: " + ", ".join(f"{e.team} #{e.number} {e.name}"
                                                                for e in report.unseen[:20]))


def register(cli: click.Group) -> None:
    """Attach to the root group."""
    cli.add_command(players)
    cli.add_command(roster)
