"""Cloud fixtures: one SeaweedFS S3 server per test session (auth enforced), a fresh bucket per test."""

from __future__ import annotations

import uuid

import pytest

from basketball_analyzer.cloud.server import LocalS3Server
from basketball_analyzer.config import Settings, get_settings

# Short waits so workers in tests poll, back off and expire leases in seconds, not minutes.
TEST_CLOUD_ENV = {"CLOUD_WORKER_POLL_INTERVAL": "0.2", "CLOUD_WORKER_MAX_POLL_INTERVAL": "1",
                  "CLOUD_LEASE_SECONDS": "10", "CLOUD_MAX_ATTEMPTS": "3"}


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A running LocalS3Server on free loopback ports, stopped at the end of the session."""
    server = LocalS3Server(directory=tmp_path_factory.mktemp("s3"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def cloud_bucket(s3_server):
    """A new, empty bucket on the test server, emptied and deleted afterwards.

    SeaweedFS gives every bucket its own volumes, and a session that leaves ~200 behind runs out of
    writable volumes (uploads then fail with HTTP 500), so each test hands its bucket back.
    """
    name = s3_server.create_bucket(f"t-{uuid.uuid4().hex[:20]}")
    yield name
    client = s3_server.client()
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            for obj in page.get("Contents", []):
                client.delete_object(Bucket=name, Key=obj["Key"])
        client.delete_bucket(Bucket=name)
    except Exception:  # noqa: BLE001 - best effort: a test that broke the server reports that itself
        pass


@pytest.fixture
def cloud_env(s3_server, cloud_bucket, monkeypatch) -> dict[str, str]:
    """R2_* and CLOUD_* variables for this test's bucket; also set in os.environ (for CLI and subprocesses)."""
    env = {**s3_server.env(), "R2_BUCKET_NAME": cloud_bucket, **TEST_CLOUD_ENV}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    return env


@pytest.fixture
def cloud_settings(cloud_env) -> Settings:
    """`Settings` pointed at the test server and this test's bucket."""
    return Settings()


@pytest.fixture
def storage(cloud_settings):
    """A CloudStorage on this test's bucket."""
    from basketball_analyzer.cloud.storage import CloudStorage

    return CloudStorage.from_settings(cloud_settings)


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory):
    """A 6-frame 192x128 clip, cheap enough for many jobs and workers (HOG crashes below its 128-px window)."""
    from basketball_analyzer.sample import make_sample_clip

    path = tmp_path_factory.mktemp("tinyclip") / "tiny.mp4"
    make_sample_clip(path, frames=6, width=192, height=128, players=1)
    return path


@pytest.fixture
def queue(storage, cloud_settings):
    """A CloudQueue on this test's bucket (lease and attempts from the test settings)."""
    from basketball_analyzer.cloud.queue import CloudQueue

    return CloudQueue.from_settings(cloud_settings, storage)



@pytest.fixture
def proxy(s3_server):
    """A `CuttableProxy` in front of the test server (cut and heal the network in a test)."""
    from urllib.parse import urlsplit

    from proxy import CuttableProxy

    url = urlsplit(s3_server.endpoint_url)
    p = CuttableProxy(url.hostname, url.port).start()
    yield p
    p.stop()


@pytest.fixture
def proxied_storage(proxy, s3_server, cloud_bucket):
    """A CloudStorage on this test's bucket that goes through `proxy`: no retries, short timeouts."""
    from basketball_analyzer.cloud.storage import CloudStorage

    return CloudStorage(endpoint_url=proxy.endpoint_url, access_key=s3_server.access_key,
                        secret_key=s3_server.secret_key, bucket=cloud_bucket, max_attempts=1,
                        connect_timeout=1, read_timeout=5)
