"""Resume: a worker uploads its results in parts; a takeover after SIGKILL resumes after the last part."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import uuid

import numpy as np
import pytest
from test_lease import wait_for

from basketball_analyzer.cloud import importer, job as job_module, segments as segments_module
from basketball_analyzer.cloud.manifest import CloudJobStatus
from basketball_analyzer.cloud.submit import submit_job
from basketball_analyzer.config import Settings
from basketball_analyzer.db import transaction
from basketball_analyzer.db.detections import load_detections
from basketball_analyzer.detection.stitching import box_iou
from basketball_analyzer.sample import make_sample_clip
from basketball_analyzer.videos import register_video
from basketball_analyzer.worker.cloud import CloudWorker

S = CloudJobStatus
PART = 20  # frames per part


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    path = tmp_path_factory.mktemp("resume") / "game.mp4"
    return path, make_sample_clip(path, frames=90, players=3)


def params():
    from cloudutil import hog_params

    return hog_params()


def ids_at(joined, truth, frame):
    """Track id of each ground-truth player's best box on `frame`."""
    got = joined[joined.frame_number == frame]
    out = []
    for player in np.unique(truth.tracker_id):
        gt = truth[(truth.frame_number == frame) & (truth.tracker_id == player)]
        out.append(int(got.tracker_id[int(np.argmax(box_iou(gt.xyxy, got.xyxy)[0]))]))
    return out


