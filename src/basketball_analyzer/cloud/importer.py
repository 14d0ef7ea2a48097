"""Importing cloud results into `player_detections`: verified, bulk, idempotent, recorded in a ledger.

Crash safety comes from the order of the steps. The boxes and the ledger row (`cloud_imports`) are written
in one transaction; the manifest is marked `imported` only after that commits, and the bucket is cleaned
only after that. A crash anywhere leaves either nothing (rolled back) or a ledger row that makes the next
attempt skip straight to the steps that are still missing, so each detection is stored exactly once.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.detections import replace_detections
from ..db.models import CloudImport, Video
from ..exceptions import BballError, JobError, NotFound, StorageError
from .results import read_results

log = logging.getLogger(__name__)

ImportProgressFn = Callable[[int, int, "ImportOutcome | None"], None]
"""Called as `on_progress(jobs_done, jobs_total, outcome_of_the_job_just_done)`."""


@dataclass
class ImportOutcome:
    """What importing one job did: `rows` stored (or already there when `already_imported`)."""

    cloud_job_id: str
    video_id: int
    rows: int
    already_imported: bool
    seconds: float = 0.0
    cleaned_up: bool = False
    error: str | None = None

    @property
    def rows_per_second(self) -> float:
        """Import speed; 0 when nothing was written."""
        return self.rows / self.seconds if self.seconds > 0 and not self.already_imported else 0.0


def find_import(session: Session, cloud_job_id: str) -> CloudImport | None:
    """The ledger row of a cloud job, if its results were imported into this database."""
    return session.execute(
        select(CloudImport).where(CloudImport.cloud_job_id == cloud_job_id)
    ).scalar_one_or_none()


def import_results_file(session: Session, *, cloud_job_id: str, video_id: int, results_path: str | Path,
                        expected_sha256: str, frame_count: int | None = None, results_key: str = "",
                        frames_processed: int = 0) -> ImportOutcome:
    """Store a verified results file as the video's detections and record it in the ledger.

    Runs in the caller's transaction and does not commit. Already imported with the same sha256: a no-op.
    A bad file raises `ResultsError` mid-way; the caller's rollback then leaves nothing written.
    `frame_count` defaults to the video's.
    """
    started = time.perf_counter()
    entry = find_import(session, cloud_job_id)
    if entry is not None and entry.results_sha256 == expected_sha256:
        return ImportOutcome(cloud_job_id, entry.video_id, int(entry.detections), already_imported=True)
    video = session.get(Video, video_id)
    if video is None:
        raise NotFound(f"cloud job {cloud_job_id} is for video {video_id}, which is not registered in this "
                       "database (see `bball video list`)")
    if frame_count is None:
        frame_count = video.frame_count
    # The checksum is verified before the first row is read; a bad row raises inside replace_detections.
    batches = read_results(results_path, expected_sha256=expected_sha256, frame_count=frame_count)
    rows = replace_detections(session, video_id, batches, cloud_job_id=cloud_job_id)
    if entry is None:
        entry = CloudImport(cloud_job_id=cloud_job_id, video_id=video_id)
        session.add(entry)
    entry.results_key = results_key
    entry.results_sha256 = expected_sha256
    entry.detections = rows
    entry.frames_processed = frames_processed
    _record(session, entry)
    return ImportOutcome(cloud_job_id, video_id, rows, already_imported=False,
                         seconds=time.perf_counter() - started)


def _record(session: Session, entry: CloudImport) -> None:
    """Write the ledger row (its own step so tests can crash right here)."""
    from ..db.models import utcnow

    entry.imported_at = utcnow()
    session.flush()


def import_job(storage, db_url: str | None, job_id: str, *, cleanup: bool = False) -> ImportOutcome:
    """Import one completed cloud job into the database at `db_url`, then mark it imported (and clean up).

    Safe to run again after a crash at any step: the ledger makes the database step happen once, and the
    manifest and clean-up steps are finished by whichever run gets there.
    """
    from ..db import transaction
    from .manifest import CloudJobStatus
    from .queue import CloudQueue

    queue = CloudQueue(storage)
    manifest, _ = queue.get(job_id)
    job_id = manifest.job_id
    with transaction(db_url) as s:
        entry = find_import(s, job_id)
        done = entry is not None and entry.results_sha256 == manifest.results_sha256
        if done:
            outcome = ImportOutcome(job_id, entry.video_id, int(entry.detections), already_imported=True)
    if not done:
        if manifest.status not in (CloudJobStatus.completed, CloudJobStatus.imported):
            raise JobError(f"job {job_id} is {manifest.status.value}; only completed jobs can be imported "
                           "(see `bball cloud status`)")
        if not manifest.results_key or not manifest.results_sha256:
            raise JobError(f"job {job_id} is {manifest.status.value} but names no results file")
        with tempfile.TemporaryDirectory(prefix="bball-import-") as tmp:
            path = Path(tmp) / "results.parquet"
            try:
                storage.download_results(job_id, path, key=manifest.results_key)
            except StorageError as exc:
                if manifest.status is CloudJobStatus.imported:
                    raise StorageError(f"job {job_id} was imported elsewhere and its results are no "
                                       f"longer in the bucket ({exc})") from None
                raise
            with transaction(db_url) as s:
                outcome = import_results_file(
                    s, cloud_job_id=job_id, video_id=manifest.video_id, results_path=path,
                    expected_sha256=manifest.results_sha256, results_key=manifest.results_key,
                    frames_processed=manifest.frames_processed)
        log.info("job %s: imported %d detections of video %d", job_id, outcome.rows, outcome.video_id)
    # Only after the commit: a crash before this line leaves a ledger row, so the next run skips the DB step.
    if manifest.status is not CloudJobStatus.imported:
        _mark_imported(queue, job_id)
    if cleanup:
        storage.delete_job_files(job_id)
        outcome.cleaned_up = True
    return outcome


def _mark_imported(queue, job_id: str) -> None:
    """Set the manifest to `imported` (its own step so tests can crash right before it)."""
    queue.mark_imported(job_id)


def importable_jobs(storage, db_url: str | None, *, cleanup: bool = False) -> list[str]:
    """Ids of completed jobs, plus (with `cleanup`) imported ones in this ledger whose files remain."""
    from ..db import transaction
    from .manifest import CloudJobStatus
    from .queue import CloudQueue

    views = CloudQueue(storage).list_jobs(with_progress=False)
    ids = [v.job_id for v in views if v.manifest and v.manifest.status is CloudJobStatus.completed]
    if cleanup:
        imported = [v.job_id for v in views if v.manifest and v.manifest.status is CloudJobStatus.imported]
        if imported:
            with transaction(db_url) as s:
                ids += [job_id for job_id in imported if find_import(s, job_id) is not None]
    return sorted(ids)


def import_all(storage, db_url: str | None, *, cleanup: bool = False,
               on_progress: ImportProgressFn | None = None) -> list[ImportOutcome]:
    """Import every completed job, oldest first. A job that fails is reported in its outcome's `error`
    and the rest still run; database problems (not the job's fault) stop the run."""
    ids = importable_jobs(storage, db_url, cleanup=cleanup)
    outcomes: list[ImportOutcome] = []
    if on_progress:
        on_progress(0, len(ids), None)
    for done, job_id in enumerate(ids, start=1):
        try:
            outcome = import_job(storage, db_url, job_id, cleanup=cleanup)
        except BballError as exc:
            if not _job_fault(exc):
                raise
            log.warning("job %s not imported: %s", job_id, exc)
            outcome = ImportOutcome(job_id, 0, 0, already_imported=False, error=str(exc))
        outcomes.append(outcome)
        if on_progress:
            on_progress(done, len(ids), outcome)
    return outcomes


def _job_fault(exc: BballError) -> bool:
    """Errors that concern one job (bad results, unknown video, changed state), not the whole run."""
    from ..exceptions import ManifestError, ResultsError

    if isinstance(exc, (ResultsError, ManifestError, NotFound, JobError)):
        return True
    from .storage import StorageUnavailable

    return isinstance(exc, StorageError) and not isinstance(exc, StorageUnavailable)
