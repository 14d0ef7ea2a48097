"""The web API's cloud routes against the real S3 server: submit, list with progress, import, cancel, retry;
bucket strings come back as data."""

from __future__ import annotations

from fastapi.testclient import TestClient

from basketball_analyzer.config import load_settings
from basketball_analyzer.db import transaction
from basketball_analyzer.db.detections import count_detections
from basketball_analyzer.videos import register_video
from basketball_analyzer.web.app import create_app
from basketball_analyzer.worker.cloud import CloudWorker

SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def test_submit_work_import_through_the_api(cloud_settings, tiny_clip, tmp_path):
    url = f"sqlite:///{tmp_path / 'web.db'}"
    settings = load_settings(**{**cloud_settings.model_dump(), "database_url": url})
    with transaction(url) as s:
        video_id = register_video(s, tiny_clip).video.id
    client = TestClient(create_app(settings))
    job = client.post("/api/cloud/jobs", json={"video_id": video_id, "detector": "ssd"}, headers=SAME_ORIGIN)
    assert job.status_code == 201, job.text
    job_id = job.json()["job_id"]
    listed = client.get("/api/cloud/jobs").json()
    assert [(j["job_id"], j["status"], j["video_name"]) for j in listed] == [(job_id, "pending", "tiny.mp4")]

    assert CloudWorker(settings, worker_id="web-test").work(burst=True) == 1
    assert client.get("/api/cloud/jobs").json()[0]["status"] == "completed"
    imported = client.post(f"/api/cloud/jobs/{job_id}/import", headers=SAME_ORIGIN)
    assert imported.status_code == 200 and imported.json()["rows"] > 0
    with transaction(url) as s:
        assert count_detections(s, video_id=video_id) == imported.json()["rows"]
    again = client.post(f"/api/cloud/jobs/{job_id}/import", headers=SAME_ORIGIN).json()
    assert again["already_imported"] and again["rows"] == imported.json()["rows"]


def test_cancel_retry_and_bad_ids(cloud_settings, tiny_clip, tmp_path):
    url = f"sqlite:///{tmp_path / 'web.db'}"
    settings = load_settings(**{**cloud_settings.model_dump(), "database_url": url})
    with transaction(url) as s:
        video_id = register_video(s, tiny_clip).video.id
    client = TestClient(create_app(settings))
    job_id = client.post("/api/cloud/jobs", json={"video_id": video_id}, headers=SAME_ORIGIN).json()["job_id"]
    assert client.post(f"/api/cloud/jobs/{job_id}/cancel", headers=SAME_ORIGIN).json()["status"] == "cancelled"
    assert client.post(f"/api/cloud/jobs/{job_id}/retry", headers=SAME_ORIGIN).json()["status"] == "pending"
    bad = client.post("/api/cloud/jobs/not-a-job/cancel", headers=SAME_ORIGIN)
    assert bad.status_code == 400 and "invalid job id" in bad.json()["error"]
    missing = client.post("/api/cloud/jobs/01JD3V6W8K2M4N5P7Q9R0S1T2V/retry", headers=SAME_ORIGIN)
    assert missing.status_code == 404 and "no cloud job" in missing.json()["error"]
    unknown = client.post("/api/cloud/jobs", json={"video_id": 4242}, headers=SAME_ORIGIN)
    assert unknown.status_code == 404 and "no video with id 4242" in unknown.json()["error"]
