"""A registered video's bytes over HTTP: byte ranges as RFC 9110 defines them, HEAD, never compressed.

Starlette's FileResponse answers a malformed Range header with a plain-text 400 and an unsatisfiable one with a
plain-text 416. RFC 9110 (section 14.2) says to ignore a Range header that is invalid or in an unknown unit and
send the whole file; only a valid header with no range inside the file gets 416, here as JSON like every error.
"""

from __future__ import annotations

import mimetypes
import os
import re

from starlette.datastructures import Headers
from starlette.responses import FileResponse, JSONResponse

MAX_RANGES = 100
"""More ranges than this in one header are ignored (the whole file is sent): a cheap request cannot make the
server assemble thousands of parts."""
_SPEC = re.compile(r"^(?:(\d+)-(\d*)|-(\d+))$")
_VIDEO_TYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".webm": "video/webm", ".mov": "video/quicktime",
                ".mkv": "video/x-matroska", ".avi": "video/x-msvideo"}


def media_type(path) -> str:
    """The Content-Type to serve a video file with (application/octet-stream when unknown)."""
    suffix = os.path.splitext(str(path))[1].lower()
    return _VIDEO_TYPES.get(suffix) or mimetypes.guess_type(str(path))[0] or "application/octet-stream"


def requested_ranges(header: str | None, size: int) -> list[tuple[int, int]] | None:
    """The inclusive byte ranges a Range header asks for, clipped to a file of `size` bytes.

    None: no header, or one to ignore (invalid, another unit, too many ranges): send the whole file.
    []: a valid header none of whose ranges lies in the file: 416.
    """
    if header is None:
        return None
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not parts or len(parts) > MAX_RANGES:
        return None
    ranges: list[tuple[int, int]] = []
    for part in parts:
        m = _SPEC.match(part)
        if m is None:
            return None
        first, last, suffix = m.groups()
        if suffix is not None:  # the last N bytes
            if int(suffix) > 0 and size > 0:
                ranges.append((max(0, size - int(suffix)), size - 1))
            continue
        if last and int(last) < int(first):
            return None  # "bytes=5-1" is invalid (RFC 9110 14.1.1), so the whole header is ignored
        if int(first) < size:
            ranges.append((int(first), min(int(last), size - 1) if last else size - 1))
    return ranges


class VideoFileResponse(FileResponse):
    """A FileResponse whose Range handling follows RFC 9110: invalid headers ignored, 416 as JSON."""

    async def __call__(self, scope, receive, send) -> None:
        """Answer with the ranges the request may have, rewritten to a form FileResponse reads as meant."""
        headers = Headers(scope=scope)
        ranges = None
        if scope["method"] in ("GET", "HEAD") and self.stat_result is not None and self._range_applies(headers):
            ranges = requested_ranges(headers.get("range"), self.stat_result.st_size)
        if ranges == []:
            size = self.stat_result.st_size
            refuse = JSONResponse({"error": f"requested range {headers['range'][:100]!r} is outside the file "
                                            f"({size} bytes)"}, status_code=416,
                                  headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"})
            await refuse(scope, receive, send)
            return
        kept = [(k, v) for k, v in scope["headers"] if k not in (b"range", b"if-range")]
        if ranges:
            kept.append((b"range", ("bytes=" + ",".join(f"{a}-{b}" for a, b in ranges)).encode()))
        await super().__call__(dict(scope, headers=kept), receive, send)

    def _range_applies(self, headers: Headers) -> bool:
        # If-Range: ranges only while the file is still the version the client has (its ETag or date).
        validator = headers.get("if-range")
        return validator is None or (not validator.startswith("W/")
                                     and validator in (self.headers.get("etag"), self.headers.get("last-modified")))
