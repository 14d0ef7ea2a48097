"""`bball teams`, `teams set`, `court set|show` and `stats` through the CLI: output, exit codes, one-line errors."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from basketball_analyzer.analytics.calibration import get_calibration
from basketball_analyzer.analytics.tracks import list_tracks
from basketball_analyzer.cli import cli
from basketball_analyzer.db import transaction
from basketball_analyzer.db.detections import replace_detections
from basketball_analyzer.videos import register_video


@pytest.fixture
def stored_game(db_url, game_clip):
    path, truth = game_clip
    with transaction(db_url) as s:
        video_id = register_video(s, path).video.id
        replace_detections(s, video_id, truth.boxes)
    return video_id, truth


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_teams_court_and_stats_commands(stored_game):
    video_id, truth = stored_game
    out = run("teams", video_id)
    assert out.exit_code == 0, out.output
    assert "Two teams, separation" in out.output and "other" in out.output
    data = json.loads(run("teams", video_id, "--json").output)
    assert data["separated"] and data["sizes"] == {"A": 5, "B": 5, "other": 1}
    out = run("teams", "set", video_id, 0, "b")
    assert out.exit_code == 0 and out.output.strip() == f"Track 0 of video {video_id} is now in team B."
    out = run("court", "set", video_id, *truth.calibration_pairs())
    assert out.exit_code == 0 and "reprojection error 0.00" in out.output and "m RMS" in out.output
    shown = run("court", "show", video_id).output
    assert "fiba court (m), keyframes" in shown and "│     0 │      6 │" in shown
    assert f"Mapped {truth.positions.shape[0]} of {truth.positions.shape[0]} frames." in shown
    report = json.loads(run("stats", video_id, "--json").output)
    assert report["unit"] == "m" and len(report["tracks"]) == 11
    assert {t["team"] for t in report["teams"]} == {"A", "B", "other"}
    rows = list(csv.reader(io.StringIO(run("stats", video_id, "--csv").output)))
    assert rows[0][:5] == ["track", "label", "team", "seconds", "distance (m)"] and len(rows) == 12
    table = run("stats", video_id).output
    assert "Teams" in table and "possession needs the ball" in table


@pytest.mark.parametrize("args, message", [
    (["court", "set", "{v}", "1,1=far_left_corner", "900,1=far_right_corner", "1,500=near_left_corner"],
     "need at least 4 point pairs to fit the court, got 3"),
    (["court", "set", "{v}", "10,10=far_left_corner", "20,20=far_right_corner", "30,30=near_left_corner",
      "40,40=near_right_corner"], "the image points are (nearly) collinear"),
    (["court", "set", "{v}", "10,10=far_left_corner", "900,10=far_right_corner", "10,500=near_left_corner",
      "5000,500=near_right_corner"], "image point 5000,500 is outside the 960 x 540 video"),
    (["court", "set", "{v}", "10,10=far_left_corner", "900,10=far_right_corner", "10,500=near_left_corner",
      "900,500=top_of_the_key"], "unknown court landmark 'top_of_the_key'"),
    (["court", "set", "{v}", "10,10"], "is not IMAGE_X,IMAGE_Y=COURT_POINT"),
    (["court", "show", "{v}"], "has no court calibration"),
    (["teams", "set", "{v}", "42", "A"], "has no track 42"),
    (["teams", "set", "{v}", "0", "purple"], "unknown team 'purple'"),
    (["stats", "99"], "no video with id 99"),
])
def test_bad_input_is_one_line_and_writes_nothing(stored_game, db_url, args, message):
    video_id, _ = stored_game
    out = CliRunner().invoke(cli, [a.format(v=video_id) for a in args])
    assert out.exit_code == 1, out.output
    lines = out.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], out.output
    with transaction(db_url) as s:
        assert get_calibration(s, video_id) is None and list_tracks(s, video_id) == []


def test_stats_and_teams_of_a_video_without_detections(db_url, game_clip):
    path, _ = game_clip
    with transaction(db_url) as s:
        video_id = register_video(s, path).video.id
    for args in (["stats", video_id], ["teams", video_id]):
        out = CliRunner().invoke(cli, [str(a) for a in args])
        assert out.exit_code == 1
        assert out.output.strip() == (f"Error: video {video_id} has no detections yet: run `bball analyze "
                                      f"{video_id}` or import a cloud job first")
