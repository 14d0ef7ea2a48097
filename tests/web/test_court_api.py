"""The court routes on SQLite and PostgreSQL, against the synthetic broadcast's truth (a camera that pans and zooms,
then cuts to a replay): courts and landmarks, a dry-run fit that stores nothing, saving keyframes that follow the
camera, the lines drawn back over a frame, positions and on-court flags in the detections chunks, one track's
heatmap from its stored positions, and bad input refused with one line and nothing written."""

from __future__ import annotations

import numpy as np
import pytest
from support.broadcast import make_broadcast, store_broadcast

from basketball_analyzer.analytics.court import COURTS, apply_homography

FRAMES, CUT = 90, (60, 72)
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


@pytest.fixture(scope="module")
def broadcast(tmp_path_factory):
    return make_broadcast(tmp_path_factory, frames=FRAMES, cuts=[CUT])


@pytest.fixture
def video(db_url, broadcast):
    """(video id, truth): the broadcast registered with its true boxes, not calibrated."""
    return store_broadcast(db_url, broadcast)


@pytest.fixture
def keyed(db_url, broadcast, db_snapshots, tmp_path):
    """(video id, truth): the broadcast with frame 0 saved as a keyframe through the API (followed: seconds, so made
    once per backend and copied into each test's database)."""
    def build(url):
        from fastapi.testclient import TestClient

        from basketball_analyzer.config import load_settings
        from basketball_analyzer.web.app import create_app

        video_id, truth = store_broadcast(url, broadcast)
        app = create_app(load_settings(database_url=url, web_upload_dir=str(tmp_path / "uploads")))
        with TestClient(app) as c:
            first = c.post(f"/api/videos/{video_id}/court/keyframes", json=keyframe(truth, 0), headers=SAME_ORIGIN)
        assert first.status_code == 201, first.text
        return video_id, truth

    return db_snapshots.restore("court-api-keyed", db_url, build)


def keyframe(truth, frame: int, court: str = "fiba") -> dict:
    """The request body of the truth's landmarks on `frame`, as the page sends it."""
    points = []
    for pair in truth.calibration_pairs(frame):
        xy, name = pair.split("=")
        points.append({"image": [float(v) for v in xy.split(",")], "court": name})
    return {"frame": frame, "court": court, "points": points}


def counts(db_url) -> tuple[int, int, int]:
    from sqlalchemy import text

    from basketball_analyzer.db import transaction

    with transaction(db_url) as s:
        return tuple(s.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                     for t in ("court_calibrations", "camera_paths", "player_positions"))


def off_the_lines(points: np.ndarray) -> np.ndarray:
    """How far each court point (N, 2) is from the nearest painted line of a FIBA court, in metres."""
    from basketball_analyzer.analytics.court import court_lines

    best = np.full(len(points), np.inf)
    for line in court_lines(COURTS["fiba"]):
        for a, b in zip(line[:-1], line[1:]):
            t = np.clip(((points - a) @ (b - a)) / max(float((b - a) @ (b - a)), 1e-12), 0, 1)
            best = np.minimum(best, np.linalg.norm(points - (a + t[:, None] * (b - a)), axis=1))
    return best


def test_courts_describe_their_landmarks_and_lines(client):
    courts = {c["name"]: c for c in client.get("/api/courts").json()}
    assert set(courts) == {"fiba", "nba"}
    nba = courts["nba"]
    assert (nba["unit"], nba["length"], nba["width"]) == ("ft", 94.0, 50.0)
    assert nba["landmarks"]["right_ft_far"] == list(COURTS["nba"].landmarks["right_ft_far"])
    outline = np.array(courts["fiba"]["lines"][0])
    assert outline.min(axis=0).tolist() == [0, 0] and outline.max(axis=0).tolist() == [28, 15]


