"""JobManifest: round trip, validation, schema versions, job ids, the state machine (pure logic)."""

from __future__ import annotations

import json

import pytest

from basketball_analyzer.cloud.manifest import (
    SCHEMA_VERSION,
    CloudJobStatus,
    JobManifest,
    new_job_id,
    validate_job_id,
)
from basketball_analyzer.exceptions import JobError, ManifestError


def manifest(**kw) -> JobManifest:
    return JobManifest(job_id=new_job_id(), video_id=3, parameters={"sample_interval": 2, "video_key": "k"}, **kw)


def test_round_trip_keeps_every_field():
    m = manifest(frames_total=10, worker_id="w", attempts=2, error="x")
    back = JobManifest.from_json(m.to_json())
    assert back == m
    d = m.to_dict()
    assert d["status"] == "pending" and d["schema_version"] == 1
    for key in ("job_id", "video_id", "status", "created_at", "parameters", "started_at", "completed_at", "error",
                "frames_processed", "worker_id", "results_sha256"):
        assert key in d


def test_job_ids_sort_by_creation_time_and_validate():
    early, late = new_job_id(1_700_000_000), new_job_id(1_700_000_001)
    assert early < late and len(early) == 26
    assert validate_job_id(early.lower()) == early


@pytest.mark.parametrize("bad", ["", "../../etc/passwd", "01ABC", "U" * 26, "01JD3V6W8K2M4N5P7Q9R0S1T2/", None, 12])
def test_unsafe_job_ids_are_rejected(bad):
    with pytest.raises(ManifestError, match="invalid job id"):
        validate_job_id(bad)


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(schema_version=SCHEMA_VERSION + 1), "newer than this bball supports"),
    (lambda d: d.pop("schema_version"), "no schema_version"),
    (lambda d: d.update(status="exploded"), "unknown status"),
    (lambda d: d.update(video_id="three"), "video_id"),
    (lambda d: d.update(job_id="../x"), "invalid job id"),
    (lambda d: d.update(frames_processed=-1), "frames_processed"),
    (lambda d: d.update(created_at="yesterday"), "created_at"),
    (lambda d: d.pop("status"), "missing status"),
    (lambda d: d.update(claim_token="../../x"), "claim_token"),  # it goes into a results key
])
def test_malformed_manifests_raise_manifest_error(change, message):
    d = manifest().to_dict()
    change(d)
    with pytest.raises(ManifestError, match=message):
        JobManifest.from_dict(d)


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe", json.dumps({"schema_version": 1}).encode(),
                                 b'{"schema_version": 1, "job_id": "01JD3V6W8K2M4N5P7Q9R0S1T2V", '
                                 b'"video_id": 1, "status": "pending", "frames_total": NaN}'])
def test_garbage_bytes_raise_manifest_error(raw):
    with pytest.raises(ManifestError):
        JobManifest.from_json(raw)


def test_state_machine_allows_the_job_life_and_refuses_the_rest():
    m = manifest()
    m = m.transition("processing", worker_id="w")
    m = m.transition(CloudJobStatus.completed)
    m = m.transition("imported")
    assert m.status is CloudJobStatus.imported
    with pytest.raises(JobError, match="is imported; it cannot become pending"):
        m.transition("pending")
    done = manifest().transition("processing").transition("completed")
    assert done.transition("pending").transition("cancelled").transition("pending").status is CloudJobStatus.pending
    with pytest.raises(JobError):
        manifest().transition("completed")
    assert manifest().transition("cancelled").status is CloudJobStatus.cancelled


def test_lease_expiry():
    m = manifest().transition("processing", lease_expires_at="2030-01-01T00:00:00.000Z")
    assert not m.lease_expired(1_800_000_000)
    assert m.lease_expired(1_900_000_000)
    assert not manifest().lease_expired(1_900_000_000)


@pytest.mark.parametrize("status, allowed", [
    ("pending", ["cancel"]), ("processing", ["cancel"]), ("completed", ["cancel", "retry", "import"]),
    ("failed", ["cancel", "retry"]), ("cancelled", ["retry"]), ("imported", []),
])
def test_the_status_view_says_which_actions_a_job_allows(status, allowed):
    from basketball_analyzer.cloud.status import JobView

    m = manifest(status=status)
    assert JobView(m.job_id, m).actions == allowed
    segment = manifest(status=status, parent_id=new_job_id(), segment={
        "index": 0, "count": 2, "start_frame": 0, "end_frame": 10, "overlap_frames": 0})
    assert JobView(segment.job_id, segment).actions == []  # a segment is acted on through its job
    assert JobView("x", None, problem="unreadable").actions == []


def test_a_lease_policy_is_fixed_when_built():
    from dataclasses import FrozenInstanceError

    from basketball_analyzer.cloud.lease import LeasePolicy
    from basketball_analyzer.config import load_settings

    policy = LeasePolicy(lease_seconds=9)
    assert (policy.heartbeat_interval, policy.fence_after) == (3.0, pytest.approx(7.2))
    assert LeasePolicy(lease_seconds=1).heartbeat_interval == 0.5  # never more than half the lease
    with pytest.raises(FrozenInstanceError):
        policy.lease_seconds = 1  # type: ignore[misc]
    configured = LeasePolicy.from_settings(load_settings(cloud_lease_seconds=30, cloud_max_attempts=5,
                                                         cloud_part_frames=600))
    assert (configured.lease_seconds, configured.max_attempts, configured.part_frames) == (30.0, 5, 600)
