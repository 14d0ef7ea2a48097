"""The web API's cloud routes against the real S3 server: submit, list with progress, import, cancel, retry;
bucket strings come back as data."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from support.browser import CHROMIUM, SKIP_REASON, chromium_page, serving

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
    listed = client.get("/api/cloud/jobs").json()[0]
    assert listed["status"] == "completed" and listed["actions"] == ["cancel", "retry", "import"]
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
    assert client.get("/api/cloud/jobs").json()[0]["actions"] == ["retry"]
    assert client.post(f"/api/cloud/jobs/{job_id}/retry", headers=SAME_ORIGIN).json()["status"] == "pending"
    bad = client.post("/api/cloud/jobs/not-a-job/cancel", headers=SAME_ORIGIN)
    assert bad.status_code == 400 and "invalid job id" in bad.json()["error"]
    missing = client.post("/api/cloud/jobs/01JD3V6W8K2M4N5P7Q9R0S1T2V/retry", headers=SAME_ORIGIN)
    assert missing.status_code == 404 and "no cloud job" in missing.json()["error"]
    unknown = client.post("/api/cloud/jobs", json={"video_id": 4242}, headers=SAME_ORIGIN)
    assert unknown.status_code == 404 and "no video with id 4242" in unknown.json()["error"]


@pytest.fixture(scope="module")
def game_clip(tmp_path_factory):
    """150 frames: two segments of 75, each longer than the 60-frame overlap."""
    from basketball_analyzer.sample import make_sample_clip

    path = tmp_path_factory.mktemp("webgame") / "game.mp4"
    make_sample_clip(path, frames=150, width=320, height=180, players=2)
    return path


def _app_with_video(cloud_settings, clip, tmp_path):
    url = f"sqlite:///{tmp_path / 'web.db'}"
    settings = load_settings(**{**cloud_settings.model_dump(), "database_url": url})
    with transaction(url) as s:
        video_id = register_video(s, clip).video.id
    return settings, video_id


def test_segments_through_the_api(cloud_settings, game_clip, tiny_clip, tmp_path):
    settings, video_id = _app_with_video(cloud_settings, game_clip, tmp_path)
    client = TestClient(create_app(settings))
    job = client.post("/api/cloud/jobs", json={"video_id": video_id, "detector": "hog", "segments": 2},
                      headers=SAME_ORIGIN)
    assert job.status_code == 201, job.text
    assert job.json()["segments"] == 2
    [listed] = client.get("/api/cloud/jobs").json()
    assert listed["status"] == "pending" and listed["frames_total"] == 150
    assert [(s["index"], s["start_frame"], s["end_frame"], s["status"]) for s in listed["segments"]] == \
        [(0, 0, 75, "pending"), (1, 75, 150, "pending")]

    assert CloudWorker(settings, worker_id="seg-a").work(max_jobs=1) == 1
    [listed] = client.get("/api/cloud/jobs").json()
    # One segment done: the job is under way, and counts each frame once (not the second's overlap).
    assert listed["status"] == "processing" and listed["frames_done"] == 75
    assert sorted(s["status"] for s in listed["segments"]) == ["completed", "pending"]
    assert CloudWorker(settings, worker_id="seg-b").work(burst=True) == 1
    [listed] = client.get("/api/cloud/jobs").json()
    assert listed["status"] == "completed" and {s["worker_id"] for s in listed["segments"]} == {"seg-a", "seg-b"}
    imported = client.post(f"/api/cloud/jobs/{listed['job_id']}/import", headers=SAME_ORIGIN)
    assert imported.status_code == 200 and imported.json()["rows"] > 0

    # Segments that cannot work are one 4xx line, and nothing is queued.
    for segments, status, message in ((0, 422, "segments"), (3, 400, "shorter than the 60-frame overlap")):
        bad = client.post("/api/cloud/jobs", json={"video_id": video_id, "segments": segments},
                          headers=SAME_ORIGIN)
        assert bad.status_code == status and message in bad.json()["error"], bad.text
    assert len(client.get("/api/cloud/jobs").json()) == 1


@pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)
def test_the_jobs_page_shows_each_segment(cloud_settings, game_clip, tmp_path):
    import threading

    settings, video_id = _app_with_video(cloud_settings, game_clip, tmp_path)
    with serving(create_app(settings)) as url, chromium_page() as page:
        page.goto(f"{url}/jobs")
        page.wait_for_selector(f"#video-select option[value='{video_id}']", state="attached")
        page.select_option("select[name=detector]", "hog")
        page.select_option("select[name=where]", "cloud")
        page.fill("input[name=segments]", "2")
        page.click("#create button[type=submit]")
        page.wait_for_selector("tr.segment >> nth=1", timeout=10_000)
        assert "in 2 segments" in page.inner_text("#create-status")
        rows = page.locator("tr.segment").all_inner_texts()
        assert "1/2 frames 0\u201375" in rows[0] and "2/2 frames 75\u2013150" in rows[1]
        worker = threading.Thread(target=CloudWorker(settings, worker_id="page-worker").work,
                                  kwargs={"burst": True})
        worker.start()
        try:
            page.wait_for_selector("tr[data-job][data-status='completed']", timeout=120_000)
            page.wait_for_selector("tr.segment[data-status='completed'] >> nth=1", timeout=10_000)
        finally:
            worker.join(120)
        assert "2 segments" in page.inner_text("tr[data-job][data-status='completed']")
        assert all("page-worker" in row for row in page.locator("tr.segment").all_inner_texts())
