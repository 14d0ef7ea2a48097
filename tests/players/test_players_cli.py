"""`bball players` (list, merge, split, set) and `bball roster import` on a real database: what a person sets
survives a re-run, and bad input gets one line and changes nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from basketball_analyzer.cli import cli
from basketball_analyzer.db import transaction
from basketball_analyzer.db.analytics import Track
from basketball_analyzer.db.detections import replace_detections
from basketball_analyzer.detections import Detections
from basketball_analyzer.videos import register_video

# (track, team, first, last, x at start, x at end): 1 and 2 are one player hidden for a second (frames 41-69),
# 3 is another of team A far away, 4 of team B at the same time as 1, 5 a referee.
TRACKS = [(1, "A", 0, 40, 100, 140), (2, "A", 70, 120, 150, 200), (3, "A", 0, 120, 520, 560),
          (4, "B", 0, 60, 300, 330), (5, "other", 0, 120, 420, 420)]


def boxes() -> Detections:
    parts = []
    for tid, _, first, last, x0, x1 in TRACKS:
        frames = np.arange(first, last + 1)
        x = np.linspace(x0, x1, len(frames))
        xyxy = np.c_[x, np.full_like(x, 100), x + 40, np.full_like(x, 200)]
        parts.append(Detections(xyxy, np.full(len(frames), 0.9), np.full(len(frames), tid), frames))
    return Detections.merge(parts)


@pytest.fixture
def video(db_url, sample_clip):
    with transaction(db_url) as s:
        video_id = register_video(s, sample_clip[0]).video.id
        replace_detections(s, video_id, boxes())
        for tid, team, first, last, *_ in TRACKS:
            s.add(Track(video_id=video_id, tracking_id=tid, label="player", team=team, team_source="manual",
                        color={"A": "#c02828", "B": "#142d96", "other": "#232323"}[team],
                        frames_seen=last - first + 1, first_frame=first, last_frame=last))
    return video_id


sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # not database-specific


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def players(video_id, *extra):
    out = run("players", video_id, "--json", *extra)
    assert out.exit_code == 0, out.output
    return {tuple(p["tracks"]): p for p in json.loads(out.output)}


def test_players_join_a_hidden_player_and_list_as_json(video):
    found = players(video)
    assert set(found) == {(1, 2), (3,), (4,), (5,)}
    p = found[(1, 2)]
    assert p["team"] == "A" and p["frames"] == 41 + 51 and (p["first_frame"], p["last_frame"]) == (0, 120)
    assert set(p) >= {"player", "team", "number", "name", "tracks", "frames"} and p["number"] is None
    assert found[(5,)]["team"] == "other"
    table = run("players", video).output
    assert "Players of video" in table and "4 players from 5 tracks; 0 with a jersey number." in table


@sqlite_only
def test_merge_split_and_set_survive_a_rerun(video):
    found = players(video)
    three, one = found[(3,)]["player"], found[(1, 2)]["player"]
    out = run("players", "merge", video, one, three)
    assert out.exit_code == 1 and "overlap in time" in out.output and "one person cannot be in two places" in out.output
    assert players(video) == found  # refused: nothing changed
    out = run("players", "split", video, 2)
    assert out.exit_code == 0 and "Track 2 is now player" in out.output
    out = run("players", "set", video, three, "--number", "#23", "--name", "Ada Lovelace")
    assert out.exit_code == 0 and out.output.strip().endswith("number 23, name Ada Lovelace.")
    for refreshed in (players(video, "--refresh"), players(video)):
        assert set(refreshed) == {(1,), (2,), (3,), (4,), (5,)}
        assert refreshed[(3,)]["number"] == "23" and refreshed[(3,)]["name"] == "Ada Lovelace"
        assert refreshed[(1,)]["source"] == refreshed[(2,)]["source"] == "manual"
    out = run("players", "merge", video, refreshed[(1,)]["player"], refreshed[(2,)]["player"])
    assert out.exit_code == 0
    assert set(players(video, "--refresh")) == {(1, 2), (3,), (4,), (5,)}


@sqlite_only
def test_set_refuses_a_number_another_player_of_the_team_wears(video):
    found = players(video)
    assert run("players", "set", video, found[(3,)]["player"], "--number", "7").exit_code == 0
    out = run("players", "set", video, found[(1, 2)]["player"], "--number", "7")
    assert out.exit_code == 1 and "wears 7 at the same time" in out.output
    for bad, message in ((["--number", "123"], "is not 0-99"), (["--team", "C"], "unknown team 'C'"), ([], "nothing")):
        out = run("players", "set", video, found[(1, 2)]["player"], *bad)
        assert out.exit_code == 1 and message in out.output and "Traceback" not in out.output
    assert players(video)[(1, 2)]["number"] is None


def test_roster_names_players_and_bad_rosters_change_nothing(video, tmp_path):
    found = players(video)
    run("players", "set", video, found[(3,)]["player"], "--number", "23")
    good = tmp_path / "roster.csv"
    good.write_text("Team,Number,Name\nA,23,Ada Lovelace\nB,5,Grace Hopper\n")
    out = run("roster", "import", video, good)
    assert out.exit_code == 0 and "Roster of 2 names stored; 1 players named." in out.output
    assert "B #5 Grace Hopper" in out.output  # nobody wears it yet
    assert players(video)[(3,)]["name"] == "Ada Lovelace"
    for text, message in (("team,number,name\nC,4,Nobody\n", "roster line 2: unknown team 'C'"),
                          ("team,number,name\nA,4,X\nA,4,Y\n", "roster line 3: team A number 4 is already on line 2"),
                          ("team,number,name\nA,x4,X\n", "roster line 2: jersey number 'x4' is not 0-99"),
                          ("who,what\n", "a roster is a CSV with the columns team,number,name")):
        bad = tmp_path / "bad.csv"
        bad.write_text(text)
        out = run("roster", "import", video, bad)
        assert out.exit_code == 1 and message in out.output and len(out.output.strip().splitlines()) == 1
    assert players(video)[(3,)]["name"] == "Ada Lovelace"
    out = run("roster", "import", video, tmp_path / "missing.csv")
    assert out.exit_code == 1 and "cannot read roster" in out.output


@sqlite_only
def test_a_new_import_makes_the_players_stale(video, db_url):
    assert set(players(video)) == {(1, 2), (3,), (4,), (5,)}
    more = Detections(np.array([[600, 100, 640, 200]] * 5), np.full(5, 0.9), np.full(5, 9), np.arange(130, 135))
    with transaction(db_url) as s:
        replace_detections(s, video, Detections.merge([boxes(), more]))
        s.add(Track(video_id=video, tracking_id=9, label="player", team="B", frames_seen=5, first_frame=130,
                    last_frame=134))
    assert any(9 in tracks for tracks in players(video))
