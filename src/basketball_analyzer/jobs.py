"""The local job queue in `detection_jobs`: create, claim atomically, report progress, finish.

Every function takes the caller's `Session` and does not commit: the caller owns the transaction.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .db.models import DetectionJob, JobStatus, utcnow
from .detection import DetectionParams
from .exceptions import JobError, NotFound


def create_job(session: Session, video_id: int, params: DetectionParams) -> DetectionJob:
    """Queue a detection run of a registered video."""
    job = DetectionJob(video_id=video_id, status=JobStatus.pending.value, parameters=params.to_dict(),
                       progress=0.0, frames_processed=0, created_at=utcnow())
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, job_id: int) -> DetectionJob:
    """The job with this id, or `NotFound`."""
    job = session.get(DetectionJob, job_id)
    if job is None:
        raise NotFound(f"no job with id {job_id} (see `bball jobs list`)")
    return job


def list_jobs(session: Session, status: JobStatus | None = None) -> list[DetectionJob]:
    """Jobs, oldest first, optionally of one status."""
    q = select(DetectionJob).order_by(DetectionJob.id)
    if status is not None:
        q = q.where(DetectionJob.status == status.value)
    return list(session.execute(q).scalars())


def claim_next_job(session: Session, worker_id: str) -> DetectionJob | None:
    """Take the oldest pending job for `worker_id`, or None.

    The claim is a conditional UPDATE (status still pending): of two workers racing for one job, exactly
    one sees rowcount 1, on SQLite and PostgreSQL alike.
    """
    while True:
        job_id = session.execute(
            select(DetectionJob.id).where(DetectionJob.status == JobStatus.pending.value)
            .order_by(DetectionJob.id).limit(1)
        ).scalar_one_or_none()
        if job_id is None:
            return None
        now = utcnow()
        won = session.execute(
            update(DetectionJob)
            .where(DetectionJob.id == job_id, DetectionJob.status == JobStatus.pending.value)
            .values(status=JobStatus.processing.value, worker_id=worker_id, started_at=now, updated_at=now,
                    error=None, progress=0.0, frames_processed=0)
            .execution_options(synchronize_session=False)
        ).rowcount
        if won == 1:
            job = session.get(DetectionJob, job_id, populate_existing=True)
            return job


def set_progress(session: Session, job_id: int, frames_done: int, frames_total: int) -> None:
    """Record how far a processing job is."""
    session.execute(
        update(DetectionJob).where(DetectionJob.id == job_id)
        .values(frames_processed=frames_done, progress=(frames_done / frames_total if frames_total else 0.0),
                updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def complete_job(session: Session, job: DetectionJob, frames_done: int) -> None:
    """Mark a job completed."""
    now = utcnow()
    job.status, job.progress, job.frames_processed = JobStatus.completed.value, 1.0, frames_done
    job.completed_at = job.updated_at = now


def fail_job(session: Session, job_id: int, error: str) -> None:
    """Mark a job failed with a message."""
    now = utcnow()
    session.execute(update(DetectionJob).where(DetectionJob.id == job_id)
                    .values(status=JobStatus.failed.value, error=error[:2000], completed_at=now, updated_at=now)
                    .execution_options(synchronize_session=False))


def release_job(session: Session, job_id: int) -> None:
    """Give an unfinished job back to the queue (worker stopping)."""
    session.execute(update(DetectionJob)
                    .where(DetectionJob.id == job_id, DetectionJob.status == JobStatus.processing.value)
                    .values(status=JobStatus.pending.value, worker_id=None, started_at=None, progress=0.0,
                            frames_processed=0, updated_at=utcnow())
                    .execution_options(synchronize_session=False))


def cancel_job(session: Session, job_id: int) -> DetectionJob:
    """Cancel a pending or processing job."""
    job = get_job(session, job_id)
    if job.status not in (JobStatus.pending.value, JobStatus.processing.value):
        raise JobError(f"job {job_id} is {job.status}; only pending or processing jobs can be cancelled")
    job.status, job.updated_at = JobStatus.cancelled.value, utcnow()
    return job
