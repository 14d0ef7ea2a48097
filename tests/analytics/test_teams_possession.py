"""Team split by jersey colour and possession by the nearest player: pure logic on known inputs."""

from __future__ import annotations

import numpy as np

from basketball_analyzer.analytics.possession import PossessionTracker, nearest_player
from basketball_analyzer.analytics.teams import OTHER, lab_to_hex, split_teams, torso_colour


def _lab(bgr):
    img = np.zeros((40, 20, 3), np.uint8)
    img[:] = bgr
    return torso_colour(img, np.array([0, 0, 20, 40]))


def _cast(rng, light=(235, 235, 235), dark=(120, 30, 20), ref=(25, 25, 25), n=5):
    colours, weights = {}, {}
    for i in range(n):
        colours[i] = _lab(np.clip(np.array(light) + rng.integers(-12, 12, 3), 0, 255))
        colours[10 + i] = _lab(np.clip(np.array(dark) + rng.integers(-12, 12, 3), 0, 255))
        weights[i] = weights[10 + i] = 100 + 10 * i
    colours[99], weights[99] = _lab(ref), 300
    return colours, weights


def test_two_teams_and_the_referee_apart():
    colours, weights = _cast(np.random.default_rng(0))
    split = split_teams(colours, weights)
    assert split.separated and "two teams" in split.message
    assert {split.teams[i] for i in range(5)} == {"A"}  # the lighter jersey is team A
    assert {split.teams[10 + i] for i in range(5)} == {"B"}
    assert split.teams[99] == OTHER
    assert lab_to_hex(split.centres["A"]).startswith("#e") or lab_to_hex(split.centres["A"]).startswith("#f")


def test_a_referee_label_goes_to_other_even_in_a_team_colour():
    colours, weights = _cast(np.random.default_rng(1))
    split = split_teams(colours, weights, labels={3: "referee"})
    assert split.teams[3] == OTHER and split.teams[4] == "A"


def test_colours_that_do_not_separate_are_reported_not_guessed():
    colours, weights = _cast(np.random.default_rng(2), light=(150, 40, 110), dark=(140, 45, 120))
    split = split_teams(colours, weights)
    assert not split.separated and "do not separate" in split.message
    assert all(split.teams[t] is None for t in range(5))


def test_nearest_player_and_possession_confirmed_over_frames():
    players = np.array([[0, 0, 40, 100], [200, 0, 240, 100]], float)
    ids = np.array([7, 8])
    assert nearest_player(np.array([42, 50, 50, 58]), players) == 0
    assert nearest_player(np.array([120, 50, 128, 58]), players) == -1  # loose ball between them
    poss = PossessionTracker(fps=30, confirm=3)
    near_7 = np.array([42, 50, 50, 58], float)
    near_8 = np.array([190, 50, 198, 58], float)
    held = [poss.update(f, near_7, ids, players) for f in range(10)]
    assert held[:2] == [-1, -1] and held[2:] == [7] * 8
    # A pass flies past player 8 for one frame: no change of possession.
    assert poss.update(10, near_8, ids, players) == 7
    held = [poss.update(f, near_8, ids, players) for f in range(11, 20)]
    assert held[0] == 7 and held[1:] == [8] * 8
    # The ball is gone (a shot) for over a second: nobody has it.
    held = [poss.update(f, None, ids, players) for f in range(20, 60)]
    assert held[-1] == -1
    assert poss.frames[7] == 10 and poss.frames[8] > 8
