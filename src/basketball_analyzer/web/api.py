"""JSON API over the library: videos, the video file (HTTP ranges), detections by frame range, tracks,
stats and local jobs (the court's routes: court_api.py). Each route parses, calls one library function in one
transaction, and returns JSON.

GET routes read in read-only transactions, which on SQLite wait for nobody: a slow `/stats` on a long game
does not hold up the boxes the viewer asks for. Ids are checked against the INTEGER columns' range, so an id
no row can have is a 422, not a database overflow.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from ..db import transaction
from ..detections import INT32_MAX
from ..exceptions import BballError, NotFound, VideoError

router = APIRouter()

VideoId = Annotated[int, Path(ge=1, le=INT32_MAX, description="a registered video's id")]
JobId = Annotated[int, Path(ge=1, le=INT32_MAX, description="a local job's id")]
MAX_PROMPTS = 8
"""Text prompts one run may give SAM 3."""
MAX_PROMPT_CHARS = 200
"""The longest prompt ("basketball player" is 17)."""
_UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}}}}}}


def _url(request: Request) -> str:
    return request.app.state.settings.database_url


def _read(request: Request):
    """A read-only transaction on the app's database (waits for no other request on SQLite)."""
    return transaction(_url(request), readonly=True)


@router.get("/videos")
def list_videos(request: Request) -> list[dict]:
    """Every registered video with its detections, tracks, teams and latest job."""
    from ..browse import summaries

    with _read(request) as s:
        return [v.to_dict() for v in summaries(s)]


@router.get("/videos/{video_id}")
def show_video(request: Request, video_id: VideoId, counts: bool = True) -> dict:
    """One video's summary (`counts=false`: without counting its boxes, which takes a second on a long game)."""
    from ..browse import summary

    with _read(request) as s:
        return summary(s, video_id, counts).to_dict()


@router.post("/videos", status_code=201, openapi_extra=_UPLOAD_BODY)
async def upload_video(request: Request) -> dict:
    """Register an uploaded video (multipart field `file`): streamed to disk, size-limited, probed first."""
    from starlette.concurrency import run_in_threadpool

    from .upload import received_file

    settings = request.app.state.settings
    folder = FilePath(settings.web_upload_dir).expanduser()
    async with received_file(request, folder, settings.web_max_upload_mb) as upload:
        # Probing and hashing take seconds on a long game: off the event loop, so other requests go on.
        return await run_in_threadpool(_register_upload, _url(request), upload, folder)


def _register_upload(url: str, upload, folder: FilePath) -> dict:
    from ..video import probe
    from ..videos import register_video

    try:
        info = probe(upload.path)
    except VideoError:
        raise VideoError(f"{upload.name} is not a readable video") from None
    final = None
    try:
        with transaction(url) as s:
            reg = register_video(s, upload.path, info)
            if reg.created:
                final = _claim_name(folder, upload.name)
                os.replace(upload.path, final)
                reg.video.path, reg.video.file_name = str(final.resolve()), final.name
            return {"id": reg.video.id, "created": reg.created, "file_name": reg.video.file_name}
    except BaseException:
        if final is not None:
            final.unlink(missing_ok=True)  # the row was not stored: neither is its file
        raise


def _claim_name(folder: FilePath, name: str) -> FilePath:
    """A free name in `folder` for `name`, created empty at once so a concurrent upload cannot take it too."""
    from .upload import free_name

    while True:
        candidate = free_name(folder / name)
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            return candidate
        except FileExistsError:
            continue


@router.get("/videos/{video_id}/file")
def video_file(request: Request, video_id: VideoId) -> Response:
    """The registered video's bytes (HTTP range requests, so the browser can seek; HEAD for its size)."""
    from ..videos import get_video
    from .video_file import VideoFileResponse, media_type

    with _read(request) as s:
        video = get_video(s, video_id)
        path, name = FilePath(video.path), video.file_name
    try:
        stat = path.stat()
    except OSError:
        stat = None
    if stat is None or not path.is_file():
        raise NotFound(f"video {video_id}'s file is gone: {name}")
    return VideoFileResponse(path, media_type=media_type(path), stat_result=stat)


# HEAD tells a player the file's size and type without its bytes (one route in the schema: the GET).
router.add_api_route("/videos/{video_id}/file", video_file, methods=["HEAD"], include_in_schema=False)


@router.get("/videos/{video_id}/thumbnail.jpg")
def thumbnail(request: Request, video_id: VideoId) -> Response:
    """A 320-pixel-wide JPEG of a frame a tenth into the video."""
    import cv2

    from ..video import frames_at
    from ..videos import get_video

    with _read(request) as s:
        video = get_video(s, video_id)
        path, frame = video.path, video.frame_count // 10
    if not FilePath(path).is_file():
        raise NotFound(f"video {video_id}'s file is gone")
    image = next(iter(frames_at(path, [frame])), None)
    if image is None:
        raise NotFound(f"video {video_id} has no frame {frame}")
    h, w = image.image.shape[:2]
    small = cv2.resize(image.image, (320, max(1, round(h * 320 / w))), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return Response(data.tobytes(), media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})


