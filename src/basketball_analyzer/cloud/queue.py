"""The bucket job queue: submit, claim with leases, heartbeat, complete, fail, cancel, retry.

Correctness rests on one rule: a manifest changes only by a conditional PUT (If-Match on the ETag the
change was computed from), so when workers race for a job exactly one write wins. A claim is a lease
(`lease_expires_at`, renewed by heartbeats); a worker that dies stops renewing, and after the lease runs
out another worker takes the job over, until `max_attempts` claims have been used up.

Markers make polling cheap: `queue/pending/<id>` while a job waits and `queue/lease/<id>` while it is held,
so an idle poll is one LIST. Markers are hints that may be stale after a crash; the manifest decides, and
stale markers are removed as workers come across them.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from ..exceptions import BballError, JobError, ManifestError, NotFound, StorageError
from .manifest import ACTIVE, CloudJobStatus, JobManifest, new_job_id, utcnow_iso, validate_job_id
from .storage import LEASE_PREFIX, PENDING_PREFIX, BytesFn, CloudStorage, ConditionFailed

log = logging.getLogger(__name__)
S = CloudJobStatus


class LeaseLost(BballError):
    """This worker no longer holds the job (lease taken over, job cancelled); its results are dropped."""


@dataclass
class Claim:
    """A job this worker holds: the manifest as last written and its ETag (guarded by `lock`)."""

    manifest: JobManifest
    etag: str
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def job_id(self) -> str:
        """The claimed job's id."""
        return self.manifest.job_id


@dataclass
class JobView:
    """One row of `bball cloud status`: the manifest (or why it could not be read) and live progress."""

    job_id: str
    manifest: JobManifest | None
    problem: str | None = None
    progress: dict | None = None

    @property
    def frames_done(self) -> int:
        """Frames processed so far (live progress while processing)."""
        if self.manifest is None:
            return 0
        if self.progress and self.manifest.status is S.processing:
            return int(self.progress.get("frames_processed") or 0)
        return self.manifest.frames_processed


