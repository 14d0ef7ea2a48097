"""Tracks that switch people midway are cut where the shirt changes: the pure change finder on made-up colour
samples, then the whole step on the sample game's real pixels in a real SQLite file."""

from __future__ import annotations

import numpy as np
import pytest

from basketball_analyzer.detections import Detections
from basketball_analyzer.players.switches import SAMPLE_EVERY, find_cuts

FPS = 30.0
RED, BLUE, GREY = (44.0, 61.0, 41.0), (23.0, 33.0, -59.0), (60.0, 0.0, 0.0)


def samples(*runs: tuple[tuple[float, float, float], float], noise: float = 3.0, seed: int = 0):
    """Colour samples every SAMPLE_EVERY frames: (colour, seconds) runs one after another, with jitter."""
    rng = np.random.default_rng(seed)
    colours = []
    for colour, seconds in runs:
        colours += [np.array(colour) + rng.normal(0, noise, 3) for _ in range(int(seconds * FPS / SAMPLE_EVERY))]
    return np.arange(len(colours)) * SAMPLE_EVERY, np.array(colours)


def test_a_shirt_that_changes_for_good_is_cut_where_it_changes():
    frames, colours = samples((RED, 3), (BLUE, 3))
    assert find_cuts(frames, colours, FPS) == [90]


def test_one_jersey_with_jitter_a_pass_in_front_and_a_short_tail_are_not_cut():
    assert find_cuts(*samples((RED, 6), noise=6.0), FPS) == []
    assert find_cuts(*samples((RED, 3), (BLUE, 0.5), (RED, 3)), FPS) == []  # someone passed in front
    assert find_cuts(*samples((RED, 4), (BLUE, 0.6)), FPS) == []  # too short to be a person
    assert find_cuts(*samples((RED, 3), ((50.0, 55.0, 35.0), 3)), FPS) == []  # one shirt, lit differently


def test_each_switch_of_a_track_that_changes_twice_is_cut():
    cuts = find_cuts(*samples((RED, 2), (GREY, 2), (BLUE, 2)), FPS)
    assert cuts == [60, 120]
    assert find_cuts(*samples((BLUE, 2), (RED, 1.5), (BLUE, 2)), FPS) == [60, 105]


def test_a_track_of_noise_is_not_cut_into_many_pieces():
    rng = np.random.default_rng(3)
    frames = np.arange(120) * SAMPLE_EVERY
    flips = np.array([RED if rng.random() < 0.5 else BLUE for _ in frames])
    assert find_cuts(frames, flips, FPS) == []


# The whole step on the sample game: two players of different teams, and a track that follows the first until
# SWITCH, then the second (as ByteTrack does when they cross).
SWITCH = 90


def _spliced(truth, a: int, b: int) -> Detections:
    """The true boxes, one id per player, except that a's boxes before SWITCH and b's from SWITCH on are one
    track (900), and a's after it (901) and b's before it (902) are their own."""
    boxes = truth.boxes
    ids = boxes.tracker_id.astype(np.int64) + 1
    early = boxes.frame_number < SWITCH
    ids[(boxes.tracker_id == a) & early] = 900
    ids[(boxes.tracker_id == b) & ~early] = 900
    ids[(boxes.tracker_id == a) & ~early] = 901
    ids[(boxes.tracker_id == b) & early] = 902
    return Detections(boxes.xyxy, boxes.confidence, ids, boxes.frame_number)


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    from basketball_analyzer.sample_game import make_game_clip

    path = tmp_path_factory.mktemp("switch") / "game.mp4"
    truth = make_game_clip(path, frames=180, width=960, height=540)
    seen = {p: set(truth.boxes.frame_number[truth.boxes.tracker_id == p].tolist()) for p in range(10)}
    whole = [p for p in range(10) if len(seen[p]) == 180]
    a = next(p for p in whole if truth.teams[p] == "A")
    b = next(p for p in whole if truth.teams[p] == "B")
    return path, truth, a, b


def _store(url, path, truth, boxes):
    from basketball_analyzer.analytics.calibration import set_calibration
    from basketball_analyzer.db import transaction
    from basketball_analyzer.db.detections import insert_detections
    from basketball_analyzer.videos import register_video

    with transaction(url) as s:
        video_id = register_video(s, path).video.id
        insert_detections(s, video_id, boxes)
        set_calibration(s, video_id, truth.calibration_pairs(), "fiba", fixed_camera=True)
    return video_id


