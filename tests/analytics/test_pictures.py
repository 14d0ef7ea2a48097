"""Heatmaps and the minimap: files written, heat where the players were, dots in team colours."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from basketball_analyzer.analytics.calibration import set_calibration
from basketball_analyzer.analytics.court import court_spec
from basketball_analyzer.analytics.pictures import MARGIN, CourtCanvas
from basketball_analyzer.analytics.tracks import assign_teams
from basketball_analyzer.cli import cli
from basketball_analyzer.db import transaction
from basketball_analyzer.db.detections import replace_detections
from basketball_analyzer.video import iter_frames, probe
from basketball_analyzer.videos import register_video


@pytest.fixture
def calibrated_game(tmp_path, game_clip, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path, truth = game_clip
    with transaction() as s:
        video_id = register_video(s, path).video.id
        replace_detections(s, video_id, truth.boxes)
    return video_id, truth


def test_heatmap_is_hot_where_a_player_ran(calibrated_game, tmp_path):
    import cv2

    video_id, truth = calibrated_game
    out = CliRunner().invoke(cli, ["render", str(video_id), "--heatmap"])
    assert out.exit_code == 1 and "need a court calibration" in out.output
    with transaction() as s:
        assign_teams(s, video_id)
        set_calibration(s, video_id, truth.calibration_pairs(), "fiba")
    out = CliRunner().invoke(cli, ["render", str(video_id), "--heatmap", "-o", "heat.png"])
    assert out.exit_code == 0, out.output
    assert "(14 heatmaps)" in out.output  # teams A, B and other, then 11 players
    sheet = cv2.imread(str(tmp_path / "heat.png"))
    canvas = CourtCanvas(court_spec("fiba"))
    assert sheet.shape == (4 * canvas.height, 4 * canvas.width, 3)
    # Player 0 is the longest-seen track (all are equal: the lowest id comes first): panel 4 (row 0, col 3).
    panel = sheet[:canvas.height, 3 * canvas.width:4 * canvas.width].astype(int)
    diff = np.abs(panel - canvas.image.astype(int)).sum(axis=2)
    hot = np.argwhere(diff[30:] > 60) + [30, 0]  # below the title bar
    centre = hot.mean(axis=0)[::-1]
    expected = MARGIN + truth.positions[:, 0].mean(axis=0) * canvas.scale
    assert np.hypot(*(centre - expected)) < 2.5 * canvas.scale  # within 2.5 m of the player's mean position


def test_minimap_places_team_dots_beside_the_video(calibrated_game, tmp_path):
    video_id, truth = calibrated_game
    with transaction() as s:
        assign_teams(s, video_id)
        set_calibration(s, video_id, truth.calibration_pairs(), "fiba")
    out = CliRunner().invoke(cli, ["render", str(video_id), "--minimap", "-o", "mini.mp4"])
    assert out.exit_code == 0, out.output
    info = probe(tmp_path / "mini.mp4")
    assert info.frame_count == 240 and info.height == 540 and info.width > 960
    frame = next(f for f in iter_frames(tmp_path / "mini.mp4") if f.index == 100).image
    canvas = CourtCanvas(court_spec("fiba"))
    scale = 540 / canvas.height
    x, y = (canvas.points(truth.positions[100, 5:6]) * scale)[0]  # player 5 is on team B (navy)
    dot = frame[int(y) - 2:int(y) + 3, 960 + int(x) - 2:960 + int(x) + 3].reshape(-1, 3).mean(axis=0)
    assert dot[0] > dot[2] + 40  # blue-ish (BGR), not the floor's orange


def test_render_options_are_exclusive(calibrated_game):
    video_id, _ = calibrated_game
    out = CliRunner().invoke(cli, ["render", str(video_id), "--heatmap", "--minimap"])
    assert out.exit_code == 1 and "choose one of --frames, --heatmap and --minimap" in out.output
