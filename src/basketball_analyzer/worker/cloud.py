"""The cloud worker: the one `Worker` on the bucket queue.

While it holds a job the claim (`cloud.job.CloudJob`) renews the lease on a thread and fences itself off
when heartbeats fail for most of the lease. An idle worker costs one LIST per poll, backs off from
CLOUD_WORKER_POLL_INTERVAL to CLOUD_WORKER_MAX_POLL_INTERVAL, and reconciles the queue at start and every
CLOUD_RECONCILE_INTERVAL seconds while idle.
"""

from __future__ import annotations

from ..cloud.queue import CloudQueue
from ..cloud.storage import CloudStorage
from ..config import Settings, get_settings
from .base import Worker
from .signals import StopFlag


class CloudWorker(Worker):
    """A `Worker` draining the configured bucket. `work(burst=True)` drains what is there and returns."""

    def __init__(self, settings: Settings | None = None, worker_id: str | None = None,
                 stop: StopFlag | None = None, storage: CloudStorage | None = None):
        settings = settings or get_settings()
        queue = CloudQueue.from_settings(settings, storage)
        super().__init__(queue, settings, worker_id, stop, settings.cloud_worker_poll_interval,
                         settings.cloud_worker_max_poll_interval, settings.cloud_reconcile_interval)
        self.storage = queue.storage
