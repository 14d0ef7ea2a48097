"""A roster: a CSV of `team,number,name` that names a video's players by team and jersey number.

The whole file is checked before anything is stored (unknown team, bad or duplicate number, empty name: one
line naming the row), then it replaces the video's roster in `roster_entries` and names the players whose team
and number it lists. A name a person set on a player (`bball players set --name`) wins over the roster.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..analytics.teams import TEAMS
from ..analytics.tracks import require_detections
from ..db.players import Player, RosterEntry
from ..exceptions import PlayersError
from .edit import MAX_NAME, normalise_number
from .store import MANUAL

MAX_ROWS = 200
COLUMNS = ("team", "number", "name")


@dataclass(frozen=True)
class RosterLine:
    """One roster row."""

    team: str
    number: str
    name: str


@dataclass(frozen=True)
class RosterReport:
    """What an import stored: its lines, the players it named, and the lines no player wears yet."""

    entries: list[RosterLine]
    named: dict[int, str]
    unseen: list[RosterLine]


def parse_roster(text: str) -> list[RosterLine]:
    """The roster's lines, or one clear error naming the first bad row."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if not set(COLUMNS) <= set(header):
        raise PlayersError(f"a roster is a CSV with the columns {','.join(COLUMNS)} (found: "
                           f"{','.join(header)[:60] or 'nothing'})")
    reader.fieldnames = header
    lines: list[RosterLine] = []
    seen: dict[tuple[str, str], int] = {}
    teams = {t.lower(): t for t in TEAMS}
    for i, row in enumerate(reader, start=2):
        if i - 1 > MAX_ROWS:
            raise PlayersError(f"a roster holds at most {MAX_ROWS} rows")
        team = (row.get("team") or "").strip()
        if team.lower() not in teams:
            raise PlayersError(f"roster line {i}: unknown team {team[:20]!r} (teams are {', '.join(TEAMS)}, as "
                               "`bball teams` names them)")
        try:
            number = normalise_number(row.get("number") or "")
        except PlayersError as e:
            raise PlayersError(f"roster line {i}: {e}") from None
        name = (row.get("name") or "").strip()
        if not name or len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
            raise PlayersError(f"roster line {i}: a name is 1 to {MAX_NAME} printable characters")
        key = (teams[team.lower()], number)
        if key in seen:
            raise PlayersError(f"roster line {i}: team {key[0]} number {number} is already on line {seen[key]}")
        seen[key] = i
        lines.append(RosterLine(key[0], number, name))
    if not lines:
        raise PlayersError("the roster has no rows")
    return lines


def read_roster(path: str | Path) -> list[RosterLine]:
    """Parse a roster file (UTF-8 CSV), with one line for a missing or unreadable file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise PlayersError(f"cannot read roster {str(path)[:200]}: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PlayersError(f"roster {path.name[:80]} is not UTF-8 text") from None
    return parse_roster(text)


def import_roster(session: Session, video_id: int, lines: list[RosterLine]) -> RosterReport:
    """Replace the video's roster with `lines` and name its players (a person's own names are kept)."""
    require_detections(session, video_id)
    session.execute(delete(RosterEntry).where(RosterEntry.video_id == video_id))
    for line in lines:
        session.add(RosterEntry(video_id=video_id, team=line.team, number=line.number, name=line.name))
    names = {(line.team, line.number): line.name for line in lines}
    named, worn = {}, set()
    for player in session.execute(select(Player).where(Player.video_id == video_id)).scalars():
        key = (player.team, player.number)
        if key in names:
            worn.add(key)
            if player.source != MANUAL or not player.name:
                player.name = names[key]
                named[player.player_id] = names[key]
    session.flush()
    return RosterReport(lines, named, [line for line in lines if (line.team, line.number) not in worn])


__all__ = ["RosterLine", "RosterReport", "import_roster", "parse_roster", "read_roster"]
