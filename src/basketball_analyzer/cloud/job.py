"""`CloudJob`: one claim on a bucket job, as the worker holds it (heartbeats, fencing, progress, results).

Three defences keep a worker that lost its job (a "zombie": stalled, partitioned, suspended) from harming
the run that replaced it:
1. Fencing: the worker stops by itself once no heartbeat has succeeded for FENCE_FRACTION of its lease,
   before any other worker may take the job over.
2. Before every results upload attempt it re-reads the manifest and goes on only if the job is still
   processing under its own claim token.
3. Its results key carries its claim token, so even an upload already in flight lands beside the winner's
   file, never on it; and the final manifest write is conditional on the ETag of its own last write.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Iterator

from ..exceptions import BballError, ConditionFailed, LeaseLost, ManifestError, StorageUnavailable, WrongVideo
from ..lifecycle import JobHandle, ResultsFile
from .jobfiles import lease_key, video_suffix
from .lease import LeasePolicy
from .manifest import SCHEMA_VERSION, CloudJobStatus, JobManifest, utcnow_iso
from .segments import combined_sha256, resume_overlap_frames, settle_quietly
from .storage import best_effort
from .store import ManifestStore

log = logging.getLogger(__name__)
S = CloudJobStatus


class CloudJob(JobHandle):
    """A job this worker holds: the manifest as last written and its ETag (guarded by `lock`)."""

    def __init__(self, store: ManifestStore, policy: LeasePolicy, manifest: JobManifest, etag: str,
                 claimed_at: float):
        self.store, self.files, self.policy, self.manifest, self.etag = store, store.files, policy, manifest, etag
        self.lock = threading.RLock()
        self.token: str = manifest.claim_token or ""
        self.job_id = self.results_job_id = manifest.job_id
        self.video_id, self.attempt = manifest.video_id, manifest.attempts
        self.video_name = manifest.parameters.get("video_name")
        self._plan_frames(manifest, policy.part_frames)
        self.worker_id = manifest.worker_id or ""
        self.last_heartbeat_ok = claimed_at  # monotonic time the last successful lease write was sent
        self.lost: LeaseLost | None = None
        self._progress_frames, self._progress_at = -1, 0.0

    def _plan_frames(self, manifest: JobManifest, part_frames: int) -> None:
        """What to decode: the segment (or video) from its start, or from just before the last part."""
        self.part_frames = part_frames
        seg = manifest.segment
        self.owned_from = seg["start_frame"] if seg else 0
        back = seg["overlap_frames"] if seg else 0
        resume = manifest.resume_from
        if resume is not None:  # a takeover: redo at most one part, tracking again from a little before it
            interval = int(manifest.parameters.get("sample_interval") or 1)
            self.owned_from, back = resume, resume_overlap_frames(manifest.video_fps, interval)
        end = seg["end_frame"] if seg else None
        self.frame_range = None if (seg, resume) == (None, None) else (max(0, self.owned_from - back), end)
        self._parts_this_claim = 0
        self.resumed = resume is not None  # earlier claims' parts cover the frames before `owned_from`

    def __repr__(self) -> str:
        return f"CloudJob({self.job_id}, worker={self.worker_id!r}, attempt={self.attempt})"

    # -- holding the claim ----------------------------------------------------------------------------

    @contextmanager
    def holding(self) -> Iterator["CloudJob"]:
        """Renew the lease on a thread every `heartbeat_interval` seconds while the block runs."""
        done = threading.Event()
        thread = threading.Thread(target=self._heartbeats, args=(done,), name=f"lease-{self.job_id}",
                                  daemon=True)
        thread.start()
        try:
            yield self
        finally:
            done.set()
            thread.join()

    def _heartbeats(self, done: threading.Event) -> None:
        wait = self.policy.heartbeat_interval
        while not done.wait(wait):
            try:
                self.heartbeat()
                wait = self.policy.heartbeat_interval
            except LeaseLost as exc:
                self.lost = self.lost or exc
                return
            except BballError as exc:
                # A bucket hiccup: try again sooner; the lease has slack for a few misses, and fencing
                # stops the work if they go on.
                log.warning("job %s: heartbeat failed (%s); retrying", self.job_id, exc)
                wait = max(0.2, self.policy.heartbeat_interval / 3)

    def heartbeat(self) -> None:
        """Renew the lease (manifest and lease marker). `LeaseLost` if the job was taken or cancelled."""
        # Under the lock, so a marker renewed here cannot land after `complete` dropped the markers.
        with self.lock:
            if self.manifest.status is not S.processing:
                return  # completed, failed or handed back in the meantime: nothing to renew
            sent = time.monotonic()
            now = self.store.now()
            self._change(S.processing, lease_expires_at=utcnow_iso(now + self.policy.lease_seconds))
            self.last_heartbeat_ok = max(self.last_heartbeat_ok, sent)
            self.files.mark_leased(self.job_id, self.worker_id)

    def check(self) -> None:
        """Raise `LeaseLost` if the job is known to be lost, or fence: no heartbeat for most of the lease."""
        if self.lost is not None:
            raise self.lost
        silent = time.monotonic() - self.last_heartbeat_ok
        if silent > self.policy.fence_after:
            self.lost = LeaseLost(f"job {self.job_id}: no heartbeat succeeded for {silent:.0f}s of the "
                                  f"{self.policy.lease_seconds:.0f}s lease; stopping before another worker "
                                  "takes it over")
            raise self.lost

    def verify(self) -> None:
        """Re-read the manifest (one GET): `LeaseLost` unless the job is still processing under our token."""
        found = self.files.get_manifest(self.job_id)
        if found is None or found[0].status is not S.processing or found[0].claim_token != self.token:
            now = "deleted" if found is None else found[0].status.value
            owner = found[0].worker_id if found else None
            self.lost = LeaseLost(f"job {self.job_id} is no longer ours (now {now}"
                                  + (f", worker {owner})" if owner else ")"))
            raise self.lost

    def _change(self, status: CloudJobStatus, *, patient: bool = False, **changes) -> None:
        """Conditional write over our last ETag; `LeaseLost` when someone else changed the job.

        `patient`: retry the same bytes while the bucket is unreachable (a PUT that landed but whose answer
        was lost is then recognised as ours, not as someone else's change).
        """
        with self.lock:
            new = self.store.stamp(self.manifest.transition(status, **changes))
            etag = self.etag

            def write() -> str:
                return self.store.write(new, etag, stamp=False)

            try:
                self.etag = self._patiently(write) if patient else write()
            except ConditionFailed:
                found = self.files.get_manifest(self.job_id)
                now = found[0].status.value if found else "deleted"
                owner = found[0].worker_id if found else None
                self.lost = LeaseLost(f"job {self.job_id} is no longer ours (now {now}"
                                      + (f", worker {owner})" if owner else ")"))
                raise self.lost from None
            self.manifest = new

    # -- the job's inputs and progress ----------------------------------------------------------------

    def parameters(self):
        """The stored `DetectionParams` (`ManifestError` when they do not validate)."""
        return self.manifest.detection_params()

    def video(self, scratch: Path) -> Path:
        """Download the job's video into `scratch`, checked to be the file that was submitted: its size and
        sha256 as the manifest records them (`WrongVideo` otherwise: the job fails before it runs)."""
        from ..video import sha256_file

        key = self.manifest.video_key
        if not key:
            raise ManifestError(f"job {self.job_id} names no video_key in its parameters")
        path = self.files.download_video(key, scratch / ("video" + video_suffix(key)))
        size, expected = path.stat().st_size, self.manifest.video_size
        if expected is not None and size != expected:
            raise WrongVideo(f"job {self.job_id}: its video {key} is {size:,} bytes, but the job was submitted "
                             f"with a file of {expected:,}; refusing to run it")
        if self.manifest.video_sha256 is not None:
            digest = sha256_file(path)
            if digest != str(self.manifest.video_sha256).lower():
                raise WrongVideo(f"job {self.job_id}: its video {key} has sha256 {digest[:12]}…, not the "
                                 f"submitted file's {str(self.manifest.video_sha256)[:12]}…; refusing to run it")
        return path

    def progress(self, done: int, total: int) -> None:
        """Write progress every `progress_every` frames, at most one write per `min_write_interval`.

        A takeover counts the frames earlier claims' parts already cover, so status shows the job's
        progress, not this run's.
        """
        self.check()
        if self.resumed and self.manifest.frames_total and self.manifest.frames_total > total:
            done, total = done + self.manifest.frames_total - total, self.manifest.frames_total
        now = time.monotonic()
        due = self._progress_frames < 0 or done - self._progress_frames >= self.policy.progress_every
        if due and now - self._progress_at >= self.policy.min_write_interval:
            try:
                self.files.update_progress(self.job_id, done, total, self.worker_id, self.attempt)
            except BballError as exc:  # progress is advisory; the job goes on
                log.warning("job %s: progress not saved (%s)", self.job_id, exc)
            self._progress_frames, self._progress_at = done, now

    # -- ending the claim -----------------------------------------------------------------------------

    def save_part(self, results: ResultsFile) -> None:
        """Upload one part of the results under our token, then list it in the manifest (conditional write)."""
        parts = list(self.manifest.parts or [])
        key = self._patiently(self._upload, results.path, len(parts))
        start, end = results.frames or (self.owned_from, self.owned_from)
        decoded_from = self.frame_range[0] if self.frame_range else 0
        parts.append({"key": key, "sha256": results.sha256, "rows": results.rows, "start_frame": start,
                      "end_frame": end, "token": self.token,
                      "overlap_frames": start - decoded_from if self._parts_this_claim == 0 else 0})
        try:
            self._change(S.processing, patient=True, parts=parts, schema_version=SCHEMA_VERSION)
        except LeaseLost:
            best_effort(self.store.storage.delete, key)
            raise
        self._parts_this_claim += 1
        log.info("job %s: part %d saved (frames %d-%d, %d rows)", self.job_id, len(parts), start, end, results.rows)

    def complete(self, results: ResultsFile) -> None:
        """Upload the results under our token, then mark the job completed naming them.

        A job with parts (saved by this claim or an earlier one) stores this last piece as one more part.
        """
        if self.manifest.parts:
            self.save_part(results)
            parts = self.manifest.parts
            if self.resumed:  # the results cover the whole job, not just what this claim decoded
                total = max(self.manifest.frames_total or 0, results.frames_total)
                results = replace(results, frames_processed=total, frames_total=total)
            self._change(S.completed, patient=True, completed_at=utcnow_iso(self.store.now()),
                         lease_expires_at=None, results_key=None, results_sha256=combined_sha256(
                             p["sha256"] for p in parts), results_rows=sum(p["rows"] for p in parts),
                         frames_processed=results.frames_processed, frames_total=results.frames_total)
            with self.lock:
                best_effort(self.files.drop_markers, self.job_id)
            settle_quietly(self.store, self.manifest.parent_id)
            return
        key = self._patiently(self._upload, results.path)
        try:
            self._change(S.completed, patient=True, completed_at=utcnow_iso(self.store.now()),
                            lease_expires_at=None, results_key=key, results_sha256=results.sha256,
                            results_rows=results.rows, frames_processed=results.frames_processed,
                            frames_total=results.frames_total)
        except LeaseLost:
            # Our key is ours alone: removing it cannot touch the run that replaced us.
            best_effort(self.store.storage.delete, key)
            raise
        with self.lock:
            best_effort(self.files.drop_markers, self.job_id)
        settle_quietly(self.store, self.manifest.parent_id)

    def _upload(self, path: Path, part: int | None = None) -> str:
        self.check()
        self.verify()
        return self.files.upload_results(self.job_id, path, self.token, part=part)

    def fail(self, message: str, frames_processed: int = 0) -> None:
        """Mark the job failed with `message`; `LeaseLost` if it is no longer ours."""
        self._change(S.failed, error=message[:2000], lease_expires_at=None,
                     completed_at=utcnow_iso(self.store.now()), frames_processed=frames_processed)
        best_effort(self.files.drop_markers, self.job_id)
        settle_quietly(self.store, self.manifest.parent_id)

    def release(self) -> None:
        """Hand the job back to the queue (worker stopping); the attempt does not count."""
        self._change(S.pending, worker_id=None, lease_expires_at=None, started_at=None, claim_token=None,
                     attempts=max(0, self.manifest.attempts - 1))
        self.files.mark_pending(self.job_id)
        best_effort(self.store.storage.delete, lease_key(self.job_id))

    def _patiently(self, fn, *args, **kwargs):
        """Call `fn`, retrying while the bucket is unreachable, for as long as fencing allows.

        Each try of an upload first checks the job is still ours; the manifest write is conditional.
        """
        wait = 0.2
        while True:
            try:
                return fn(*args, **kwargs)
            except StorageUnavailable as exc:
                self.check()
                log.warning("job %s: bucket unreachable (%s); retrying in %.1fs", self.job_id, exc, wait)
                time.sleep(wait)
                wait = min(wait * 2, 2.0)
