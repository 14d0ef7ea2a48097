"""Helpers shared by the cloud tests (imported by name; tests/cloud is on sys.path)."""

from __future__ import annotations


def hog_params(sample_interval: int = 1):
    """Detection parameters for the CPU detector (what every cloud test runs)."""
    from basketball_analyzer.detection import DetectionParams

    return DetectionParams(sample_interval=sample_interval, detector="hog")


def count_requests(storage) -> dict[str, int]:
    """Operation name -> S3 requests the storage's client sends, counted from now on (botocore hook)."""
    counts: dict[str, int] = {}

    # before-send fires once per HTTP request, retries included: what the provider bills.
    def on_send(event_name, **_):
        op = event_name.rsplit(".", 1)[-1]
        counts[op] = counts.get(op, 0) + 1

    storage.client.meta.events.register("before-send.s3", on_send)
    return counts


def with_policy(queue, **changes):
    """A queue on the same bucket and clock whose lease policy differs in `changes` (policies are frozen)."""
    from dataclasses import replace

    from basketball_analyzer.cloud.queue import CloudQueue

    return CloudQueue(queue.storage, replace(queue.policy, **changes), clock=queue.clock)


class SteppedClock:
    """The bucket's clock, moved forward by the test: a lease runs out at `advance`, not after a sleep."""

    def __init__(self, storage):
        self.storage, self.offset = storage, 0.0

    def __call__(self) -> float:
        return self.storage.now() + self.offset

    def advance(self, seconds: float) -> None:
        """Move the clock `seconds` ahead."""
        self.offset += seconds