def test_a_fit_is_drawn_back_where_the_court_is_and_stores_nothing(client, video, db_url):
    video_id, truth = video
    r = client.post(f"/api/videos/{video_id}/court/fit", json=keyframe(truth, 30), headers=SAME_ORIGIN)
    assert r.status_code == 200, r.text
    fit = r.json()
    assert fit["unit"] == "m" and fit["points"] >= 4 and fit["rms_error"] < 0.02
    assert len(fit["errors"]) == fit["points"] and max(fit["errors"]) <= fit["max_error"] + 1e-4
    # The lines come back in image pixels and lie on the truth's own picture of the court lines.
    drawn = np.concatenate([np.array(line) for line in fit["lines"]])
    assert len(drawn) > 50 and np.isfinite(drawn).all()
    back = apply_homography(truth.to_court[30], drawn)  # image -> court through the true camera
    assert np.percentile(off_the_lines(back), 95) < 0.05
    inside = (drawn[:, 0] > -1) & (drawn[:, 0] < 641) & (drawn[:, 1] > -1) & (drawn[:, 1] < 361)
    assert inside.mean() > 0.5  # a broadcast frame shows part of the court: the rest is cut off near the frame
    assert counts(db_url) == (0, 0, 0)


def test_saved_keyframes_follow_the_camera_and_the_chunks_carry_positions(client, video, db_url):
    video_id, truth = video
    assert client.get(f"/api/videos/{video_id}/court").status_code == 404
    r = client.post(f"/api/videos/{video_id}/court/keyframes", json=keyframe(truth, 0), headers=SAME_ORIGIN)
    assert r.status_code == 201, r.text
    saved = r.json()
    assert saved["frames"] == FRAMES and saved["mapped_frames"] == CUT[0]
    assert [(u["start"], u["end"]) for u in saved["unmapped"]] == [(CUT[0], FRAMES)]
    assert "cut" in saved["unmapped"][0]["reason"]
    # A keyframe after the cut, in the unmapped range, maps it forward and back to the cut.
    later = client.post(f"/api/videos/{video_id}/court/keyframes", json=keyframe(truth, 80), headers=SAME_ORIGIN)
    assert later.status_code == 201, later.text
    assert [(u["start"], u["end"]) for u in later.json()["unmapped"]] == [CUT]
    court = client.get(f"/api/videos/{video_id}/court").json()
    assert (court["court"], court["unit"], court["frames"], court["followed"]) == ("fiba", "m", FRAMES, True)
    assert [k["frame"] for k in court["keyframes"]] == [0, 80]
    assert court["keyframes"][0]["points"][0]["image"] == keyframe(truth, 0)["points"][0]["image"]
    assert court["keyframes"][0]["rms_error"] < 0.02
    assert court["mapped_frames"] == FRAMES - (CUT[1] - CUT[0])
    assert [(u["start"], u["end"]) for u in court["unmapped"]] == [CUT] and "matrix" not in court

    d = client.get(f"/api/videos/{video_id}/detections", params={"start": 0, "end": FRAMES}).json()
    frame, tid = np.array(d["frame"]), np.array(d["id"])
    on = np.array([v is True for v in d["on_court"]])
    off = np.array([v is False for v in d["on_court"]])
    unmapped = np.array([v is None for v in d["on_court"]])
    assert (unmapped == ((frame >= CUT[0]) & (frame < CUT[1]))).all()
    assert all(d["court_x"][i] is None and d["court_y"][i] is None for i in np.flatnonzero(unmapped))
    xy = np.array([[d["court_x"][i], d["court_y"][i]] for i in np.flatnonzero(on)], np.float64)
    err = np.linalg.norm(xy - truth.positions[frame[on], tid[on]], axis=1)
    assert np.median(err) < 0.3 and np.percentile(err, 95) < 1.0
    player = truth.on_court[tid]
    assert on[player & ~unmapped].mean() > 0.98 and off[~player & ~unmapped].mean() > 0.95


def test_the_lines_of_a_frame_come_from_its_mapping_or_say_why_there_is_none(client, video):
    video_id, truth = video
    client.post(f"/api/videos/{video_id}/court/keyframes", json=keyframe(truth, 0), headers=SAME_ORIGIN)
    tracked = client.get(f"/api/videos/{video_id}/court/lines", params={"frame": 40}).json()
    assert tracked["source"] == "tracked" and tracked["reason"] is None
    drawn = np.concatenate([np.array(line) for line in tracked["lines"]])
    # The followed camera's lines, seen through the true camera of frame 40, lie on the painted lines.
    assert np.median(off_the_lines(apply_homography(truth.to_court[40], drawn))) < 0.1
    gone = client.get(f"/api/videos/{video_id}/court/lines", params={"frame": CUT[0] + 3}).json()
    assert gone["source"] is None and gone["lines"] == [] and "cut" in gone["reason"]
    assert client.get(f"/api/videos/{video_id}/court/lines", params={"frame": FRAMES}).status_code == 400


