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
Both queues change a job's status only by the moves defined here (`CLAIM` … `IMPORT`, `TRANSITIONS`), and
`actions(status)` says which of cancel, retry and import a user may ask for now.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Iterable, Iterator, NamedTuple


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


class Move(NamedTuple):
    """One kind of state change: from which states a job may make it, and the state it ends in."""

    sources: frozenset[JobStatus]
    target: JobStatus

    def allows(self, status: JobStatus | str, stored: frozenset[JobStatus] = frozenset()) -> bool:
        """True when a job in `status` may make this move. `stored`: the states in which a queue holds a
        job's results in the database already, final there as `imported` is (the database queue's
        `completed`)."""
        status = JobStatus(status)
        return (S.imported if status in stored else status) in self.sources


S = JobStatus
# The one job state machine, for the database queue and the bucket queue alike.
CLAIM = Move(frozenset({S.pending}), S.processing)
TAKE_OVER = Move(frozenset({S.processing}), S.processing)  # the bucket: a lease ran out
RELEASE = Move(frozenset({S.processing}), S.pending)  # a worker stopping hands the job back
COMPLETE = Move(frozenset({S.processing}), S.completed)
FAIL = Move(frozenset({S.processing}), S.failed)
# completed -> cancelled withdraws results nobody should import; a stored result (imported) is final.
CANCEL = Move(frozenset({S.pending, S.processing, S.completed, S.failed}), S.cancelled)
# A fresh claim token on retry, so nothing of an earlier run can be mistaken for the new one.
RETRY = Move(frozenset({S.completed, S.failed, S.cancelled}), S.pending)
IMPORT = Move(frozenset({S.completed, S.imported}), S.imported)  # the bucket: stored in a database
MOVES = (CLAIM, TAKE_OVER, RELEASE, COMPLETE, FAIL, CANCEL, RETRY, IMPORT)
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    status: frozenset(m.target for m in MOVES if status in m.sources) for status in JobStatus}
"""Status -> the statuses it may become: every move above, by where it starts."""
ACTIVE = frozenset({S.pending, S.processing})
USER_ACTIONS = {"cancel": CANCEL, "retry": RETRY, "import": IMPORT}
"""What a person can ask of a job, by the name the CLI and the API use."""


def actions(status: JobStatus | str, offered: Iterable[str] = tuple(USER_ACTIONS),
            stored: frozenset[JobStatus] = frozenset()) -> list[str]:
    """The user actions (of those a queue `offered`) a job in `status` allows, in `USER_ACTIONS` order.

    An import of an imported job is a no-op, not an action; `stored` is as in `Move.allows`.
    """
    status = JobStatus(status)
    return [name for name, move in USER_ACTIONS.items()
            if name in offered and move.allows(status, stored) and status is not move.target
            and status not in stored]


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
