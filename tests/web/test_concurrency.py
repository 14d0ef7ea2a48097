"""On SQLite, a slow `/stats` (seconds on a long game) holds up no other request: 200 concurrent reads, with a
writer queueing jobs meanwhile, all answer 200 and quickly. Served by uvicorn over real sockets."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

PATIENCE = 8.0  # seconds a request may take here; waiting for a lock means SQLite's 30 s busy timeout


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_slow_stats_request_holds_up_no_other_request(served, stored, db_url, monkeypatch):
    import basketball_analyzer.analytics.stats as stats_module

    video_id, _ = stored
    reading, release = threading.Event(), threading.Event()
    real = stats_module.video_stats

    def slow_stats(session, vid):
        report = real(session, vid)  # the transaction has read: on SQLite it now holds what it took
        reading.set()
        release.wait(60)
        return report

    monkeypatch.setattr(stats_module, "video_stats", slow_stats)
    url = served()
    paths = [f"/api/videos/{video_id}/detections?start={(i * 7) % 100}&end={(i * 7) % 100 + 20}" for i in range(8)]
    paths += ["/api/videos", f"/api/videos/{video_id}?counts=false", f"/api/videos/{video_id}/tracks",
              f"/api/videos/{video_id}/court", "/api/jobs", f"/api/videos/{video_id}"]

    def get(i: int) -> tuple[int, float]:
        t0 = time.monotonic()
        try:
            status = client.get(url + paths[i % len(paths)]).status_code
        except httpx.TimeoutException:
            status = 0
        return status, time.monotonic() - t0

    written: list[int] = []

    def writer():
        for _ in range(5):
            r = client.post(f"{url}/api/jobs", json={"video_id": video_id, "detector": "hog"},
                            headers={"Sec-Fetch-Site": "same-origin"})
            written.append(r.status_code)

    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    with httpx.Client(timeout=PATIENCE, limits=limits) as client:
        slow = threading.Thread(target=lambda: client.get(f"{url}/api/videos/{video_id}/stats", timeout=90))
        slow.start()
        try:
            assert reading.wait(30), "the stats request never started reading"
            write_thread = threading.Thread(target=writer)
            t0 = time.monotonic()
            with ThreadPoolExecutor(32) as pool:
                write_thread.start()
                answers = list(pool.map(get, range(200)))
            write_thread.join(PATIENCE * 5)
            elapsed = time.monotonic() - t0
        finally:
            release.set()
            slow.join(90)
    statuses = [s for s, _ in answers]
    assert statuses.count(200) == 200, {s: statuses.count(s) for s in set(statuses)}
    assert written == [201] * 5  # the writer was not held up by the open read either
    worst = max(t for _, t in answers)
    print(f"200 GETs beside a held /stats: {elapsed:.2f} s in all, slowest {worst:.2f} s")
