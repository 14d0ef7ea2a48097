"""Importing cloud jobs: download (or join) a completed job's results, store them, mark the job imported.

The database step is `results.ingest.import_results_file`, the gate every run passes. The boxes and the
ledger row (`cloud_imports`, unique per job) are written in one transaction, and the manifest is marked
`imported` inside it, just before the commit, by a write that holds only while the job still names the
results that were stored: a cancel or retry that lands during the import makes the mark fail and the
transaction roll back, so nothing is stored for a job that is not `imported`. The ledger recognises a job
by the manifest's `results_sha256` (for a joined job the identity of its pieces, not of the joined file),
compared the same way before the download and again inside the transaction; two importers racing into one
database store the job once (SQLite: one writer at a time; PostgreSQL: the loser's ledger insert breaks
the unique constraint and rolls back), and the loser answers "already imported". The bucket is cleaned
only after the commit. A crash between the mark and the commit (a few milliseconds) leaves an `imported`
job whose results are still in the bucket: `bball cloud import-job` stores them.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Callable

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ..db import transaction
from ..exceptions import (BballError, JobError, ManifestError, NotFound, ResultsError, StorageError,
                          StorageUnavailable)
from ..results.ingest import (ImportLimits, ImportOutcome, already_imported, find_import, import_results_file,
                              registered_video)
from .jobfiles import manifest_key, own_key
from .manifest import CloudJobStatus, JobManifest, validate_job_id
from .queue import CloudQueue
from .segments import delete_files
from .status import list_jobs
from .storage import CloudStorage

log = logging.getLogger(__name__)

ImportProgressFn = Callable[[int, int, "ImportOutcome | None"], None]
"""Called as `on_progress(jobs_done, jobs_total, outcome_of_the_job_just_done)`."""


def _queue(source: CloudQueue | CloudStorage) -> CloudQueue:
    """The queue to import from: the caller's, or one on the caller's bucket."""
    return source if isinstance(source, CloudQueue) else CloudQueue(source)


def import_job(source: CloudQueue | CloudStorage, db_url: str | None, job_id: str, *, cleanup: bool = False,
               limits: ImportLimits | None = None) -> ImportOutcome:
    """Import one completed cloud job into the database at `db_url`, then mark it imported (and clean up).

    `source` is the bucket's queue (or its storage). Safe to run again after a crash at any step: the
    ledger makes the database step happen once, and the manifest and clean-up steps are finished by
    whichever run gets there.
    """
    queue = _queue(source)
    storage = queue.storage
    limits = limits or ImportLimits.from_settings()
    size = storage.object_size(manifest_key(validate_job_id(job_id)))  # one HEAD, before reading it
    if size is not None and size > limits.manifest_max_bytes:
        raise ManifestError(f"the manifest of job {validate_job_id(job_id)} is {size:,} bytes, over "
                            f"MANIFEST_MAX_BYTES ({limits.manifest_max_bytes:,}); refusing to read it")
    manifest, _ = queue.get(job_id)
    job_id = manifest.job_id
    label = f"cloud job {job_id}"
    if manifest.parent_id is not None:  # alone it would replace the video's detections with one part of it
        raise JobError(f"job {job_id} is a segment of job {manifest.parent_id}; import that job")
    with transaction(db_url) as s:
        entry = find_import(s, job_id)
        outcome = already_imported(entry, job_id, manifest.results_sha256)
        if outcome is None:
            # Before any download: a job for a video this database lacks fails here, cheaply.
            registered_video(s, manifest.video_id, label)
    if outcome is None:
        if manifest.status not in (CloudJobStatus.completed, CloudJobStatus.imported):
            raise JobError(f"job {job_id} is {manifest.status.value}; only completed jobs can be imported "
                           "(see `bball cloud status`)")
        if not (manifest.results_key or manifest.segmented or manifest.parts) or not manifest.results_sha256:
            raise JobError(f"job {job_id} is {manifest.status.value} but names no results file")
        outcome = _download_and_import(queue, db_url, manifest, limits)
        if not outcome.already_imported:
            log.info("job %s: imported %d detections of video %d", job_id, outcome.rows, outcome.video_id)
    if outcome.already_imported and manifest.status is not CloudJobStatus.imported:
        _mark_imported(queue, manifest)  # imported by a run that stopped before its mark (an older bball)
    if cleanup:
        delete_files(queue, job_id)
        outcome.cleaned_up = True
    return outcome


def _download_and_import(queue: CloudQueue, db_url: str | None, manifest: JobManifest,
                         limits: ImportLimits) -> ImportOutcome:
    """Fetch (or join) the job's results and store them, marking the job imported before the commit."""
    job_id = manifest.job_id
    with tempfile.TemporaryDirectory(prefix="bball-import-") as tmp:
        path = Path(tmp) / "results.parquet"
        if manifest.segmented or manifest.parts:
            from .joining import join_segments

            joined = join_segments(queue, manifest, path)
            file_sha256, rows, key = joined.sha256, joined.rows, ""
        else:
            key = own_key(job_id, manifest.results_key)
            _download(queue, manifest, key, path, limits)
            file_sha256, rows = manifest.results_sha256, manifest.results_rows
        try:
            with transaction(db_url) as s:
                outcome = import_results_file(
                    s, cloud_job_id=job_id, video_id=manifest.video_id, results_path=path,
                    expected_sha256=file_sha256, results_key=key, frames_processed=manifest.frames_processed,
                    expected_rows=rows, video_sha256=manifest.video_sha256, video_size=manifest.video_size,
                    limits=limits, ledger_sha256=manifest.results_sha256)
                if not outcome.already_imported:
                    _mark_imported(queue, manifest)  # a cancel or retry since we read the job: roll back
                return outcome
        except IntegrityError:
            # Another importer committed this job first (the ledger's unique constraint): ours rolled back.
            with transaction(db_url, readonly=True) as s:
                outcome = already_imported(find_import(s, job_id), job_id, manifest.results_sha256)
            if outcome is None:
                raise
            return outcome


