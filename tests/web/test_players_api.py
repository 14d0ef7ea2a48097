"""The players routes (web/players_api.py) on a real SQLite file: the list the viewer draws from, merge, split and
set from the page with the library's one-line refusals and nothing written, the write rules, and a player's
heatmap over all his tracks."""

from __future__ import annotations

import numpy as np
import pytest
from support.players_game import HANDOVER, HIDDEN, NAMES, seed_players, store_players_game

SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


@pytest.fixture(scope="module")
def game(tmp_path_factory, web_clip):
    """(client, database URL, video id with players to be seeded, video id without players or court)."""
    from fastapi.testclient import TestClient

    from basketball_analyzer.config import load_settings
    from basketball_analyzer.db import engine, transaction
    from basketball_analyzer.db.detections import replace_detections
    from basketball_analyzer.sample import make_sample_clip
    from basketball_analyzer.videos import register_video
    from basketball_analyzer.web.app import create_app

    folder = tmp_path_factory.mktemp("players-api")
    url = f"sqlite:///{folder / 'bball.db'}"
    video_id = store_players_game(url, web_clip)
    plain_clip = folder / "plain.mp4"
    boxes = make_sample_clip(plain_clip, frames=5, width=160, height=128, players=1)
    with transaction(url) as s:
        plain = register_video(s, plain_clip).video.id
        replace_detections(s, plain, boxes)
    with TestClient(create_app(load_settings(database_url=url, web_upload_dir=str(folder / "up")))) as client:
        yield client, url, video_id, plain
    engine.dispose(url)


@pytest.fixture
def owner(game, web_clip):
    """Track id -> player id, the players seeded afresh for each test."""
    _, url, video_id, _ = game
    return seed_players(url, video_id, web_clip[1])


def _listed(client, video_id) -> dict:
    r = client.get(f"/api/videos/{video_id}/players")
    assert r.status_code == 200, r.text
    return r.json()


def test_the_list_gives_players_and_each_tracks_player(game, owner, web_clip):
    client, _, video_id, _ = game
    got = _listed(client, video_id)
    assert got["hint"] is None
    assert got["track_players"] == {str(t): p for t, p in sorted(owner.items())}
    by_id = {p["player"]: p for p in got["players"]}
    first = by_id[owner[HANDOVER[0]]]
    assert first == {"player": owner[0], "team": "A", "number": "23", "name": "Ada Lovelace",
                     "tracks": [0, HANDOVER[1]], "frames": 120, "first_frame": 0, "last_frame": 119,
                     "source": "manual"}
    assert by_id[owner[2]]["name"] == NAMES[2]  # data, as stored
    assert owner[HIDDEN[0]] != owner[HIDDEN[1]] and by_id[owner[HIDDEN[1]]]["number"] is None
    assert sorted(t for p in got["players"] for t in p["tracks"]) == sorted(owner)


def test_a_video_without_players_gets_an_empty_list_and_the_command_and_no_reading(game):
    from sqlalchemy import func, select

    from basketball_analyzer.db import transaction
    from basketball_analyzer.db.players import TrackPlayer

    client, url, _, plain = game
    got = _listed(client, plain)
    assert got["players"] == [] and got["track_players"] == {}
    assert f"bball players {plain}" in got["hint"]
    with transaction(url) as s:  # a GET identifies nobody
        assert s.execute(select(func.count()).select_from(TrackPlayer)
                         .where(TrackPlayer.video_id == plain)).scalar_one() == 0
    missing = client.get("/api/videos/99999/players")
    assert missing.status_code == 404 and "99999" in missing.json()["error"]


def test_a_merge_from_the_page_joins_the_players_and_is_kept(game, owner):
    client, _, video_id, _ = game
    before = _listed(client, video_id)
    r = client.post(f"/api/videos/{video_id}/players/merge", json={"players": [owner[1], owner[21]]},
                    headers=SAME_ORIGIN)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["player"]["player"] == owner[1] and body["player"]["tracks"] == [1, 21]
    assert body["player"]["number"] == "8" and body["player"]["source"] == "manual"
    after = _listed(client, video_id)
    assert len(after["players"]) == len(before["players"]) - 1
    assert after["track_players"]["21"] == owner[1] and body["track_players"] == after["track_players"]


@pytest.mark.parametrize("players, status, message", [
    (["overlap"], 400, "overlap in time"),
    (["teams"], 400, "are on different teams"),
    (["one"], 400, "at least two different players"),
    (["unknown"], 404, "has no player 9999"),
])
def test_a_refused_merge_says_why_in_one_line_and_changes_nothing(game, owner, players, status, message):
    client, _, video_id, _ = game
    ids = {"overlap": [owner[0], owner[2]], "teams": [owner[0], owner[1]], "one": [owner[0], owner[0]],
           "unknown": [owner[0], 9999]}[players[0]]
    before = _listed(client, video_id)
    r = client.post(f"/api/videos/{video_id}/players/merge", json={"players": ids}, headers=SAME_ORIGIN)
    assert r.status_code == status and message in r.json()["error"], r.text
    assert "\n" not in r.json()["error"]
    assert _listed(client, video_id) == before


@pytest.mark.parametrize("body", [{"players": ["1", "2"]}, {"players": [True, 2]}, {"players": [0, 1]},
                                  {"players": [1, 2], "into": 3}, {"players": list(range(1, 200))}, {}])
def test_a_merge_body_of_the_wrong_shape_is_a_422(game, owner, body):
    client, _, video_id, _ = game
    r = client.post(f"/api/videos/{video_id}/players/merge", json=body, headers=SAME_ORIGIN)
    assert r.status_code == 422 and r.json()["error"].startswith("invalid"), r.text


