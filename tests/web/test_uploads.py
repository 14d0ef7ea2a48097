"""Uploads: the size limit before and while the body arrives, file names that cannot name a file, and no
descriptor or temporary file left behind on any path."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from basketball_analyzer.config import load_settings
from basketball_analyzer.web.app import create_app

SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
MB = 1024 * 1024


def _multipart(filename: bytes, data: bytes, boundary: bytes = b"XyZ", close: bool = True) -> bytes:
    head = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="' + filename
            + b'"\r\nContent-Type: video/mp4\r\n\r\n')
    return head + data + (b"\r\n--" + boundary + b"--\r\n" if close else b"")


def _post_raw(client, body: bytes, boundary: str = "XyZ"):
    return client.post("/api/videos", content=body,
                       headers={**SAME_ORIGIN, "Content-Type": f"multipart/form-data; boundary={boundary}"})


def _held_upload_files(folder: Path) -> list[str]:
    """What this process holds open in the upload folder (deleted files included)."""
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            held.append(target)
    return held


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_length_over_the_limit_is_refused_before_the_body_is_sent(served, tmp_path, db_url):
    url = urlsplit(served(web_max_upload_mb=1))
    with socket.create_connection((url.hostname, url.port), timeout=10) as conn:
        # Headers announcing 300 MB, and not one byte of the body: the answer must come anyway.
        conn.sendall(f"POST /api/videos HTTP/1.1\r\nHost: {url.netloc}\r\nSec-Fetch-Site: same-origin\r\n"
                     "Content-Type: multipart/form-data; boundary=XyZ\r\n"
                     f"Content-Length: {300 * MB}\r\n\r\n".encode())
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"application/json" in head.lower()
    assert "larger than 1 MB (WEB_MAX_UPLOAD_MB)" in json.loads(body)["error"]
    assert list((tmp_path / "uploads").iterdir()) == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_body_without_a_length_is_read_no_further_than_the_limit(db_url, tmp_path):
    app = create_app(load_settings(database_url=db_url, web_max_upload_mb=1, web_upload_dir=str(tmp_path / "u")))
    chunk, sent = 256 * 1024, []

    async def endless():  # chunked transfer, 64 MB on offer
        yield _multipart(b"big.mp4", b"", close=False)
        for _ in range(64 * MB // chunk):
            sent.append(chunk)
            yield b"\0" * chunk

    async def upload():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.post("/api/videos", content=endless(), headers={
                **SAME_ORIGIN, "Content-Type": "multipart/form-data; boundary=XyZ"})

    response = asyncio.run(upload())
    assert response.status_code == 413 and "larger than 1 MB" in response.json()["error"]
    assert sum(sent) <= 1 * MB + 2 * chunk, f"read {sum(sent) / MB:.1f} MB of the body for a 1 MB limit"
    assert list((tmp_path / "u").iterdir()) == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_uploads_leave_no_descriptor_or_temporary_file_behind(db_url, tmp_path, web_clip):
    folder = tmp_path / "u"
    app = create_app(load_settings(database_url=db_url, web_max_upload_mb=1, web_upload_dir=str(folder)))
    video = web_clip[0].read_bytes()
    attempts = [
        (_multipart(b"game.mp4", video), 201),  # registered: the one file that stays
        (_multipart(b"again.mp4", video), 201),  # same content: not kept twice
        (_multipart(b"notes.mp4", b"this is not a video"), 400),
        (_multipart(b"a\0b.mp4", b"x"), 400),
        (_multipart(b"n" * 300 + b".mp4", b"x"), 400),
        (_multipart(b"big.mp4", b"\0" * (2 * MB)), 413),
        (_multipart(b"cut.mp4", video[:5000], close=False), 400),
    ]
    with TestClient(app, base_url="http://127.0.0.1") as client:
        for body, status in attempts:
            response = _post_raw(client, body)
            assert response.status_code == status, (status, response.text)
            assert "error" in response.json() or response.json()["id"] == 1
        assert _held_upload_files(folder) == []  # a leaked descriptor keeps a deleted file's space
    assert sorted(p.name for p in folder.iterdir()) == ["game.mp4"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("filename, message", [
    (b"a\0b.mp4", "NUL or control character"),
    (b"line\nbreak.mp4", "NUL or control character"),
    (b"n" * 252 + b".mp4", "256 bytes long; at most 255"),
    ("é".encode() * 126 + b".mp4", "256 bytes long; at most 255"),
    (b"bad\xff.mp4", "not valid UTF-8"),
])
def test_a_file_name_that_cannot_name_a_file_gets_a_400(client, filename, message, db_url):
    response = _post_raw(client, _multipart(filename, b"x"))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert message in error and "\n" not in error


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_long_name_taken_twice_stays_within_255_bytes(client, web_clip, sample_clip, db_url, tmp_path):
    name = "é" * 125 + ".mp4"  # 254 bytes: fits, and "-1" added would not
    first = _post_raw(client, _multipart(name.encode(), web_clip[0].read_bytes()))
    second = _post_raw(client, _multipart(name.encode(), sample_clip[0].read_bytes()))
    assert first.status_code == second.status_code == 201, second.text
    names = sorted(p.name for p in (tmp_path / "uploads").iterdir())
    assert first.json()["file_name"] == name and second.json()["file_name"] in names and len(names) == 2
    assert all(len(n.encode()) <= 255 for n in names) and second.json()["file_name"].endswith("-1.mp4")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("body, content_type, message", [
    (b"hello", "text/plain", "multipart/form-data"),
    (b'--XyZ\r\nContent-Disposition: form-data; name="other"\r\n\r\nx\r\n--XyZ--\r\n',
     "multipart/form-data; boundary=XyZ", "no `file` part"),
])
def test_a_request_that_is_not_an_upload_gets_a_400(client, body, content_type, message, db_url):
    response = client.post("/api/videos", content=body, headers={**SAME_ORIGIN, "Content-Type": content_type})
    assert response.status_code == 400 and message in response.json()["error"]
