"""The one worker: claim a job from a queue, run it through the lifecycle, back off when idle, stop cleanly.

The queue decides where jobs come from (`jobs.DatabaseQueue`, `cloud.queue.CloudQueue`); everything a job
goes through is written once here: parameters validated inside the job's life (a bad one fails that job,
never the worker), DETECTOR filling in for `auto`, results streamed to a results file (memory stays flat on
a two-hour game), and that file handed to the queue to store.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from ..config import Settings
from ..detection import DetectorCache
from ..exceptions import BballError, LeaseLost, StorageUnavailable, VideoError
from ..lifecycle import JobHandle, JobQueue, ResultsFile
from ..logs import log_event, redact
from .signals import StopFlag, StopRequested

log = logging.getLogger(__name__)

PROGRESS_LOG_INTERVAL = 30.0  # a job.progress log line at most this often


def default_worker_id() -> str:
    """host-pid, unless WORKER_ID says otherwise."""
    return f"{socket.gethostname()}-{os.getpid()}"


def user_facing(message: str, scratch: str | None, video_name: str | None) -> str:
    """The message with the worker's scratch path of the video replaced by the video's own name.

    The name is data: a function replacement keeps re.sub from reading backslashes or group references in it.
    """
    if scratch:
        name = video_name or "the video"
        message = re.sub(re.escape(scratch) + r"/video[^\s:)]*", lambda _: name, message)
    return message


class Worker:
    """Drives jobs from `queue` to completed, failed, lost or handed back. `work(burst=True)` drains and returns."""

    def __init__(self, queue: JobQueue, settings: Settings, worker_id: str | None = None,
                 stop: StopFlag | None = None, poll_interval: float = 2.0, max_poll_interval: float | None = None,
                 reconcile_interval: float | None = None):
        self.queue = queue
        self.settings = settings
        self.worker_id = worker_id or settings.worker_id or default_worker_id()
        self.stop = stop or StopFlag()
        self.poll_interval = poll_interval
        self.max_poll_interval = max(max_poll_interval or poll_interval, poll_interval)
        self.reconcile_interval = reconcile_interval
        self.detectors = DetectorCache(settings)
        self._reconciled_at: float | None = None
        self._secrets = [s.get_secret_value() for s in (settings.r2_access_key_id, settings.r2_secret_access_key)
                         if s]

    @property
    def kind(self) -> str:
        """Which queue this worker drains ("local" or "cloud")."""
        return self.queue.kind

    # -- the loop -------------------------------------------------------------------------------------

    def work(self, burst: bool = False, max_jobs: int | None = None) -> int:
        """Loop claiming and processing jobs; returns how many were processed.

        burst: return when no job is pending; max_jobs: return after that many. Idle polls back off,
        doubling from the poll interval up to its maximum; a stop request ends the loop. The queue is
        reconciled at start and every `reconcile_interval` seconds while idle.
        """
        self.queue.check()
        self.detectors.preload()
        try:
            self._reconcile()
            return self._loop(burst, max_jobs)
        finally:
            self.detectors.close()

    def _loop(self, burst: bool, max_jobs: int | None) -> int:
        done = 0
        delay = self.poll_interval
        while not self.stop.requested:
            if max_jobs is not None and done >= max_jobs:
                break
            try:
                job_id = self.process_next()
            except StopRequested:
                break
            except BballError as exc:  # the queue itself is unreachable: wait, then try again
                log.warning("%s worker %s: queue unavailable (%s); backing off", self.kind, self.worker_id, exc)
                job_id = None
            if job_id is None:
                if burst:
                    break
                if self.reconcile_interval and time.monotonic() - (self._reconciled_at or 0) >= \
                        self.reconcile_interval:
                    self._reconcile()
                self.stop.wait(delay)
                delay = min(delay * 2, self.max_poll_interval)
                continue
            delay = self.poll_interval
            done += 1
        return done

    def _reconcile(self) -> None:
        self._reconciled_at = time.monotonic()
        try:
            self.queue.reconcile()
        except BballError as exc:  # housekeeping: try again next time
            log.warning("%s worker %s: reconciliation failed (%s)", self.kind, self.worker_id, exc)

    def process_next(self) -> str | None:
        """Claim one job and run it; return its id, or None when nothing was claimable."""
        job = self.queue.claim(self.worker_id)
        if job is None:
            return None
        self.run_job(job)
        return job.job_id

    # -- one job --------------------------------------------------------------------------------------

    def run_job(self, job: JobHandle, stats=None) -> str:
        """Run one claimed job; returns what became of it: completed, failed, lost or left (bucket down).

        A stop request hands the job back and re-raises `StopRequested`. Pass a `RunStats` to see the numbers.
        """
        from ..pipeline import RunStats

        stats = stats if stats is not None else RunStats()
        scratch: str | None = None
        log_event(log, "job.claimed", job_id=job.job_id, video_id=job.video_id, video=job.video_name,
                  worker_id=self.worker_id, attempt=job.attempt, queue=self.kind)
        try:
            with tempfile.TemporaryDirectory(prefix="bball-job-") as tmp, job.holding():
                scratch = tmp
                job.complete(self._run(job, Path(tmp), stats))
        except (StopRequested, KeyboardInterrupt):
            try:
                job.release()
                log_event(log, "job.released", job_id=job.job_id, video=job.video_name, reason="worker stopping")
            except BballError as exc:
                log.warning("job %s: could not hand back (%s); its lease will expire", job.job_id, exc)
            raise
        except LeaseLost as exc:
            log.warning("job %s: %s; results dropped", job.job_id, exc)
            return "lost"
        except StorageUnavailable as exc:
            # Not the job's fault: leave it claimed; when the lease runs out a worker takes it over.
            log.warning("job %s: bucket unreachable (%s); leaving it to lease expiry", job.job_id, exc)
            return "left"
        except BballError as exc:
            return self._fail(job, str(exc), scratch, stats.frames)
        except Exception as exc:  # a bug or a backend crash must not kill the worker loop
            log.exception("job %s crashed", job.job_id)
            return self._fail(job, f"{type(exc).__name__}: {exc}", scratch, stats.frames)
        summary = stats.summary()
        log_event(log, "job.completed", job_id=job.job_id, video_id=job.video_id, video=job.video_name,
                  frames=summary["frames"], detections=summary["detections"], tracks=summary["tracks"],
                  fps=summary["fps"], seconds=summary["seconds"], detector=summary["detector"])
        return "completed"

    def _run(self, job: JobHandle, scratch: Path, stats) -> ResultsFile:
        from ..results.format import ResultsWriter
        from ..pipeline import frame_bounds, run_detection, sampled_frame_count
        from ..video import probe

        params = job.parameters()
        if params.detector == "auto" and self.settings.detector.value != "auto":
            # The worker's DETECTOR (the image sets sam3) decides for jobs submitted without a choice.
            params = replace(params, detector=self.settings.detector.value)
        video = job.video(scratch)
        job.check()
        self.stop.check()
        info = probe(video, exact=True)
        total = sampled_frame_count(info, params.sample_interval, job.frame_range)
        detector = self.detectors.get(params)
        started = logged = time.monotonic()

        def on_progress(done: int, frames_total: int) -> None:
            nonlocal logged
            self.stop.check()
            job.check()
            job.progress(done, frames_total)
            now = time.monotonic()
            if now - logged >= PROGRESS_LOG_INTERVAL:
                logged = now
                log_event(log, "job.progress", job_id=job.job_id, frames_done=done, frames_total=frames_total,
                          fps=done / max(now - started, 1e-9))

        interval = params.sample_interval
        start, end = frame_bounds(info, job.frame_range)
        piece_from = job.owned_from  # results in parts (resume): the first frame of the part being written

        def writer(name: str) -> ResultsWriter:
            return ResultsWriter(scratch / name, job_id=job.results_job_id, video_id=job.video_id,
                                 detector=detector.name, parameters=params.to_dict())

        w = writer("results.parquet")
        try:
            for det in run_detection(video, params, settings=self.settings, info=info, on_progress=on_progress,
                                     stats=stats, detector=detector, frame_range=job.frame_range):
                w.write(det)
                # A part is saved as soon as its last frame is in it. The decoder's own frame numbers say
                # where: one that skips a frame (a gap in a variable-rate video) must not shift the parts.
                following = stats.last_frame + interval
                if job.part_frames and following >= piece_from + job.part_frames and following < end:
                    w.close()
                    job.save_part(ResultsFile(w.path, w.sha256 or "", w.rows, stats.frames, total,
                                              (piece_from, following)))
                    w.path.unlink()
                    piece_from = following
                    w = writer(f"results.{following}.parquet")
            w.close()
        except BaseException:
            w.abort()
            raise
        job.check()
        self.stop.check()
        if job.frame_range and job.frame_range[1] is not None and stats.last_frame + interval < end:
            # A segment whose frames stop early (a truncated or damaged file) must not complete: the join
            # would hold a hole where its frames are.
            frames = f"frames {job.owned_from}-{end}"
            stops = f"stops at frame {stats.last_frame}, before the end of" if stats.last_frame >= 0 else \
                "decodes no frame of"
            raise VideoError(f"the video {stops} {frames} ({stats.frames} of {total} frames decoded): the file "
                             "is truncated or damaged")
        # The last piece ends at the video's end, or after its last frame where numbering by time runs past
        # the frame count a header gave (a variable-rate video).
        last = (piece_from, max(end, stats.last_frame + interval))
        return ResultsFile(w.path, w.sha256 or "", w.rows, stats.frames, max(total, stats.frames), last)

    def _fail(self, job: JobHandle, message: str, scratch: str | None, frames: int) -> str:
        try:
            message = redact(user_facing(message, scratch, job.video_name), self._secrets)
            job.fail(message, frames_processed=frames)
            log_event(log, "job.failed", logging.WARNING, job_id=job.job_id, video=job.video_name, frames=frames,
                      error=message)
            return "failed"
        except Exception as exc:  # noqa: BLE001 - whatever happens here must not take the worker down
            log.warning("job %s failed (%s) but could not be marked so: %s", job.job_id, message, exc)
            return "lost" if isinstance(exc, LeaseLost) else "left"
