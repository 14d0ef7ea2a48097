"""`CloudStorage`: a plain object store on an S3/R2 bucket (boto3, signature v4).

Put, get (with ETags for conditional writes), delete, list, and multipart file transfers. It knows nothing
of jobs: the key layout, manifests, markers and progress belong to the queue (`jobfiles.py`, `queue.py`).
"""

from __future__ import annotations

import logging
import os
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Callable, Iterator

from ..exceptions import ConditionFailed, ConfigError, StorageError, StorageUnavailable
from ..logs import printable, redact

log = logging.getLogger(__name__)

MULTIPART_CHUNK = 16 * 1024 * 1024

BytesFn = Callable[[int, int], None]
"""Called as `on_progress(bytes_done, bytes_total)`."""


_RAISE = object()  # `_call(missing=...)` not given: a missing object is an error like any other


def _error_code(exc: Exception) -> str:
    """The S3 error code of a boto failure ("" when it has none)."""
    response = getattr(exc, "response", None) or getattr(exc, "last_response", None)
    return (response.get("Error", {}).get("Code", "") or "") if isinstance(response, dict) else ""


def _http_status(exc: Exception) -> int:
    """The HTTP status of a boto failure (0 when it has none)."""
    response = getattr(exc, "response", None)
    return response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) if isinstance(response, dict) else 0


def _is_missing(exc: Exception) -> bool:
    """True when a boto failure says the object or upload is not there (a missing bucket is not "missing":
    it is a configuration error that must be reported)."""
    code = _error_code(exc)
    if code == "NoSuchBucket":
        return False
    return code in ("NoSuchKey", "NoSuchUpload", "NotFound", "404") or _http_status(exc) == 404


def best_effort(fn: Callable, *args: Any) -> None:
    """Run a step whose failure must not hide the real outcome (a marker, a clean-up): logged, not raised."""
    from ..exceptions import BballError

    try:
        fn(*args)
    except BballError as exc:
        log.warning("best-effort step %s failed: %s", getattr(fn, "__name__", fn), exc)


@dataclass(frozen=True)
class ObjectInfo:
    """One listed object: key, size in bytes, last-modified time (epoch seconds, server clock), ETag."""

    key: str
    size: int
    last_modified: float
    etag: str = ""


