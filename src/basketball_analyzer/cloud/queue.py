"""The bucket job queue: submit, claim with leases and claim tokens, reconcile, cancel, retry.

Correctness rests on one rule: a manifest changes only by a conditional PUT (If-Match on the ETag the
change was computed from), so when workers race for a job exactly one write wins. A claim is a lease
(`lease_expires_at`, renewed by heartbeats) and a fresh random `claim_token`; a worker that dies stops
renewing, and after the lease runs out another worker takes the job over, until `max_attempts` claims have
been used up. The token names the claim's results file, so no two claims, before or after a `retry`, ever
write the same key. The claimed job itself (heartbeats, fencing, results) is `cloud.job.CloudJob`.

Markers make polling cheap: `queue/pending/<id>` while a job waits and `queue/lease/<id>` while it is held,
so an idle poll is one LIST. Markers are hints: the manifest decides. A cut between a manifest write and
its marker leaves a job no poll sees; `reconcile` (run by workers at start and every
CLOUD_RECONCILE_INTERVAL while idle) finds those from one LIST of `jobs/` and re-creates their markers.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from ..exceptions import ConditionFailed, JobError, LeaseLost, ManifestError, ManifestTooNew
from ..lifecycle import ACTIVE, IMPORT, RETRY, JobQueue
from . import segments
from .job import CloudJob
from .jobfiles import LEASE_PREFIX, PENDING_PREFIX
from .lease import LeasePolicy
from .manifest import (SCHEMA_VERSION, CloudJobStatus, JobManifest, new_claim_token, new_job_id,
                       utcnow_iso, validate_job_id)
from .storage import BytesFn, CloudStorage, best_effort
from .store import ManifestStore

log = logging.getLogger(__name__)
S = CloudJobStatus


__all__ = ["CloudQueue", "LeaseLost", "Reconciled"]


@dataclass
class Reconciled:
    """What one `reconcile` pass did: pending jobs given their marker back, expired leases found."""

    restored: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    manifests_read: int = 0


class CloudQueue(ManifestStore, JobQueue):
    """Job operations on a `CloudStorage`'s manifests. Every state change is a conditional manifest write."""

    kind = "cloud"

    def __init__(self, storage: CloudStorage, policy: LeasePolicy | None = None, *,
                 clock: Callable[[], float] | None = None):
        """`policy`: lease and timing, shared by every claim this queue hands out; `clock`: see `ManifestStore`."""
        super().__init__(storage, clock)
        self.policy = policy or LeasePolicy()
        self._seen: dict[str, str] = {}  # job id -> ETag of a manifest reconcile need not read again
        self._parents: dict[str, list[str]] = {}  # pending segmented job -> its segments (see `_signature`)
        self._too_new: set[str] = set()  # jobs of a newer schema: left for newer workers

    @classmethod
    def from_settings(cls, settings, storage: CloudStorage | None = None) -> "CloudQueue":
        """Queue on the configured bucket with the configured lease and attempt limits."""
        return cls(storage or CloudStorage.from_settings(settings), LeasePolicy.from_settings(settings))

    def check(self) -> None:
        """Reach the bucket before the first claim, so wrong credentials fail at once with `StorageError`."""
        self.storage.check()

    # -- submitting -----------------------------------------------------------------------------------

    def submit(self, video_id: int, video_path: str | os.PathLike, params, *, frames_total: int | None = None,
               on_upload: BytesFn | None = None, video_sha256: str | None = None,
               video_size: int | None = None, plan: "segments.SegmentPlan | None" = None,
               frames_of: Callable[[int, int], int] | None = None, fps: float | None = None) -> JobManifest:
        """Upload a video and queue a pending job for it; returns the manifest. Nothing is left on failure.

        `video_sha256`/`video_size` record which file this is, so import can refuse results for another;
        `fps`, its frame rate, sizes a takeover's overlap.
        A `plan` of more than one segment queues one job per segment under a segmented job
        (`frames_of(start, end)` counts the sampled frames of a segment).
        """
        job_id = new_job_id(self.now())
        path = Path(video_path)
        video_key = self.files.upload_video(job_id, path, on_progress=on_upload)
        manifest = JobManifest(job_id=job_id, video_id=int(video_id), status=S.pending,
                               created_at=utcnow_iso(self.now()),
                               parameters={**params.to_dict(), "video_key": video_key,
                                           "video_name": path.name, **({"video_fps": fps} if fps else {})},
                               frames_total=frames_total, video_sha256=video_sha256, video_size=video_size)
        parts: list[JobManifest] = []
        if plan is not None and plan.count > 1:
            parts = segments.segment_manifests(manifest, plan, self.now(), frames_of)
            manifest = replace(manifest, segment_ids=[p.job_id for p in parts], schema_version=SCHEMA_VERSION)
        try:
            # The job before its segments, markers last: a worker that sees a marker can always read the
            # manifests and the video. A cut before a marker leaves a pending job without one: `reconcile`.
            self.write(manifest, None)
            for part in parts:
                self.write(part, None)
            for part in parts or [manifest]:
                self.files.mark_pending(part.job_id)
        except BaseException:
            for part in parts:
                best_effort(self.files.delete_job_files, part.job_id)
            best_effort(self.files.delete_job_files, job_id)
            raise
        log.info("submitted job %s (video %s, %s)", job_id, video_id, video_key)
        return manifest

    # -- claiming -------------------------------------------------------------------------------------

    def candidates(self) -> list[str]:
        """Job ids worth trying, oldest first: pending markers and leases not renewed within the lease time.

        One LIST while fewer than 1,000 markers exist; no GETs.
        """
        now = self.now()
        found: set[str] = set()
        for obj in self.files.list_queue():
            if obj.key.startswith(LEASE_PREFIX):
                if now - obj.last_modified > self.policy.lease_seconds:
                    found.add(obj.key[len(LEASE_PREFIX):])
            elif obj.key.startswith(PENDING_PREFIX):
                found.add(obj.key[len(PENDING_PREFIX):])
                if len(found) >= 1000:
                    break
        return sorted(found - self._too_new)

    def claim(self, worker_id: str):
        """Take the oldest claimable job as a `CloudJob`, or None. Exactly one racing worker wins each job.

        Jobs queued in the same millisecond (a job's segments) have no order between them: each worker
        tries those in its own random order, so workers that poll together do not all race for one.
        """
        for job_id in spread(self.candidates()):
            try:
                claim = self._try_claim(job_id, worker_id)
            except ManifestTooNew as exc:
                # A rolling upgrade: newer workers can run it. Leave its markers; skip it from now on.
                log.warning("job %s: %s; leaving it for a newer worker", job_id, exc)
                self._too_new.add(job_id)
                continue
            except ManifestError as exc:
                log.warning("job %s: %s; setting it aside (see `bball cloud status`)", job_id, exc)
                best_effort(self.files.drop_markers, job_id)
                continue
            if claim is not None:
                return claim
        return None

    def _try_claim(self, job_id: str, worker_id: str):
        try:
            job_id = validate_job_id(job_id)
        except ManifestError:
            return None
        found = self.files.get_manifest(job_id)
        if found is None:
            best_effort(self.files.drop_markers, job_id)
            return None
        manifest, etag = found
        now = self.now()
        if manifest.status not in ACTIVE or manifest.segmented:  # a segmented job's segments are claimed
            best_effort(self.files.drop_markers, job_id)
            return None
        if manifest.status is S.processing:
            if not manifest.lease_expired(now):
                return None
            if manifest.attempts >= self.policy.max_attempts:
                self._abandon(manifest, etag)
                return None
            log.warning("job %s: lease of worker %s expired; taking it over", job_id, manifest.worker_id)
        new = manifest.transition(S.processing, worker_id=worker_id, attempts=manifest.attempts + 1,
                                  started_at=utcnow_iso(now), error=None, claim_token=new_claim_token(),
                                  lease_expires_at=utcnow_iso(now + self.policy.lease_seconds))
        try:
            etag = self.write(new, etag)
        except ConditionFailed:
            return None  # another worker won this job
        claimed_at = time.monotonic()
        # A cut before the lease marker is harmless: the claim holds, and heartbeats re-create the marker.
        best_effort(self.files.mark_leased, job_id, worker_id)
        best_effort(self.storage.delete, PENDING_PREFIX + job_id)
        log.info("job %s claimed by %s (attempt %d)", job_id, worker_id, new.attempts)
        return CloudJob(self, self.policy, new, etag, claimed_at)

    def _abandon(self, manifest: JobManifest, etag: str) -> None:
        reason = (f"abandoned after {manifest.attempts} attempts: the lease of worker {manifest.worker_id} "
                  f"expired without a heartbeat (worker died or lost the bucket); retry with "
                  f"`bball cloud retry --job-id {manifest.job_id}`")
        try:
            self.write(manifest.transition(S.failed, error=reason, lease_expires_at=None,
                                           completed_at=utcnow_iso(self.now())), etag)
        except ConditionFailed:
            return
        best_effort(self.files.drop_markers, manifest.job_id)
        log.warning("job %s failed: %s", manifest.job_id, reason)
        segments.settle_quietly(self, manifest.parent_id)

    # -- reconciliation -------------------------------------------------------------------------------

    def reconcile(self) -> Reconciled:
        """Re-create the pending marker of every job that needs one and has none.

        Finds pending manifests without a marker (a cut between manifest and marker in submit or retry) and
        processing ones whose lease expired without a lease marker (a cut in claim): those get a pending
        marker, and the next claim takes the job (over) as usual. Cost: one LIST per 1,000 markers, one LIST
        per 1,000 objects under jobs/, and one GET per manifest without markers that changed since this
        queue last read it (on a worker's first pass: every finished job once).
        """
        done = Reconciled()
        marked = {obj.key.rsplit("/", 1)[-1] for obj in self.files.list_queue()}
        now = self.now()
        listing = list(self.files.list_manifests())
        etags = {obj.key.split("/")[1]: obj.etag for obj in listing}
        for obj in listing:
            job_id = obj.key.split("/")[1]
            if job_id in marked or job_id in self._too_new or \
                    self._seen.get(job_id) == self._signature(job_id, obj.etag, etags):
                continue
            if now - obj.last_modified < self.policy.marker_grace:
                continue  # maybe a submit or retry between its two writes; look again next pass
            done.manifests_read += 1
            try:
                found = self.files.get_manifest(job_id)
            except ManifestTooNew:
                self._too_new.add(job_id)
                continue
            except ManifestError:
                self._seen[job_id] = obj.etag  # malformed: set aside, shown by `bball cloud status`
                continue
            if found is None:
                continue
            manifest, etag = found
            if manifest.segmented:
                # Never claimed: settle it from its segments (a cut between a segment's end and the settle).
                # While it waits, it is read again only once it or one of its segments changed.
                if manifest.status in ACTIVE:
                    segments.settle_quietly(self, job_id)
                    self._parents[job_id] = list(manifest.segment_ids or [])
                    self._seen[job_id] = self._signature(job_id, obj.etag, etags)
                else:
                    self._parents.pop(job_id, None)
                    self._seen[job_id] = etag
            elif manifest.status is S.pending:
                self.files.mark_pending(job_id)
                done.restored.append(job_id)
                log.warning("job %s was pending without a queue marker; marker restored", job_id)
            elif manifest.status is S.processing:
                if manifest.lease_expired(now):
                    self.files.mark_pending(job_id)
                    done.expired.append(job_id)
                    log.warning("job %s: lease of %s expired without a marker; queued for takeover",
                                job_id, manifest.worker_id)
                # A live lease without its marker: the holder's next heartbeat re-creates it.
            else:
                self._seen[job_id] = etag  # finished: nothing to do until the manifest changes
        return done

    def _signature(self, job_id: str, etag: str, etags: dict[str, str]) -> str:
        """What `reconcile` remembers of a manifest it need not read again: its ETag, and for a pending
        segmented job also its segments' (a segment's change may settle it)."""
        segment_ids = self._parents.get(job_id)
        if segment_ids is None:
            return etag
        return "|".join([etag, *(etags.get(i, "gone") for i in segment_ids)])

    # -- user operations ------------------------------------------------------------------------------

    def cancel(self, job_id: str) -> JobManifest:
        """Cancel a pending, processing, completed or failed job (all its segments); a worker running it
        drops its results. Cancelling a cancelled segmented job again finishes cancelling its segments."""
        def change(m: JobManifest) -> JobManifest | None:
            if m.parent_id is not None:
                segments.refuse_alone(self, m, "cancel")
            if m.segmented and m.status is S.cancelled:
                return None
            return m.transition(S.cancelled, lease_expires_at=None,
                                completed_at=utcnow_iso(self.now()))

        manifest = self.update(job_id, change)
        best_effort(self.files.drop_markers, manifest.job_id)
        segments.cancel(self, manifest)
        return manifest

    def retry(self, job_id: str) -> JobManifest:
        """Queue a completed, failed or cancelled job again, with a fresh set of attempts.

        A pending job only gets its marker back (a cut may have lost it). Results of an earlier run are no
        longer named by the manifest, and the next claim writes under a new token, so nothing mixes.
        """
        manifest, _ = self.get(job_id)
        if manifest.parent_id is not None:
            segments.refuse_alone(self, manifest, "retry")
        if manifest.video_key and not self.files.exists(manifest.video_key):
            raise JobError(f"job {manifest.job_id}: its video is no longer in the bucket (deleted by "
                           "`bball cloud gc`?); submit the video again")

        def change(m: JobManifest) -> JobManifest | None:
            if m.status is S.pending:
                return None
            if m.status not in RETRY.sources:
                raise JobError(f"job {m.job_id} is {m.status.value}; only completed, failed, cancelled or "
                               "pending jobs can be retried")
            return m.requeued()

        everything = manifest.status is S.completed
        manifest = self.update(job_id, change)
        if manifest.segmented:
            segments.retry(self, manifest, everything)  # a failed or cancelled job keeps completed segments
            return segments.settle(self, manifest.job_id)
        self.files.mark_pending(manifest.job_id)
        return manifest

    def mark_imported(self, job_id: str, results_sha256: str | None = None) -> JobManifest:
        """Record that a completed job's results were imported (idempotent).

        `results_sha256`: the results that were imported; `JobError` when the job no longer names them (it
        was cancelled or retried meanwhile), so `imported` is never written over other results.
        """
        def change(m: JobManifest) -> JobManifest | None:
            if results_sha256 is not None and (m.results_sha256 != results_sha256 or not IMPORT.allows(m.status)):
                raise JobError(f"job {m.job_id} changed while it was being imported (it is {m.status.value} "
                               "now); nothing imported")
            return None if m.status is S.imported else m.transition(S.imported)

        return self.update(job_id, change)


def spread(job_ids: list[str]) -> list[str]:
    """Sorted job ids with each run of ids from the same millisecond (their ULID time) in random order."""
    out: list[str] = []
    for _, same in itertools.groupby(job_ids, key=lambda job_id: job_id[:10]):
        run = list(same)
        random.shuffle(run)
        out += run
    return out
