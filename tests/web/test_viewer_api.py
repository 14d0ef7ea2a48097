"""The routes the pages add (web/viewer_api.py), on SQLite and PostgreSQL: one track's heatmap, and the jobs
form's options with whether a bucket is configured."""

from __future__ import annotations

import numpy as np
import pytest


def _png(response) -> np.ndarray:
    import cv2

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)


def test_a_track_heatmap_is_hot_where_that_track_stood(client, stored, db_url):
    from basketball_analyzer.analytics.calibration import get_calibration
    from basketball_analyzer.analytics.pictures import CourtCanvas
    from basketball_analyzer.db import transaction

    video_id, truth = stored
    with transaction(db_url) as s:
        cal = get_calibration(s, video_id)
    canvas = CourtCanvas(cal.court)
    for track in (0, 3):
        image = _png(client.get(f"/api/videos/{video_id}/tracks/{track}/heatmap.png"))
        assert image.shape == canvas.image.shape
        heat = np.abs(image.astype(int) - canvas.image).sum(axis=2)
        heat[:24] = 0  # the title bar
        ys, xs = np.nonzero(heat > 60)
        boxes = truth.boxes[truth.boxes.tracker_id == track]
        x1, _, x2, y2 = boxes.xyxy.T
        stood = canvas.px(cal.to_court(np.c_[(x1 + x2) / 2, y2]).mean(axis=0))
        # The heat's middle is where the player's feet were, within a metre and a half of court.
        assert np.hypot(xs.mean() - stood[0], ys.mean() - stood[1]) < 1.5 * canvas.scale, (track, stood)


def test_a_track_heatmap_says_what_is_missing(client, stored, db_url, web_clip, tmp_path):
    from basketball_analyzer.db import transaction
    from basketball_analyzer.db.detections import replace_detections
    from basketball_analyzer.sample import make_sample_clip
    from basketball_analyzer.videos import register_video

    video_id, _ = stored
    unknown = client.get(f"/api/videos/{video_id}/tracks/999/heatmap.png")
    assert unknown.status_code == 404 and unknown.json() == {"error": f"video {video_id} has no track 999"}
    assert client.get("/api/videos/99999/tracks/0/heatmap.png").status_code == 404
    for bad in (2**63, -1, "x"):
        r = client.get(f"/api/videos/{video_id}/tracks/{bad}/heatmap.png")
        assert r.status_code == 422 and r.json()["error"].startswith("invalid tracking_id")
    clip = tmp_path / "plain.mp4"
    boxes = make_sample_clip(clip, frames=5, width=160, height=128, players=1)
    with transaction(db_url) as s:
        plain = register_video(s, clip).video.id
        replace_detections(s, plain, boxes)
    r = client.get(f"/api/videos/{plain}/tracks/0/heatmap.png")
    assert r.status_code == 404 and f"bball court set {plain}" in r.json()["error"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_run_options_offer_the_detectors_and_say_whether_a_bucket_is_set(client, db_url, tmp_path):
    from fastapi.testclient import TestClient

    from basketball_analyzer.config import load_settings
    from basketball_analyzer.detection.factory import DEFAULT_CONFIDENCE, available_detectors
    from basketball_analyzer.web.app import create_app

    options = client.get("/api/run-options").json()
    assert options["detectors"] == list(available_detectors())
    assert options["default_confidence"] == DEFAULT_CONFIDENCE
    assert options["default_prompt"] == "basketball player"
    assert options["max_prompts"] == 8 and options["max_sample_interval"] == 10_000
    assert options["cloud"]["configured"] is False
    assert "R2_ACCESS_KEY_ID" in options["cloud"]["problem"]
    app = create_app(load_settings(database_url=db_url, r2_endpoint_url="http://127.0.0.1:9", r2_access_key_id="k",
                                   r2_secret_access_key="s3cret", r2_bucket_name="b"))
    with TestClient(app) as configured:
        cloud = configured.get("/api/run-options").json()["cloud"]
    assert cloud == {"configured": True, "problem": None}