def test_set_names_and_numbers_a_player_and_refuses_with_one_line(game, owner):
    client, _, video_id, _ = game
    path = f"/api/videos/{video_id}/players/{owner[HIDDEN[1]]}"
    r = client.post(path, json={"number": "#12", "name": "  Grace Hopper "}, headers=SAME_ORIGIN)
    assert r.status_code == 200, r.text
    assert (r.json()["player"]["number"], r.json()["player"]["name"]) == ("12", "Grace Hopper")
    before = _listed(client, video_id)
    for body, status, message in [
        ({"number": "8"}, 400, f"player {owner[HIDDEN[0]]} of team B wears 8 already"),
        ({"number": "123"}, 400, "is not 0-99"),
        ({"team": "C"}, 400, "unknown team 'C'"),
        ({"name": "x" * 81}, 400, "at most 80 printable characters"),
        ({}, 400, "nothing to set"),
        ({"number": 12}, 422, "invalid number"),
        ({"nickname": "G"}, 422, "invalid nickname"),
    ]:
        got = client.post(path, json=body, headers=SAME_ORIGIN)
        assert got.status_code == status and message in got.json()["error"], (body, got.text)
    assert client.post(f"/api/videos/{video_id}/players/9999", json={"name": "x"},
                       headers=SAME_ORIGIN).status_code == 404
    assert _listed(client, video_id) == before
    cleared = client.post(path, json={"number": "", "name": ""}, headers=SAME_ORIGIN).json()["player"]
    assert cleared["number"] is None and cleared["name"] is None


def test_split_takes_a_track_off_its_player(game, owner):
    client, _, video_id, _ = game
    r = client.post(f"/api/videos/{video_id}/players/split", json={"track": HANDOVER[1]}, headers=SAME_ORIGIN)
    assert r.status_code == 200, r.text
    assert r.json()["player"]["tracks"] == [0] and r.json()["new_player"]["tracks"] == [HANDOVER[1]]
    before = _listed(client, video_id)
    only = client.post(f"/api/videos/{video_id}/players/split", json={"track": 0}, headers=SAME_ORIGIN)
    assert only.status_code == 400 and "only track" in only.json()["error"]
    assert _listed(client, video_id) == before


def test_player_writes_follow_the_apps_origin_host_and_token_rules(game, owner, tmp_path):
    import httpx
    from fastapi.testclient import TestClient
    from support.browser import serving

    from basketball_analyzer.config import load_settings
    from basketball_analyzer.web.app import create_app

    client, url, video_id, _ = game
    before = _listed(client, video_id)
    merge, body = f"/api/videos/{video_id}/players/merge", {"players": [owner[1], owner[21]]}
    rename = f"/api/videos/{video_id}/players/{owner[0]}"
    for path, data in [(merge, body), (rename, {"name": "Mallory"})]:
        cross = client.post(path, json=data, headers={"Sec-Fetch-Site": "cross-site"})
        assert cross.status_code == 403 and "same-origin" in cross.json()["error"]
        assert client.post(path, json=data).status_code == 403  # a request that says nothing of its origin
    assert _listed(client, video_id) == before
    settings = load_settings(database_url=url, web_upload_dir=str(tmp_path / "up"))
    with TestClient(create_app(settings, token="s3cret")) as guarded:
        assert guarded.post(merge, json=body, headers=SAME_ORIGIN).status_code == 401
        assert guarded.get(f"/api/videos/{video_id}/players").status_code == 401
        ok = guarded.post(merge, json=body, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and ok.json()["player"]["tracks"] == [1, 21]
    with serving(create_app(settings)) as base:  # DNS rebinding: a foreign Host name on the loopback socket
        foreign = httpx.post(base + rename, json={"name": "Mallory"},
                             headers={"Host": "evil.example", "Origin": "http://evil.example"})
        assert foreign.status_code == 421
    assert all(p["name"] != "Mallory" for p in _listed(client, video_id)["players"])


def _png(response) -> np.ndarray:
    import cv2

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR).astype(int)


def test_a_player_heatmap_covers_all_his_tracks(game, owner, web_clip):
    from basketball_analyzer.analytics.calibration import get_calibration
    from basketball_analyzer.analytics.pictures import CourtCanvas, _heat_panel
    from basketball_analyzer.db import transaction

    client, url, video_id, plain = game
    truth = web_clip[1]
    with transaction(url) as s:
        cal = get_calibration(s, video_id)
    canvas = CourtCanvas(cal.court)
    boxes = truth.boxes[truth.boxes.tracker_id == 0]  # the person behind tracks 0 and 20
    x1, _, x2, y2 = boxes.xyxy.T
    feet = cal.to_court(np.c_[(x1 + x2) / 2, y2])
    got = _png(client.get(f"/api/videos/{video_id}/players/{owner[0]}/heatmap.png"))[24:]
    # The heat drawn from the true feet of both tracks, and of the first track alone (the title bar left out).
    both = _heat_panel(canvas, feet, "")[24:].astype(int)
    first = _heat_panel(canvas, feet[boxes.frame_number < HANDOVER[2]], "")[24:].astype(int)
    near, one = np.abs(got - both).mean(), np.abs(got - first).mean()
    assert near < 0.1 and one > 0.5, (near, one)  # measured: 0.0 and 1.04
    unknown = client.get(f"/api/videos/{video_id}/players/9999/heatmap.png")
    assert unknown.status_code == 404 and "has no player 9999" in unknown.json()["error"]
    bare = client.get(f"/api/videos/{plain}/players/1/heatmap.png")
    assert bare.status_code == 404 and f"bball court set {plain}" in bare.json()["error"]
    assert client.get(f"/api/videos/{video_id}/players/0/heatmap.png").status_code == 422
