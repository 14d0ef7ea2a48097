"""The local worker: claims jobs from `detection_jobs`, runs the pipeline, stores detections."""

from __future__ import annotations

import logging
import os
import socket
import time

from ..config import Settings, get_settings
from ..db.detections import replace_detections
from ..db.engine import get_engine, transaction
from ..detection import DetectionParams
from ..detections import Detections
from ..exceptions import BballError
from ..jobs import claim_next_job, complete_job, fail_job, get_job, release_job, set_progress
from ..pipeline import RunStats, run_detection
from ..videos import get_video
from .base import Worker
from .signals import StopFlag, StopRequested

log = logging.getLogger(__name__)

PROGRESS_EVERY = 25


def default_worker_id() -> str:
    """host-pid, unless WORKER_ID says otherwise."""
    return f"{socket.gethostname()}-{os.getpid()}"


class LocalWorker(Worker):
    """Processes jobs from the database. `work(burst=True)` drains what is there and returns."""

    kind = "local"

    def __init__(self, settings: Settings | None = None, worker_id: str | None = None,
                 stop: StopFlag | None = None, poll_interval: float = 2.0):
        settings = settings or get_settings()
        super().__init__(settings, worker_id or settings.worker_id or default_worker_id(), stop, poll_interval)
        self.url = settings.database_url

    def check(self) -> None:
        """Open (and migrate) the database before the first claim, so a bad DATABASE_URL fails at once."""
        get_engine(self.url)

    def process_next(self) -> int | None:
        """Claim one job and run it; returns its id, or None when nothing was pending."""
        with transaction(self.url) as s:
            job = claim_next_job(s, self.worker_id)
            if job is None:
                return None
            job_id, video_id, params = job.id, job.video_id, DetectionParams.from_dict(job.parameters)
            video_path = get_video(s, video_id).path
        log.info("job %s claimed by %s (video %s)", job_id, self.worker_id, video_id)
        self.run_job(job_id, video_id, video_path, params)
        return job_id

    def run_job(self, job_id: int, video_id: int, video_path: str, params: DetectionParams) -> None:
        """Run one claimed job to completed, failed, or (on stop) back to pending."""
        stats = RunStats()
        parts: list[Detections] = []
        last = [0.0]

        def progress(done: int, total: int) -> None:
            self.stop.check()
            if done % PROGRESS_EVERY == 0 or time.monotonic() - last[0] > 5:
                last[0] = time.monotonic()
                with transaction(self.url) as s:
                    set_progress(s, job_id, done, total)

        try:
            for det in run_detection(video_path, params, settings=self.settings, on_progress=progress,
                                     stats=stats, detector=self.detectors.get(params)):
                parts.append(det)
            self.stop.check()
            with transaction(self.url) as s:
                job = get_job(s, job_id)
                if job.status != "processing" or job.worker_id != self.worker_id:
                    log.warning("job %s was %s while running; results dropped", job_id, job.status)
                    return
                replace_detections(s, video_id, Detections.merge(parts), job_id=job_id)
                complete_job(s, job, stats.frames)
            log.info("job %s completed: %s", job_id, stats.summary())
        except (StopRequested, KeyboardInterrupt):
            with transaction(self.url) as s:
                release_job(s, job_id)
            log.info("job %s handed back (worker stopping)", job_id)
            raise
        except BballError as exc:
            self._fail(job_id, str(exc))
        except Exception as exc:  # a bug or a backend crash must not kill the worker loop
            log.exception("job %s crashed", job_id)
            self._fail(job_id, f"{type(exc).__name__}: {exc}")

    def _fail(self, job_id: int, message: str) -> None:
        with transaction(self.url) as s:
            fail_job(s, job_id, message)
        log.warning("job %s failed: %s", job_id, message)
