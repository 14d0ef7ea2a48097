"""Where a cloud job's objects live in the bucket, and reading and writing them (the queue's side of storage).

Key layout (job ids are validated before they go into a key):
    jobs/<job_id>/manifest.json            the job's state (changed only by conditional writes, see queue.py)
    jobs/<job_id>/video<suffix>            the uploaded video
    jobs/<job_id>/progress.json            frames done / total, written by the worker holding the job
    jobs/<job_id>/results.<token>.parquet  results of one claim (its random claim token; the manifest names
                                           the winning file, and no two claims ever share a key)
    jobs/<job_id>/results.<token>.partNNNNN.parquet  results uploaded in parts (the manifest lists them)
    queue/lease/<job_id>                   exists while a worker holds the job; rewritten by every heartbeat
    queue/pending/<job_id>                 exists while the job waits for a worker
`queue/lease/` sorts before `queue/pending/`, so one LIST of `queue/` shows a worker every lease and the
oldest pending jobs: an idle poll is one request. `CloudStorage` itself knows nothing of this layout.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Iterator

from ..exceptions import ManifestError, StorageError
from .manifest import JobManifest, validate_job_id
from .storage import BytesFn, CloudStorage, ObjectInfo

JOBS_PREFIX = "jobs/"
QUEUE_PREFIX = "queue/"
LEASE_PREFIX = "queue/lease/"
PENDING_PREFIX = "queue/pending/"
MANIFEST_NAME = "manifest.json"
_SUFFIX = re.compile(r"^\.[a-z0-9]{1,10}$")
_TOKEN = re.compile(r"^[0-9a-f]{16,64}$")


def video_suffix(path: str | os.PathLike) -> str:
    """The lower-case suffix of a video file if it is a plain one (".mp4", ".mkv"...), else ""."""
    suffix = Path(path).suffix.lower()
    return suffix if _SUFFIX.match(suffix) else ""


def job_prefix(job_id: str) -> str:
    """jobs/<job_id>/"""
    return f"{JOBS_PREFIX}{validate_job_id(job_id)}/"


def manifest_key(job_id: str) -> str:
    """Key of a job's manifest."""
    return job_prefix(job_id) + MANIFEST_NAME


def video_key(job_id: str, suffix: str = ".mp4") -> str:
    """Key a job's video is uploaded to (`suffix` as in `video_suffix`)."""
    if suffix and not _SUFFIX.match(suffix):
        raise StorageError(f"invalid video suffix {suffix[:12]!r}")
    return job_prefix(job_id) + "video" + suffix


def results_key(job_id: str, token: str) -> str:
    """Key of one claim's results: the claim token makes it unique, so a late zombie clobbers nothing."""
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise StorageError(f"job {job_id}: invalid claim token {str(token)[:20]!r}")
    return job_prefix(job_id) + f"results.{token}.parquet"


def part_key(job_id: str, token: str, index: int) -> str:
    """Key of one part of a claim's results (resume after a takeover): claim token and part number."""
    return results_key(job_id, token).replace(".parquet", f".part{int(index):05d}.parquet")


def progress_key(job_id: str) -> str:
    """Key of a job's progress object."""
    return job_prefix(job_id) + "progress.json"


def pending_key(job_id: str) -> str:
    """Marker that a job waits for a worker."""
    return PENDING_PREFIX + validate_job_id(job_id)


def lease_key(job_id: str) -> str:
    """Marker that a worker holds a job; its LastModified is the last heartbeat."""
    return LEASE_PREFIX + validate_job_id(job_id)


def own_key(job_id: str, key: str) -> str:
    """`key` if it is one of this job's files, else `StorageError` (keys read from manifests are data)."""
    if not isinstance(key, str) or not key.startswith(job_prefix(job_id)) or ".." in key:
        raise StorageError(f"job {job_id}: key {str(key)[:80]!r} is not one of this job's files")
    return key


