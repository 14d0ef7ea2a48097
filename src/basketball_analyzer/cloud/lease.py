"""`LeasePolicy`: how long a claim lasts and how its holder keeps it, fixed when the queue is built."""

from __future__ import annotations

from dataclasses import dataclass, field

FENCE_FRACTION = 0.8  # of the lease: stop while the lease is surely still ours, before anyone may take over


@dataclass(frozen=True)
class LeasePolicy:
    """The bucket queue's timing: lease length, claims per job, heartbeats, fencing, progress writes, parts.

    Frozen: a queue and every claim it hands out share one policy; to change one, build another queue.
    `heartbeat_interval` defaults to a third of the lease (at least 1 s, at most half of it).
    """

    lease_seconds: float = 120.0
    max_attempts: int = 3
    # A manifest younger than this may be a submit between its two writes: reconcile leaves it be.
    marker_grace: float = 30.0
    heartbeat_interval: float = field(default=0.0)
    fence_fraction: float = FENCE_FRACTION
    progress_every: int = 50  # frames between progress writes
    min_write_interval: float = 1.0  # R2 takes about one write per second to the same key
    part_frames: int = 0  # results in parts of this many frames (CLOUD_PART_FRAMES); 0: one file

    def __post_init__(self) -> None:
        object.__setattr__(self, "lease_seconds", float(self.lease_seconds))
        object.__setattr__(self, "max_attempts", int(self.max_attempts))
        object.__setattr__(self, "marker_grace", float(self.marker_grace))
        if not self.heartbeat_interval:
            object.__setattr__(self, "heartbeat_interval",
                               min(max(self.lease_seconds / 3, 1.0), self.lease_seconds / 2))

    @property
    def fence_after(self) -> float:
        """Seconds without a successful heartbeat after which a holder stops by itself."""
        return self.lease_seconds * self.fence_fraction

    @classmethod
    def from_settings(cls, settings) -> "LeasePolicy":
        """The configured lease, attempts and part size (CLOUD_LEASE_SECONDS, …_MAX_ATTEMPTS, …_PART_FRAMES)."""
        return cls(lease_seconds=settings.cloud_lease_seconds, max_attempts=settings.cloud_max_attempts,
                   part_frames=settings.cloud_part_frames)
