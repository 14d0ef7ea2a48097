"""Zombie-proof: a worker that lost its job, through a network partition, harms nothing of the run that
replaced it (claim tokens, an ownership check before each upload, fencing)."""

from __future__ import annotations

import threading

import pytest
from cloudutil import SteppedClock, hog_params
from test_lease import wait_for

from basketball_analyzer.cloud.lease import LeasePolicy
from basketball_analyzer.cloud.importer import import_job
from basketball_analyzer.cloud.manifest import CloudJobStatus
from basketball_analyzer.cloud.queue import CloudQueue
from basketball_analyzer.db import transaction
from basketball_analyzer.db.detections import count_detections
from basketball_analyzer.sample import make_sample_clip
from basketball_analyzer.videos import register_video
from basketball_analyzer.worker.base import Worker

LEASE = 2.0


def results_objects(queue, job_id) -> dict[str, str]:
    """key -> ETag of every results file of the job."""
    return {o.key: o.etag for o in queue.storage.list_objects(f"jobs/{job_id}/") if o.key.endswith(".parquet")}


def test_partitioned_upload_retried_after_retry_and_completion_overwrites_nothing(
        proxy, proxied_storage, storage, cloud_settings, sample_clip):
    clip = sample_clip[0]  # three players HOG finds: a result worth protecting
    with transaction() as s:
        registered = register_video(s, clip).video.id
    clock = SteppedClock(storage)  # the healthy side's clock: the lease runs out when the test moves it
    queue = CloudQueue(storage, LeasePolicy(lease_seconds=LEASE, max_attempts=1), clock=clock)
    job = queue.submit(registered, clip, hog_params(sample_interval=4), frames_total=10)

    # The zombie: its results upload meets a partition. Fencing is off (a suspended VM does not see its
    # clock run), so only the ownership check and the token-named key stand between it and the good result.
    # A heartbeat never comes (stalled with it): no heartbeat learns of the takeover first.
    zq = CloudQueue(proxied_storage, LeasePolicy(lease_seconds=LEASE, max_attempts=1, fence_fraction=float("inf"),
                                                 heartbeat_interval=1e6))
    real_upload = zq.files.upload_results

    def partitioned_upload(*args, **kwargs):
        proxy.cut()
        zq.files.upload_results = real_upload
        return real_upload(*args, **kwargs)

    zq.files.upload_results = partitioned_upload
    zombie = Worker(zq, cloud_settings, worker_id="zombie")
    zjob = zq.claim("zombie")
    outcome: list[str] = []
    t = threading.Thread(target=lambda: outcome.append(zombie.run_job(zjob)))
    t.start()
    wait_for(lambda: proxy._cut, 30, "the zombie to reach its upload")

    # Meanwhile: the lease runs out, the job is abandoned (one attempt allowed), retried, and completed.
    clock.advance(LEASE + 0.2)
    assert queue.claim("good") is None
    assert queue.get(job.job_id)[0].status is CloudJobStatus.failed
    queue.retry(job.job_id)
    good = Worker(queue, cloud_settings, worker_id="good")
    assert good.work(burst=True) == 1
    done, _ = queue.get(job.job_id)
    assert done.status is CloudJobStatus.completed and done.worker_id == "good" and done.attempts == 1
    assert done.claim_token != zjob.token
    before = results_objects(queue, job.job_id)
    assert list(before) == [done.results_key]

    uploads: list[str] = []  # keys the zombie sends a results file to from now on
    proxied_storage.client.meta.events.register(
        "before-parameter-build.s3.PutObject", lambda params, **_: uploads.append(params.get("Key", "")))
    proxy.heal()  # the zombie's retry now reaches the bucket
    t.join(30)
    assert outcome == ["lost"]
    assert [k for k in uploads if k.endswith(".parquet")] == []  # it checked first, and sent nothing
    assert results_objects(queue, job.job_id) == before
    assert queue.get(job.job_id)[0] == done

    # Had its first PUT been in flight and landed late, it lands under its own token, beside the winner's.
    zq.files.upload_results(job.job_id, clip, zjob.token)
    after = results_objects(queue, job.job_id)
    assert after[done.results_key] == before[done.results_key] and len(after) == 2

    outcome_import = import_job(storage, None, job.job_id)
    with transaction() as s:
        assert count_detections(s, registered) == outcome_import.rows == done.results_rows > 0


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    make_sample_clip(path, frames=900, width=320, height=180, players=2)
    return path


def test_a_worker_cut_off_from_the_bucket_fences_itself_before_its_lease_ends(
        proxy, proxied_storage, storage, cloud_settings, long_clip):
    lease = 3.0
    clock = SteppedClock(storage)
    queue = CloudQueue(storage, LeasePolicy(lease_seconds=lease), clock=clock)
    job = queue.submit(1, long_clip, hog_params(), frames_total=900)
    zq = CloudQueue(proxied_storage, LeasePolicy(lease_seconds=lease, heartbeat_interval=0.5, min_write_interval=0,
                                                 progress_every=10))
    cut_at: list[int] = []
    real_progress = zq.files.update_progress

    def progress_then_cut(job_id, done, *args):
        real_progress(job_id, done, *args)
        if done >= 20 and not cut_at:
            cut_at.append(done)
            proxy.cut()  # mid-run: detection goes on, heartbeats fail

    zq.files.update_progress = progress_then_cut
    worker = Worker(zq, cloud_settings, worker_id="cut-off")
    zjob = zq.claim("cut-off")
    later = threading.Timer(4 * lease, proxy.heal)  # a worker that never fences finishes then, and fails below
    later.start()
    try:
        assert worker.run_job(zjob) == "lost"
    finally:
        later.cancel()
    m, _ = queue.get(job.job_id)
    # It stopped by itself while its lease was still live, so no other worker could yet hold the job.
    assert m.status is CloudJobStatus.processing and m.worker_id == "cut-off"
    assert not m.lease_expired(storage.now())
    assert "no heartbeat succeeded" in str(zjob.lost)
    assert zjob.lost is not None and worker.stop.requested is False

    proxy.heal()
    clock.advance(lease + 0.2)
    rescue = queue.claim("rescuer")  # test_lease runs a takeover to completion; here the handover suffices
    assert rescue.job_id == job.job_id and rescue.attempt == 2
    assert results_objects(queue, job.job_id) == {}  # nothing of the fenced run
