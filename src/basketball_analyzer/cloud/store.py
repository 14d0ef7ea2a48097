"""`ManifestStore`: a bucket's job manifests, read and changed only by conditional writes.

Every change is a PUT with If-Match on the ETag it was computed from, so of two writers exactly one
succeeds. The queue (`queue.py`), a claim (`job.py`) and segments (`segments.py`) all change manifests
through this one object; its clock is the bucket server's (tests pass their own to skip waiting).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable

from ..exceptions import ConditionFailed, NotFound, StorageError
from .jobfiles import JobFiles, manifest_key
from .manifest import JobManifest, utcnow_iso, validate_job_id
from .storage import CloudStorage


class ManifestStore:
    """Manifests on a `CloudStorage`: `get`, conditional `write`, read-modify-write `update`; `now()`."""

    def __init__(self, storage: CloudStorage, clock: Callable[[], float] | None = None):
        """`clock` gives epoch seconds on the bucket's clock; by default the server's own (`storage.now`)."""
        self.storage = storage
        self.files = JobFiles(storage)
        self.clock = clock or storage.now

    def now(self) -> float:
        """Now on the bucket's clock (epoch seconds): leases written by different machines compare on it."""
        return self.clock()

    def write(self, manifest: JobManifest, etag: str | None, *, stamp: bool = True) -> str:
        """Conditional write; on 412, succeed anyway if the stored bytes are ours (a retried PUT landed).

        `stamp` sets updated_at now; a caller retrying one write passes a stamped manifest and False.
        """
        if stamp:
            manifest = self.stamp(manifest)
        try:
            return self.files.put_manifest(manifest, etag=etag)
        except ConditionFailed:
            current = self.storage.get_bytes(manifest_key(manifest.job_id))
            if current is not None and current[0] == manifest.to_json():
                return current[1]
            raise

    def stamp(self, manifest: JobManifest) -> JobManifest:
        """The manifest with updated_at set to now."""
        return replace(manifest, updated_at=utcnow_iso(self.now()))

    def get(self, job_id: str) -> tuple[JobManifest, str]:
        """(manifest, ETag) of a job; `NotFound` when there is none."""
        job_id = validate_job_id(job_id)
        found = self.files.get_manifest(job_id)
        if found is None:
            raise NotFound(f"no cloud job {job_id} in bucket {self.storage.bucket!r} "
                           "(see `bball cloud status`)")
        return found

    def update(self, job_id: str, change: Callable[[JobManifest], JobManifest | None],
               attempts: int = 10) -> JobManifest:
        """Read-modify-write with If-Match, re-reading when someone else wrote first.

        `change` returns the new manifest, or None to leave it as it is; it may raise `JobError`.
        """
        for _ in range(attempts):
            manifest, etag = self.get(job_id)
            new = change(manifest)
            if new is None:
                return manifest
            try:
                self.write(new, etag)
                return new
            except ConditionFailed:
                time.sleep(0.05)
        raise StorageError(f"job {job_id} kept changing while we tried to update it; try again")
