"""Eight worker processes race over one bucket on a real S3 server: every job is completed exactly once.

The second race adds what production adds: workers killed mid-job (their leases are taken over) and a
network cut between the workers and the bucket.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from cloudutil import hog_params

from basketball_analyzer.cloud.status import list_jobs
from basketball_analyzer.cloud.jobfiles import LEASE_PREFIX
from basketball_analyzer.cloud.manifest import CloudJobStatus
from basketball_analyzer.results.format import read_metadata
from basketball_analyzer.video import sha256_file

WORKERS = 8
JOBS = 40  # five a worker: every claim is still a race of eight for the oldest job


def submit_many(queue, clip, n: int) -> set[str]:
    params = hog_params(sample_interval=3)  # two tiny frames a job: the race is the point, not detection
    with ThreadPoolExecutor(8) as pool:
        submitted = list(pool.map(lambda _: queue.submit(1, clip, params, frames_total=2), range(n)))
    ids = {m.job_id for m in submitted}
    assert len(ids) == n
    return ids


def start_workers(env: dict, *extra: str) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-m", "basketball_analyzer.worker", "--cloud", *extra,
                              "--worker-id", f"racer-{i}"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True) for i in range(WORKERS)]


def most_held_at_once(views) -> int:
    """The most jobs held by different workers at one moment (claim to completion, from the manifests)."""
    events = []
    for v in views:
        m = v.manifest
        events += [(datetime.fromisoformat(m.started_at), 1, m.worker_id),
                   (datetime.fromisoformat(m.completed_at), -1, m.worker_id)]
    held: dict[str, int] = {}
    most = 0
    for _, step, worker in sorted(events, key=lambda e: (e[0], e[1])):  # a completion before a claim at a tie
        held[worker] = held.get(worker, 0) + step
        most = max(most, sum(1 for n in held.values() if n > 0))
    return most


def stop_all(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


@pytest.mark.slow
def test_eight_workers_complete_each_of_40_jobs_exactly_once(queue, tiny_clip):
    ids = submit_many(queue, tiny_clip, JOBS)
    env = {**os.environ, "CLOUD_LEASE_SECONDS": "120", "CLOUD_WORKER_POLL_INTERVAL": "0.2"}
    procs = start_workers(env, "--burst")
    processed: dict[str, int] = {}
    try:
        for p in procs:
            _, err = p.communicate(timeout=150)
            assert p.returncode == 0, err[-2000:]
            found = re.search(r"worker.stopped worker_id=(racer-\d+) jobs=(\d+)", err)
            assert found, err[-2000:]
            processed[found.group(1)] = int(found.group(2))
    finally:
        stop_all(procs)

    # Every job completed, by a worker that says it ran it, on its first and only claim.
    views = list_jobs(queue)
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
    assert most_held_at_once(views) >= 2, "the workers never held jobs at the same time: no race"
    results = [o.key for o in queue.storage.list_objects("jobs/") if o.key.endswith(".parquet")]
    assert len(results) == JOBS
    assert list(queue.files.list_queue()) == []


@pytest.mark.slow
def test_race_with_workers_killed_mid_job_and_a_network_cut(queue, tiny_clip, proxy, tmp_path):
    jobs = 40
    ids = submit_many(queue, tiny_clip, jobs)
    env = {**os.environ, "R2_ENDPOINT_URL": proxy.endpoint_url, "CLOUD_LEASE_SECONDS": "3",
           "CLOUD_MAX_ATTEMPTS": "10", "CLOUD_WORKER_POLL_INTERVAL": "0.2", "CLOUD_WORKER_MAX_POLL_INTERVAL": "1"}
    procs = start_workers(env)  # polling, not --burst: jobs held by the dead reappear only after their lease
    by_name = {f"racer-{i}": p for i, p in enumerate(procs)}
    victims: dict[str, str] = {}  # job id -> the worker killed while holding it
    deadline = time.monotonic() + 50
    try:
        while len(victims) < 2 and time.monotonic() < deadline:  # kill two workers that hold a job
            for obj in queue.files.list_queue():
                if obj.key.startswith(LEASE_PREFIX) and len(victims) < 2:
                    holder = queue.storage.get_bytes(obj.key)
                    name = holder[0].decode() if holder else ""
                    if name in by_name and name not in victims.values() and by_name[name].poll() is None:
                        by_name[name].send_signal(signal.SIGKILL)
                        victims[obj.key[len(LEASE_PREFIX):]] = name
            time.sleep(0.05)
        assert len(victims) == 2, "no worker was caught holding a job"
        proxy.cut()  # the survivors lose the bucket mid-job: heartbeats, uploads and polls fail
        time.sleep(2.0)
        proxy.heal()

        def all_done() -> bool:
            return all(v.manifest and v.manifest.status is CloudJobStatus.completed
                       for v in list_jobs(queue, with_progress=False))

        while not all_done():
            assert time.monotonic() < deadline, "jobs left unfinished: " + ", ".join(
                f"{v.job_id}={v.manifest.status.value if v.manifest else v.problem}" for v in list_jobs(queue))
            time.sleep(0.5)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        stop_all(procs)

    views = list_jobs(queue)
    assert {v.job_id for v in views} == ids
    for v in views:  # each result is the file its manifest names, of that job, intact
        m = v.manifest
        assert m.results_key == f"jobs/{m.job_id}/results.{m.claim_token}.parquet"
        path = queue.files.download_results(m.job_id, tmp_path / f"{m.job_id}.parquet", key=m.results_key)
        assert sha256_file(path) == m.results_sha256
        assert read_metadata(path)["job_id"] == m.job_id
    taken_over = {v.job_id: v.manifest for v in views if v.job_id in victims}
    for job_id, m in taken_over.items():
        assert m.attempts >= 2 and m.worker_id != victims[job_id], (job_id, m.worker_id, m.attempts)
    assert list(queue.files.list_queue()) == []
