"""The bucket queue: claims, cheap polling, lease expiry and attempts, cancel, retry, malformed jobs."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner
from cloudutil import count_requests, hog_params

from basketball_analyzer.cli import cli
from basketball_analyzer.cloud.manifest import CloudJobStatus, new_job_id
from basketball_analyzer.cloud.queue import CloudQueue, LeaseLost
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
    assert queue.storage.list_pending() == []


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
    queue.heartbeat(claim)
    claim.etag = stale_etag
    with pytest.raises(LeaseLost, match="no longer ours"):
        queue.complete(claim, results_key="k", results_sha256="0" * 64, results_rows=0, frames_processed=0)


def test_expired_lease_is_taken_over_then_fails_after_max_attempts(storage, tiny_clip):
    queue = CloudQueue(storage, lease_seconds=1.0, max_attempts=2)
    job = submit(queue, tiny_clip)
    first = queue.claim("dies-1")
    assert queue.claim("other") is None  # lease still live
    time.sleep(2.2)  # LIST times have 1 s resolution
    second = queue.claim("dies-2")
    assert second.job_id == job.job_id and second.manifest.attempts == 2
    with pytest.raises(LeaseLost):  # the first worker learns it lost the job at its next heartbeat
        queue.heartbeat(first)
    time.sleep(2.2)
    assert queue.claim("third") is None
    m, _ = queue.get(job.job_id)
    assert m.status is CloudJobStatus.failed
    assert "abandoned after 2 attempts" in m.error and "dies-2" in m.error
    assert list(storage.list_queue()) == []


def test_cancel_and_retry(queue, tiny_clip):
    job = submit(queue, tiny_clip)
    with pytest.raises(JobError, match="only failed jobs"):
        queue.retry(job.job_id)
    claim = queue.claim("a")
    queue.fail(claim, "boom")
    assert queue.claim("b") is None
    again = queue.retry(job.job_id)
    assert again.status is CloudJobStatus.pending and again.attempts == 0 and again.error is None
    claim = queue.claim("b")
    assert claim.job_id == job.job_id
    queue.cancel(job.job_id)
    with pytest.raises(LeaseLost, match="cancelled"):
        queue.heartbeat(claim)
    assert queue.claim("c") is None


def test_malformed_manifest_never_crashes_claim_or_status(queue, tiny_clip, cloud_env):
    bad = new_job_id()
    queue.storage.put_bytes(queue.storage.manifest_key(bad), b"{garbage")
    queue.storage.put_bytes(queue.storage.pending_key(bad), b"")
    good = submit(queue, tiny_clip)
    assert queue.claim("a").job_id == good.job_id
    assert queue.storage.list_pending() == []  # the bad job's marker was dropped
    result = CliRunner().invoke(cli, ["cloud", "status"])
    assert result.exit_code == 0, result.output
    assert "invalid" in result.output and "processing" in result.output
    with pytest.raises(ManifestError):
        queue.get(bad)


def test_user_job_ids_are_validated_before_use(cloud_env):
    for args in (["cloud", "cancel", "--job-id", "../../x"], ["cloud", "retry", "--job-id", "a/b"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1 and "invalid job id" in result.output
