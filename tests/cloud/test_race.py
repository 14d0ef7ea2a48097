"""Eight worker processes race over 100 jobs on a real S3 server: every job is completed exactly once."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from cloudutil import hog_params

from basketball_analyzer.cloud.manifest import CloudJobStatus

WORKERS = 8
JOBS = 100


@pytest.mark.slow
def test_eight_workers_complete_each_of_100_jobs_exactly_once(queue, tiny_clip):
    params = hog_params(sample_interval=3)  # two tiny frames a job: the race is the point, not detection
    with ThreadPoolExecutor(8) as pool:
        submitted = list(pool.map(lambda _: queue.submit(1, tiny_clip, params, frames_total=2), range(JOBS)))
    ids = {m.job_id for m in submitted}
    assert len(ids) == JOBS

    env = {**os.environ, "CLOUD_LEASE_SECONDS": "120", "CLOUD_WORKER_POLL_INTERVAL": "0.2"}
    procs = [subprocess.Popen([sys.executable, "-m", "basketball_analyzer.worker", "--cloud", "--burst",
                               "--worker-id", f"racer-{i}"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(WORKERS)]
    processed: dict[str, int] = {}
    try:
        for p in procs:
            _, err = p.communicate(timeout=150)
            assert p.returncode == 0, err[-2000:]
            found = re.search(r"worker.stopped worker_id=(racer-\d+) jobs=(\d+)", err)
            assert found, err[-2000:]
            processed[found.group(1)] = int(found.group(2))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    # Every job completed, by a worker that says it ran it, on its first and only claim.
    views = queue.list_jobs()
    assert {v.job_id for v in views} == ids
    by_worker: dict[str, int] = {}
    for v in views:
        m = v.manifest
        assert m.status is CloudJobStatus.completed, (m.job_id, m.status, m.error)
        assert m.attempts == 1 and m.results_key.endswith(f"results.{m.claim_token}.parquet")
        by_worker[m.worker_id] = by_worker.get(m.worker_id, 0) + 1
    # Each worker's own count of jobs run equals the jobs recorded as its: no job ran twice.
    assert sum(processed.values()) == JOBS
    assert by_worker == {w: n for w, n in processed.items() if n}
    assert len(by_worker) >= 2, "the race needs more than one worker taking part"
    results = [o.key for o in queue.storage.list_objects("jobs/") if o.key.endswith(".parquet")]
    assert len(results) == JOBS
    assert list(queue.files.list_queue()) == []
