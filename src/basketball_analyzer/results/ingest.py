"""Storing results files in `player_detections`: the one gate every run's detections pass into the database.

`import_results_file` is called for cloud jobs (by `cloud.importer.import_job`) and for local runs (by
`analyze` and the local worker). Before it writes a row it checks that the file is the one expected
(checksum), is for this video and job (the ids embedded in the file, the video's sha256 and size from the
manifest), and stays inside the caps (file size, rows per frame); an empty result replaces a video's
detections only when the caller says the run processed frames and found nothing. Any refusal is one line
and writes nothing.

For a cloud job the boxes and its ledger row (`cloud_imports`) are written in one transaction, so a crash
leaves either nothing (rolled back) or a ledger row that makes the next attempt a no-op.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..analytics.positions import refresh_positions
from ..db.detections import count_detections, replace_detections
from ..db.models import CloudImport, Video
from ..detections import fits_int32
from ..exceptions import NotFound, ResultsError, WrongVideo
from ..logs import printable
from .format import count_rows, read_metadata, read_parameters, read_results, verify_checksum

@dataclass(frozen=True)
class ImportLimits:
    """Caps checked before an import writes anything (settings RESULTS_MAX_BYTES, …_ROWS_PER_FRAME,
    MANIFEST_MAX_BYTES)."""

    max_bytes: int = 1024**3
    max_rows_per_frame: int = 500
    manifest_max_bytes: int = 1024**2

    @classmethod
    def from_settings(cls, settings=None) -> "ImportLimits":
        """The configured caps."""
        if settings is None:
            from ..config import get_settings

            settings = get_settings()
        return cls(settings.results_max_bytes, settings.results_max_rows_per_frame, settings.manifest_max_bytes)


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


def already_imported(entry: CloudImport | None, cloud_job_id: str, identity: str | None) -> ImportOutcome | None:
    """The outcome "already imported" when the ledger holds the job, None when it does not.

    `identity` is what the ledger records of the job's results (the manifest's `results_sha256`): a job is
    imported once, ever, so a ledger row with another identity is refused (`ResultsError`), not replaced.
    """
    if entry is None:
        return None
    if identity is not None and entry.results_sha256 != identity:
        raise ResultsError(f"cloud job {cloud_job_id} was imported into this database before with other results "
                           f"(sha256 {entry.results_sha256[:12]}…, now {printable(str(identity), 16)[:12]}…); a job "
                           "is imported once: submit the video again for a new run")
    return ImportOutcome(cloud_job_id, entry.video_id, int(entry.detections), already_imported=True)


def registered_video(session: Session, video_id: int, job: str) -> Video:
    """The video a job's results are for; `NotFound` (one line) when this database has no such video."""
    if not fits_int32(video_id):
        raise NotFound(f"{job} is for video {printable(str(video_id), 40)}, beyond the database's id range; "
                       "it cannot be a video of this database")
    video = session.get(Video, video_id)
    if video is None:
        raise NotFound(f"{job} is for video {video_id}, which is not registered in this database "
                       "(see `bball video list`)")
    return video


