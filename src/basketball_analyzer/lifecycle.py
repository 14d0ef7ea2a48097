"""The one job lifecycle: a queue hands out claimed jobs; a handle reports on one until it ends.

    queue.claim(worker_id) -> handle | None
    with handle.holding():            # heartbeats/lease where the queue has them
        handle.parameters()           # the stored parameters, validated (a bad one fails this job only)
        handle.video(scratch)         # a local path of the video (downloaded for the bucket)
        handle.progress(done, total)  # as frames go by; handle.check() raises `LeaseLost` once not ours
        handle.complete(results)      # the results file goes where the queue keeps results
    handle.fail(message) | handle.release()

`worker.base.Worker` drives it for the database queue (`jobs.DatabaseQueue`) and the bucket queue
(`cloud.queue.CloudQueue`); `analysis.analyze_video` drives the same steps for a run in this process.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Iterator


class JobStatus(str, Enum):
    """Where a job is in its life, stored by value, in `detection_jobs.status` and in bucket manifests.

    `imported` is reached by bucket jobs only: their results were stored in a database.
    """

    pending = "pending"
    processing = "processing"
    completed = "completed"
    failed = "failed"
    imported = "imported"
    cancelled = "cancelled"


@dataclass(frozen=True)
class ResultsFile:
    """A finished results file (`results.format`) and what the writer counted while writing it."""

    path: Path
    sha256: str
    rows: int
    frames_processed: int
    frames_total: int
    frames: tuple[int, int] | None = None  # video frames [start, end) the file owns (results in parts)


class JobHandle(ABC):
    """One claimed job. Every method that changes the job raises `LeaseLost` if it is no longer ours."""

    job_id: str  # shown in logs: "17" for the database, the ULID for the bucket
    video_id: int
    attempt: int
    video_name: str | None
    results_job_id: str  # embedded in the results file: the cloud job id, or "local-<id>"
    frame_range: tuple[int, int | None] | None = None  # video frames to decode [start, end); None: all
    owned_from: int = 0  # first frame this run's results own (decoded frames before it are the overlap)
    part_frames: int = 0  # upload results in parts of this many video frames (`save_part`); 0: at the end

    def save_part(self, results: ResultsFile) -> None:
        """Store the results of frames `results.frames` now, so a takeover resumes after them."""
        raise NotImplementedError

    @contextmanager
    def holding(self) -> Iterator["JobHandle"]:
        """Keep the claim alive while the block runs (heartbeats where the queue has leases)."""
        yield self

    @abstractmethod
    def parameters(self) -> Any:
        """The job's `DetectionParams`; `ManifestError`/`JobError` when the stored ones are invalid."""

    @abstractmethod
    def video(self, scratch: Path) -> Path:
        """A readable local path of the job's video (`scratch` is a private directory for downloads)."""

    def check(self) -> None:
        """Raise `LeaseLost` once the job is known to be no longer ours (cheap: no request)."""
        return None

    @abstractmethod
    def progress(self, done: int, total: int) -> None:
        """Frames done so far (advisory, rate-limited by the handle)."""

    @abstractmethod
    def complete(self, results: ResultsFile) -> None:
        """Store the results and mark the job completed, atomically where the backend allows."""

    @abstractmethod
    def fail(self, message: str, frames_processed: int = 0) -> None:
        """Mark the job failed with a one-line message."""

    @abstractmethod
    def release(self) -> None:
        """Hand the job back unfinished (the worker is stopping); the attempt does not count."""


class JobQueue(ABC):
    """Where jobs wait. `claim` is atomic: of workers racing for one job, exactly one gets a handle."""

    kind = "queue"

    def check(self) -> None:
        """Fail before the first claim when the queue cannot be used (wrong credentials, bad DATABASE_URL)."""
        return None

    @abstractmethod
    def claim(self, worker_id: str) -> JobHandle | None:
        """The oldest claimable job as a handle, or None when there is none."""

    def reconcile(self) -> None:
        """Repair what a crash between two writes can leave behind (idle housekeeping; may be a no-op)."""
        return None
