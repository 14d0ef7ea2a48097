"""Players on the sample game with numbers on the shirts and players who leave the picture and come back: real
pixels, the real OCR, the true boxes broken into pieces (so the joining is judged apart from the detector)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from basketball_analyzer.analytics.calibration import set_calibration
from basketball_analyzer.db import transaction
from basketball_analyzer.db.detections import insert_detections
from basketball_analyzer.players.store import identify_players, player_of
from basketball_analyzer.videos import register_video

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from players_identity import break_tracks, idf1, numbers_right, relabel  # noqa: E402


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    from basketball_analyzer.sample_game import make_game_clip

    path = tmp_path_factory.mktemp("players") / "game.mp4"
    truth = make_game_clip(path, frames=180, width=960, height=540, exits=True)
    return path, truth


@pytest.fixture(scope="module")
def joined(game, tmp_path_factory):
    path, truth = game
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'players.db'}"
    pieces = break_tracks(truth.boxes, truth.fps, seed=1)
    with transaction(url) as s:
        video_id = register_video(s, path).video.id
        insert_detections(s, video_id, pieces)
        set_calibration(s, video_id, truth.calibration_pairs(), "fiba", fixed_camera=True)
        report = identify_players(s, video_id)
        mapping = player_of(s, video_id)
    return truth, pieces, report, mapping


def test_every_players_number_is_read_and_tracks_join_into_players(joined, tmp_path):
    truth, pieces, report, mapping = joined
    numbers = {p.player: p.number for p in report.players}
    right, total = numbers_right(truth.boxes, truth.numbers, pieces, mapping, numbers)
    assert (right, total) == (10, 10)
    by_track, by_player = idf1(truth.boxes, pieces, tmp_path), idf1(truth.boxes, relabel(pieces, mapping), tmp_path)
    assert by_player >= 0.9 > by_track + 0.3
    assert len(pieces.track_ids()) > 2 * len(report.players)


def owners(truth, pieces) -> dict[int, int]:
    """Piece id -> the true player it was cut from (pieces are rows of the truth)."""
    who = {(int(f), round(float(x), 2)): int(t) for f, x, t in zip(truth.frame_number, truth.xyxy[:, 0],
                                                                 truth.tracker_id)}
    return {int(t): who[(int(f), round(float(x), 2))] for f, x, t in zip(pieces.frame_number, pieces.xyxy[:, 0],
                                                                       pieces.tracker_id)}


def test_a_player_who_left_the_picture_comes_back_with_his_id(joined):
    truth, pieces, report, mapping = joined
    owner = owners(truth.boxes, pieces)
    came_back = 0
    for who in np.unique(truth.boxes.tracker_id):
        frames = np.sort(truth.boxes.frame_number[truth.boxes.tracker_id == who])
        mine = pieces[np.isin(pieces.tracker_id, [p for p, o in owner.items() if o == who])]
        for g in np.flatnonzero(np.diff(frames) > 15):  # out of the picture for half a second or more
            before = mine[mine.frame_number <= frames[g]]
            after = mine[mine.frame_number >= frames[g + 1]]
            last = int(before.tracker_id[np.argmax(before.frame_number)])
            first = int(after.tracker_id[np.argmin(after.frame_number)])
            assert last != first and mapping[last] == mapping[first], \
                f"player {who} came back at frame {frames[g + 1]} as someone else"
            came_back += 1
    assert came_back >= 1


def test_no_two_players_of_a_team_share_a_number_at_one_time(joined):
    _, _, report, _ = joined
    numbered = [p for p in report.players if p.number is not None]
    for i, a in enumerate(numbered):
        for b in numbered[i + 1:]:
            if a.team == b.team and a.number == b.number:
                assert a.last_frame < b.first_frame or b.last_frame < a.first_frame
    referees = [p for p in report.players if p.team == "other"]
    assert referees and all(p.number is None for p in referees)
