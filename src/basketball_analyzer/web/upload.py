"""Video uploads: the multipart body streamed straight into a temporary file in the upload folder.

The size limit (WEB_MAX_UPLOAD_MB) is enforced twice: on Content-Length before a byte of the body is read,
and while reading, so a client that sends no length or a false one is stopped as soon as it passes the limit.
The temporary file is closed and deleted on every path out, kept only when the caller moves it.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator

from ..exceptions import BballError

FIELD = "file"
"""The multipart field that carries the video (the upload form's `<input name="file">`)."""
MULTIPART_SLACK = 64 * 1024
"""Bytes a request may carry beyond the file itself: the boundaries and part headers around it."""
MAX_NAME_BYTES = 255
"""The longest file name Linux, macOS and Windows file systems keep."""
_WRITE_EVERY = 1 << 20  # gather this much before a write, so the thread hop is paid per MiB, not per packet


class UploadTooLarge(BballError):
    """An upload over the server's size limit (WEB_MAX_UPLOAD_MB)."""


class BadUpload(BballError):
    """A request that is not a multipart upload with a `file` part, or whose file name cannot name a file."""


@dataclass
class ReceivedFile:
    """The uploaded bytes in a temporary file of the upload folder, under the name the client gave."""

    path: Path
    name: str
    size: int


def upload_name(raw: str | None) -> str:
    """The name to keep for an uploaded file: its last path component, checked to be a usable file name."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise BadUpload("the file name contains a NUL or control character: rename the file and upload it again")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise BadUpload("the file name is not valid UTF-8: rename the file and upload it again") from None
    if size > MAX_NAME_BYTES:
        raise BadUpload(f"the file name is {size} bytes long; at most {MAX_NAME_BYTES} fit a file system: "
                        "rename the file and upload it again")
    return "upload.mp4" if name in ("", ".", "..") else name


def free_name(path: Path) -> Path:
    """`path`, or `stem-N.suffix` for the first N not taken; the stem is shortened to keep the name short enough."""
    n, candidate = 1, path
    while candidate.exists():
        tail = f"-{n}{path.suffix}"
        room = MAX_NAME_BYTES - len(tail.encode())
        stem = path.stem.encode()[:room].decode("utf-8", "ignore")
        candidate = path.with_name(stem + tail)
        n += 1
    return candidate


def _too_large(limit_mb: int) -> UploadTooLarge:
    return UploadTooLarge(f"upload larger than {limit_mb} MB (WEB_MAX_UPLOAD_MB)")


def check_length(headers, limit_mb: int) -> None:
    """Refuse before reading: a Content-Length beyond the limit (plus multipart framing), or not a number."""
    declared = headers.get("content-length")
    if declared is None:
        return  # chunked: the limit is enforced while reading
    if not declared.strip().isdigit():
        raise BadUpload("Content-Length is not a number")
    if int(declared) > limit_mb * 1024 * 1024 + MULTIPART_SLACK:
        raise _too_large(limit_mb)


@asynccontextmanager
async def received_file(request, folder: Path, limit_mb: int) -> AsyncIterator[ReceivedFile]:
    """Stream the request's `file` part into a temporary file in `folder`; the file is deleted on exit."""
    from python_multipart.multipart import parse_options_header

    kind, options = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise BadUpload(f"send the video as multipart/form-data with a `{FIELD}` field")
    folder.mkdir(parents=True, exist_ok=True)
    check_length(request.headers, limit_mb)
    fd, tmp_name = tempfile.mkstemp(prefix=".upload-", dir=folder)
    tmp = Path(tmp_name)
    try:
        name, size = await _stream_into(request, fd, options[b"boundary"], limit_mb)
        yield ReceivedFile(tmp, name, size)
    finally:
        tmp.unlink(missing_ok=True)


async def _stream_into(request, fd: int, boundary: bytes, limit_mb: int) -> tuple[str, int]:
    """Write the `file` part of the request body to `fd` (closed on return); its name and size."""
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import MultipartParser
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import ClientDisconnect

    limit, state = limit_mb * 1024 * 1024, _Parts()
    try:
        with os.fdopen(fd, "wb") as out:
            parser, body = MultipartParser(boundary, state.callbacks()), 0
            async for chunk in request.stream():
                body += len(chunk)
                if body > limit + MULTIPART_SLACK:
                    raise _too_large(limit_mb)
                parser.write(chunk)
                if state.size > limit:
                    raise _too_large(limit_mb)
                if state.pending_bytes >= _WRITE_EVERY:
                    await run_in_threadpool(out.writelines, state.take())
            parser.finalize()
            await run_in_threadpool(out.writelines, state.take())
    except ClientDisconnect:
        raise BadUpload("the upload was interrupted before it finished") from None
    except FormParserError as exc:  # a malformed body
        raise BadUpload(f"malformed multipart body: {str(exc).splitlines()[0][:200]}") from None
    if not state.complete:
        raise BadUpload("the upload ended before the multipart body's closing boundary: send it again")
    if state.name is None:
        raise BadUpload(f"the upload has no `{FIELD}` part: send the video as the form's `{FIELD}` field")
    return state.name, state.size


class _Parts:
    """python-multipart callbacks that keep the `file` part's bytes and skip every other part."""

    def __init__(self) -> None:
        self.name: str | None = None  # the file's name, once its part began
        self.size = 0
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self._header, self._value, self._disposition = b"", b"", b""
        self._in_file = False
        self.complete = False  # the closing boundary arrived

    def callbacks(self) -> dict:
        """The callback table MultipartParser takes."""
        return {"on_part_begin": self._begin, "on_part_data": self._data, "on_header_field": self._field,
                "on_header_value": self._val, "on_header_end": self._header_end,
                "on_headers_finished": self._headers_done, "on_part_end": self._end,
                "on_end": self._finish}

    def take(self) -> list[bytes]:
        """The file bytes received since the last call."""
        out, self.pending, self.pending_bytes = self.pending, [], 0
        return out

    def _begin(self) -> None:
        self._disposition, self._in_file = b"", False

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def _val(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        if self._header.lower() == b"content-disposition":
            self._disposition = self._value
        self._header, self._value = b"", b""

    def _headers_done(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, options = parse_options_header(self._disposition)
        if options.get(b"name") != FIELD.encode() or b"filename" not in options or self.name is not None:
            return  # another field, or a second file: ignored
        try:
            raw = options[b"filename"].decode("utf-8")
        except UnicodeDecodeError:
            raise BadUpload("the file name is not valid UTF-8: rename the file and upload it again") from None
        self.name, self._in_file = upload_name(raw), True

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self.pending.append(data[start:end])
            self.pending_bytes += end - start
            self.size += end - start

    def _end(self) -> None:
        self._in_file = False

    def _finish(self) -> None:
        self.complete = True