class _Records(logging.Handler):
    """The log lines of the takeover (caplog is per test; the run is per module)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def resumed(s3_server, game, tmp_path_factory):
    """One job: a worker SIGKILLed after two parts, then a takeover; what each step left, for every database.

    The run is the slow part (and has no database); each `db_url` imports its results.
    """
    from basketball_analyzer.cloud.queue import CloudQueue
    from basketball_analyzer.cloud.storage import CloudStorage
    from basketball_analyzer.config import get_settings

    path, _ = game
    bucket = s3_server.create_bucket(f"t-{uuid.uuid4().hex[:20]}")
    with pytest.MonkeyPatch.context() as mp:
        # A 3-second lease for the killed worker and the takeover (the tests' 10 s is all waiting here); the
        # heartbeat every second keeps it while the worker lives.
        # The polls and attempts of the cloud tests' TEST_CLOUD_ENV (conftest.py; not importable by name here).
        env = {**s3_server.env(), "R2_BUCKET_NAME": bucket, "CLOUD_WORKER_POLL_INTERVAL": "0.2",
               "CLOUD_WORKER_MAX_POLL_INTERVAL": "1", "CLOUD_MAX_ATTEMPTS": "3", "CLOUD_PART_FRAMES": str(PART),
               "CLOUD_LEASE_SECONDS": "3",
               "DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('resume-run') / 'unused.db'}"}
        for key, value in env.items():
            mp.setenv(key, value)
        get_settings.cache_clear()
        settings = Settings()
        storage = CloudStorage.from_settings(settings)
        queue = CloudQueue.from_settings(settings, storage)
        job = submit_job(queue, video_path=path, params=params(), segments=1)
        proc = subprocess.Popen([sys.executable, "-m", "basketball_analyzer.worker", "--cloud", "--once"],
                                env={**os.environ, "WORKER_ID": "preempted"}, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: len(queue.get(job.job_id)[0].parts or []) >= 2, 120, "two parts uploaded")
            proc.send_signal(signal.SIGKILL)  # a spot machine taken away
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        before = queue.get(job.job_id)[0]

        mp.setattr(segments_module, "RESUME_OVERLAP_SECONDS", 10 / 30)
        takeover = CloudWorker(Settings(), worker_id="takeover")
        records, logger = _Records(), logging.getLogger("basketball_analyzer")
        level = logger.level
        logger.addHandler(records)
        logger.setLevel(logging.INFO)
        try:
            wait_for(lambda: takeover.process_next(), 30, "the lease to expire and the takeover to run")
        finally:
            logger.removeHandler(records)
            logger.setLevel(level)
        after = queue.get(job.job_id)[0]
        live = queue.files.get_progress(job.job_id)
    get_settings.cache_clear()
    yield {"storage": storage, "job": job, "before": before, "after": after, "live": live,
           "log": records.messages}
    client = s3_server.client()
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                client.delete_object(Bucket=bucket, Key=obj["Key"])
        client.delete_bucket(Bucket=bucket)
    except Exception:  # noqa: BLE001 - best effort, as the per-test buckets (conftest.cloud_bucket)
        pass


def test_sigkilled_worker_is_resumed_after_its_last_part(resumed, game, db_url):
    _, truth = game
    job, before, after = resumed["job"], resumed["before"], resumed["after"]
    assert before.status is S.processing and before.worker_id == "preempted"
    kept = before.parts
    resume = kept[-1]["end_frame"]
    assert resume < 90 and all(p["token"] == before.claim_token for p in kept)

    assert job.parameters["video_fps"] == 30.0  # recorded at submit: the overlap is in seconds
    assert after.status is S.completed and after.worker_id == "takeover" and after.results_key is None
    assert after.parts[:len(kept)] == kept  # the preempted worker's parts are kept as they were
    new = after.parts[len(kept):]
    assert new[0]["start_frame"] == resume and new[0]["overlap_frames"] == 10
    assert [p["end_frame"] for p in after.parts] == [*range(PART, 90, PART), 90]
    # The takeover decoded from just before the part; the job's counts are the whole game's.
    decoded = [m for m in resumed["log"] if m.startswith("job.completed")]
    assert f" frames={90 - (resume - 10)} " in decoded[-1]
    assert after.frames_processed == after.frames_total == 90
    live = resumed["live"]  # the takeover's progress counts the kept parts' frames
    assert live["frames_total"] == 90 and live["frames_processed"] > resume - 10

    with transaction(db_url) as s:  # this database knows the game, as the one it was submitted from did
        assert register_video(s, game[0]).video.id == job.video_id
    importer.import_job(resumed["storage"], db_url, job.job_id)
    with transaction(db_url) as s:
        joined = load_detections(s, job.video_id)
    assert np.bincount(joined.frame_number).max() == 3  # the overlap is not stored twice
    assert len(joined.track_ids()) == 3
    assert ids_at(joined, truth, resume - 1) == ids_at(joined, truth, resume)  # ids carried over the resume
    assert ids_at(joined, truth, PART - 1) == ids_at(joined, truth, PART)  # and between parts of one run


def test_a_short_job_still_completes_with_one_results_file(queue, cloud_settings, game):
    path, _ = game
    job = submit_job(queue, video_path=path, params=params())
    assert CloudWorker(cloud_settings, worker_id="w").work(burst=True) == 1  # CLOUD_PART_FRAMES 3000 > 90
    m = queue.get(job.job_id)[0]
    assert m.status is S.completed and m.parts is None and m.results_key and m.schema_version == 1


def test_a_part_is_saved_as_soon_as_its_last_frame_is_detected(queue, cloud_settings, game, monkeypatch):
    """A kill while a part uploads loses that part and nothing more: no frame of the next one is done yet."""
    path, _ = game
    monkeypatch.setattr(cloud_settings, "cloud_part_frames", PART)
    saved = []
    real = job_module.CloudJob.save_part

    def save_part(self, results):
        saved.append((results.frames, results.frames_processed))
        return real(self, results)

    monkeypatch.setattr(job_module.CloudJob, "save_part", save_part)
    job = submit_job(queue, video_path=path, params=params())
    assert CloudWorker(cloud_settings, worker_id="w").work(burst=True) == 1
    # Frames detected when each part was saved: exactly its end (the last piece goes with completion).
    assert saved[:4] == [((a, a + PART), a + PART) for a in range(0, 80, PART)]
    assert saved[4] == ((80, 90), 90) and queue.get(job.job_id)[0].status is S.completed


def test_the_resume_overlap_is_time_not_frames():
    """Two seconds whatever the frame rate (ByteTrack forgets a lost track after one); 30 fps when unknown."""
    from basketball_analyzer.cloud.manifest import JobManifest, new_job_id

    overlap = segments_module.resume_overlap_frames
    assert (overlap(30.0), overlap(60.0), overlap(None), overlap(25.0, sample_interval=40)) == (60, 120, 60, 80)
    job = JobManifest(job_id=new_job_id(), video_id=1, status=S.pending, created_at="2026-11-30T00:00:00Z",
                      parameters={"video_fps": 59.94})
    assert job.video_fps == 59.94
    for junk in ("60", True, -1, float("nan"), 1e9):
        assert JobManifest(**{**job.__dict__, "parameters": {"video_fps": junk}}).video_fps is None