class JobFiles:
    """A job's objects on a `CloudStorage`: manifests, markers, progress, videos and results."""

    def __init__(self, storage: CloudStorage):
        self.storage = storage

    # -- manifests ------------------------------------------------------------------------------------

    def get_manifest(self, job_id: str) -> tuple[JobManifest, str] | None:
        """(manifest, ETag), None when the job does not exist; `ManifestError` when it is malformed
        (`ManifestTooNew` when a newer bball wrote it)."""
        found = self.storage.get_bytes(manifest_key(job_id))
        if found is None:
            return None
        manifest = JobManifest.from_json(found[0])
        if manifest.job_id != validate_job_id(job_id):
            raise ManifestError(f"manifest at {manifest_key(job_id)} is for job {manifest.job_id}")
        return manifest, found[1]

    def put_manifest(self, manifest: JobManifest, *, etag: str | None) -> str:
        """Write a manifest only over `etag` (None: only if none exists); `ConditionFailed` otherwise."""
        return self.storage.put_bytes(manifest_key(manifest.job_id), manifest.to_json(), if_match=etag,
                                      if_none_match=etag is None, content_type="application/json")

    def list_manifests(self) -> Iterator[ObjectInfo]:
        """Every manifest object, oldest job first (one LIST per 1,000 objects under jobs/)."""
        for obj in self.storage.list_objects(JOBS_PREFIX):
            parts = obj.key.split("/")
            if len(parts) == 3 and parts[2] == MANIFEST_NAME:
                yield obj

    def list_job_ids(self) -> list[str]:
        """Every job id that has a manifest, oldest first."""
        return [obj.key.split("/")[1] for obj in self.list_manifests()]

    # -- markers --------------------------------------------------------------------------------------

    def list_queue(self) -> Iterator[ObjectInfo]:
        """Lease markers, then pending markers (oldest first); one LIST per 1,000."""
        return self.storage.list_objects(QUEUE_PREFIX)

    def list_pending(self) -> list[str]:
        """Ids of jobs with a pending marker, oldest first."""
        return [o.key[len(PENDING_PREFIX):] for o in self.storage.list_objects(PENDING_PREFIX)]

    def mark_pending(self, job_id: str) -> None:
        """Put the pending marker (idempotent)."""
        self.storage.put_bytes(pending_key(job_id), b"")

    def mark_leased(self, job_id: str, worker_id: str) -> None:
        """Put (renew) the lease marker; its LastModified is the heartbeat time."""
        self.storage.put_bytes(lease_key(job_id), worker_id.encode())

    def drop_markers(self, job_id: str) -> None:
        """Delete both markers (missing is fine)."""
        for key in (pending_key(job_id), lease_key(job_id)):
            self.storage.delete(key)

    # -- progress -------------------------------------------------------------------------------------

    def update_progress(self, job_id: str, frames_done: int, frames_total: int | None,
                        worker_id: str | None = None, attempt: int | None = None) -> None:
        """Record how far a running job is (one unconditional PUT; only the lease holder writes it)."""
        body = {"job_id": job_id, "frames_processed": int(frames_done), "frames_total": frames_total,
                "worker_id": worker_id, "attempt": attempt, "updated_at": self.storage.now()}
        self.storage.put_bytes(progress_key(job_id), json.dumps(body).encode(), content_type="application/json")

    def get_progress(self, job_id: str) -> dict | None:
        """The last progress record of a job, or None (also when unreadable: progress is advisory)."""
        found = self.storage.get_bytes(progress_key(job_id))
        if found is None:
            return None
        try:
            data = json.loads(found[0])
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def exists(self, key: str) -> bool:
        """True if the object exists (one LIST with the key as prefix: no error on a missing key)."""
        return any(o.key == key for o in self.storage.list_objects(key, page_size=10))

    # -- videos and results ---------------------------------------------------------------------------

    def upload_video(self, job_id: str, path: str | os.PathLike, on_progress: BytesFn | None = None) -> str:
        """Upload a job's video (multipart when large); returns its key."""
        path = Path(path)
        key = video_key(job_id, video_suffix(path))
        self.storage.upload_file(path, key, what=f"upload {path.name}", on_progress=on_progress)
        return key

    def download_video(self, key: str, dest: str | os.PathLike, on_progress: BytesFn | None = None) -> Path:
        """Download a video by its key to `dest` (written to a temporary name, then renamed)."""
        if not isinstance(key, str) or not key.startswith(JOBS_PREFIX) or ".." in key:
            raise StorageError(f"invalid video key {str(key)[:80]!r}")
        return self.storage.download_file(key, Path(dest), on_progress=on_progress)

    def upload_results(self, job_id: str, path: str | os.PathLike, token: str,
                       on_progress: BytesFn | None = None, part: int | None = None) -> str:
        """Upload the results file (or its part number `part`) of the claim with `token`; returns its key."""
        key = results_key(job_id, token) if part is None else part_key(job_id, token, part)
        self.storage.upload_file(Path(path), key, what=f"upload results of job {job_id}",
                                 on_progress=on_progress, content_type="application/vnd.apache.parquet")
        return key

    def download_results(self, job_id: str, dest: str | os.PathLike, key: str | None = None,
                         on_progress: BytesFn | None = None) -> Path:
        """Download a job's results (`key` from its manifest's results_key; looked up when None)."""
        if key is None:
            found = self.get_manifest(job_id)
            key = found[0].results_key if found else None
            if not key:
                raise StorageError(f"job {job_id} has no results yet")
        return self.storage.download_file(own_key(job_id, key), Path(dest), on_progress=on_progress)

    # -- clean-up -------------------------------------------------------------------------------------

    def delete_job_files(self, job_id: str) -> int:
        """Delete every object of a job (its files and queue markers); returns how many files."""
        keys = [o.key for o in self.storage.list_objects(job_prefix(job_id))]
        # The manifest goes last, so a crash half-way leaves a job that still lists and can be deleted again.
        keys.sort(key=lambda k: k.endswith("/" + MANIFEST_NAME))
        self.drop_markers(job_id)
        for key in keys:
            self.storage.delete(key)
        return len(keys)