class CloudQueue:
    """Job operations on a `CloudStorage`. Every state change is a conditional manifest write."""

    def __init__(self, storage: CloudStorage, *, lease_seconds: float = 120.0, max_attempts: int = 3):
        self.storage = storage
        self.lease_seconds = float(lease_seconds)
        self.max_attempts = int(max_attempts)

    @classmethod
    def from_settings(cls, settings, storage: CloudStorage | None = None) -> "CloudQueue":
        """Queue on the configured bucket with the configured lease and attempt limits."""
        return cls(storage or CloudStorage.from_settings(settings),
                   lease_seconds=settings.cloud_lease_seconds, max_attempts=settings.cloud_max_attempts)

    # -- writing manifests ----------------------------------------------------------------------------

    def _write(self, manifest: JobManifest, etag: str | None) -> str:
        """Conditional write; on 412, succeed anyway if the stored bytes are ours (a retried PUT landed)."""
        manifest = replace(manifest, updated_at=utcnow_iso(self.storage.now()))
        body = manifest.to_json()
        key = self.storage.manifest_key(manifest.job_id)
        try:
            return self.storage.put_bytes(key, body, if_match=etag, if_none_match=etag is None,
                                          content_type="application/json")
        except ConditionFailed:
            current = self.storage.get_bytes(key)
            if current is not None and current[0] == body:
                return current[1]
            raise

    def get(self, job_id: str) -> tuple[JobManifest, str]:
        """(manifest, ETag) of a job; `NotFound` when there is none."""
        job_id = validate_job_id(job_id)
        found = self.storage.get_manifest(job_id)
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
                self._write(new, etag)
                return new
            except ConditionFailed:
                time.sleep(0.05)
        raise StorageError(f"job {job_id} kept changing while we tried to update it; try again")

    # -- submitting -----------------------------------------------------------------------------------

    def submit(self, video_id: int, video_path: str | os.PathLike, params, *, frames_total: int | None = None,
               on_upload: BytesFn | None = None, video_sha256: str | None = None,
               video_size: int | None = None) -> JobManifest:
        """Upload a video and queue a pending job for it; returns the manifest. Nothing is left on failure.

        `video_sha256`/`video_size` record which file this is, so import can refuse results for another.
        """
        job_id = new_job_id(self.storage.now())
        path = Path(video_path)
        video_key = self.storage.upload_video(job_id, path, on_progress=on_upload)
        manifest = JobManifest(job_id=job_id, video_id=int(video_id), status=S.pending,
                               created_at=utcnow_iso(self.storage.now()),
                               parameters={**params.to_dict(), "video_key": video_key,
                                           "video_name": path.name},
                               frames_total=frames_total, video_sha256=video_sha256, video_size=video_size)
        try:
            self._write(manifest, None)
            # The marker goes last: a worker that sees it can always read the manifest and the video.
            self.storage.put_bytes(self.storage.pending_key(job_id), b"")
        except BaseException:
            _quietly(self.storage.delete_job_files, job_id)
            raise
        log.info("submitted job %s (video %s, %s)", job_id, video_id, video_key)
        return manifest

    # -- claiming -------------------------------------------------------------------------------------

    def candidates(self) -> list[str]:
        """Job ids worth trying, oldest first: pending markers and leases not renewed within the lease time.

        One LIST while fewer than 1,000 markers exist; no GETs.
        """
        now = self.storage.now()
        found: set[str] = set()
        for obj in self.storage.list_queue():
            if obj.key.startswith(LEASE_PREFIX):
                if now - obj.last_modified > self.lease_seconds:
                    found.add(obj.key[len(LEASE_PREFIX):])
            elif obj.key.startswith(PENDING_PREFIX):
                found.add(obj.key[len(PENDING_PREFIX):])
                if len(found) >= 1000:
                    break
        return sorted(found)

    def claim(self, worker_id: str) -> Claim | None:
        """Take the oldest claimable job, or None. Exactly one racing worker wins each job."""
        for job_id in self.candidates():
            try:
                claim = self._try_claim(job_id, worker_id)
            except ManifestError as exc:
                log.warning("job %s: %s; removing it from the queue", job_id, exc)
                self._drop_markers(job_id)
                continue
            if claim is not None:
                return claim
        return None

    def _try_claim(self, job_id: str, worker_id: str) -> Claim | None:
        try:
            job_id = validate_job_id(job_id)
        except ManifestError:
            return None
        found = self.storage.get_manifest(job_id)
        if found is None:
            self._drop_markers(job_id)
            return None
        manifest, etag = found
        now = self.storage.now()
        if manifest.status not in ACTIVE:
            self._drop_markers(job_id)
            return None
        if manifest.status is S.processing:
            if not manifest.lease_expired(now):
                return None
            if manifest.attempts >= self.max_attempts:
                self._abandon(manifest, etag)
                return None
            log.warning("job %s: lease of worker %s expired; taking it over", job_id, manifest.worker_id)
        new = manifest.transition(S.processing, worker_id=worker_id, attempts=manifest.attempts + 1,
                                  started_at=utcnow_iso(now), error=None,
                                  lease_expires_at=utcnow_iso(now + self.lease_seconds))
        try:
            etag = self._write(new, etag)
        except ConditionFailed:
            return None  # another worker won this job
        self.storage.put_bytes(self.storage.lease_key(job_id), worker_id.encode())
        _quietly(self.storage.delete, self.storage.pending_key(job_id))
        log.info("job %s claimed by %s (attempt %d)", job_id, worker_id, new.attempts)
        return Claim(new, etag)

    def _abandon(self, manifest: JobManifest, etag: str) -> None:
        reason = (f"abandoned after {manifest.attempts} attempts: the lease of worker {manifest.worker_id} "
                  f"expired without a heartbeat (worker died or lost the bucket); retry with "
                  f"`bball cloud retry --job-id {manifest.job_id}`")
        try:
            self._write(manifest.transition(S.failed, error=reason, lease_expires_at=None,
                                            completed_at=utcnow_iso(self.storage.now())), etag)
        except ConditionFailed:
            return
        self._drop_markers(manifest.job_id)
        log.warning("job %s failed: %s", manifest.job_id, reason)

    def _drop_markers(self, job_id: str) -> None:
        for key in (self.storage.pending_key(job_id), self.storage.lease_key(job_id)):
            _quietly(self.storage.delete, key)

    # -- holding a claim ------------------------------------------------------------------------------

    def _change_claim(self, claim: Claim, status: CloudJobStatus, **changes) -> None:
        """Conditional write over the claim's ETag; `LeaseLost` when someone else changed the job."""
        with claim.lock:
            new = claim.manifest.transition(status, **changes)
            try:
                claim.etag = self._write(new, claim.etag)
            except ConditionFailed:
                found = self.storage.get_manifest(claim.job_id)
                now_status = found[0].status.value if found else "deleted"
                owner = found[0].worker_id if found else None
                raise LeaseLost(f"job {claim.job_id} is no longer ours (now {now_status}"
                                + (f", worker {owner})" if owner else ")")) from None
            claim.manifest = new

    def heartbeat(self, claim: Claim) -> None:
        """Renew the lease (manifest and lease marker). `LeaseLost` if the job was taken or cancelled."""
        now = self.storage.now()
        self._change_claim(claim, S.processing, lease_expires_at=utcnow_iso(now + self.lease_seconds))
        self.storage.put_bytes(self.storage.lease_key(claim.job_id), claim.manifest.worker_id.encode())

    def complete(self, claim: Claim, *, results_key: str, results_sha256: str, results_rows: int,
                 frames_processed: int, frames_total: int | None = None) -> None:
        """Mark the job completed with its results; `LeaseLost` if it is no longer ours."""
        if frames_total is None:
            frames_total = claim.manifest.frames_total
        self._change_claim(claim, S.completed, completed_at=utcnow_iso(self.storage.now()),
                           lease_expires_at=None, results_key=results_key, results_sha256=results_sha256,
                           results_rows=results_rows, frames_processed=frames_processed,
                           frames_total=frames_total)
        self._drop_markers(claim.job_id)

    def fail(self, claim: Claim, message: str, frames_processed: int | None = None) -> None:
        """Mark the job failed with `message`; `LeaseLost` if it is no longer ours."""
        extra = {} if frames_processed is None else {"frames_processed": frames_processed}
        self._change_claim(claim, S.failed, error=message[:2000], lease_expires_at=None,
                           completed_at=utcnow_iso(self.storage.now()), **extra)
        self._drop_markers(claim.job_id)

    def release(self, claim: Claim) -> None:
        """Hand the job back to the queue (worker stopping); the attempt does not count."""
        self._change_claim(claim, S.pending, worker_id=None, lease_expires_at=None, started_at=None,
                           attempts=max(0, claim.manifest.attempts - 1))
        self.storage.put_bytes(self.storage.pending_key(claim.job_id), b"")
        _quietly(self.storage.delete, self.storage.lease_key(claim.job_id))

    # -- user operations ------------------------------------------------------------------------------

    def cancel(self, job_id: str) -> JobManifest:
        """Cancel a pending, processing or failed job; a worker running it drops its results."""
        def change(m: JobManifest) -> JobManifest:
            return m.transition(S.cancelled, lease_expires_at=None,
                                completed_at=utcnow_iso(self.storage.now()))

        manifest = self.update(job_id, change)
        self._drop_markers(manifest.job_id)
        return manifest

    def retry(self, job_id: str) -> JobManifest:
        """Put a failed job back to pending, with a fresh set of attempts."""
        def change(m: JobManifest) -> JobManifest:
            if m.status is not S.failed:
                raise JobError(f"job {m.job_id} is {m.status.value}; only failed jobs can be retried")
            return m.transition(S.pending, attempts=0, error=None, worker_id=None, lease_expires_at=None,
                                started_at=None, completed_at=None, frames_processed=0)

        manifest = self.update(job_id, change)
        self.storage.put_bytes(self.storage.pending_key(manifest.job_id), b"")
        return manifest

    def mark_imported(self, job_id: str) -> JobManifest:
        """Record that a completed job's results were imported (idempotent)."""
        return self.update(job_id, lambda m: None if m.status is S.imported else m.transition(S.imported))

    def list_jobs(self, with_progress: bool = True, threads: int = 8) -> list[JobView]:
        """Every job in the bucket, oldest first; unreadable manifests are reported, not raised."""
        ids = self.storage.list_job_ids()

        def load(job_id: str) -> JobView:
            try:
                found = self.storage.get_manifest(job_id)
            except (ManifestError, StorageError) as exc:
                if isinstance(exc, StorageError) and not isinstance(exc, ManifestError):
                    raise
                return JobView(job_id, None, problem=str(exc))
            if found is None:
                return JobView(job_id, None, problem="manifest disappeared")
            view = JobView(job_id, found[0])
            if with_progress and found[0].status is S.processing:
                view.progress = self.storage.get_progress(job_id)
            return view

        if not ids:
            return []
        with ThreadPoolExecutor(max_workers=min(threads, len(ids))) as pool:
            return list(pool.map(load, ids))


def _quietly(fn: Callable, *args) -> None:
    """Best-effort clean-up: a failure is logged, never raised over the real outcome."""
    try:
        fn(*args)
    except BballError as exc:
        log.warning("clean-up step failed: %s", exc)
