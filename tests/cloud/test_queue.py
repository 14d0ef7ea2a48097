"""The bucket queue: claims and tokens, cheap polling, lease expiry and attempts, cancel, retry, bad manifests."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from cloudutil import SteppedClock, count_requests, hog_params, with_policy

from basketball_analyzer.cloud.lease import LeasePolicy
from basketball_analyzer.cli import cli
from basketball_analyzer.cloud.jobfiles import manifest_key, pending_key, video_key
from basketball_analyzer.cloud.manifest import SCHEMA_VERSION, CloudJobStatus, new_job_id
from basketball_analyzer.cloud.queue import CloudQueue, LeaseLost, spread
from basketball_analyzer.exceptions import JobError, ManifestError


def submit(queue, clip, video_id: int = 1):
    return queue.submit(video_id, clip, hog_params(), frames_total=6)


def test_claims_oldest_first_and_each_job_once(queue, tiny_clip):
    first, second = submit(queue, tiny_clip), submit(queue, tiny_clip)
    a = queue.claim("a")
    b = queue.claim("b")
    assert (a.job_id, b.job_id) == (first.job_id, second.job_id)
    assert queue.claim("c") is None
    m, _ = queue.get(first.job_id)
    assert m.status is CloudJobStatus.processing and m.worker_id == "a" and m.attempts == 1
    assert queue.files.list_pending() == []


def test_jobs_of_one_millisecond_are_tried_in_random_order_after_older_ones():
    older = sorted(new_job_id(1000.0) for _ in range(3))
    together = sorted(new_job_id(1000.5) for _ in range(5))  # a job's segments
    newer = [new_job_id(1001.0)]
    orders = {tuple(spread(older + together + newer)) for _ in range(50)}
    for order in orders:
        assert sorted(order[:3]) == older and sorted(order[3:8]) == together and list(order[8:]) == newer
    assert len({order[3:8] for order in orders}) > 1  # racing workers do not all try the same segment first


def test_idle_poll_is_one_list_even_with_running_jobs(queue, tiny_clip):
    submit(queue, tiny_clip)
    assert queue.claim("busy") is not None
    counts = count_requests(queue.storage)
    assert queue.claim("idle") is None
    assert counts == {"ListObjectsV2": 1}


def test_stale_claim_write_loses(queue, tiny_clip):
    submit(queue, tiny_clip)
    claim = queue.claim("a")
    stale_etag = claim.etag
    claim.heartbeat()
    claim.etag = stale_etag
    with pytest.raises(LeaseLost, match="no longer ours"):
        claim.fail("boom")


def test_expired_lease_is_taken_over_then_fails_after_max_attempts(storage, tiny_clip):
    clock = SteppedClock(storage)  # the lease runs out when the clock moves, not after a sleep
    queue = CloudQueue(storage, LeasePolicy(lease_seconds=1.0, max_attempts=2), clock=clock)
    job = submit(queue, tiny_clip)
    first = queue.claim("dies-1")
    assert queue.claim("other") is None  # lease still live
    clock.advance(2.2)  # LIST times have 1 s resolution
    second = queue.claim("dies-2")
    assert second.job_id == job.job_id and second.manifest.attempts == 2
    assert second.token != first.token
    with pytest.raises(LeaseLost):  # the first worker learns it lost the job at its next heartbeat
        first.heartbeat()
    clock.advance(2.2)
    assert queue.claim("third") is None
    m, _ = queue.get(job.job_id)
    assert m.status is CloudJobStatus.failed
    assert "abandoned after 2 attempts" in m.error and "dies-2" in m.error
    assert list(queue.files.list_queue()) == []


def test_cancel_and_retry(queue, tiny_clip):
    job = submit(queue, tiny_clip)
    claim = queue.claim("a")
    with pytest.raises(JobError, match="is processing; only completed, failed, cancelled or pending"):
        queue.retry(job.job_id)
    claim.fail("boom")
    assert queue.claim("b") is None
    again = queue.retry(job.job_id)
    assert again.status is CloudJobStatus.pending and again.attempts == 0 and again.error is None
    claim = queue.claim("b")
    assert claim.job_id == job.job_id
    queue.cancel(job.job_id)
    with pytest.raises(LeaseLost, match="cancelled"):
        claim.heartbeat()
    assert queue.claim("c") is None


def test_malformed_manifest_never_crashes_claim_or_status(queue, tiny_clip, cloud_env):
    bad = new_job_id()
    queue.storage.put_bytes(manifest_key(bad), b"{garbage")
    queue.storage.put_bytes(pending_key(bad), b"")
    good = submit(queue, tiny_clip)
    assert queue.claim("a").job_id == good.job_id
    assert queue.files.list_pending() == []  # the bad job's marker was dropped
    result = CliRunner().invoke(cli, ["cloud", "status"])
    assert result.exit_code == 0, result.output
    assert "invalid" in result.output and "processing" in result.output
    with pytest.raises(ManifestError):
        queue.get(bad)


def test_user_job_ids_are_validated_before_use(cloud_env):
    for args in (["cloud", "cancel", "--job-id", "../../x"], ["cloud", "retry", "--job-id", "a/b"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1 and "invalid job id" in result.output


def test_each_claim_has_a_fresh_token_even_after_retry(queue, tiny_clip):
    job = submit(queue, tiny_clip)
    first = queue.claim("a")
    first.fail("boom")
    queue.retry(job.job_id)  # attempts back to 0: attempt numbers repeat, tokens never do
    second = queue.claim("b")
    assert second.attempt == first.attempt == 1
    assert len({first.token, second.token}) == 2 and all(len(t) == 16 for t in (first.token, second.token))
    m, _ = queue.get(job.job_id)
    assert m.claim_token == second.token


def test_completed_and_cancelled_jobs_can_be_retried_and_completed_ones_cancelled(queue, tiny_clip, tmp_path):
    from basketball_analyzer.lifecycle import ResultsFile

    job = submit(queue, tiny_clip)
    claim = queue.claim("a")
    results = tmp_path / "r.parquet"
    results.write_bytes(b"results")
    claim.complete(ResultsFile(results, "0" * 64, 1, 6, 6))
    done, _ = queue.get(job.job_id)
    assert done.results_key == f"jobs/{job.job_id}/results.{claim.token}.parquet"
    again = queue.retry(job.job_id)
    assert again.status is CloudJobStatus.pending and again.results_key is None and again.claim_token is None
    assert queue.files.list_pending() == [job.job_id]
    assert queue.cancel(job.job_id).status is CloudJobStatus.cancelled
    assert queue.retry(job.job_id).status is CloudJobStatus.pending
    claim = queue.claim("b")
    claim.complete(ResultsFile(results, "0" * 64, 1, 6, 6))
    assert queue.cancel(job.job_id).status is CloudJobStatus.cancelled  # completed -> cancelled
    queue.retry(job.job_id)
    claim = queue.claim("c")
    claim.complete(ResultsFile(results, "0" * 64, 1, 6, 6))
    queue.mark_imported(job.job_id)
    for op in (queue.retry, queue.cancel):
        with pytest.raises(JobError, match="is imported"):
            op(job.job_id)


def test_retry_of_a_pending_job_restores_its_marker(queue, tiny_clip):
    job = submit(queue, tiny_clip)
    queue.storage.delete(pending_key(job.job_id))  # as if a cut lost it
    assert queue.claim("a") is None
    assert queue.retry(job.job_id).status is CloudJobStatus.pending
    assert queue.claim("a").job_id == job.job_id


def test_retry_refuses_a_job_whose_video_is_gone(queue, tiny_clip):
    job = submit(queue, tiny_clip)
    queue.cancel(job.job_id)
    queue.storage.delete(video_key(job.job_id))
    with pytest.raises(JobError, match="video is no longer in the bucket"):
        queue.retry(job.job_id)
    assert queue.get(job.job_id)[0].status is CloudJobStatus.cancelled


def test_a_manifest_of_a_newer_schema_is_left_alone(queue, tiny_clip, cloud_env):
    queue = with_policy(queue, marker_grace=0)  # reconcile below reads what it finds at once
    newer = submit(queue, tiny_clip)
    raw = json.loads(queue.storage.get_bytes(manifest_key(newer.job_id))[0])
    raw["schema_version"] = SCHEMA_VERSION + 1
    raw["something_new"] = {"x": 1}
    body = json.dumps(raw).encode()
    queue.storage.put_bytes(manifest_key(newer.job_id), body)
    good = submit(queue, tiny_clip)
    assert queue.claim("old-worker").job_id == good.job_id
    assert queue.claim("old-worker") is None
    queue.reconcile()
    assert queue.files.list_pending() == [newer.job_id]  # its marker stays for a newer worker
    assert queue.storage.get_bytes(manifest_key(newer.job_id))[0] == body  # untouched
    counts = count_requests(queue.storage)
    assert queue.claim("old-worker") is None
    assert counts == {"ListObjectsV2": 1}  # no GET of it on every poll either
    result = CliRunner().invoke(cli, ["cloud", "status"])
    assert result.exit_code == 0 and "newer than this bball supports" in result.output


def test_two_claims_racing_for_one_job_are_decided_by_the_conditional_write(queue, cloud_settings, tiny_clip):
    """Both read the pending manifest before either writes: only If-Match can tell them apart, and does."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from basketball_analyzer.cloud.storage import CloudStorage

    job = submit(queue, tiny_clip)
    both_read = threading.Barrier(2, timeout=30)

    def claim(name: str):
        racer = CloudQueue(CloudStorage.from_settings(cloud_settings), queue.policy)  # its own client
        read = racer.files.get_manifest

        def read_then_wait(job_id):
            found = read(job_id)
            both_read.wait()
            return found

        racer.files.get_manifest = read_then_wait
        return racer.claim(name)

    with ThreadPoolExecutor(2) as pool:
        claims = list(pool.map(claim, ["left", "right"]))
    won = [c for c in claims if c is not None]
    assert len(won) == 1
    manifest, _ = queue.get(job.job_id)
    assert (manifest.worker_id, manifest.attempts, manifest.claim_token) == (won[0].worker_id, 1, won[0].token)
