"""`analyze_video`: run one job in this process, through the same lifecycle and results path as a worker."""

from __future__ import annotations

from dataclasses import dataclass

from .config import get_settings
from .db import transaction
from .detection import DetectionParams
from .exceptions import JobError
from .jobs import DatabaseQueue, cancel_job, create_job, get_job
from .pipeline import ProgressFn, RunStats
from .videos import resolve_video


@dataclass
class AnalysisResult:
    """What `analyze_video` did."""

    video_id: int
    file_name: str
    registered: bool
    job_id: int
    stats: RunStats


def analyze_video(ref: str, params: DetectionParams, on_progress: ProgressFn | None = None) -> AnalysisResult:
    """Analyze a video given by id or path (registered if needed) as a job run here and now.

    A bad file fails before anything is written. The boxes stream to a results file and reach the database
    through the importer, like every worker's, so memory stays flat however long the video. A run that
    fails is recorded as a failed job and raised as its one-line error; Ctrl-C cancels the job.
    """
    from .worker.base import Worker

    settings = get_settings()
    with transaction() as s:
        reg = resolve_video(s, ref)  # probes before it writes: a bad file leaves the database untouched
        job_id = create_job(s, reg.video.id, params).id
        video_id, file_name, registered = reg.video.id, reg.video.file_name, reg.created
    queue = DatabaseQueue(settings.database_url, only=job_id, on_release=cancel_job)
    worker = Worker(queue, settings, worker_id="analyze")
    stats = RunStats()
    try:
        job = queue.claim(worker.worker_id)
        if job is None:
            raise JobError(f"job {job_id} was taken by another worker before this run could start")
        job.on_progress = on_progress
        outcome = worker.run_job(job, stats)
    finally:
        worker.detectors.close()
    if outcome != "completed":
        with transaction() as s:
            raise JobError(get_job(s, job_id).error or f"job {job_id} did not complete ({outcome})")
    return AnalysisResult(video_id, file_name, registered, job_id, stats)


def queue_analysis(ref: str, params: DetectionParams) -> tuple[int, int]:
    """Queue the run for an external worker instead (USE_EXTERNAL_WORKER); returns (job id, video id)."""
    with transaction() as s:
        video = resolve_video(s, ref).video
        return create_job(s, video.id, params).id, video.id
