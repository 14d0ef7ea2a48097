"""The synthetic game: numbers printed on the shirts, and (with exits) players who leave the picture and return."""

from __future__ import annotations

import numpy as np

from basketball_analyzer.sample_game import (
    EXIT_EVERY,
    camera,
    draw_game_court,
    game_players,
    render_game_frame,
)

W, H, FPS = 1280, 720, 30


def _truth(exits: bool, seconds: float = EXIT_EVERY):
    players = game_players(exits)
    to_image = camera(W, H)
    court = draw_game_court(W, H, to_image)
    frames = [render_game_frame(i, FPS, W, H, players, to_image, court)[1] for i in range(int(seconds * FPS))]
    return players, frames


def test_every_team_player_wears_a_number_of_his_own_and_the_referee_none():
    players = game_players()
    for team in ("A", "B"):
        numbers = [p.number for p in players if p.team == team]
        assert len(numbers) == 5 and len(set(numbers)) == 5
        assert all(n is not None and n.isdigit() and 1 <= len(n) <= 2 for n in numbers)
        assert {len(n) for n in numbers} == {1, 2}
    assert [p.number for p in players if p.team == "other"] == [None]


def test_the_number_is_printed_in_white_on_the_shirt():
    players = game_players()
    to_image = camera(W, H)
    court = draw_game_court(W, H, to_image)
    img, truth, _ = render_game_frame(0, FPS, W, H, players, to_image, court)
    for i, (x1, y1, x2, y2) in zip(truth.tracker_id, truth.xyxy):
        h = y2 - y1
        chest = img[int(y1 + 0.25 * h):int(y1 + 0.37 * h), int((x1 + x2) / 2 - 0.1 * h):int((x1 + x2) / 2 + 0.1 * h)]
        white = (chest.min(axis=2) > 200).mean()
        if players[i].number is None:
            assert white == 0
        else:
            assert white > 0.1, (i, white)


def test_without_exits_everyone_is_in_every_frame():
    players, frames = _truth(False, seconds=2)
    assert all(sorted(f.tracker_id.tolist()) == list(range(len(players))) for f in frames)


def test_with_exits_four_players_leave_the_picture_for_seconds_and_come_back():
    players, frames = _truth(True)
    seen = np.array([[i in f.tracker_id for i in range(len(players))] for f in frames])  # (frames, players)
    leaving = [i for i, p in enumerate(players) if p.exit_at is not None]
    assert len(leaving) == 4 and all(players[i].team in ("A", "B") for i in leaving)
    for i in range(len(players)):
        gone = np.flatnonzero(~seen[:, i])
        if i not in leaving:
            assert not len(gone)
            continue
        # One stretch out of the picture, between present frames: he leaves and comes back.
        assert len(gone) and gone[-1] - gone[0] + 1 == len(gone), i
        assert seen[:gone[0], i].any() and seen[gone[-1] + 1:, i].any(), i
        assert 1.0 <= len(gone) / FPS <= 3.5, (i, len(gone) / FPS)
    boxes = np.concatenate([f.xyxy for f in frames])
    assert (boxes[:, 0] < W).all() and (boxes[:, 2] > 0).all()  # no box wholly out of the picture