def test_a_track_heatmap_is_where_its_stored_positions_are_and_only_on_the_court(client, video, db_url):
    import cv2
    from sqlalchemy import text

    from basketball_analyzer.analytics.pictures import CourtCanvas
    from basketball_analyzer.db import transaction

    video_id, truth = video
    client.post(f"/api/videos/{video_id}/court/keyframes", json=keyframe(truth, 0), headers=SAME_ORIGIN)
    canvas = CourtCanvas(COURTS["fiba"])

    def heat(track: int) -> np.ndarray:
        r = client.get(f"/api/videos/{video_id}/tracks/{track}/heatmap.png")
        assert r.status_code == 200, r.text
        image = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR).astype(int)
        diff = np.abs(image - canvas.image).sum(axis=2)
        diff[:24] = 0  # the title bar
        return diff > 60

    b = truth.boxes
    for track in (2, 7):  # the camera pans with them: one homography would put them metres away
        ys, xs = np.nonzero(heat(track))
        frames = b.frame_number[(b.tracker_id == track) & (b.frame_number < CUT[0])]
        stood = canvas.px(truth.positions[frames, track].mean(axis=0))
        assert np.hypot(xs.mean() - stood[0], ys.mean() - stood[1]) < 1.5 * canvas.scale, track
    # The same track judged off the court (as benches are): its heatmap is empty.
    with transaction(db_url) as s:
        s.execute(text("UPDATE player_positions SET on_court = :f WHERE video_id = :v AND tracking_id = 2"),
                  {"f": False, "v": video_id})
    assert heat(2).sum() == 0 and heat(7).sum() > 200


BAD = [
    (lambda b: b.update(points=b["points"][:3]), 400, "need at least 4 point pairs to fit the court, got 3"),
    (lambda b: b["points"][0].update(image=[700.0, 10.0]), 400, "image point 700,10 is outside the 640 x 360 video"),
    (lambda b: b.update(frame=FRAMES), 400, f"frame {FRAMES} is outside video 1's frames 0..{FRAMES - 1}"),
    (lambda b: b.update(court="nba"), 400, "keyframes are on a fiba court, not nba"),
    (lambda b: b["points"][0].update(court="free_throw"), 400, "unknown court landmark 'free_throw'"),
    (lambda b: b["points"][0].update(court=[500.0, 3.0]), 400, "far outside the fiba court"),
    (lambda b: b.update(court="ice"), 400, "unknown court 'ice'"),
    (lambda b: b.update(frame="3"), 422, "invalid frame"),
    (lambda b: b["points"][0].update(image=[1.0]), 422, "invalid points.0.image"),
    (lambda b: b.update(extra=1), 422, "invalid extra"),
]


@pytest.mark.parametrize("route", ["fit", "keyframes"])
@pytest.mark.parametrize("spoil, status, message", BAD, ids=[m for _, _, m in BAD])
def test_bad_keyframes_get_one_line_and_change_nothing(client, keyed, db_url, route, spoil, status, message):
    video_id, truth = keyed
    before = counts(db_url)
    body = keyframe(truth, 30)
    spoil(body)
    r = client.post(f"/api/videos/{video_id}/court/{route}", json=body, headers=SAME_ORIGIN)
    assert r.status_code == status, r.text
    assert message in r.json()["error"] and "\n" not in r.json()["error"]
    assert counts(db_url) == before


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("route", ["fit", "keyframes"])
def test_court_writes_follow_the_apps_origin_and_token_rules(client, video, db_url, route, tmp_path):
    from fastapi.testclient import TestClient

    from basketball_analyzer.config import load_settings
    from basketball_analyzer.web.app import create_app

    video_id, truth = video
    path = f"/api/videos/{video_id}/court/{route}"
    body = keyframe(truth, 0)
    cross = client.post(path, json=body, headers={"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403 and "same-origin" in cross.json()["error"]
    assert client.post(path, json=body).status_code == 403  # a request that says nothing of its origin
    assert client.post("/api/videos/999/court/fit", json=body, headers=SAME_ORIGIN).status_code == 404
    assert counts(db_url) == (0, 0, 0)
    with TestClient(create_app(load_settings(database_url=db_url), token="s3cret")) as guarded:
        assert guarded.post(path, json=body, headers=SAME_ORIGIN).status_code == 401
        ok = guarded.post(path, json=body, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == (200 if route == "fit" else 201), ok.text
