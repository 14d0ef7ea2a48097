"""No stranded job: a network cut between a manifest and its marker, then reconciliation finds the job."""

from __future__ import annotations


import pytest
from cloudutil import SteppedClock, count_requests, hog_params, with_policy

from basketball_analyzer.cloud.lease import LeasePolicy
from basketball_analyzer.cloud.jobfiles import lease_key
from basketball_analyzer.cloud.manifest import CloudJobStatus
from basketball_analyzer.cloud.queue import CloudQueue
from basketball_analyzer.exceptions import StorageUnavailable


def cut_before(proxy, obj, name: str) -> None:
    """Cut the network just before `obj.name(...)` runs: the step before it landed, this one cannot."""
    real = getattr(obj, name)

    def cut_then_call(*args, **kwargs):
        proxy.cut()
        return real(*args, **kwargs)

    setattr(obj, name, cut_then_call)


def test_submit_cut_between_manifest_and_marker_is_found_by_reconcile(proxy, proxied_storage, queue, tiny_clip):
    client = CloudQueue(proxied_storage)
    cut_before(proxy, client.files, "mark_pending")
    with pytest.raises(StorageUnavailable):
        client.submit(1, tiny_clip, hog_params(), frames_total=6)
    proxy.heal()
    [job_id] = queue.files.list_job_ids()  # the clean-up could not reach the bucket either
    assert queue.get(job_id)[0].status is CloudJobStatus.pending
    assert queue.claim("w") is None  # no marker: invisible to polling

    queue = with_policy(queue, marker_grace=0)
    done = queue.reconcile()
    assert done.restored == [job_id] and done.expired == []
    assert queue.claim("w").job_id == job_id


def test_reconcile_waits_out_a_submit_in_flight(queue, tiny_clip):
    job = queue.submit(1, tiny_clip, hog_params())
    queue.storage.delete(f"queue/pending/{job.job_id}")
    assert queue.reconcile().restored == []  # younger than marker_grace: perhaps between its two writes
    queue = with_policy(queue, marker_grace=0)
    assert queue.reconcile().restored == [job.job_id]


def test_retry_cut_before_its_marker_then_retry_again_works(proxy, proxied_storage, queue, tiny_clip):
    job = queue.submit(1, tiny_clip, hog_params())
    queue.claim("a").fail("boom")
    client = CloudQueue(proxied_storage)
    cut_before(proxy, client.files, "mark_pending")
    with pytest.raises(StorageUnavailable):
        client.retry(job.job_id)
    proxy.heal()
    assert queue.get(job.job_id)[0].status is CloudJobStatus.pending and queue.claim("w") is None
    queue.retry(job.job_id)  # a pending job without its marker: retry puts the marker back
    assert queue.claim("w").job_id == job.job_id


def test_expired_lease_without_a_marker_is_taken_over(proxy, proxied_storage, storage, tiny_clip):
    clock = SteppedClock(storage)
    queue = CloudQueue(storage, LeasePolicy(lease_seconds=1.0, marker_grace=0), clock=clock)
    queue.submit(1, tiny_clip, hog_params())
    doomed = CloudQueue(proxied_storage, LeasePolicy(lease_seconds=1.0))
    cut_before(proxy, doomed.files, "mark_leased")
    first = doomed.claim("doomed")  # the claim landed, its lease marker did not; then the worker died
    assert first is not None and not storage.get_bytes(lease_key(first.job_id))
    proxy.heal()
    storage.delete(f"queue/pending/{first.job_id}")  # the worker's next request (dropping it) got through
    clock.advance(1.2)
    assert queue.claim("rescuer") is None  # nothing in queue/ points at it
    done = queue.reconcile()
    assert done.expired == [first.job_id]
    second = queue.claim("rescuer")
    assert second.job_id == first.job_id and second.attempt == 2 and second.token != first.token


def test_reconcile_costs_two_lists_once_it_has_read_each_finished_job(queue, tiny_clip):
    queue = with_policy(queue, marker_grace=0)
    for _ in range(3):
        queue.submit(1, tiny_clip, hog_params())
    for _ in range(3):
        queue.claim("w").fail("boom")
    counts = count_requests(queue.storage)
    queue.reconcile()
    assert counts == {"ListObjectsV2": 2, "GetObject": 3}  # first pass: each finished manifest once
    counts.clear()
    queue.reconcile()
    assert counts == {"ListObjectsV2": 2}  # later passes: only manifests that changed since
    job_id = queue.files.list_job_ids()[0]
    queue.retry(job_id)
    queue.storage.delete(f"queue/pending/{job_id}")
    counts.clear()
    assert queue.reconcile().restored == [job_id]
    assert counts["GetObject"] == 1
