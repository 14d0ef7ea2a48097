"""Submitting a video to the bucket: the one function `bball cloud submit` and the demo both call."""

from __future__ import annotations

import os
from pathlib import Path

from ..exceptions import VideoError
from .manifest import JobManifest
from .queue import CloudQueue
from .storage import BytesFn


def submit_job(queue: CloudQueue, *, video_id: int, params, video_path: str | os.PathLike | None = None,
               database_url: str | None = None, on_upload: BytesFn | None = None) -> JobManifest:
    """Probe the video, upload it and queue a pending job; returns the manifest.

    Without `video_path` the video's path comes from the local database (`database_url`).
    Everything is checked before the first byte is uploaded.
    """
    from ..pipeline import sampled_frame_count
    from ..video import probe

    if video_path is None:
        video_path = _registered_path(video_id, database_url)
    path = Path(video_path)
    if not path.is_file():
        raise VideoError(f"video file not found: {path}")
    info = probe(path)
    frames_total = sampled_frame_count(info, params.sample_interval)
    return queue.submit(video_id, path, params, frames_total=frames_total, on_upload=on_upload)


def _registered_path(video_id: int, database_url: str | None) -> str:
    from ..db import transaction
    from ..videos import get_video

    with transaction(database_url) as s:
        return get_video(s, video_id).path
