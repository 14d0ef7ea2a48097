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
