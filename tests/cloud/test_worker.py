"""The cloud worker in-process and as a process: results, failures, progress, stop, server restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest
from cloudutil import count_requests, hog_params, with_policy
from test_lease import wait_for

from basketball_analyzer.cloud.manifest import CloudJobStatus
from basketball_analyzer.results.format import read_results
from basketball_analyzer.sample import make_sample_clip
from basketball_analyzer.worker.cloud import CloudWorker


@pytest.fixture(scope="module")
def clip60(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip60") / "court.mkv"  # not .mp4: the key's suffix is kept
    make_sample_clip(path, frames=60, width=320, height=180, players=2)
    return path


def test_failed_job_is_recorded_and_the_worker_goes_on(queue, cloud_settings, clip60, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not a video")
    bad = queue.submit(1, broken, hog_params())
    good = queue.submit(2, clip60, hog_params(), frames_total=60)
    worker = CloudWorker(cloud_settings, worker_id="w1")
    worker.queue = with_policy(worker.queue, min_write_interval=0)
    progress: list[tuple[int, int]] = []
    real = worker.queue.files.update_progress
    worker.queue.files.update_progress = lambda job_id, done, total, *a: (progress.append((done, total)),
                                                                           real(job_id, done, total, *a))
    assert worker.work(burst=True) == 2

    m, _ = queue.get(bad.job_id)
    assert m.status is CloudJobStatus.failed and "not a readable video: broken.mp4" in m.error, m.error
    assert "bball-job-" not in m.error  # the worker's scratch path means nothing to the user
    m, _ = queue.get(good.job_id)
    assert m.status is CloudJobStatus.completed and m.frames_processed == 60 and m.frames_total == 60
    assert m.parameters["video_key"].endswith("/video.mkv")
    assert progress == [(0, 60), (50, 60)]  # at least every 50 frames, total known from the start
    dest = queue.files.download_results(m.job_id, tmp_path / "r.parquet", key=m.results_key)
    rows = sum(len(d) for d in read_results(dest, expected_sha256=m.results_sha256, frame_count=60))
    assert rows == m.results_rows > 0


def test_idle_worker_polls_with_one_list_and_backs_off(cloud_settings):
    worker = CloudWorker(cloud_settings, worker_id="idle")
    counts = count_requests(worker.storage)
    waits: list[float] = []
    worker.stop.wait = lambda s: (waits.append(s), worker.stop.request() if len(waits) >= 5 else None)[0] and False
    assert worker.work() == 0
    # At start: the bucket check and one reconciliation (a LIST of queue/ and one of jobs/); then one LIST a poll.
    assert counts == {"HeadBucket": 1, "ListObjectsV2": 2 + 5}
    assert waits == [0.2, 0.4, 0.8, 1.0, 1.0]  # doubling up to CLOUD_WORKER_MAX_POLL_INTERVAL


def test_sigterm_hands_the_job_back_and_exits(queue, clip60):
    job = queue.submit(1, clip60, hog_params(), frames_total=60)
    proc = subprocess.Popen([sys.executable, "-m", "basketball_analyzer.worker", "--cloud", "--once"],
                            env={**os.environ, "WORKER_ID": "polite"}, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: queue.files.get_progress(job.job_id), 60, "the worker to start")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    m, _ = queue.get(job.job_id)
    assert m.status is CloudJobStatus.pending and m.attempts == 0 and m.worker_id is None
    assert queue.files.list_pending() == [job.job_id]


def test_cancel_mid_job_drops_the_results(queue, cloud_settings, clip60, monkeypatch):
    job = queue.submit(1, clip60, hog_params(), frames_total=60)
    worker = CloudWorker(cloud_settings, worker_id="w")
    worker.queue = with_policy(worker.queue, heartbeat_interval=0.3)
    t = threading.Thread(target=worker.work, kwargs={"burst": True})
    t.start()
    wait_for(lambda: queue.files.get_progress(job.job_id), 60, "the worker to start")
    queue.cancel(job.job_id)
    t.join(60)
    m, _ = queue.get(job.job_id)
    assert m.status is CloudJobStatus.cancelled and m.results_key is None


@pytest.mark.slow
def test_server_restart_mid_job_loses_nothing(s3_server, queue, cloud_settings, clip60, tmp_path):
    job = queue.submit(1, clip60, hog_params(), frames_total=60)
    worker = CloudWorker(cloud_settings, worker_id="steady")
    # A restart can take longer than 80% of the tests' 10 s lease on a busy machine, and then the worker
    # rightly fences itself off (test_zombie.py); here the outage is meant to fit inside the lease.
    worker.queue = with_policy(worker.queue, heartbeat_interval=0.5, lease_seconds=30.0)
    done: list[int] = []
    t = threading.Thread(target=lambda: done.append(worker.work(max_jobs=1)))
    t.start()
    wait_for(lambda: queue.files.get_progress(job.job_id), 60, "the worker to start")
    s3_server.restart()
    t.join(120)
    assert done == [1]
    m, _ = queue.get(job.job_id)
    assert m.status is CloudJobStatus.completed and m.attempts == 1 and m.worker_id == "steady"
    dest = queue.files.download_results(m.job_id, tmp_path / "r.parquet", key=m.results_key)
    assert sum(len(d) for d in read_results(dest, expected_sha256=m.results_sha256, frame_count=60)) == m.results_rows


def test_regex_text_in_a_video_name_is_data_not_a_pattern(queue, cloud_settings, tmp_path, tiny_clip):
    name = r"game \1 \g<0> C:\clips\x.mp4"  # group references and escapes: fatal as an re.sub template
    broken = tmp_path / name
    broken.write_bytes(b"not a video")
    bad = queue.submit(1, broken, hog_params())
    after = queue.submit(1, tiny_clip, hog_params(), frames_total=6)
    assert CloudWorker(cloud_settings, worker_id="w").work(burst=True) == 2
    m, _ = queue.get(bad.job_id)
    assert m.status is CloudJobStatus.failed and f"not a readable video: {name}" in m.error, m.error
    assert queue.get(after.job_id)[0].status is CloudJobStatus.completed


def test_a_worker_finds_a_stranded_job_when_it_starts(queue, cloud_settings, tiny_clip):
    job = queue.submit(1, tiny_clip, hog_params(), frames_total=6)
    queue.storage.delete(f"queue/pending/{job.job_id}")  # a cut between manifest and marker
    worker = CloudWorker(cloud_settings, worker_id="w")
    worker.queue = with_policy(worker.queue, marker_grace=0)
    assert worker.work(burst=True) == 1
    assert queue.get(job.job_id)[0].status is CloudJobStatus.completed
