"""The cloud worker: claims jobs from the bucket, runs the shared pipeline, streams results, uploads them.

While it holds a job a heartbeat thread renews the lease; if the lease is lost (taken over after a stall,
or the job cancelled) the run stops and nothing it produced is kept. An idle worker costs one LIST per
poll and backs off from CLOUD_WORKER_POLL_INTERVAL to CLOUD_WORKER_MAX_POLL_INTERVAL.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from ..cloud.manifest import JobManifest
from ..cloud.queue import Claim, CloudQueue, LeaseLost
from ..cloud.storage import CloudStorage, StorageUnavailable, video_suffix
from ..config import Settings, get_settings
from ..exceptions import BballError, ManifestError
from ..logs import log_event, redact
from .base import Worker
from .signals import StopFlag, StopRequested

log = logging.getLogger(__name__)

PROGRESS_EVERY = 50
MIN_WRITE_INTERVAL = 1.0  # R2 takes about one write per second to the same key
PROGRESS_LOG_INTERVAL = 30.0  # a job.progress log line at most this often


class LeaseKeeper:
    """A thread renewing a claim's lease every `interval` seconds; `check()` raises once it is lost."""

    def __init__(self, queue: CloudQueue, claim: Claim, interval: float):
        self.queue, self.claim, self.interval = queue, claim, interval
        self.lost: LeaseLost | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{claim.job_id}", daemon=True)

    def __enter__(self) -> "LeaseKeeper":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        wait = self.interval
        while not self._done.wait(wait):
            try:
                self.queue.heartbeat(self.claim)
                wait = self.interval
            except LeaseLost as exc:
                self.lost = exc
                return
            except BballError as exc:
                # A bucket hiccup: try again sooner; the lease has slack for a few misses.
                log.warning("job %s: heartbeat failed (%s); retrying", self.claim.job_id, exc)
                wait = max(0.5, self.interval / 3)

    def check(self) -> None:
        """Raise `LeaseLost` if a heartbeat found the job is no longer ours."""
        if self.lost is not None:
            raise self.lost


class ProgressReporter:
    """`on_progress` for the pipeline: checks stop and lease, and writes progress every `every` frames."""

    def __init__(self, storage: CloudStorage, claim: Claim, lease: LeaseKeeper, stop: StopFlag,
                 every: int = PROGRESS_EVERY, min_interval: float = MIN_WRITE_INTERVAL):
        self.storage, self.claim, self.lease, self.stop = storage, claim, lease, stop
        self.every, self.min_interval = every, min_interval
        self.written_frames = -1
        self.written_at = 0.0
        self.writes = 0
        self.started = self.logged_at = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        self.stop.check()
        self.lease.check()
        now = time.monotonic()
        due = self.written_frames < 0 or done - self.written_frames >= self.every
        if due and now - self.written_at >= self.min_interval:
            try:
                self.storage.update_progress(self.claim.job_id, done, total, self.claim.manifest.worker_id,
                                             self.claim.manifest.attempts)
                self.writes += 1
            except BballError as exc:  # progress is advisory; the job goes on
                log.warning("job %s: progress not saved (%s)", self.claim.job_id, exc)
            self.written_frames, self.written_at = done, now
        if now - self.logged_at >= PROGRESS_LOG_INTERVAL:
            self.logged_at = now
            log_event(log, "job.progress", job_id=self.claim.job_id, frames_done=done, frames_total=total,
                      fps=done / max(now - self.started, 1e-9))


def _user_facing(message: str, tmp_dir: str | None, video_name: str | None) -> str:
    """The message with the worker's scratch path of the video replaced by the video's own name."""
    if tmp_dir:
        import re

        message = re.sub(re.escape(tmp_dir) + r"/video[^\s:)]*", video_name or "the video", message)
    return message


