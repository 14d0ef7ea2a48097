"""The local worker in-process and as a process: drains jobs, hands back a job when stopped."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from basketball_analyzer.config import get_settings
from basketball_analyzer.db import transaction
from basketball_analyzer.detection import DetectionParams
from basketball_analyzer.jobs import create_job, get_job
from basketball_analyzer.sample import make_sample_clip
from basketball_analyzer.videos import register_video
from basketball_analyzer.worker.local import LocalWorker
from basketball_analyzer.worker.signals import StopFlag


def test_burst_drains_every_job_then_returns(db_url, sample_clip):
    with transaction(db_url) as s:
        vid = register_video(s, sample_clip[0]).video.id
        ids = [create_job(s, vid, DetectionParams(sample_interval=8)).id for _ in range(2)]
    assert LocalWorker(get_settings(), worker_id="t").work(burst=True) == 2
    with transaction(db_url) as s:
        assert [get_job(s, i).status for i in ids] == ["completed", "completed"]


def test_a_failing_job_is_marked_failed_and_the_worker_goes_on(db_url, sample_clip, tmp_path):
    clip = tmp_path / "gone.mp4"
    make_sample_clip(clip, frames=5, width=320, height=240, players=1)
    with transaction(db_url) as s:
        gone = register_video(s, clip).video.id
        ok = register_video(s, sample_clip[0]).video.id
        j1 = create_job(s, gone, DetectionParams()).id
        j2 = create_job(s, ok, DetectionParams(sample_interval=10)).id
    clip.unlink()
    LocalWorker(get_settings(), worker_id="t").work(burst=True)
    with transaction(db_url) as s:
        failed, done = get_job(s, j1), get_job(s, j2)
        assert failed.status == "failed" and "video not found" in failed.error
        assert done.status == "completed"


def test_stop_request_hands_the_job_back(db_url, sample_clip):
    with transaction(db_url) as s:
        vid = register_video(s, sample_clip[0]).video.id
        jid = create_job(s, vid, DetectionParams()).id
    stop = StopFlag()
    worker = LocalWorker(get_settings(), worker_id="t", stop=stop)
    real = worker.run_job

    def run_and_stop(*args):
        stop.request()  # as if SIGTERM arrived just after the claim
        real(*args)

    worker.run_job = run_and_stop
    assert worker.work(burst=True) == 0
    with transaction(db_url) as s:
        job = get_job(s, jid)
        assert (job.status, job.worker_id) == ("pending", None)


def test_sigterm_to_worker_process_releases_job(tmp_path):
    clip = tmp_path / "long.mp4"
    make_sample_clip(clip, frames=600, width=320, height=180, players=3)  # long enough to be mid-run when stopped
    db = tmp_path / "w.db"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}"}
    bball = [sys.executable, "-m", "basketball_analyzer"]
    subprocess.run([*bball, "jobs", "create", str(clip)], env=env, check=True, capture_output=True)
    proc = subprocess.Popen([*bball, "worker"], env=env, stderr=subprocess.PIPE, text=True)
    con = sqlite3.connect(db)
    deadline = time.time() + 60
    while time.time() < deadline:
        row = con.execute("SELECT status, frames_processed FROM detection_jobs WHERE id=1").fetchone()
        if row[0] == "processing" and row[1] > 0:
            break
        time.sleep(0.2)
    else:
        proc.kill()
        raise AssertionError("worker never started the job")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    status, worker = con.execute("SELECT status, worker_id FROM detection_jobs WHERE id=1").fetchone()
    assert (status, worker) == ("pending", None)
    assert con.execute("SELECT COUNT(*) FROM player_detections").fetchone()[0] == 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the detector cache, not the database
def test_worker_reuses_one_detector_across_jobs(db_url, sample_clip, monkeypatch):
    from basketball_analyzer.detection import factory

    built = []
    real = factory.create_detector
    monkeypatch.setattr(factory, "create_detector", lambda *a, **k: built.append(1) or real(*a, **k))
    with transaction(db_url) as s:
        vid = register_video(s, sample_clip[0]).video.id
        for _ in range(3):
            create_job(s, vid, DetectionParams(sample_interval=10))
        create_job(s, vid, DetectionParams(sample_interval=10, confidence_threshold=0.7))
    assert LocalWorker(get_settings(), worker_id="t").work(burst=True) == 4
    assert len(built) == 2  # one per distinct (backend, prompts, threshold), not one per job


def test_worker_told_to_use_sam3_without_a_model_stops_at_start(tmp_path, monkeypatch):
    from basketball_analyzer.exceptions import BballError

    monkeypatch.setenv("DETECTOR", "sam3")
    monkeypatch.setenv("CLOUD_MODEL_PATH", str(tmp_path / "no-model"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    get_settings.cache_clear()
    with pytest.raises(BballError, match="SAM 3"):
        LocalWorker(get_settings(), worker_id="t").work(burst=True)


def test_a_bad_stored_parameter_fails_that_job_only(db_url, sample_clip):
    from sqlalchemy import update

    from basketball_analyzer.db import DetectionJob

    with transaction(db_url) as s:
        vid = register_video(s, sample_clip[0]).video.id
        bad = create_job(s, vid, DetectionParams(sample_interval=10)).id
        good = create_job(s, vid, DetectionParams(sample_interval=10)).id
        s.execute(update(DetectionJob).where(DetectionJob.id == bad)
                  .values(parameters={"sample_interval": "every other", "confidence_threshold": 0.5}))
    assert LocalWorker(get_settings(), worker_id="t").work(burst=True) == 2
    with transaction(db_url) as s:
        failed, done = get_job(s, bad), get_job(s, good)
        assert failed.status == "failed" and "invalid stored parameters" in failed.error, failed.error
        assert "every other" in failed.error
        assert done.status == "completed"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the path to the importer; it runs on both in tests/results
def test_local_results_go_through_the_results_file_and_importer(db_url, sample_clip, monkeypatch):
    from basketball_analyzer.db.detections import count_detections
    from basketball_analyzer.results import ingest

    calls = []
    real = ingest.import_results_file
    monkeypatch.setattr(ingest, "import_results_file", lambda s, **kw: calls.append(kw) or real(s, **kw))
    with transaction(db_url) as s:
        vid = register_video(s, sample_clip[0]).video.id
        jid = create_job(s, vid, DetectionParams(sample_interval=4)).id
    assert LocalWorker(get_settings(), worker_id="t").work(burst=True) == 1
    assert [(c["job_id"], c["video_id"], c["results_path"].name) for c in calls] == [(jid, vid, "results.parquet")]
    with transaction(db_url) as s:
        assert count_detections(s, vid) > 0


def test_a_job_cancelled_mid_run_stops_early_and_stores_nothing(db_url, tmp_path):
    import threading

    from basketball_analyzer.db.detections import count_detections
    from basketball_analyzer.jobs import cancel_job

    clip = tmp_path / "long.mp4"
    make_sample_clip(clip, frames=400, width=320, height=180, players=2)
    with transaction(db_url) as s:
        vid = register_video(s, clip).video.id
        job_id = create_job(s, vid, DetectionParams(detector="hog")).id
    worker = LocalWorker(get_settings(), worker_id="t")
    thread = threading.Thread(target=worker.work, kwargs={"burst": True})
    thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with transaction(db_url) as s:
            if get_job(s, job_id).frames_processed > 0:
                cancel_job(s, job_id)
                break
        time.sleep(0.05)
    thread.join(120)
    with transaction(db_url) as s:
        job = get_job(s, job_id)
        assert job.status == "cancelled" and 0 < job.frames_processed < 400
        assert count_detections(s, video_id=vid) == 0