def _download(queue: CloudQueue, manifest: JobManifest, key: str, path: Path, limits: ImportLimits) -> None:
    job_id = manifest.job_id
    size = queue.storage.object_size(key)
    if size is not None and size > limits.max_bytes:  # refused before the download, not after
        raise ResultsError(f"results of cloud job {job_id} are {size:,} bytes, over RESULTS_MAX_BYTES "
                           f"({limits.max_bytes:,}); refusing them")
    try:
        queue.files.download_results(job_id, path, key=key)
    except StorageError as exc:
        if manifest.status is CloudJobStatus.imported:
            raise StorageError(f"job {job_id} was imported elsewhere and its results are no "
                               f"longer in the bucket ({exc})") from None
        raise


def _mark_imported(queue: CloudQueue, manifest: JobManifest) -> None:
    """Set the manifest to `imported`, only while it still names these results (its own step so tests can
    crash or race right here)."""
    queue.mark_imported(manifest.job_id, manifest.results_sha256)


def importable_jobs(source: CloudQueue | CloudStorage, db_url: str | None, *, cleanup: bool = False,
                    unreadable: dict[str, str] | None = None) -> list[str]:
    """Ids of completed jobs, plus (with `cleanup`) imported ones in this ledger whose files remain.

    Jobs whose manifest cannot be read are added to `unreadable` (job id -> why) when it is given.
    """
    views = list_jobs(_queue(source), with_progress=False)
    if unreadable is not None:
        unreadable.update({v.job_id: v.problem or "unreadable manifest" for v in views if v.manifest is None})
    # A segment imports with its job; one whose job is gone (status shows it orphaned) imports never.
    ids = [v.job_id for v in views if v.manifest and v.manifest.status is CloudJobStatus.completed
           and v.manifest.parent_id is None]
    if cleanup:
        imported = [v.job_id for v in views if v.manifest and v.manifest.status is CloudJobStatus.imported]
        if imported:
            with transaction(db_url) as s:
                ids += [job_id for job_id in imported if find_import(s, job_id) is not None]
    return sorted(ids)


def import_all(source: CloudQueue | CloudStorage, db_url: str | None, *, cleanup: bool = False,
               on_progress: ImportProgressFn | None = None) -> list[ImportOutcome]:
    """Import every completed job, oldest first. A job that fails is reported in its outcome's `error`
    and the rest still run; problems that are not one job's fault (database, bucket down) stop the run.
    A job whose manifest cannot be read (malformed, or written by a newer bball) is reported as failed too:
    it may hold results no one will otherwise notice."""
    queue = _queue(source)  # one queue for the whole run
    unreadable: dict[str, str] = {}
    ids = importable_jobs(queue, db_url, cleanup=cleanup, unreadable=unreadable)
    limits = ImportLimits.from_settings()
    outcomes = [ImportOutcome(job_id, 0, 0, already_imported=False, error=f"manifest unreadable: {why}")
                for job_id, why in unreadable.items()]
    if on_progress:
        on_progress(0, len(ids), None)
    for done, job_id in enumerate(ids, start=1):
        try:
            outcome = import_job(queue, db_url, job_id, cleanup=cleanup, limits=limits)
        except BballError as exc:
            if not _job_fault(exc):
                raise
            log.info("job %s not imported: %s", job_id, exc)  # the caller reports it
            outcome = ImportOutcome(job_id, _video_of(queue, job_id), 0, already_imported=False,
                                    error=str(exc))
        except (SQLAlchemyError, OSError):
            raise  # the database or this machine, not the job: the next job would fail the same way
        except Exception as exc:  # noqa: BLE001 - a bug must cost one job its import, never the others'
            log.exception("job %s: import crashed", job_id)
            outcome = ImportOutcome(job_id, _video_of(queue, job_id), 0, already_imported=False,
                                    error=f"import failed unexpectedly: {type(exc).__name__}: {exc}"[:500])
        outcomes.append(outcome)
        if on_progress:
            on_progress(done, len(ids), outcome)
    return outcomes


def _video_of(queue: CloudQueue, job_id: str) -> int:
    """The video id a job names (0 when its manifest cannot be read), for the report of a failed import."""
    try:
        return queue.get(job_id)[0].video_id
    except BballError:
        return 0


def _job_fault(exc: BballError) -> bool:
    """Errors that concern one job (bad results, unknown video, changed state), not the whole run."""
    if isinstance(exc, (ResultsError, ManifestError, NotFound, JobError)):
        return True
    return isinstance(exc, StorageError) and not isinstance(exc, StorageUnavailable)