class CloudStorage:
    """One bucket as a plain object store. Errors are `StorageError` (`ConditionFailed`, `StorageUnavailable`)."""

    def __init__(self, *, endpoint_url: str, access_key: str, secret_key: str, bucket: str,
                 region: str = "auto", max_attempts: int = 6, connect_timeout: float = 5.0,
                 read_timeout: float = 60.0):
        self.endpoint_url = check_endpoint(endpoint_url)
        self.bucket = check_bucket_name(bucket)
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
        return f"CloudStorage(endpoint_url={self.endpoint!r}, bucket={self.bucket!r})"

    @property
    def endpoint(self) -> str:
        """The endpoint as it may be printed (credentials masked, control characters escaped)."""
        return printable(redact(self.endpoint_url, [self._access_key, self._secret_key]))

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
            try:
                self._client = session.client("s3", endpoint_url=self.endpoint_url, region_name=self.region,
                                              aws_access_key_id=self._access_key,
                                              aws_secret_access_key=self._secret_key, config=config)
            except ValueError as exc:  # botocore's "Invalid endpoint", bad region names
                raise ConfigError(printable(redact(f"cannot use bucket endpoint {self.endpoint}: "
                                                   f"{str(exc).splitlines()[0] if str(exc) else exc!r}",
                                                   [self._access_key, self._secret_key]))) from None
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
        """One clear line for a boto3/botocore failure naming the real cause; never a secret, never raw
        control characters from the bucket."""
        cls, msg = self._explain(exc, what)
        return cls(printable(redact(msg, [self._access_key, self._secret_key])))

    def _explain(self, exc: Exception, what: str) -> tuple[type[StorageError], str]:
        from botocore.exceptions import (EndpointConnectionError, NoCredentialsError,
                                         ParamValidationError)

        code, status = _error_code(exc), _http_status(exc)
        if code in ("PreconditionFailed", "ConditionalRequestConflict") or status == 412:
            return ConditionFailed, f"{what}: the object changed since it was read"
        if code == "RequestTimeTooSkewed":
            # Signed requests carry the time; S3 and R2 refuse those more than 15 minutes off (as a 403).
            off = f" (about {abs(self.clock_offset) / 60:.0f} min off the bucket's)" if self.clock_offset else ""
            return StorageError, (f"{what}: this machine's clock is wrong{off}, so the bucket at "
                                  f"{self.endpoint} refuses our signed requests (RequestTimeTooSkewed); "
                                  "set the clock (enable NTP)")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken",
                    "ExpiredToken", "Unauthorized") or status in (401, 403):
            return StorageError, (f"{what}: the bucket at {self.endpoint} refused our credentials "
                                  f"({code or status}); check R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY")
        if code == "NoSuchBucket":
            return StorageError, self._missing_bucket(what)
        if isinstance(exc, EndpointConnectionError) or type(exc).__name__ in (
                "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError"):
            return StorageUnavailable, (f"{what}: cannot reach {self.endpoint}; "
                                        "check R2_ENDPOINT_URL / R2_ACCOUNT_ID and the network")
        if status >= 500:
            return StorageUnavailable, f"{what}: the bucket answered HTTP {status} ({code or 'server error'})"
        if isinstance(exc, NoCredentialsError):
            return StorageError, f"{what}: no credentials; set R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY"
        if isinstance(exc, ParamValidationError):  # botocore: "Parameter validation failed:\n<the reason>"
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            reasons = [line for line in lines if not line.endswith("validation failed:")] or lines
            return StorageError, f"{what}: " + (" ".join(reasons)[:300] or "invalid parameter")
        detail = code or type(exc).__name__
        return StorageError, f"{what}: {detail}" + (f" (HTTP {status})" if status else "")

    def _missing_bucket(self, what: str) -> str:
        return (f"{what}: bucket {self.bucket!r} does not exist at {self.endpoint}; create it (Cloudflare "
                f"dashboard, or `npx wrangler r2 bucket create {self.bucket}`) or set R2_BUCKET_NAME")

    @contextmanager
    def _translated(self, what: str) -> Iterator[None]:
        """The one place boto errors become ours: any boto3/botocore failure in the block is raised as the
        `StorageError` `_explain` names."""
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, what) from None
        except S3UploadFailedError as exc:  # a transfer wraps the real cause
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, (ClientError, BotoCoreError)):
                raise self._error(cause, what) from None
            raise StorageError(redact(f"{what}: {exc}", [self._access_key, self._secret_key])) from None

    def _call(self, what: str, op: str, *, missing: Any = _RAISE, **kwargs: Any) -> Any:
        """`client.<op>(Bucket=..., **kwargs)` with errors translated; `missing` is returned instead when
        the object (or upload) does not exist."""
        with self._translated(what):
            try:
                return getattr(self.client, op)(Bucket=self.bucket, **kwargs)
            except Exception as exc:
                if missing is not _RAISE and _is_missing(exc):
                    return missing
                raise

    # -- generic objects ------------------------------------------------------------------------------

    def check(self) -> None:
        """Verify the bucket exists and is reachable with these credentials (one HEAD); before any upload,
        since some stores (SeaweedFS) create a bucket on first write and others (R2) do not."""
        if not self.bucket_exists():
            raise StorageError(printable(self._missing_bucket(f"open bucket {self.bucket!r}")))

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
        return self.get_bytes_capped(key, None)

    def delete(self, key: str) -> None:
        """Delete an object (missing is fine). Unconditional: R2 has no conditional DeleteObject."""
        self._call(f"delete {key}", "delete_object", Key=key)

    def list_objects(self, prefix: str, *, start_after: str | None = None,
                     page_size: int = 1000) -> Iterator[ObjectInfo]:
        """Every object under `prefix` in key order, one LIST per page of `page_size` (paginated)."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix,
                                  "PaginationConfig": {"PageSize": page_size}}
        if start_after:
            kwargs["StartAfter"] = start_after
        with self._translated(f"list {prefix}"):
            for page in self.client.get_paginator("list_objects_v2").paginate(**kwargs):
                for obj in page.get("Contents", []):
                    yield ObjectInfo(obj["Key"], int(obj.get("Size", 0)), obj["LastModified"].timestamp(),
                                     obj.get("ETag", ""))

    # -- files --------------------------------------------------------------------------------------

    def upload_file(self, path: str | os.PathLike, key: str, *, what: str | None = None,
                    on_progress: BytesFn | None = None, content_type: str | None = None) -> str:
        """Upload a local file to `key` (multipart when large); returns the key."""
        path = Path(path)
        extra = {"ExtraArgs": {"ContentType": content_type}} if content_type else {}
        self._transfer("upload_file", what or f"upload {path.name}", path.stat().st_size, on_progress,
                       Filename=str(path), Key=key, **extra)
        return key

    def download_file(self, key: str, dest: str | os.PathLike, *, on_progress: BytesFn | None = None) -> Path:
        """Download `key` to `dest` (written to a temporary name, then renamed)."""
        return self._download(key, Path(dest), on_progress)

    def _download(self, key: str, dest: Path, on_progress: BytesFn | None) -> Path:
        from ..atomic import atomic_path

        head = self._call(f"find {key}", "head_object", Key=key)
        with atomic_path(dest) as tmp:
            self._transfer("download_file", f"download {key}", int(head.get("ContentLength", 0)), on_progress,
                           Key=key, Filename=str(tmp))
        return dest

    def _transfer(self, method: str, what: str, total: int, on_progress: BytesFn | None,
                  **kwargs: Any) -> None:
        from boto3.s3.transfer import TransferConfig

        done = [0]

        def callback(n: int) -> None:
            done[0] += n
            if on_progress:
                on_progress(done[0], total)

        config = TransferConfig(multipart_threshold=MULTIPART_CHUNK, multipart_chunksize=MULTIPART_CHUNK,
                                max_concurrency=4)
        if on_progress:
            on_progress(0, total)
        with self._translated(what):
            getattr(self.client, method)(Bucket=self.bucket, Config=config, Callback=callback, **kwargs)

    # -- bucket housekeeping (gc) and checks ----------------------------------------------------------

    def bucket_exists(self) -> bool:
        """True if the bucket exists, False on a 404; other failures raise `StorageError` (one HEAD)."""
        from botocore.exceptions import ClientError

        what = f"open bucket {self.bucket!r}"
        with self._translated(what):
            try:
                self.client.head_bucket(Bucket=self.bucket)
                return True
            except ClientError as exc:
                if _error_code(exc) in ("404", "NoSuchBucket", "NotFound") or _http_status(exc) == 404:
                    return False
                if _http_status(exc) == 403:
                    # A HEAD answer has no body, so wrong keys and a wrong clock look alike; a LIST names which.
                    self._call(what, "list_objects_v2", MaxKeys=1)
                raise

    def object_size(self, key: str) -> int | None:
        """Size in bytes of an object (one HEAD), None when it does not exist."""
        head = self._call(f"find {key}", "head_object", Key=key, missing=None)
        return None if head is None else int(head.get("ContentLength", 0))

    def get_bytes_capped(self, key: str, max_bytes: int | None) -> tuple[bytes, str] | None:
        """Like `get_bytes`, but an object over `max_bytes` raises `StorageError` before its body is read."""
        resp = self._call(f"read {key}", "get_object", Key=key, missing=None)
        if resp is None:
            return None
        size = int(resp.get("ContentLength", 0))
        if max_bytes is not None and size > max_bytes:
            resp["Body"].close()
            raise StorageError(printable(f"{key} is {size:,} bytes, over the {max_bytes:,}-byte limit; "
                                         "refusing to read it"))
        with self._translated(f"read {key}"):
            return resp["Body"].read(), resp.get("ETag", "")

    def list_multipart_uploads(self, prefix: str = "") -> list[MultipartUpload]:
        """Multipart uploads begun and neither completed nor aborted (a killed upload leaves one)."""
        found: list[MultipartUpload] = []
        with self._translated("list unfinished multipart uploads"):
            for page in self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket,
                                                                                    Prefix=prefix):
                for up in page.get("Uploads", []) or []:
                    initiated = up.get("Initiated")
                    found.append(MultipartUpload(up["Key"], up["UploadId"],
                                                 initiated.timestamp() if initiated else 0.0))
        return found

    def abort_multipart_upload(self, upload: MultipartUpload) -> None:
        """Abort an unfinished multipart upload, freeing its parts (already gone is fine)."""
        self._call(f"abort upload of {upload.key}", "abort_multipart_upload", Key=upload.key,
                   UploadId=upload.upload_id, missing=None)


@dataclass(frozen=True)
class MultipartUpload:
    """An unfinished multipart upload: its key, id and when it began (epoch seconds, server clock)."""

    key: str
    upload_id: str
    initiated: float


_BUCKET_NAME = re.compile(r"^[a-zA-Z0-9.\-_]{1,255}$")  # what botocore sends at all (stores are stricter)


def check_bucket_name(name: str) -> str:
    """`name` if a request can carry it as a bucket name, else `ConfigError` saying what a name may hold."""
    if not isinstance(name, str) or not _BUCKET_NAME.match(name):
        raise ConfigError(f"invalid bucket name {printable(str(name), 70)!r} (R2_BUCKET_NAME): a bucket name is 3 "
                          "to 63 lowercase letters, digits and hyphens, like bball-jobs")
    return name


def check_endpoint(url: str) -> str:
    """`url` if it is a usable http(s) S3 endpoint without credentials in it, else `ConfigError` (one line,
    never the password)."""
    from urllib.parse import urlsplit

    shown = printable(redact(str(url), []), 120)
    problem = None
    try:
        parts = urlsplit(str(url))
        port = parts.port  # raises ValueError on a port that is not a number in range
    except ValueError as exc:
        parts, port, problem = None, None, str(exc).splitlines()[0] if str(exc) else "unparseable"
    if problem is None:
        if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in str(url)):
            problem = "it contains spaces or control characters"
        elif parts.scheme not in ("http", "https"):
            problem = "it must start with https:// (or http:// for a local server)"
        elif not parts.hostname:
            problem = "it names no host"
        elif parts.username is not None or parts.password is not None:
            problem = "it contains credentials; put them in R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY instead"
        elif parts.query or parts.fragment:
            problem = "it must not have a query or fragment"
    del port
    if problem:
        raise ConfigError(f"invalid bucket endpoint {shown} (R2_ENDPOINT_URL / R2_ACCOUNT_ID): {problem}")
    return str(url)