def test_a_track_that_switches_teams_is_cut_and_each_piece_joins_its_own_player(game, tmp_path):
    from sqlalchemy import func, select

    from basketball_analyzer.db import transaction
    from basketball_analyzer.db.analytics import PlayerPosition
    from basketball_analyzer.db.detections import load_detections
    from basketball_analyzer.db.models import PlayerDetection
    from basketball_analyzer.players.store import identify_players, player_of

    path, truth, a, b = game
    url = f"sqlite:///{tmp_path / 'switch.db'}"
    spliced = _spliced(truth, a, b)
    copy = tmp_path / "bystander.mp4"
    copy.write_bytes(path.read_bytes() + b"\0" * 16)  # other content: registered as a video of its own
    bystander = _store(url, copy, truth, spliced)  # another video in the same database: never touched
    video_id = _store(url, path, truth, spliced)
    with transaction(url) as s:
        report = identify_players(s, video_id)
        mapping = player_of(s, video_id)
        stored = load_detections(s, video_id)
        untouched = load_detections(s, bystander)
        positions = s.execute(select(func.count()).select_from(PlayerPosition)
                              .where(PlayerPosition.video_id == video_id)).scalar_one()
        stale = s.execute(select(func.count()).select_from(PlayerPosition).join(
            PlayerDetection, PlayerDetection.id == PlayerPosition.detection_id)
            .where(PlayerPosition.tracking_id != PlayerDetection.tracking_id)).scalar_one()
    assert positions == len(stored) and stale == 0, "court positions carry the boxes' new track ids"
    assert report.tracks_cut == 1 and any("changed shirts" in n for n in report.notes)
    new_ids = set(stored.tracker_id.tolist()) - set(spliced.tracker_id.tolist())
    assert len(new_ids) == 1, f"one cut expected, got new tracks {sorted(new_ids)}"
    (piece,) = new_ids
    frames = stored.frame_number[stored.tracker_id == piece]
    assert SWITCH <= int(frames.min()) <= SWITCH + SAMPLE_EVERY and int(frames.max()) == 179
    assert int(stored.frame_number[stored.tracker_id == 900].max()) < int(frames.min())
    assert mapping[piece] == mapping[902] != mapping[900] == mapping[901]
    np.testing.assert_array_equal(untouched.tracker_id, load_bystander_ids(spliced))
    # A second run finds nothing more to cut and joins the same way.
    with transaction(url) as s:
        again = identify_players(s, video_id)
        assert player_of(s, video_id) == mapping
    assert not any("changed shirts" in n for n in again.notes)


def load_bystander_ids(boxes: Detections) -> np.ndarray:
    """Track ids as `load_detections` orders them (frame, then track id)."""
    order = np.lexsort((boxes.tracker_id, boxes.frame_number))
    return boxes.tracker_id[order]


def test_a_track_whose_team_a_person_set_is_left_whole(game, tmp_path):
    from basketball_analyzer.analytics.tracks import assign_teams, set_team
    from basketball_analyzer.db import transaction
    from basketball_analyzer.db.detections import load_detections
    from basketball_analyzer.players.store import identify_players

    path, truth, a, b = game
    url = f"sqlite:///{tmp_path / 'pinned.db'}"
    video_id = _store(url, path, truth, _spliced(truth, a, b))
    with transaction(url) as s:
        assign_teams(s, video_id)
        set_team(s, video_id, 900, "A")
    with transaction(url) as s:
        report = identify_players(s, video_id)
        ids = set(load_detections(s, video_id).tracker_id.tolist())
    assert not any("changed shirts" in n for n in report.notes)
    assert max(ids) == 902


def test_bball_players_cuts_unless_told_not_to(game, tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from basketball_analyzer.cli import cli
    from basketball_analyzer.config import get_settings

    path, truth, a, b = game
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    video_id = _store(url, path, truth, _spliced(truth, a, b))
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()

    def tracks(*extra):
        out = CliRunner().invoke(cli, ["players", str(video_id), "--json", *extra])
        assert out.exit_code == 0, out.output
        return {t for p in json.loads(out.output) for t in p["tracks"]}

    whole = tracks("--no-cut")
    assert 900 in whole and max(whole) == 902, "--no-cut keeps the tracks as imported"
    cut = tracks("--refresh")
    assert len(cut - whole) == 1 and 900 in cut, "a later run without --no-cut cuts the switched track"
    get_settings.cache_clear()
