"""The local worker: the one `Worker` on the database queue (`detection_jobs`)."""

from __future__ import annotations

from ..config import Settings, get_settings
from ..jobs import DatabaseQueue
from .base import Worker, default_worker_id
from .signals import StopFlag

__all__ = ["LocalWorker", "default_worker_id"]


class LocalWorker(Worker):
    """A `Worker` draining the database at DATABASE_URL. `work(burst=True)` drains what is there and returns."""

    def __init__(self, settings: Settings | None = None, worker_id: str | None = None,
                 stop: StopFlag | None = None, poll_interval: float = 2.0):
        settings = settings or get_settings()
        super().__init__(DatabaseQueue(settings.database_url), settings, worker_id, stop, poll_interval)
