"""The local job queue in `detection_jobs`: create, claim atomically, report progress, finish.

Every function takes the caller's `Session` and does not commit: the caller owns the transaction.
`DatabaseQueue` and `DatabaseJob` put them behind the one job lifecycle (`lifecycle.py`) the worker drives;
each state change is one of the lifecycle's moves (its `WHERE status IN ...` comes from the move), so both
queues follow one state machine. A completed local job's results are in the database already, so here
`completed` is final, as `imported` is in the bucket (`STORED`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .db import get_engine, transaction
from .db.models import DetectionJob, JobStatus, utcnow
from .detection import DetectionParams
from .exceptions import JobError, LeaseLost, NotFound
from .lifecycle import (CANCEL, CLAIM, COMPLETE, FAIL, RELEASE, JobHandle, JobQueue, Move, ResultsFile,
                        actions)

log = logging.getLogger(__name__)

STORED = frozenset({JobStatus.completed})
"""States in which a local job's results are in the database: final, as a bucket job's `imported`."""
OFFERED = ("cancel",)
"""The user actions the database queue has."""


def _from(move: Move):
    """The SQL condition that a job may make `move` now."""
    return DetectionJob.status.in_([s.value for s in move.sources if s not in STORED])


def job_actions(job: DetectionJob) -> list[str]:
    """What a user can do with this job now (`["cancel"]` or `[]`), from the one state machine."""
    return actions(job.status, OFFERED, STORED)


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


def claim_next_job(session: Session, worker_id: str, only: int | None = None) -> DetectionJob | None:
    """Take the oldest pending job (or job `only`) for `worker_id`, or None.

    The claim is a conditional UPDATE (status still pending): of two workers racing for one job, exactly
    one sees rowcount 1, on SQLite and PostgreSQL alike.
    """
    while True:
        q = select(DetectionJob.id).where(_from(CLAIM))
        if only is not None:
            q = q.where(DetectionJob.id == only)
        job_id = session.execute(q.order_by(DetectionJob.id).limit(1)).scalar_one_or_none()
        if job_id is None:
            return None
        now = utcnow()
        won = session.execute(
            update(DetectionJob)
            .where(DetectionJob.id == job_id, _from(CLAIM))
            .values(status=CLAIM.target.value, worker_id=worker_id, started_at=now, updated_at=now,
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
    if not COMPLETE.allows(job.status):
        raise JobError(f"job {job.id} is {job.status}; only a processing job can complete")
    now = utcnow()
    job.status, job.progress, job.frames_processed = COMPLETE.target.value, 1.0, frames_done
    job.completed_at = job.updated_at = now


def fail_job(session: Session, job_id: int, error: str, worker_id: str | None = None) -> bool:
    """Mark a job failed with a message (only if `worker_id` still holds it, when given); True if it was."""
    now = utcnow()
    q = update(DetectionJob).where(DetectionJob.id == job_id)
    if worker_id is not None:
        q = q.where(_from(FAIL), DetectionJob.worker_id == worker_id)
    return session.execute(q.values(status=FAIL.target.value, error=error[:2000], completed_at=now,
                                    updated_at=now)
                           .execution_options(synchronize_session=False)).rowcount == 1


def release_job(session: Session, job_id: int) -> None:
    """Give an unfinished job back to the queue (worker stopping)."""
    session.execute(update(DetectionJob)
                    .where(DetectionJob.id == job_id, _from(RELEASE))
                    .values(status=RELEASE.target.value, worker_id=None, started_at=None, progress=0.0,
                            frames_processed=0, updated_at=utcnow())
                    .execution_options(synchronize_session=False))


def cancel_job(session: Session, job_id: int) -> DetectionJob:
    """Cancel a pending, processing or failed job (a completed one's results are stored: final)."""
    job = get_job(session, job_id)
    if "cancel" not in job_actions(job):
        raise JobError(f"job {job_id} is {job.status}; only pending or processing jobs, or failed ones, can be "
                       "cancelled")
    job.status, job.updated_at = CANCEL.target.value, utcnow()
    return job


class DatabaseJob(JobHandle):
    """A claimed row of `detection_jobs`; each step is its own short transaction on `url`."""

    PROGRESS_EVERY = 25
    PROGRESS_SECONDS = 5.0

    def __init__(self, url: str | None, job: DetectionJob, video_path: str, video_name: str, on_release=None):
        self.url, self.id, self.worker_id = url, job.id, job.worker_id
        self.job_id, self.results_job_id = str(job.id), f"local-{job.id}"
        self.video_id, self.attempt, self.video_name = job.video_id, 1, video_name
        self.stored_parameters, self.video_path = job.parameters, video_path
        self.on_progress = None  # an extra `on_progress(done, total)`, e.g. a progress bar
        self.on_release = on_release or release_job
        self._written = (-1, 0.0)

    def parameters(self) -> DetectionParams:
        """The stored parameters; `JobError` (this job fails, the worker goes on) when they are invalid."""
        try:
            return DetectionParams.from_dict(self.stored_parameters)
        except (TypeError, ValueError, AttributeError) as exc:
            raise JobError(f"job {self.id} has invalid stored parameters: {exc}") from None

    def video(self, scratch: Path) -> Path:
        """The registered file itself (nothing to download)."""
        return Path(self.video_path)

    def progress(self, done: int, total: int) -> None:
        """Write progress every PROGRESS_EVERY frames or PROGRESS_SECONDS, whichever comes first."""
        if self.on_progress:
            self.on_progress(done, total)
        frames, at = self._written
        if done - frames >= self.PROGRESS_EVERY or time.monotonic() - at > self.PROGRESS_SECONDS:
            self._written = (done, time.monotonic())
            with transaction(self.url) as s:
                # The progress write doubles as the check that the job is still ours: a job cancelled
                # mid-run stops within PROGRESS_EVERY frames instead of running to its end.
                job = get_job(s, self.id)
                if job.status != JobStatus.processing.value or job.worker_id != self.worker_id:
                    raise LeaseLost(f"job {self.id} is no longer ours (now {job.status})")
                set_progress(s, self.id, done, total)

    def complete(self, results: ResultsFile) -> None:
        """Store the results through the importer and mark the job completed, in one transaction."""
        from .results.ingest import import_results_file
        with transaction(self.url) as s:
            job = get_job(s, self.id)
            if job.status != JobStatus.processing.value or job.worker_id != self.worker_id:
                raise LeaseLost(f"job {self.id} is no longer ours (now {job.status})")
            import_results_file(s, video_id=self.video_id, results_path=results.path,
                                expected_sha256=results.sha256, job_id=self.id,
                                frames_processed=results.frames_processed)
            complete_job(s, job, results.frames_processed)

    def fail(self, message: str, frames_processed: int = 0) -> None:
        """Mark the job failed (if it is still ours)."""
        with transaction(self.url) as s:
            if not fail_job(s, self.id, message, worker_id=self.worker_id):
                raise LeaseLost(f"job {self.id} is no longer ours")

    def release(self) -> None:
        """Give the job back to the queue (worker stopping)."""
        with transaction(self.url) as s:
            self.on_release(s, self.id)


class DatabaseQueue(JobQueue):
    """The `detection_jobs` table as a job queue (`only`: claim just that job, as `analyze` does)."""

    kind = "local"

    def __init__(self, url: str | None = None, only: int | None = None, on_release=None):
        self.url, self.only, self.on_release = url, only, on_release

    def check(self) -> None:
        """Open (and migrate) the database before the first claim, so a bad DATABASE_URL fails at once."""
        get_engine(self.url)

    def claim(self, worker_id: str) -> DatabaseJob | None:
        """Claim the oldest pending job; the stored parameters are validated later, inside the job's life."""
        from .videos import get_video

        with transaction(self.url) as s:
            job = claim_next_job(s, worker_id, only=self.only)
            if job is None:
                return None
            video = get_video(s, job.video_id)
            handle = DatabaseJob(self.url, job, video.path, video.file_name, self.on_release)
        log.info("job %s claimed by %s (video %s)", handle.id, worker_id, handle.video_id)
        return handle
