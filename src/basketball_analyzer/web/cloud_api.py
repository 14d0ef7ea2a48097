"""Cloud jobs over HTTP, when a bucket is configured: list, submit, cancel, retry, import.

Bucket strings are returned as JSON data; the pages put them into the document as text, never as markup.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import Field

from ..exceptions import BballError, ConfigError
from .api import RunRequest

router = APIRouter()


class CloudRunRequest(RunRequest):
    """A run for cloud GPUs: `segments` splits the video (None: automatic, one per 10 minutes over 20)."""

    segments: int | None = Field(default=None, ge=1, le=10_000)


def _queue(request: Request):
    from ..cloud.queue import CloudQueue

    settings = request.app.state.settings
    try:
        return CloudQueue.from_settings(settings)
    except ConfigError as exc:
        raise BballError(f"no bucket configured for this server ({exc})") from None


def _view(view) -> dict:
    m = view.manifest
    if m is None:
        return {"job_id": view.job_id, "status": "unreadable", "problem": view.problem, "actions": []}
    out = {"job_id": m.job_id, "video_id": m.video_id, "status": view.status, "frames_done": view.frames_done,
           "frames_total": m.frames_total, "worker_id": m.worker_id, "attempts": m.attempts, "error": m.error,
           "video_name": m.parameters.get("video_name"), "created_at": m.created_at, "actions": view.actions}
    if m.segmented:
        out["segments"] = [_segment(v) for v in view.segments]
    return out


def _segment(view) -> dict:
    """One segment of a job: its frames, status, progress and worker."""
    m = view.manifest
    if m is None or not m.segment:
        return {"job_id": view.job_id, "status": "unreadable", "problem": view.problem}
    seg = m.segment
    return {"job_id": m.job_id, "index": seg.get("index"), "count": seg.get("count"),
            "start_frame": seg.get("start_frame"), "end_frame": seg.get("end_frame"), "status": view.status,
            "frames_done": view.frames_done, "frames_total": m.frames_total, "worker_id": m.worker_id,
            "attempts": m.attempts, "error": m.error}


@router.get("/jobs")
def list_jobs(request: Request) -> list[dict]:
    """Every job in the bucket, newest first, with live progress."""
    from ..cloud.status import list_jobs as jobs

    return [_view(v) for v in reversed(jobs(_queue(request)))]


@router.post("/jobs", status_code=201)
def submit(request: Request, body: CloudRunRequest) -> dict:
    """Upload a registered video and queue a cloud job for it (in segments for a long video)."""
    from ..cloud.submit import submit_job

    manifest = submit_job(_queue(request), params=body.params(), video_id=body.video_id,
                          database_url=request.app.state.settings.database_url, segments=body.segments)
    return {"job_id": manifest.job_id, "video_id": manifest.video_id, "status": manifest.status.value,
            "segments": len(manifest.segment_ids or []) or 1}


@router.post("/jobs/{job_id}/cancel")
def cancel(request: Request, job_id: str) -> dict:
    """Cancel a cloud job."""
    m = _queue(request).cancel(job_id)
    return {"job_id": m.job_id, "status": m.status.value}


@router.post("/jobs/{job_id}/retry")
def retry(request: Request, job_id: str) -> dict:
    """Put a failed (or cancelled, completed) cloud job back in the queue."""
    m = _queue(request).retry(job_id)
    return {"job_id": m.job_id, "status": m.status.value}


@router.post("/jobs/{job_id}/import")
def import_one(request: Request, job_id: str) -> dict:
    """Import a completed job's results into this database."""
    from ..cloud.importer import import_job

    outcome = import_job(_queue(request).storage, request.app.state.settings.database_url, job_id)
    return {"job_id": outcome.cloud_job_id, "video_id": outcome.video_id, "rows": outcome.rows,
            "already_imported": outcome.already_imported}