def import_results_file(session: Session, *, video_id: int, results_path: str | Path, expected_sha256: str,
                        cloud_job_id: str | None = None, job_id: int | None = None,
                        frame_count: int | None = None, results_key: str = "", frames_processed: int = 0,
                        expected_rows: int | None = None, video_sha256: str | None = None,
                        video_size: int | None = None, limits: ImportLimits | None = None,
                        ledger_sha256: str | None = None) -> ImportOutcome:
    """Store a verified results file as the video's detections (and, for a cloud job, its ledger row).

    Runs in the caller's transaction and does not commit. A cloud job the ledger already holds is a no-op
    (`already_imported`). `job_id` is the local job (`local-<id>` is then the file's embedded job id);
    `expected_rows`, `video_sha256` and `video_size` come from the manifest when the caller has one.
    An empty file is refused unless `frames_processed > 0` and, for a cloud job, `expected_rows == 0`: the
    run looked at frames and saw nobody (a local run's file was written by this machine, so its own count
    stands in for a manifest's). `frame_count` defaults to the video's. Every refusal raises before the first
    row is written, except a bad row deep in the file, whose error the caller's rollback undoes.
    `ledger_sha256` is what the ledger records, and compares, instead of the file's sha256 (a joined job:
    the manifest's identity of its pieces; the joined file's own sha256 changes from one join to the next).
    """
    started = time.perf_counter()
    label = f"cloud job {cloud_job_id}" if cloud_job_id else f"job {job_id}" if job_id is not None else "run"
    identity = ledger_sha256 or expected_sha256  # what the ledger records of these results
    if cloud_job_id:  # the ledger is for cloud jobs; checked again here, inside the writing transaction
        done = already_imported(find_import(session, cloud_job_id), cloud_job_id, identity)
        if done is not None:
            return done
    video = registered_video(session, video_id, label)
    _check_video_identity(video, label, video_sha256, video_size)
    if frame_count is None:
        frame_count = video.frame_count
    limits = limits or ImportLimits.from_settings()
    rows = _check_file(Path(results_path), label, video_id, cloud_job_id, job_id, frame_count, limits,
                       expected_sha256)
    parameters = read_parameters(results_path)
    if expected_rows is not None and rows != expected_rows:
        raise ResultsError(f"results of {label} hold {rows:,} rows but the job reported {expected_rows:,}; "
                           "refusing them")
    declared = expected_rows if expected_rows is not None or cloud_job_id else rows
    if rows == 0 and not (declared == 0 and frames_processed > 0):
        held = count_detections(session, video_id)
        raise ResultsError(f"results of {label} are empty, but the job does not report processed frames with "
                           f"no detections; refusing to replace video {video_id}'s {held:,} detections")
    # The checksum was verified above; a bad row raises inside replace_detections (the caller rolls back).
    batches = read_results(results_path, expected_sha256=None, frame_count=frame_count,
                           max_rows_per_frame=limits.max_rows_per_frame)
    stored = replace_detections(session, video_id, batches, job_id=job_id, cloud_job_id=cloud_job_id)
    refresh_positions(session, video_id)  # the new boxes' court positions, through the camera already followed
    if cloud_job_id is None:
        return ImportOutcome(f"local-{job_id}", video_id, stored, already_imported=False,
                             seconds=time.perf_counter() - started)
    # A racing importer's row breaks the ledger's unique constraint here or at commit (IntegrityError).
    entry = CloudImport(cloud_job_id=cloud_job_id, video_id=video_id, results_key=results_key,
                        results_sha256=identity, detections=stored, frames_processed=frames_processed,
                        parameters=parameters)  # parameters: how the run sampled, see `results.runs`
    session.add(entry)
    _record(session, entry)
    return ImportOutcome(cloud_job_id, video_id, stored, already_imported=False,
                         seconds=time.perf_counter() - started)


def _check_video_identity(video: Video, label: str, sha256: str | None, size: int | None) -> None:
    """Refuse results computed on another file than the registered video (manifests before the identity
    fields carry neither, and are checked by frame range only)."""
    if sha256 is not None and str(sha256).lower() != video.sha256:
        raise WrongVideo(f"{label} ran on a different file than video {video.id} ({video.file_name}): its "
                         f"sha256 is {printable(str(sha256), 16)[:12]}…, the video's {video.sha256[:12]}…; "
                         "nothing imported")
    if size is not None and int(size) != int(video.size_bytes):
        raise WrongVideo(f"{label} ran on a file of {int(size):,} bytes, but video {video.id} "
                         f"({video.file_name}) has {int(video.size_bytes):,}; nothing imported")


def _check_file(path: Path, label: str, video_id: int, cloud_job_id: str | None, job_id: int | None,
                frame_count: int, limits: ImportLimits, expected_sha256: str) -> int:
    """Size cap, checksum, embedded ids and row cap (from the footer: no row read); returns its rows."""
    if not path.is_file():
        raise ResultsError(f"results file not found: {path}")
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise ResultsError(f"results of {label} are {size:,} bytes, over RESULTS_MAX_BYTES "
                           f"({limits.max_bytes:,}); refusing them")
    verify_checksum(path, expected_sha256)
    meta = read_metadata(path)
    expected_job = cloud_job_id if cloud_job_id else f"local-{job_id}" if job_id is not None else None
    embedded_job, embedded_video = meta.get("job_id", ""), meta.get("video_id", "")
    if expected_job is not None and embedded_job != expected_job:
        raise ResultsError(f"results of {label} say they are of job {printable(embedded_job, 40)!r}; "
                           "refusing results of another job")
    if embedded_video != str(video_id):
        raise WrongVideo(f"results of {label} say they are of video {printable(embedded_video, 40)!r}, not "
                         f"video {video_id}; nothing imported")
    rows = count_rows(path)
    cap = limits.max_rows_per_frame * max(int(frame_count), 1)
    if rows > cap:
        raise ResultsError(f"results of {label} hold {rows:,} rows, more than RESULTS_MAX_ROWS_PER_FRAME "
                           f"({limits.max_rows_per_frame}) x the video's {frame_count:,} frames; refusing them")
    return rows


def _record(session: Session, entry: CloudImport) -> None:
    """Write the ledger row (its own step so tests can crash right here)."""
    from ..db.models import utcnow

    entry.imported_at = utcnow()
    session.flush()
