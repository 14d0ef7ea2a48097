"""Deleting jobs and collecting the bucket's garbage: `bball cloud delete` and `bball cloud gc`.

What `gc` removes, each only when older than the given age (server clock):
- every file of jobs that are cancelled, failed or imported, their segments' included (manifest last, so a
  cut half-way leaves a job that still lists and is collected next time);
- orphans: objects under `jobs/<id>/` with no manifest (a submit killed after its upload), objects under
  `jobs/` that are no job's, and queue markers of jobs without a manifest;
- multipart uploads that were begun and never completed (a submit killed mid-upload leaves its parts,
  which the bucket bills for but lists nowhere else).
Pending, processing and completed-but-not-imported jobs are never touched. Keys outside `jobs/` and
`queue/` are not ours and are left alone.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from ..exceptions import BballError, ManifestError, NotFound
from .jobfiles import JOBS_PREFIX, MANIFEST_NAME, QUEUE_PREFIX, job_prefix
from .manifest import CloudJobStatus, JobManifest, parse_time, validate_job_id
from .queue import CloudQueue
from .segments import delete_files, refuse_alone

log = logging.getLogger(__name__)

COLLECTED = frozenset({CloudJobStatus.cancelled, CloudJobStatus.failed, CloudJobStatus.imported})
"""Job states whose files `gc` deletes."""
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> float:
    """Seconds in an age such as `7d`, `12h`, `30m`, `90s` or `0`; `ValueError` otherwise."""
    match = _AGE.match(str(text))
    if not match:
        raise ValueError(f"{str(text)[:20]!r} is not an age like 7d, 12h, 30m or 0")
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True)
class GcItem:
    """One thing `gc` removes (or would): what it is, its key or job id, bytes freed, and why."""

    kind: str  # "job", "orphan" or "upload"
    name: str
    size: int
    reason: str


@dataclass
class GcReport:
    """What a `gc` pass found and (unless dry run) removed."""

    items: list[GcItem] = field(default_factory=list)
    dry_run: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        """Bytes freed (or to be freed)."""
        return sum(i.size for i in self.items)


def delete_job(queue: CloudQueue, job_id: str) -> int:
    """Delete every file of a job, whatever its state; returns how many. `NotFound` when it has none.

    A worker holding the job loses it at its next heartbeat (the manifest is gone) and uploads nothing.
    A segment is deleted with its job (`JobError` naming the job), unless its job is gone.
    """
    job_id = validate_job_id(job_id)
    if not any(True for _ in queue.storage.list_objects(job_prefix(job_id), page_size=1)):
        raise NotFound(f"no cloud job {job_id} in bucket {queue.storage.bucket!r} (see `bball cloud status`)")
    try:
        found = queue.files.get_manifest(job_id)
    except ManifestError:
        found = None  # unreadable: deleted like any other job
    if found is not None and found[0].parent_id is not None:
        refuse_alone(queue, found[0], "delete")
    return delete_files(queue, job_id)


def collect(queue: CloudQueue, *, older_than: float, dry_run: bool = False) -> GcReport:
    """Find (and unless `dry_run`, delete) what `gc` collects, older than `older_than` seconds."""
    storage = queue.storage
    now = storage.now()
    report = GcReport(dry_run=dry_run)
    jobs: dict[str, list] = {}
    strays = []
    for obj in storage.list_objects(JOBS_PREFIX):
        parts = obj.key.split("/")
        if len(parts) >= 3 and _is_job_id(parts[1]):
            jobs.setdefault(parts[1], []).append(obj)
        else:
            strays.append(obj)
    for job_id, objects in jobs.items():
        item = _judge_job(queue, job_id, objects, now, older_than, jobs)
        if item is not None:
            _remove(report, item, lambda job_id=job_id: delete_files(queue, job_id))
    for obj in strays:
        if now - obj.last_modified >= older_than:
            _remove(report, GcItem("orphan", obj.key, obj.size, "not a job's file"),
                    lambda key=obj.key: storage.delete(key))
    for obj in storage.list_objects(QUEUE_PREFIX):
        job_id = obj.key.rsplit("/", 1)[-1]
        if job_id not in jobs and now - obj.last_modified >= older_than:
            _remove(report, GcItem("orphan", obj.key, obj.size, "marker of a job that does not exist"),
                    lambda key=obj.key: storage.delete(key))
    for upload in storage.list_multipart_uploads():
        if now - upload.initiated >= older_than:
            _remove(report, GcItem("upload", upload.key, 0, "multipart upload never completed"),
                    lambda upload=upload: storage.abort_multipart_upload(upload))
    return report


def _is_job_id(text: str) -> bool:
    try:
        return validate_job_id(text) == text
    except ManifestError:
        return False


def _judge_job(queue: CloudQueue, job_id: str, objects: list, now: float, older_than: float,
               jobs: dict[str, list]) -> GcItem | None:
    """The job as a gc item when it is collected, else None (a segment goes with its job)."""
    size = sum(o.size for o in objects)
    newest = max(o.last_modified for o in objects)
    manifest_obj = next((o for o in objects if o.key.endswith("/" + MANIFEST_NAME)), None)
    if manifest_obj is None:
        if now - newest < older_than:
            return None
        return GcItem("orphan", job_prefix(job_id), size, "files of a job without a manifest")
    try:
        found = queue.files.get_manifest(job_id)
    except ManifestError as exc:
        log.info("gc: leaving job %s alone: %s", job_id, exc)  # unreadable or newer: not ours to judge
        return None
    if found is None:
        return None
    manifest: JobManifest = found[0]
    if manifest.parent_id is not None:
        if manifest.parent_id in jobs or now - newest < older_than:
            return None
        return GcItem("orphan", job_prefix(job_id), size, "segment of a job that no longer exists")
    if manifest.status not in COLLECTED:
        return None
    changed = parse_time(manifest.updated_at or manifest.completed_at) or manifest_obj.last_modified
    if now - max(changed, newest) < older_than:
        return None
    return GcItem("job", job_id, size, f"{manifest.status.value} job")


def _remove(report: GcReport, item: GcItem, delete) -> None:
    """Record `item`, deleting it unless this is a dry run; a failure is reported and the pass goes on."""
    if not report.dry_run:
        try:
            delete()
        except BballError as exc:
            report.errors.append(f"{item.name}: {exc}")
            return
    report.items.append(item)
