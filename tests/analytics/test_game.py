"""Teams, court positions, distance, speed and possession on the synthetic game, against its ground truth."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import text
from support.game import with_ball

from basketball_analyzer.analytics.calibration import get_calibration, set_calibration
from basketball_analyzer.analytics.stats import video_stats
from basketball_analyzer.analytics.tracks import assign_teams, list_tracks, set_team
from basketball_analyzer.db import transaction
from basketball_analyzer.db.detections import replace_detections
from basketball_analyzer.detections import Detections
from basketball_analyzer.exceptions import AnalyticsError, NotFound
from basketball_analyzer.videos import register_video


def _store(db_url, path, det):
    with transaction(db_url) as s:
        video_id = register_video(s, path).video.id
        replace_detections(s, video_id, det)
    return video_id


def _jittered(truth, seed=0):
    """The true boxes with 1.5 px of detector jitter, as a tracker would store them."""
    rng = np.random.default_rng(seed)
    boxes = truth.boxes
    xyxy = boxes.xyxy + rng.normal(0, 1.5, boxes.xyxy.shape).astype(np.float32)
    return Detections(xyxy, np.full(len(boxes), 0.9), boxes.tracker_id, boxes.frame_number)


def test_teams_court_and_stats_match_the_ground_truth(db_url, game_clip):
    path, truth = game_clip
    video_id = _store(db_url, path, _jittered(truth))
    with transaction(db_url) as s:
        report = assign_teams(s, video_id)
        cal = set_calibration(s, video_id, truth.calibration_pairs(), "fiba")
    assert report.split.separated, report.split.message
    teams = {t.tracking_id: t.team for t in report.tracks}
    a = {teams[i] for i, team in enumerate(truth.teams) if team == "A"}
    b = {teams[i] for i, team in enumerate(truth.teams) if team == "B"}
    assert len(a) == 1 and len(b) == 1 and a != b and None not in a | b
    assert teams[truth.teams.index("other")] == "other"
    assert cal.rms_error < 0.01
    with transaction(db_url) as s:
        stats = video_stats(s, video_id)
        # player_positions holds each foot point on the court (analytics/positions.py), for SQL users too.
        view = s.execute(text("SELECT court_x, court_y FROM player_positions WHERE video_id = :v AND "
                              "tracking_id = 4 AND frame_number = 100"), {"v": video_id}).one()
    assert stats.unit == "m" and stats.calibrated and not stats.possession
    assert np.hypot(view[0] - truth.positions[100, 4, 0], view[1] - truth.positions[100, 4, 1]) < 0.3
    for row in stats.tracks:
        i = row.tracking_id
        assert abs(row.distance - truth.path_length(i)) / truth.path_length(i) < 0.05, (i, row)
        assert abs(row.top_speed - truth.top_speed(i)) / truth.top_speed(i) < 0.10, (i, row)
        assert row.seconds == pytest.approx(240 / 30)
    totals = {t.team: t for t in stats.teams}
    assert totals["A"].tracks == 5 and totals["B"].tracks == 5 and totals["other"].tracks == 1
    assert "possession needs the ball" in " ".join(stats.notes)


def test_possession_from_the_ball_and_manual_team_overrides(db_url, game_clip):
    path, truth = game_clip
    video_id = _store(db_url, path, with_ball(truth, _jittered(truth, 1)))
    with transaction(db_url) as s:
        assign_teams(s, video_id)
        set_team(s, video_id, 7, "other")
    with transaction(db_url) as s:
        assign_teams(s, video_id)  # a re-run keeps the manual override
        tracks = {t.tracking_id: t for t in list_tracks(s, video_id)}
        stats = video_stats(s, video_id)
    assert 500 not in tracks  # the ball is not a track of a player
    assert tracks[7].team == "other" and tracks[7].team_source == "manual"
    assert stats.possession and stats.unit == "px"
    share = {r.tracking_id: r.possession_share for r in stats.tracks}
    # Most frames go to the two holders; where another player crowds the ball a few frames go to him.
    assert share[0] == pytest.approx(0.5, abs=0.06) and share[3] == pytest.approx(0.5, abs=0.06)
    assert share[0] + share[3] > 0.9
    team_share = {t.team: t.possession_share for t in stats.teams}
    assert sum(v for v in team_share.values() if v) == pytest.approx(1.0, abs=0.01)


def test_bad_requests_write_nothing(db_url, game_clip):
    path, truth = game_clip
    with transaction(db_url) as s:
        empty = register_video(s, path).video.id
    with transaction(db_url) as s:
        with pytest.raises(AnalyticsError, match="has no detections yet"):
            video_stats(s, empty)
        with pytest.raises(AnalyticsError, match="has no detections yet"):
            assign_teams(s, empty)
        with pytest.raises(NotFound, match="no video with id 99"):
            set_calibration(s, 99, truth.calibration_pairs(), "fiba")
    with transaction(db_url) as s:
        replace_detections(s, empty, _jittered(truth))
    with transaction(db_url) as s:
        with pytest.raises(NotFound, match="has no track 42"):
            set_team(s, empty, 42, "A")
        assert get_calibration(s, empty) is None and list_tracks(s, empty) == []


def test_stats_on_an_nba_court_are_in_feet(game_clip):
    """The same game calibrated on an NBA court (feet): distances and speeds are the metres' in feet (unit
    arithmetic, so SQLite alone)."""
    from basketball_analyzer.analytics.court import apply_homography
    from basketball_analyzer.sample_game import CALIBRATION_LANDMARKS, COURT

    path, truth = game_clip
    video_id = _store(None, path, _jittered(truth))
    feet = 1 / 0.3048
    pairs = []
    for name in CALIBRATION_LANDMARKS:  # the FIBA landmarks' image points, named by their place in feet
        x, y = COURT.landmarks[name]
        ix, iy = apply_homography(truth.to_image, [(x, y)])[0]
        pairs.append(f"{ix:.2f},{iy:.2f}={x * feet:.4f},{y * feet:.4f}")
    with transaction() as s:
        set_calibration(s, video_id, pairs, "nba")
    with transaction() as s:
        stats = video_stats(s, video_id)
    assert stats.unit == "ft" and stats.calibrated
    for row in stats.tracks:
        i = row.tracking_id
        assert abs(row.distance - truth.path_length(i) * feet) / (truth.path_length(i) * feet) < 0.05, (i, row)
        assert abs(row.top_speed - truth.top_speed(i) * feet) / (truth.top_speed(i) * feet) < 0.10, (i, row)
