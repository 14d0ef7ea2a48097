"""The HTTP API on SQLite and PostgreSQL: videos, file ranges, detections by frame range, jobs, errors."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from basketball_analyzer.config import load_settings
from basketball_analyzer.web.app import create_app

SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def test_videos_and_detections_by_frame_range(client, stored):
    video_id, truth = stored
    videos = client.get("/api/videos").json()
    assert [v["id"] for v in videos] == [video_id]
    v = videos[0]
    assert v["detections"] == len(truth.boxes) and v["tracks"] == 11 and v["teams"] and v["calibrated"]
    d = client.get(f"/api/videos/{video_id}/detections", params={"start": 50, "end": 52}).json()
    assert d["start"] == 50 and d["labels"] == ["player"] and len(d["frame"]) == 22
    want = truth.boxes[(truth.boxes.frame_number == 51) & (truth.boxes.tracker_id == 4)]
    i = [k for k in range(22) if d["frame"][k] == 51 and d["id"][k] == 4][0]
    assert np.allclose([d["x"][i], d["y"][i], d["w"][i], d["h"][i]],
                       [want.x[0], want.y[0], want.width[0], want.height[0]], atol=0.06)
    tracks = client.get(f"/api/videos/{video_id}/tracks").json()
    assert {t["team"] for t in tracks} == {"A", "B", "other"}
    assert client.get(f"/api/videos/{video_id}/stats").json()["unit"] == "m"
    assert client.get(f"/api/videos/{video_id}/court").json()["court"] == "fiba"
    assert client.get(f"/api/videos/{video_id}/heatmap.png").content[:4] == b"\x89PNG"
    assert client.get(f"/api/videos/{video_id}/thumbnail.jpg").content[:2] == b"\xff\xd8"


def test_video_file_is_served_with_ranges(client, stored, web_clip):
    video_id, _ = stored
    data = web_clip[0].read_bytes()
    whole = client.get(f"/api/videos/{video_id}/file")
    assert whole.status_code == 200 and whole.content == data and whole.headers["accept-ranges"] == "bytes"
    part = client.get(f"/api/videos/{video_id}/file", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]


def test_local_jobs_create_list_cancel(client, stored):
    video_id, _ = stored
    job = client.post("/api/jobs", json={"video_id": video_id, "detector": "hog"}, headers=SAME_ORIGIN)
    assert job.status_code == 201 and job.json()["status"] == "pending"
    assert [j["id"] for j in client.get("/api/jobs").json()] == [job.json()["id"]]
    assert client.get("/api/jobs").json()[0]["actions"] == ["cancel"]  # what the page may offer
    cancelled = client.post(f"/api/jobs/{job.json()['id']}/cancel", headers=SAME_ORIGIN).json()
    assert cancelled["status"] == "cancelled"
    assert client.get("/api/jobs").json()[0]["actions"] == []  # cancelled is final


@pytest.mark.parametrize("method, path, kwargs, status, message", [
    ("get", "/api/videos/99", {}, 404, "no video with id 99"),
    ("get", "/api/videos/..%2F..%2Fetc%2Fpasswd/file", {}, 404, "no such page or API route"),
    ("get", "/api/videos/etc/file", {}, 422, "invalid video_id"),
    ("get", "/api/videos/{v}/detections?start=500&end=510", {}, 416, "outside video"),
    ("get", "/api/videos/{v}/detections?start=0&end=5000", {}, 400, "ask for at most 3000"),
    ("get", "/api/videos/{v}/detections?start=-1&end=5", {}, 422, "invalid start"),
    ("post", "/api/jobs", {"json": {"video_id": 99}}, 404, "no video with id 99"),
    ("post", "/api/jobs", {"json": {"video_id": "{v}", "detector": "magic"}}, 400, "unknown detector 'magic'"),
    ("post", "/api/jobs", {"json": {"video_id": 2**40}}, 422, "invalid video_id"),
    ("post", "/api/jobs/4242/cancel", {}, 404, "no job with id 4242"),
    ("post", "/api/videos", {"files": {"file": ("notes.mp4", b"this is not a video", "video/mp4")}}, 400,
     "notes.mp4 is not a readable video"),
    ("get", "/api/cloud/jobs", {}, 400, "no bucket configured"),
])
def test_bad_requests_get_a_4xx_with_one_line(client, stored, method, path, kwargs, status, message):
    video_id, _ = stored
    if "json" in kwargs:
        kwargs = {"json": {k: (video_id if v == "{v}" else v) for k, v in kwargs["json"].items()}}
    response = getattr(client, method)(path.format(v=video_id), headers=SAME_ORIGIN, **kwargs)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert message in error and "\n" not in error and "Traceback" not in error


def test_upload_registers_a_video_and_refuses_oversize(client, db_url, tmp_path, web_clip):
    data = web_clip[0].read_bytes()
    ok = client.post("/api/videos", files={"file": ("my game.mp4", data, "video/mp4")}, headers=SAME_ORIGIN)
    assert ok.status_code == 201 and ok.json()["created"] and ok.json()["file_name"] == "my game.mp4"
    again = client.post("/api/videos", files={"file": ("copy.mp4", data, "video/mp4")}, headers=SAME_ORIGIN)
    assert again.status_code == 201 and not again.json()["created"]
    small = create_app(load_settings(database_url=db_url, web_max_upload_mb=1, web_upload_dir=str(tmp_path / "u")))
    big = TestClient(small).post("/api/videos", files={"file": ("big.mp4", b"\0" * (2 << 20), "video/mp4")},
                                 headers=SAME_ORIGIN)
    assert big.status_code == 413 and "larger than 1 MB" in big.json()["error"]
    assert [p.name for p in (tmp_path / "u").iterdir()] == []  # nothing half-written left


def test_token_and_same_origin_rules(db_url, stored):
    video_id, _ = stored
    app = create_app(load_settings(database_url=db_url), token="s3cret")
    c = TestClient(app)
    missing = c.get("/api/videos")
    assert missing.status_code == 401 and "needs its token" in missing.json()["error"]
    assert c.get("/api/videos", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get("/api/videos", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    page = c.get("/?token=s3cret")  # the URL `bball serve` prints sets a cookie for the page's own requests
    assert page.status_code == 200 and "bball_token" in page.headers.get("set-cookie", "")
    assert c.get("/api/videos").status_code == 200  # cookie now
    # A cookie alone cannot change state from another site: the header or a same-origin request is needed.
    cross = c.post("/api/jobs", json={"video_id": video_id}, headers={"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403 and "same-origin" in cross.json()["error"]
    assert c.post("/api/jobs", json={"video_id": video_id}, headers={"Authorization": "Bearer s3cret"}).status_code == 201
    local = TestClient(create_app(load_settings(database_url=db_url)))
    assert local.post("/api/jobs", json={"video_id": video_id}).status_code == 403  # no Origin, no token
    assert local.post("/api/jobs", json={"video_id": video_id},
                      headers={"Origin": "http://testserver"}).status_code == 201


def test_pages_and_openapi(client):
    for path in ("/", "/jobs", "/videos/1"):
        page = client.get(path)
        assert page.status_code == 200 and "<html" in page.text and "http" not in page.text.split("<body>")[0].replace(
            'href="/static', "")
    assert "/api/videos/{video_id}/detections" in client.get("/openapi.json").json()["paths"]
    assert client.get("/docs").status_code == 200
