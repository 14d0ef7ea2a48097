"""`CloudStorage`: the S3/R2 bucket behind the job queue (boto3, signature v4).

Key layout (job ids are validated before they go into a key):
    jobs/<job_id>/manifest.json        the job's state (changed only by conditional writes, see queue.py)
    jobs/<job_id>/video<suffix>        the uploaded video
    jobs/<job_id>/progress.json        frames done / total, written by the worker as it runs
    jobs/<job_id>/results.<n>.parquet  results of attempt n (the manifest names the winning one)
    queue/lease/<job_id>               exists while a worker holds the job; rewritten by every heartbeat
    queue/pending/<job_id>             exists while the job waits for a worker
`queue/lease/` sorts before `queue/pending/`, so one LIST of `queue/` shows a worker every lease and the
oldest pending jobs: an idle poll is one request.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Callable, Iterator

from ..exceptions import StorageError
from ..logs import redact
from .manifest import JobManifest, validate_job_id

log = logging.getLogger(__name__)

JOBS_PREFIX = "jobs/"
QUEUE_PREFIX = "queue/"
LEASE_PREFIX = "queue/lease/"
PENDING_PREFIX = "queue/pending/"
_SUFFIX = re.compile(r"^\.[a-z0-9]{1,10}$")
MULTIPART_CHUNK = 16 * 1024 * 1024

BytesFn = Callable[[int, int], None]
"""Called as `on_progress(bytes_done, bytes_total)`."""


class ConditionFailed(StorageError):
    """A conditional write lost: the object changed (or already existed) since it was read."""


class StorageUnavailable(StorageError):
    """The bucket did not answer (connection refused, timeout, 5xx): worth retrying later."""


@dataclass(frozen=True)
class ObjectInfo:
    """One listed object: key, size in bytes, last-modified time (epoch seconds, server clock)."""

    key: str
    size: int
    last_modified: float


def video_suffix(path: str | os.PathLike) -> str:
    """The lower-case suffix of a video file if it is a plain one (".mp4", ".mkv"...), else ""."""
    suffix = Path(path).suffix.lower()
    return suffix if _SUFFIX.match(suffix) else ""


class CloudStorage:
    """The job bucket: videos, manifests, progress, results and queue markers. Errors are `StorageError`."""

    def __init__(self, *, endpoint_url: str, access_key: str, secret_key: str, bucket: str,
                 region: str = "auto", max_attempts: int = 6, connect_timeout: float = 5.0,
                 read_timeout: float = 60.0):
        self.endpoint_url = endpoint_url
        self.bucket = bucket
        self.region = region
        self._access_key = access_key
        self._secret_key = secret_key
        self._max_attempts = max_attempts
        self._timeouts = (connect_timeout, read_timeout)
        self._client = None
        self.clock_offset = 0.0

    @classmethod
    def from_settings(cls, settings) -> "CloudStorage":
        """Storage for the configured bucket; `ConfigError` naming the missing variables otherwise."""
        settings.require_cloud()
        return cls(endpoint_url=settings.r2_endpoint,
                   access_key=settings.r2_access_key_id.get_secret_value(),
                   secret_key=settings.r2_secret_access_key.get_secret_value(),
                   bucket=settings.r2_bucket_name, region=settings.r2_region or "auto")

    def __repr__(self) -> str:
        return f"CloudStorage(endpoint_url={self.endpoint_url!r}, bucket={self.bucket!r})"

    # -- client, errors, clock ------------------------------------------------------------------------

    @property
    def client(self):
        """The boto3 S3 client (created on first use; thread-safe)."""
        if self._client is None:
            import boto3
            from botocore.config import Config

            # R2 rejects the newer default checksums on some calls; only send/verify them where required.
            config = Config(signature_version="s3v4", request_checksum_calculation="when_required",
                            response_checksum_validation="when_required", max_pool_connections=16,
                            connect_timeout=self._timeouts[0], read_timeout=self._timeouts[1],
                            retries={"mode": "standard", "max_attempts": self._max_attempts},
                            s3={"addressing_style": "path"})
            session = boto3.session.Session()
            self._client = session.client("s3", endpoint_url=self.endpoint_url, region_name=self.region,
                                          aws_access_key_id=self._access_key,
                                          aws_secret_access_key=self._secret_key, config=config)
            self._client.meta.events.register("after-call.s3", self._track_clock)
        return self._client

    def _track_clock(self, http_response=None, **_: Any) -> None:
        # Leases compare times written by different machines; the server's clock is the shared one.
        date = getattr(http_response, "headers", {}).get("Date") if http_response is not None else None
        if not date:
            return
        try:
            offset = parsedate_to_datetime(date).timestamp() - time.time()
        except (TypeError, ValueError):
            return
        # Date has 1 s resolution: ignore offsets that small rather than jitter by them.
        self.clock_offset = offset if abs(offset) > 2.0 else 0.0

    def now(self) -> float:
        """Current time on the server's clock (epoch seconds), as seen in its last response."""
        return time.time() + self.clock_offset

    def _error(self, exc: Exception, what: str) -> StorageError:
        """One clear line for a boto3/botocore failure; never the secret."""
        from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

        code, status = "", 0
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "") or ""
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        elif hasattr(exc, "last_response") and isinstance(getattr(exc, "last_response", None), dict):
            code = exc.last_response.get("Error", {}).get("Code", "")
        if code in ("PreconditionFailed", "ConditionalRequestConflict") or status == 412:
            return ConditionFailed(f"{what}: the object changed since it was read")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken",
                    "ExpiredToken", "Unauthorized") or status in (401, 403):
            msg = (f"{what}: the bucket at {self.endpoint_url} refused our credentials ({code or status}); "
                   "check R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY")
        elif code == "NoSuchBucket":
            msg = (f"{what}: bucket {self.bucket!r} does not exist at {self.endpoint_url}; "
                   "check R2_BUCKET_NAME")
        elif isinstance(exc, EndpointConnectionError) or type(exc).__name__ in (
                "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError"):
            return StorageUnavailable(f"{what}: cannot reach {self.endpoint_url}; "
                                      "check R2_ENDPOINT_URL / R2_ACCOUNT_ID and the network")
        elif status >= 500:
            return StorageUnavailable(f"{what}: the bucket answered HTTP {status} ({code or 'server error'})")
        elif isinstance(exc, NoCredentialsError):
            msg = f"{what}: no credentials; set R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY"
        else:
            detail = code or type(exc).__name__
            msg = f"{what}: {detail}" + (f" (HTTP {status})" if status else "")
        return StorageError(redact(msg, [self._access_key, self._secret_key]))

    def _call(self, what: str, op: str, **kwargs: Any) -> dict:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, op)(Bucket=self.bucket, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, what) from None

    # -- generic objects ------------------------------------------------------------------------------

    def check(self) -> None:
        """Verify the bucket is reachable with these credentials (one HEAD)."""
        self._call(f"open bucket {self.bucket!r}", "head_bucket")

    def put_bytes(self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False,
                  content_type: str = "application/octet-stream") -> str:
        """Write an object; returns its ETag. `ConditionFailed` when a condition does not hold."""
        kwargs: dict[str, Any] = {"Key": key, "Body": data, "ContentType": content_type}
        if if_match is not None:
            kwargs["IfMatch"] = if_match
        if if_none_match:
            kwargs["IfNoneMatch"] = "*"
        return self._call(f"write {key}", "put_object", **kwargs).get("ETag", "")

    def get_bytes(self, key: str) -> tuple[bytes, str] | None:
        """(content, ETag) of an object, or None when it does not exist."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=key)
            return resp["Body"].read(), resp.get("ETag", "")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise self._error(exc, f"read {key}") from None
        except BotoCoreError as exc:
            raise self._error(exc, f"read {key}") from None

    def delete(self, key: str) -> None:
        """Delete an object (missing is fine). Unconditional: R2 has no conditional DeleteObject."""
        self._call(f"delete {key}", "delete_object", Key=key)

    def list_objects(self, prefix: str, *, start_after: str | None = None,
                     page_size: int = 1000) -> Iterator[ObjectInfo]:
        """Every object under `prefix` in key order, one LIST per page of `page_size` (paginated)."""
        from botocore.exceptions import BotoCoreError, ClientError

        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix,
                                  "PaginationConfig": {"PageSize": page_size}}
        if start_after:
            kwargs["StartAfter"] = start_after
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(**kwargs):
                for obj in page.get("Contents", []):
                    yield ObjectInfo(obj["Key"], int(obj.get("Size", 0)), obj["LastModified"].timestamp())
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, f"list {prefix}") from None

    # -- keys -----------------------------------------------------------------------------------------

    @staticmethod
    def job_prefix(job_id: str) -> str:
        """jobs/<job_id>/"""
        return f"{JOBS_PREFIX}{validate_job_id(job_id)}/"

    def manifest_key(self, job_id: str) -> str:
        """Key of a job's manifest."""
        return self.job_prefix(job_id) + "manifest.json"

    def video_key(self, job_id: str, suffix: str = ".mp4") -> str:
        """Key a job's video is uploaded to (`suffix` as in `video_suffix`)."""
        if suffix and not _SUFFIX.match(suffix):
            raise StorageError(f"invalid video suffix {suffix[:12]!r}")
        return self.job_prefix(job_id) + "video" + suffix

    def results_key(self, job_id: str, attempt: int = 1) -> str:
        """Key of one attempt's results (each attempt writes its own: a late loser clobbers nothing)."""
        return self.job_prefix(job_id) + f"results.{int(attempt)}.parquet"

    def progress_key(self, job_id: str) -> str:
        """Key of a job's progress object."""
        return self.job_prefix(job_id) + "progress.json"

    @staticmethod
    def pending_key(job_id: str) -> str:
        """Marker that a job waits for a worker."""
        return PENDING_PREFIX + validate_job_id(job_id)

    @staticmethod
    def lease_key(job_id: str) -> str:
        """Marker that a worker holds a job; its LastModified is the last heartbeat."""
        return LEASE_PREFIX + validate_job_id(job_id)

    def _own_key(self, job_id: str, key: str) -> str:
        if not isinstance(key, str) or not key.startswith(self.job_prefix(job_id)) or ".." in key:
            raise StorageError(f"job {job_id}: key {str(key)[:80]!r} is not one of this job's files")
        return key

    # -- videos ---------------------------------------------------------------------------------------

    def upload_video(self, job_id: str, path: str | os.PathLike, on_progress: BytesFn | None = None) -> str:
        """Upload a video (multipart when large); returns its key."""
        path = Path(path)
        key = self.video_key(job_id, video_suffix(path))
        self._transfer("upload_file", f"upload {path.name}", path.stat().st_size, on_progress,
                       Filename=str(path), Key=key)
        return key

    def download_video(self, key: str, dest: str | os.PathLike, on_progress: BytesFn | None = None) -> Path:
        """Download a video by its key to `dest` (written to a temporary name, then renamed)."""
        if not isinstance(key, str) or not key.startswith(JOBS_PREFIX) or ".." in key:
            raise StorageError(f"invalid video key {str(key)[:80]!r}")
        return self._download(key, Path(dest), on_progress)

    def _download(self, key: str, dest: Path, on_progress: BytesFn | None) -> Path:
        head = self._call(f"find {key}", "head_object", Key=key)
        tmp = dest.with_name(dest.name + ".part")
        try:
            self._transfer("download_file", f"download {key}", int(head.get("ContentLength", 0)), on_progress,
                           Key=key, Filename=str(tmp))
            tmp.replace(dest)
        finally:
            tmp.unlink(missing_ok=True)
        return dest

    def _transfer(self, method: str, what: str, total: int, on_progress: BytesFn | None,
                  **kwargs: Any) -> None:
        from boto3.exceptions import S3UploadFailedError
        from boto3.s3.transfer import TransferConfig
        from botocore.exceptions import BotoCoreError, ClientError

        done = [0]

        def callback(n: int) -> None:
            done[0] += n
            if on_progress:
                on_progress(done[0], total)

        config = TransferConfig(multipart_threshold=MULTIPART_CHUNK, multipart_chunksize=MULTIPART_CHUNK,
                                max_concurrency=4)
        if on_progress:
            on_progress(0, total)
        try:
            getattr(self.client, method)(Bucket=self.bucket, Config=config, Callback=callback, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, what) from None
        except S3UploadFailedError as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, (ClientError, BotoCoreError)):
                raise self._error(cause, what) from None
            raise StorageError(redact(f"{what}: {exc}", [self._access_key, self._secret_key])) from None

    # -- manifests ------------------------------------------------------------------------------------

    def put_manifest(self, manifest: JobManifest, *, etag: str | None = None, create: bool = False) -> str:
        """Write a manifest: `create` only if none exists, else only over `etag`. Returns the new ETag."""
        if etag is None and not create:
            raise ValueError("put_manifest needs etag= (update) or create=True")
        return self.put_bytes(self.manifest_key(manifest.job_id), manifest.to_json(), if_match=etag,
                              if_none_match=create, content_type="application/json")

    def get_manifest(self, job_id: str) -> tuple[JobManifest, str] | None:
        """(manifest, ETag), None when the job does not exist; `ManifestError` when it is malformed."""
        found = self.get_bytes(self.manifest_key(job_id))
        if found is None:
            return None
        manifest = JobManifest.from_json(found[0])
        if manifest.job_id != validate_job_id(job_id):
            from ..exceptions import ManifestError

            raise ManifestError(f"manifest at {self.manifest_key(job_id)} is for job {manifest.job_id}")
        return manifest, found[1]

    def list_job_ids(self) -> list[str]:
        """Every job id that has a manifest, oldest first (paginated LIST of jobs/)."""
        ids = []
        for obj in self.list_objects(JOBS_PREFIX):
            parts = obj.key.split("/")
            if len(parts) == 3 and parts[2] == "manifest.json":
                ids.append(parts[1])
        return ids

    def list_queue(self) -> Iterator[ObjectInfo]:
        """Lease markers, then pending markers (oldest first); one LIST per 1,000."""
        return self.list_objects(QUEUE_PREFIX)

    def list_pending(self) -> list[str]:
        """Ids of jobs with a pending marker, oldest first."""
        return [o.key[len(PENDING_PREFIX):] for o in self.list_objects(PENDING_PREFIX)]

    # -- progress -------------------------------------------------------------------------------------

    def update_progress(self, job_id: str, frames_done: int, frames_total: int | None,
                        worker_id: str | None = None, attempt: int | None = None) -> None:
        """Record how far a running job is (one unconditional PUT; only the lease holder writes it)."""
        body = {"job_id": job_id, "frames_processed": int(frames_done), "frames_total": frames_total,
                "worker_id": worker_id, "attempt": attempt, "updated_at": self.now()}
        self.put_bytes(self.progress_key(job_id), json.dumps(body).encode(), content_type="application/json")

    def get_progress(self, job_id: str) -> dict | None:
        """The last progress record of a job, or None (also when unreadable: progress is advisory)."""
        found = self.get_bytes(self.progress_key(job_id))
        if found is None:
            return None
        try:
            data = json.loads(found[0])
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    # -- results --------------------------------------------------------------------------------------

    def upload_results(self, job_id: str, path: str | os.PathLike, attempt: int = 1,
                       on_progress: BytesFn | None = None) -> str:
        """Upload a results file for one attempt; returns its key."""
        path = Path(path)
        key = self.results_key(job_id, attempt)
        self._transfer("upload_file", f"upload results of job {job_id}", path.stat().st_size, on_progress,
                       Filename=str(path), Key=key,
                       ExtraArgs={"ContentType": "application/vnd.apache.parquet"})
        return key

    def download_results(self, job_id: str, dest: str | os.PathLike, key: str | None = None,
                         on_progress: BytesFn | None = None) -> Path:
        """Download a job's results (`key` from its manifest's results_key; looked up when None)."""
        if key is None:
            found = self.get_manifest(job_id)
            key = found[0].results_key if found else None
            if not key:
                raise StorageError(f"job {job_id} has no results yet")
        return self._download(self._own_key(job_id, key), Path(dest), on_progress)

    # -- clean-up -------------------------------------------------------------------------------------

    def delete_job_files(self, job_id: str) -> int:
        """Delete every object of a job (its files and queue markers); returns how many."""
        keys = [o.key for o in self.list_objects(self.job_prefix(job_id))]
        # The manifest goes last, so a crash half-way leaves a job that still lists and can be deleted again.
        keys.sort(key=lambda k: k.endswith("/manifest.json"))
        keys = [self.pending_key(job_id), self.lease_key(job_id)] + keys
        for key in keys:
            self.delete(key)
        return len(keys) - 2
