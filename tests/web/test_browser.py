"""The pages in a real headless Chromium (Debian's package, driven by Playwright): boxes drawn where the stored
detections are, and a job submitted from the jobs page reaching done."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from support.browser import CHROMIUM, SKIP_REASON, serving, wait_until

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)


@pytest.fixture
def server(stored, db_url, tmp_path):
    from basketball_analyzer.config import load_settings
    from basketball_analyzer.web.app import create_app

    with serving(create_app(load_settings(database_url=db_url, web_upload_dir=str(tmp_path / "uploads")))) as url:
        yield url


def _hex(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (5, 3, 1)], float)  # BGR, as OpenCV decodes


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_video_page_draws_boxes_where_the_detections_are(server, page, stored, db_url):
    import cv2

    from basketball_analyzer.analytics.tracks import list_tracks
    from basketball_analyzer.db import transaction

    video_id, truth = stored
    with transaction(db_url) as s:
        colour = {t.tracking_id: ("#111111" if t.team == "other" else t.color) for t in list_tracks(s, video_id)}
    page.goto(f"{server}/videos/{video_id}")
    page.wait_for_selector("body[data-frame='0'][data-tracks='11']", timeout=20_000)
    page.fill("#frame", "60")
    page.press("#frame", "Enter")
    page.wait_for_selector("body[data-frame='60']", timeout=20_000)
    assert page.get_attribute("body", "data-boxes") == "11"
    stage = page.locator("#stage")  # the video with the canvas over it
    shot = cv2.imdecode(np.frombuffer(stage.screenshot(), np.uint8), cv2.IMREAD_COLOR).astype(float)
    scale = shot.shape[1] / 640
    boxes = truth.boxes[truth.boxes.frame_number == 60]
    hits = 0
    for (x1, y1, x2, y2), tid in zip(boxes.xyxy, boxes.tracker_id.tolist()):
        # The box outline passes through the middle of its left and right edges, in the track's colour.
        ys = int(round((y1 + 0.6 * (y2 - y1)) * scale))
        for x in (x1, x2):
            px = shot[ys, int(round(x * scale)) - 1:int(round(x * scale)) + 2]
            hits += int(np.abs(px - _hex(colour[tid])).sum(axis=1).min() < 60)
    assert hits >= 0.8 * 2 * len(boxes), f"only {hits} of {2 * len(boxes)} box edges found where expected"
    # Where no box is, the overlay leaves the video alone: the same view without the canvas differs only on
    # the boxes' outlines and their labels.
    page.eval_on_selector("#overlay", "c => c.style.visibility = 'hidden'")
    bare = cv2.imdecode(np.frombuffer(stage.screenshot(), np.uint8), cv2.IMREAD_COLOR).astype(float)
    changed = np.abs(shot - bare).sum(axis=2) > 30
    allowed = np.zeros(changed.shape, bool)
    for x1, y1, x2, y2 in boxes.xyxy * scale:
        allowed[max(0, int(y1) - 22):int(y2) + 4, max(0, int(x1) - 4):int(max(x2, x1 + 90)) + 4] = True
    assert changed.sum() > 500 and (changed & ~allowed).sum() < 0.01 * changed.sum()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_job_submitted_from_the_jobs_page_reaches_done(server, page, stored, db_url):
    from basketball_analyzer.config import load_settings
    from basketball_analyzer.worker.local import LocalWorker

    video_id, _ = stored
    stop = threading.Event()
    worker = LocalWorker(load_settings(database_url=db_url), worker_id="browser-test", poll_interval=0.2)

    def run():
        while not stop.is_set():
            worker.work(burst=True)
            time.sleep(0.2)

    thread = threading.Thread(target=run, daemon=True)
    page.goto(f"{server}/jobs")
    page.wait_for_selector(f"#video-select option[value='{video_id}']", state="attached")
    page.select_option("select[name=detector]", "hog")
    page.fill("#sample-interval", "6")  # HOG on every 6th frame: the page and the worker are under test, not HOG
    page.click("#create button[type=submit]")
    page.wait_for_selector("tr[data-status='pending']", timeout=10_000)
    thread.start()
    try:
        page.wait_for_selector("tr[data-status='completed']", timeout=120_000)
    finally:
        stop.set()
        thread.join(60)
    assert "100%" in page.inner_text("tr[data-status='completed']")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_names_from_files_are_shown_as_text_never_markup(server, page, stored, db_url, tmp_path):
    from basketball_analyzer.db import transaction
    from basketball_analyzer.sample import make_sample_clip
    from basketball_analyzer.videos import register_video

    name = "<img src=x onerror=document.title='pwned'>.mp4"
    clip = tmp_path / name
    make_sample_clip(clip, frames=3, width=160, height=128, players=1)
    with transaction(db_url) as s:
        register_video(s, clip)
    page.goto(server + "/")
    page.wait_for_selector("tr[data-video]", timeout=10_000)
    wait_until(page, "document.querySelectorAll('tr[data-video]').length == 2")
    assert page.locator("img[src='x']").count() == 0 and page.title() != "pwned"
    assert name in page.inner_text("#videos")
