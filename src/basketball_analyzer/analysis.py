"""`analyze_video`: run detection in this process and store the result in one transaction."""

from __future__ import annotations

from dataclasses import dataclass

from .config import get_settings
from .db import transaction
from .db.detections import replace_detections
from .detection import DetectionParams
from .detections import Detections
from .jobs import complete_job, create_job
from .pipeline import ProgressFn, RunStats, run_detection
from .video import probe
from .videos import get_video, register_video


@dataclass
class AnalysisResult:
    """What `analyze_video` did."""

    video_id: int
    file_name: str
    registered: bool
    job_id: int
    stats: RunStats


def analyze_video(ref: str, params: DetectionParams, on_progress: ProgressFn | None = None) -> AnalysisResult:
    """Analyze a video given by id or path. Nothing is written unless the whole run succeeds."""
    from pathlib import Path

    settings = get_settings()
    with transaction() as s:
        if ref.isdigit() and not Path(ref).exists():
            video = get_video(s, int(ref))
            path, registered = video.path, False
        else:
            info = probe(ref)  # fail on a bad file before touching the database
            path, registered = ref, True
        video_id = video.id if not registered else None
        file_name = video.file_name if not registered else Path(ref).name
    stats = RunStats()
    parts = list(run_detection(path, params, settings=settings, on_progress=on_progress, stats=stats))
    with transaction() as s:
        if registered:
            reg = register_video(s, path, info)
            video_id, registered = reg.video.id, reg.created
        job = create_job(s, video_id, params)
        job.worker_id = "analyze"
        job.started_at = job.created_at
        replace_detections(s, video_id, Detections.merge(parts), job_id=job.id)
        complete_job(s, job, stats.frames)
        job_id = job.id
    return AnalysisResult(video_id, file_name, registered, job_id, stats)


def queue_analysis(ref: str, params: DetectionParams) -> tuple[int, int]:
    """Queue the run for an external worker instead (USE_EXTERNAL_WORKER); returns (job id, video id)."""
    from .videos import resolve_video

    with transaction() as s:
        video = resolve_video(s, ref).video
        return create_job(s, video.id, params).id, video.id
