"""A worker killed with SIGKILL mid-job loses nothing: its lease expires and another worker finishes the job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from cloudutil import hog_params

from basketball_analyzer.cloud.manifest import CloudJobStatus
from basketball_analyzer.config import Settings
from basketball_analyzer.sample import make_sample_clip
from basketball_analyzer.worker.cloud import CloudWorker
from basketball_analyzer.worker.signals import StopFlag

LEASE = 3


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_sigkilled_worker_job_is_finished_by_another(queue, tmp_path, monkeypatch):
    clip = tmp_path / "long.mp4"
    make_sample_clip(clip, frames=40, width=320, height=180, players=2)
    job = queue.submit(1, clip, hog_params(), frames_total=40)

    env = {**os.environ, "CLOUD_LEASE_SECONDS": str(LEASE), "WORKER_ID": "doomed", "SINGLE_JOB": "1"}
    victim = subprocess.Popen([sys.executable, "-m", "basketball_analyzer.worker", "--cloud"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # Mid-job: claimed, video downloaded, detection under way (progress written at frame 0).
        wait_for(lambda: queue.files.get_progress(job.job_id), 60, "the victim to start the job")
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(10)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    m, _ = queue.get(job.job_id)
    assert m.status is CloudJobStatus.processing and m.worker_id == "doomed"

    monkeypatch.setenv("CLOUD_LEASE_SECONDS", str(LEASE))
    stop = StopFlag()
    rescuer = CloudWorker(Settings(), worker_id="rescuer", stop=stop)
    done: list[int] = []
    t = threading.Thread(target=lambda: done.append(rescuer.work(max_jobs=1)))
    t.start()
    t.join(90)
    if t.is_alive():
        stop.request()
        t.join(30)
    assert done == [1]
    m, _ = queue.get(job.job_id)
    assert m.status is CloudJobStatus.completed
    assert m.worker_id == "rescuer" and m.attempts == 2
    assert m.frames_processed == 40 and m.results_key == f"jobs/{m.job_id}/results.{m.claim_token}.parquet"
    assert list(queue.files.list_queue()) == []
