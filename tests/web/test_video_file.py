"""The video file over HTTP (byte ranges as RFC 9110 has them, HEAD, never compressed) and gzip for the rest."""

from __future__ import annotations

import gzip

import pytest

from basketball_analyzer.web.video_file import requested_ranges

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def video(client, stored, web_clip):
    """(file URL, the file's bytes)."""
    return f"/api/videos/{stored[0]}/file", web_clip[0].read_bytes()


INVALID = ["bytes=5-1", "bytes=abc", "bytes=1-2-3", "items=0-5", "bytes", "bytes=",
           "bytes=0-1," + ",".join(["0-1"] * 100)]
VALID = [("bytes=100-199", slice(100, 200)), ("bytes=-100", slice(-100, None)), ("bytes=100-", slice(100, None)),
         ("bytes=0-0", slice(0, 1)), ("bytes=10-99999999999", slice(10, None)),
         ("bytes=0-0, 99999999999-", slice(0, 1))]  # a range outside the file is dropped, not the request


def test_an_invalid_range_header_is_ignored_and_the_whole_file_sent(client, video, db_url):
    path, data = video
    for header in INVALID:
        r = client.get(path, headers={"Range": header})
        assert r.status_code == 200 and r.content == data and "content-range" not in r.headers, header


def test_a_valid_range_gets_its_bytes_never_gzipped(client, video, db_url):
    path, data = video
    for header, want in VALID:
        r = client.get(path, headers={"Range": header, "Accept-Encoding": "gzip"})
        assert r.status_code == 206 and r.content == data[want], (header, r.status_code, len(r.content))
        assert "content-encoding" not in r.headers and r.headers["content-length"] == str(len(data[want]))


def test_several_ranges_come_as_multipart_byteranges(client, video, db_url):
    path, data = video
    r = client.get(path, headers={"Range": "bytes=0-9,20-29"})
    assert r.status_code == 206 and r.headers["content-type"].startswith("multipart/byteranges")
    assert data[0:10] in r.content and data[20:30] in r.content


def test_a_range_outside_the_file_is_a_416_in_json(client, video, db_url):
    path, data = video
    for header in ("bytes=99999999-", "bytes=-0"):
        r = client.get(path, headers={"Range": header})
        assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{len(data)}"
        assert "outside the file" in r.json()["error"]


def test_if_range_sends_the_whole_file_once_it_changed(client, video, db_url):
    path, data = video
    etag = client.get(path).headers["etag"]
    assert client.get(path, headers={"Range": "bytes=0-9", "If-Range": etag}).status_code == 206
    stale = client.get(path, headers={"Range": "bytes=0-9", "If-Range": '"older"'})
    assert stale.status_code == 200 and stale.content == data


def test_head_tells_the_size_and_type_without_the_bytes(client, video, db_url):
    path, data = video
    r = client.head(path)
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-length"] == str(len(data)) and r.headers["content-type"] == "video/mp4"
    assert r.headers["accept-ranges"] == "bytes"
    assert client.head("/api/videos/999/file").status_code == 404


def test_the_video_file_is_never_gzipped(client, video, db_url, tmp_path, web_clip):
    import shutil

    from basketball_analyzer.db import transaction
    from basketball_analyzer.videos import register_video

    path, data = video
    odd = tmp_path / "game.clip"  # a suffix with no video type: served as application/octet-stream
    shutil.copy(web_clip[0], odd)
    with open(odd, "ab") as f:
        f.write(b"\0" * 16)  # other bytes, so it registers as a second video
    with transaction(db_url) as s:
        other = register_video(s, odd).video.id
    for url, want in ((path, data), (f"/api/videos/{other}/file", odd.read_bytes())):
        r = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200 and "content-encoding" not in r.headers and r.content == want, url


def test_detection_chunks_are_gzipped_and_small_answers_are_not(client, stored, db_url):
    video_id, _ = stored
    path = f"/api/videos/{video_id}/detections?start=0&end=120"
    plain = client.get(path, headers={"Accept-Encoding": "identity"})
    packed = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert plain.status_code == packed.status_code == 200 and "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip" and packed.json() == plain.json()
    assert len(gzip.compress(plain.content)) < len(plain.content) / 3  # what gzip buys on boxes
    small = client.get("/api/jobs", headers={"Accept-Encoding": "gzip"})
    assert small.json() == [] and "content-encoding" not in small.headers


def test_requested_ranges(db_url):
    assert requested_ranges(None, 10) is None
    assert requested_ranges("bytes=2-4", 10) == [(2, 4)]
    assert requested_ranges("bytes=-3", 10) == [(7, 9)]
    assert requested_ranges("bytes=-30", 10) == [(0, 9)]
    assert requested_ranges("bytes=5-1", 10) is None
    assert requested_ranges("bytes=10-", 10) == [] and requested_ranges("bytes=-0", 10) == []
    assert requested_ranges("BYTES = 1-2", 10) == [(1, 2)]
