"""The loop every worker runs: claim, process, back off when idle, stop cleanly. Subclasses say how to claim."""

from __future__ import annotations

import logging

from ..config import Settings
from ..detection import DetectorCache
from ..exceptions import BballError
from .signals import StopFlag, StopRequested

log = logging.getLogger(__name__)


class Worker:
    """Base of the local and the cloud worker. `work(burst=True)` drains what is there and returns."""

    kind = "base"

    def __init__(self, settings: Settings, worker_id: str, stop: StopFlag | None, poll_interval: float,
                 max_poll_interval: float | None = None):
        self.settings = settings
        self.worker_id = worker_id
        self.stop = stop or StopFlag()
        self.poll_interval = poll_interval
        self.max_poll_interval = max(max_poll_interval or poll_interval, poll_interval)
        self.detectors = DetectorCache(settings)

    def process_next(self) -> object | None:
        """Claim one job and run it; return its id, or None when nothing was claimable."""
        raise NotImplementedError

    def check(self) -> None:
        """Fail before the first claim when the worker cannot work (e.g. wrong bucket credentials)."""

    def work(self, burst: bool = False, max_jobs: int | None = None) -> int:
        """Loop claiming and processing jobs; returns how many were processed.

        burst: return when no job is pending; max_jobs: return after that many. Idle polls back off,
        doubling from the poll interval up to its maximum; a stop request ends the loop.
        """
        self.check()
        self.detectors.preload()
        try:
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
                self.stop.wait(delay)
                delay = min(delay * 2, self.max_poll_interval)
                continue
            delay = self.poll_interval
            done += 1
        return done
