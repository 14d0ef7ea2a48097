"""The local job queue: atomic claims on SQLite and PostgreSQL, state transitions."""

import threading

import pytest

from basketball_analyzer.db import transaction
from basketball_analyzer.detection import DetectionParams
from basketball_analyzer.exceptions import JobError, NotFound
from basketball_analyzer.jobs import cancel_job, claim_next_job, create_job, get_job, release_job
from basketball_analyzer.videos import register_video


def _jobs(db_url, sample_clip, n):
    with transaction(db_url) as s:
        vid = register_video(s, sample_clip[0]).video.id
        return [create_job(s, vid, DetectionParams()).id for _ in range(n)]


def test_claims_oldest_first_and_none_when_empty(db_url, sample_clip):
    ids = _jobs(db_url, sample_clip, 2)
    with transaction(db_url) as s:
        assert claim_next_job(s, "w1").id == ids[0]
    with transaction(db_url) as s:
        job = claim_next_job(s, "w2")
        assert (job.id, job.worker_id, job.status) == (ids[1], "w2", "processing")
    with transaction(db_url) as s:
        assert claim_next_job(s, "w3") is None


def test_racing_workers_never_share_a_job(db_url, sample_clip):
    ids = _jobs(db_url, sample_clip, 30)
    claimed: list[tuple[str, int]] = []
    errors = []
    lock = threading.Lock()

    def worker(name):
        try:
            while True:
                with transaction(db_url) as s:
                    job = claim_next_job(s, name)
                    if job is None:
                        return
                    with lock:
                        claimed.append((name, job.id))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(j for _, j in claimed) == ids  # every job exactly once


def test_release_and_cancel(db_url, sample_clip):
    (jid,) = _jobs(db_url, sample_clip, 1)
    with transaction(db_url) as s:
        claim_next_job(s, "w")
        release_job(s, jid)
    with transaction(db_url) as s:
        job = get_job(s, jid)
        assert (job.status, job.worker_id) == ("pending", None)
        cancel_job(s, jid)
    with transaction(db_url) as s:
        assert get_job(s, jid).status == "cancelled"
        with pytest.raises(JobError, match="only pending or processing"):
            cancel_job(s, jid)
        with pytest.raises(NotFound, match="no job with id 999"):
            get_job(s, 999)


def test_both_queues_follow_one_state_machine(db_url, sample_clip):
    from basketball_analyzer.jobs import complete_job, fail_job, job_actions
    from basketball_analyzer.lifecycle import TRANSITIONS, JobStatus

    S = JobStatus
    # The bucket's table as it always was: the lifecycle's moves must add up to exactly this.
    assert TRANSITIONS == {
        S.pending: {S.processing, S.cancelled},
        S.processing: {S.processing, S.pending, S.completed, S.failed, S.cancelled},
        S.completed: {S.imported, S.pending, S.cancelled}, S.failed: {S.pending, S.cancelled},
        S.imported: {S.imported}, S.cancelled: {S.pending}}
    done, failed = _jobs(db_url, sample_clip, 2)
    with transaction(db_url) as s:
        assert job_actions(get_job(s, done)) == ["cancel"]
        job = claim_next_job(s, "w")
        complete_job(s, job, 10)
        claim_next_job(s, "w")
        assert fail_job(s, failed, "boom", worker_id="w")
    with transaction(db_url) as s:
        # Completed here means stored in the database: final, as `imported` is in the bucket.
        assert job_actions(get_job(s, done)) == []
        with pytest.raises(JobError, match="is completed"):
            cancel_job(s, done)
        with pytest.raises(JobError, match="only a processing job can complete"):
            complete_job(s, get_job(s, done), 10)
        assert job_actions(get_job(s, failed)) == ["cancel"]  # as in the bucket
        assert cancel_job(s, failed).status == "cancelled"
