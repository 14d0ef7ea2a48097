"""Requests that used to get a 500 or too much: host names on loopback (DNS rebinding), ids beyond the INTEGER
columns, loose types and huge prompts in run requests; and the headers every response carries."""

from __future__ import annotations

import httpx
import pytest

from basketball_analyzer.web.security import loopback_host

SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_without_a_token_only_loopback_host_names_are_answered(served, stored, db_url):
    video_id, _ = stored
    url = served()
    port = url.rsplit(":", 1)[1]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "LOCALHOST", "127.0.0.1"):
        assert httpx.get(f"{url}/api/videos", headers={"Host": host}).status_code == 200, host
    for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1.evil.example:{port}", "localhost.evil.example",
                 "localhost:80x", "[::1", ""):
        r = httpx.get(f"{url}/api/videos", headers={"Host": host})
        assert r.status_code == 421, (host, r.status_code)
        assert "answers only to localhost, 127.0.0.1 or [::1]" in r.json()["error"]
    # The rebinding attack itself: a page on evil.example (now resolving to 127.0.0.1) queues a job, and its
    # request is same-origin as far as the browser knows.
    attack = httpx.post(f"{url}/api/jobs", json={"video_id": video_id}, headers={
        "Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}", "Sec-Fetch-Site": "same-origin"})
    assert attack.status_code == 421
    assert httpx.get(f"{url}/api/jobs").json() == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_with_a_token_any_host_name_is_answered(served, db_url):
    url = served(token="s3cret")
    r = httpx.get(f"{url}/api/videos", headers={"Host": "bball.example", "Authorization": "Bearer s3cret"})
    assert r.status_code == 200
    assert httpx.get(f"{url}/api/videos", headers={"Host": "bball.example"}).status_code == 401


def test_loopback_host_names():
    assert all(map(loopback_host, ["localhost", "localhost.", "127.0.0.1:8000", "127.9.9.9", "[::1]", "[::1]:80"]))
    assert not any(map(loopback_host, [None, "", "::1", "0.0.0.0", "10.0.0.1:80", "localhost:", "[::1]x",
                                       "evil.localhost.example", "127.0.0.1:80:80"]))


BIG = [2**31, 2**63, -(2**63) - 1, "9" * 5000]


@pytest.mark.parametrize("big", BIG)
@pytest.mark.parametrize("route", ["", "/file", "/thumbnail.jpg", "/detections", "/tracks", "/stats", "/court",
                                   "/heatmap.png"])
def test_an_id_beyond_the_integer_columns_is_a_422(client, db_url, big, route):
    r = client.get(f"/api/videos/{big}{route}")
    assert r.status_code == 422, r.text
    assert r.json()["error"].startswith("invalid video_id: ")


@pytest.mark.parametrize("big", BIG)
def test_a_job_id_beyond_the_integer_columns_is_a_422(client, db_url, big):
    r = client.post(f"/api/jobs/{big}/cancel", headers=SAME_ORIGIN)
    assert r.status_code == 422 and r.json()["error"].startswith("invalid job_id: ")


def test_frame_numbers_beyond_the_integer_columns_are_a_422(client, stored):
    video_id, _ = stored
    for query in (f"start={2**63}&end={2**63 + 10}", f"start=0&end={2**63}"):
        r = client.get(f"/api/videos/{video_id}/detections?{query}")
        assert r.status_code == 422 and "invalid" in r.json()["error"], r.text


@pytest.mark.parametrize("body, message", [
    ({"video_id": True}, "invalid video_id: Input should be a valid integer"),
    ({"video_id": "{v}"}, "invalid video_id: Input should be a valid integer"),
    ({"video_id": 1.0}, "invalid video_id"),
    ({"video_id": "{V}", "sample_interval": True}, "invalid sample_interval"),
    ({"video_id": "{V}", "confidence": True}, "invalid confidence"),
    ({"video_id": "{V}", "detector": "x" * 65}, "invalid detector"),
    ({"video_id": "{V}", "prompts": ["player " * 29]}, "invalid prompts.0: String should have at most 200"),
    ({"video_id": "{V}", "prompts": ["x" * 10_000_000]}, "invalid prompts.0"),
    ({"video_id": "{V}", "prompts": ["ball"] * 9}, "invalid prompts: List should have at most 8"),
])
def test_run_requests_take_json_numbers_and_short_prompts(client, stored, body, message):
    video_id, _ = stored
    body = {k: (str(video_id) if v == "{v}" else video_id if v == "{V}" else v) for k, v in body.items()}
    r = client.post("/api/jobs", json=body, headers=SAME_ORIGIN)
    assert r.status_code == 422, r.text
    assert r.json()["error"].startswith(message) and len(r.json()["error"]) < 300
    assert client.get("/api/jobs").json() == []  # nothing queued


def test_a_run_with_numbers_and_prompts_within_limits_is_queued(client, stored):
    video_id, _ = stored
    r = client.post("/api/jobs", json={"video_id": video_id, "detector": "hog", "confidence": 1,
                                       "sample_interval": 2, "prompts": ["player " * 28]}, headers=SAME_ORIGIN)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_response_carries_the_security_headers(client, stored, db_url):
    video_id, _ = stored
    for path in ("/", "/jobs", f"/videos/{video_id}", "/docs", "/static/common.js", "/api/videos",
                 f"/api/videos/{video_id}/file", "/api/videos/999", "/no/such/page"):
        h = client.get(path).headers
        assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff", path
        csp = dict(d.strip().split(" ", 1) for d in h["content-security-policy"].split(";"))
        assert csp["frame-ancestors"] == "'none'" and csp["script-src"] == "'self'" and csp["default-src"] == "'none'"
        assert "'self'" in csp["media-src"] and "'self'" in csp["connect-src"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_api_reference_works_offline(client, db_url):
    import re

    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    links = re.findall(r"""(?:src|href)\s*=\s*["']?([^"' >]+)""", page.text)
    assert links and all(link.startswith("/") and not link.startswith("//") for link in links), links
    assert all(client.get(link).status_code == 200 for link in links)
    assert "<script" not in page.text and not re.search(r"https?://|//[a-z]", page.text)
    assert "/api/videos/{video_id}/detections" in page.text and "video_id (path, integer, required" in page.text
    assert "/api/videos/{video_id}/detections" in client.get("/openapi.json").json()["paths"]