@router.get("/videos/{video_id}/detections")
def detections(request: Request, video_id: VideoId, start: int = Query(0, ge=0, le=INT32_MAX),
               end: int = Query(300, ge=1, le=INT32_MAX)) -> dict:
    """Boxes of frames start..end-1 as parallel arrays (at most 3,000 frames a request)."""
    from ..browse import detections_in_range

    with _read(request) as s:
        return detections_in_range(s, video_id, start, end)


@router.get("/videos/{video_id}/tracks")
def tracks(request: Request, video_id: VideoId) -> list[dict]:
    """The video's `tracks` rows (teams and colours), empty before `bball teams`."""
    from ..analytics.tracks import list_tracks
    from ..videos import get_video

    with _read(request) as s:
        get_video(s, video_id)
        return [{"tracking_id": t.tracking_id, "label": t.label, "team": t.team, "color": t.color,
                 "frames_seen": t.frames_seen, "first_frame": t.first_frame, "last_frame": t.last_frame}
                for t in list_tracks(s, video_id)]


@router.get("/videos/{video_id}/stats")
def stats(request: Request, video_id: VideoId) -> dict:
    """`bball stats` as JSON."""
    from ..analytics.stats import video_stats

    with _read(request) as s:
        return video_stats(s, video_id).to_dict()


@router.get("/videos/{video_id}/heatmap.png")
def heatmap(request: Request, video_id: VideoId) -> Response:
    """Heatmaps per team and per player on a drawn court (needs a court calibration)."""
    from ..analytics.pictures import render_heatmap

    with tempfile.TemporaryDirectory(prefix="bball-heat-") as tmp, _read(request) as s:
        path, _ = render_heatmap(s, video_id, FilePath(tmp) / "heatmap.png")
        return Response(path.read_bytes(), media_type="image/png")


class RunRequest(BaseModel):
    """A detection run to queue (locally or on cloud GPUs): the video and the run's parameters.

    Strict types: `true` is not video 1 and "3" is not 3 (JSON numbers only); prompts are capped in number and
    length, since they are stored with the job and sent to every worker."""

    model_config = ConfigDict(strict=True)

    video_id: int = Field(ge=1, le=INT32_MAX)
    detector: str = Field(default="auto", max_length=64)
    confidence: float | None = Field(default=None, ge=0, le=1)  # None: the detector's own
    sample_interval: int = Field(default=1, ge=1, le=10_000)
    prompts: list[Annotated[str, Field(max_length=MAX_PROMPT_CHARS)]] = Field(default_factory=list,
                                                                              max_length=MAX_PROMPTS)

    def params(self):
        """The run's `DetectionParams`; one-line `BballError` for an unknown detector or empty prompts."""
        from ..detection import DEFAULT_PROMPT, DetectionParams
        from ..detection.factory import available_detectors

        if self.detector not in available_detectors():
            raise BballError(f"unknown detector {self.detector[:20]!r}: choose one of "
                             f"{', '.join(available_detectors())}")
        try:
            return DetectionParams(sample_interval=self.sample_interval, confidence_threshold=self.confidence,
                                   detector=self.detector, prompts=tuple(self.prompts) or (DEFAULT_PROMPT,))
        except ValueError as exc:
            raise BballError(str(exc)) from None


def _job_dict(job) -> dict:
    from ..jobs import job_actions

    return {"id": job.id, "video_id": job.video_id, "status": job.status, "progress": round(job.progress or 0, 4),
            "frames_processed": job.frames_processed, "error": job.error, "worker_id": job.worker_id,
            "created_at": job.created_at.isoformat() if job.created_at else None,
            "actions": job_actions(job)}  # what the page may offer, from the one state machine


@router.get("/jobs")
def list_jobs(request: Request) -> list[dict]:
    """Local jobs, newest first."""
    from ..jobs import list_jobs as jobs

    with _read(request) as s:
        return [_job_dict(j) for j in reversed(jobs(s))]


@router.post("/jobs", status_code=201)
def create_job(request: Request, body: RunRequest) -> dict:
    """Queue a local job for `bball worker`."""
    from ..jobs import create_job as create
    from ..videos import get_video

    params = body.params()
    with transaction(_url(request)) as s:
        get_video(s, body.video_id)
        return _job_dict(create(s, body.video_id, params))


@router.post("/jobs/{job_id}/cancel")
def cancel(request: Request, job_id: JobId) -> dict:
    """Cancel a pending or processing local job."""
    from ..jobs import cancel_job

    with transaction(_url(request)) as s:
        return _job_dict(cancel_job(s, job_id))
