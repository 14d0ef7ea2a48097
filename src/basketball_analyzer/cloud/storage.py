"""`CloudStorage`: a plain object store on an S3/R2 bucket (boto3, signature v4).

Put, get (with ETags for conditional writes), delete, list, and multipart file transfers. It knows nothing
of jobs: the key layout, manifests, markers and progress belong to the queue (`jobfiles.py`, `queue.py`).
"""

from __future__ import annotations

import logging
import os
import time
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
        from botocore.exceptions import (ClientError, EndpointConnectionError, NoCredentialsError,
                                         ParamValidationError)

        code, status = "", 0
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "") or ""
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        elif hasattr(exc, "last_response") and isinstance(getattr(exc, "last_response", None), dict):
            code = exc.last_response.get("Error", {}).get("Code", "")
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
        if isinstance(exc, ParamValidationError):  # e.g. a bucket name S3 does not allow
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid parameter"
            return StorageError, f"{what}: {first}"
        detail = code or type(exc).__name__
        return StorageError, f"{what}: {detail}" + (f" (HTTP {status})" if status else "")

    def _missing_bucket(self, what: str) -> str:
        return (f"{what}: bucket {self.bucket!r} does not exist at {self.endpoint}; create it (Cloudflare "
                f"dashboard, or `npx wrangler r2 bucket create {self.bucket}`) or set R2_BUCKET_NAME")

    def _call(self, what: str, op: str, **kwargs: Any) -> dict:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, op)(Bucket=self.bucket, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, what) from None

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
        from botocore.exceptions import BotoCoreError, ClientError

        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix,
                                  "PaginationConfig": {"PageSize": page_size}}
        if start_after:
            kwargs["StartAfter"] = start_after
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(**kwargs):
                for obj in page.get("Contents", []):
                    yield ObjectInfo(obj["Key"], int(obj.get("Size", 0)), obj["LastModified"].timestamp(),
                                     obj.get("ETag", ""))
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, f"list {prefix}") from None

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

    # -- bucket housekeeping (gc) and checks ----------------------------------------------------------

    def bucket_exists(self) -> bool:
        """True if the bucket exists, False on a 404; other failures raise `StorageError` (one HEAD)."""
        from botocore.exceptions import BotoCoreError, ClientError

        what = f"open bucket {self.bucket!r}"
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return True
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "") or ""
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status == 404 or code in ("404", "NoSuchBucket", "NotFound"):
                return False
            if status == 403:
                # A HEAD answer has no body, so wrong keys and a wrong clock look alike; a LIST names which.
                self._call(what, "list_objects_v2", MaxKeys=1)
            raise self._error(exc, what) from None
        except BotoCoreError as exc:
            raise self._error(exc, what) from None

    def object_size(self, key: str) -> int | None:
        """Size in bytes of an object (one HEAD), None when it does not exist."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=key).get("ContentLength", 0))
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) == 404:
                return None
            raise self._error(exc, f"find {key}") from None
        except BotoCoreError as exc:
            raise self._error(exc, f"find {key}") from None

    def get_bytes_capped(self, key: str, max_bytes: int | None) -> tuple[bytes, str] | None:
        """Like `get_bytes`, but an object over `max_bytes` raises `StorageError` before its body is read."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise self._error(exc, f"read {key}") from None
        except BotoCoreError as exc:
            raise self._error(exc, f"read {key}") from None
        size = int(resp.get("ContentLength", 0))
        if max_bytes is not None and size > max_bytes:
            resp["Body"].close()
            raise StorageError(printable(f"{key} is {size:,} bytes, over the {max_bytes:,}-byte limit; "
                                         "refusing to read it"))
        try:
            return resp["Body"].read(), resp.get("ETag", "")
        except BotoCoreError as exc:
            raise self._error(exc, f"read {key}") from None

    def list_multipart_uploads(self, prefix: str = "") -> list[MultipartUpload]:
        """Multipart uploads begun and neither completed nor aborted (a killed upload leaves one)."""
        from botocore.exceptions import BotoCoreError, ClientError

        found: list[MultipartUpload] = []
        try:
            for page in self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket,
                                                                                    Prefix=prefix):
                for up in page.get("Uploads", []) or []:
                    initiated = up.get("Initiated")
                    found.append(MultipartUpload(up["Key"], up["UploadId"],
                                                 initiated.timestamp() if initiated else 0.0))
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, "list unfinished multipart uploads") from None
        return found

    def abort_multipart_upload(self, upload: MultipartUpload) -> None:
        """Abort an unfinished multipart upload, freeing its parts (already gone is fine)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload.key, UploadId=upload.upload_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
                return
            raise self._error(exc, f"abort upload of {upload.key}") from None
        except BotoCoreError as exc:
            raise self._error(exc, f"abort upload of {upload.key}") from None


@dataclass(frozen=True)
class MultipartUpload:
    """An unfinished multipart upload: its key, id and when it began (epoch seconds, server clock)."""

    key: str
    upload_id: str
    initiated: float


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