class CloudWorker(Worker):
    """Processes jobs from the bucket. `work(burst=True)` drains what is there and returns."""

    kind = "cloud"

    def __init__(self, settings: Settings | None = None, worker_id: str | None = None,
                 stop: StopFlag | None = None, storage: CloudStorage | None = None):
        from .local import default_worker_id

        settings = settings or get_settings()
        super().__init__(settings, worker_id or settings.worker_id or default_worker_id(), stop,
                         settings.cloud_worker_poll_interval, settings.cloud_worker_max_poll_interval)
        self.storage = storage or CloudStorage.from_settings(self.settings)
        self.queue = CloudQueue.from_settings(self.settings, self.storage)
        lease = self.queue.lease_seconds
        # Three heartbeats per lease, but not more than one write a second to the same key.
        self.heartbeat_interval = min(max(lease / 3, 1.0), lease / 2)
        self.progress_every = PROGRESS_EVERY
        self.min_write_interval = MIN_WRITE_INTERVAL
        self._secrets = [s.get_secret_value() for s in (self.settings.r2_access_key_id,
                                                        self.settings.r2_secret_access_key) if s]

    def check(self) -> None:
        """Reach the bucket before the first claim, so wrong credentials fail at once with `StorageError`."""
        self.storage.check()

    def process_next(self) -> str | None:
        """Claim the oldest claimable job and run it; returns its id, or None when nothing was claimable."""
        claim = self.queue.claim(self.worker_id)
        if claim is None:
            return None
        self.run_job(claim)
        return claim.job_id

    def run_job(self, claim: Claim) -> None:
        """Run one claimed job to completed, failed, lost, or (on stop) back to pending."""
        from ..pipeline import RunStats

        stats = RunStats()
        video = claim.manifest.parameters.get("video_name")
        tmp_dir: str | None = None
        log_event(log, "job.claimed", job_id=claim.job_id, video_id=claim.manifest.video_id, video=video,
                  worker_id=self.worker_id, attempt=claim.manifest.attempts)
        try:
            with tempfile.TemporaryDirectory(prefix="bball-job-") as tmp:
                tmp_dir = tmp
                with LeaseKeeper(self.queue, claim, self.heartbeat_interval) as lease:
                    result = self._run(claim, Path(tmp), lease, stats)
                self._patiently(self.queue.complete, claim, frames_processed=stats.frames, **result)
            summary = stats.summary()
            log_event(log, "job.completed", job_id=claim.job_id, video_id=claim.manifest.video_id,
                      video=video, frames=summary["frames"], detections=summary["detections"],
                      tracks=summary["tracks"], fps=summary["fps"], seconds=summary["seconds"],
                      detector=summary["detector"])
        except (StopRequested, KeyboardInterrupt):
            try:
                self.queue.release(claim)
                log_event(log, "job.released", job_id=claim.job_id, video=video, reason="worker stopping")
            except BballError as exc:
                log.warning("job %s: could not hand back (%s); its lease will expire", claim.job_id, exc)
            raise
        except LeaseLost as exc:
            log.warning("job %s: %s; results dropped", claim.job_id, exc)
        except StorageUnavailable as exc:
            # Not the job's fault: leave it claimed; when the lease runs out a worker takes it over.
            log.warning("job %s: bucket unreachable (%s); leaving it to lease expiry", claim.job_id, exc)
        except BballError as exc:
            self._fail(claim, _user_facing(str(exc), tmp_dir, video), stats.frames)
        except Exception as exc:  # a bug or a backend crash must not kill the worker loop
            log.exception("job %s crashed", claim.job_id)
            self._fail(claim, _user_facing(f"{type(exc).__name__}: {exc}", tmp_dir, video), stats.frames)

    def _run(self, claim: Claim, tmp: Path, lease: LeaseKeeper, stats) -> dict:
        from ..cloud.results import ResultsWriter
        from ..pipeline import run_detection, sampled_frame_count
        from ..video import probe

        manifest: JobManifest = claim.manifest
        params = manifest.detection_params()
        if params.detector == "auto" and self.settings.detector.value != "auto":
            # The worker's DETECTOR (the image sets sam3) decides for jobs submitted without a choice.
            params = replace(params, detector=self.settings.detector.value)
        key = manifest.video_key
        if not key:
            raise ManifestError(f"job {manifest.job_id} names no video_key in its parameters")
        video = tmp / ("video" + video_suffix(key))
        self.storage.download_video(key, video)
        lease.check()
        self.stop.check()
        info = probe(video)
        total = sampled_frame_count(info, params.sample_interval)
        reporter = ProgressReporter(self.storage, claim, lease, self.stop, self.progress_every,
                                    self.min_write_interval)
        detector = self.detectors.get(params)
        results = tmp / "results.parquet"
        with ResultsWriter(results, job_id=manifest.job_id, video_id=manifest.video_id,
                           detector=detector.name) as w:
            for det in run_detection(video, params, settings=self.settings, info=info, on_progress=reporter,
                                     stats=stats, detector=detector):
                w.write(det)
        lease.check()
        self.stop.check()
        results_key = self._patiently(self.storage.upload_results, manifest.job_id, results,
                                      attempt=manifest.attempts)
        lease.check()
        return {"results_key": results_key, "results_sha256": w.sha256, "results_rows": w.rows,
                "frames_total": max(total, stats.frames)}

    def _patiently(self, fn, *args, **kwargs):
        """Call `fn`, retrying while the bucket is unreachable (a minute, or one lease if longer).

        Retrying past our lease is safe: the manifest write is conditional, so a job taken over meanwhile
        is never overwritten.
        """
        deadline = time.monotonic() + max(self.queue.lease_seconds, 60.0)
        wait = 0.5
        while True:
            try:
                return fn(*args, **kwargs)
            except StorageUnavailable as exc:
                if time.monotonic() + wait > deadline:
                    raise
                log.warning("bucket unreachable (%s); retrying in %.1fs", exc, wait)
                time.sleep(wait)
                wait = min(wait * 2, 8.0)

    def _fail(self, claim: Claim, message: str, frames: int) -> None:
        message = redact(message, self._secrets)
        try:
            self.queue.fail(claim, message, frames_processed=frames)
            log_event(log, "job.failed", logging.WARNING, job_id=claim.job_id,
                      video=claim.manifest.parameters.get("video_name"), frames=frames, error=message)
        except BballError as exc:
            log.warning("job %s failed (%s) but could not be marked so: %s", claim.job_id, message, exc)
