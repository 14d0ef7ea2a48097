"""The viewer and the jobs page as a coach uses them, in a real Chromium: speeds, following a track from the
tracks table, heatmaps, units, boxes that show on any colour, and jobs named and configured from the form."""

from __future__ import annotations

import numpy as np
import pytest
from support.browser import CHROMIUM, SKIP_REASON, serving, wait_until

pytestmark = [pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON),
              pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]

LATE = 42  # a track that enters at frame 80 and leaves at 100


def _store_game(url, web_clip):
    from basketball_analyzer.analytics.calibration import set_calibration
    from basketball_analyzer.analytics.tracks import assign_teams
    from basketball_analyzer.db import transaction
    from basketball_analyzer.db.detections import replace_detections
    from basketball_analyzer.detections import Detections
    from basketball_analyzer.videos import register_video

    path, truth = web_clip
    frames = np.arange(80, 101)
    late = Detections.from_xywh(frames, np.full(len(frames), LATE), 20.0 + frames, np.full(len(frames), 200.0),
                                np.full(len(frames), 40.0), np.full(len(frames), 100.0), np.full(len(frames), 0.9))
    with transaction(url) as s:
        video_id = register_video(s, path).video.id
        replace_detections(s, video_id, Detections.merge([truth.boxes, late]))
    with transaction(url) as s:
        assign_teams(s, video_id)
        set_calibration(s, video_id, truth.calibration_pairs(), "fiba")
    return video_id


@pytest.fixture
def game(db_url, web_clip, db_snapshots):
    """The game clip stored with its boxes plus track LATE (frames 80-100), teams and a court calibration."""
    return db_snapshots.restore("viewer-game", db_url, lambda url: _store_game(url, web_clip))


@pytest.fixture
def server(db_url, tmp_path):
    from basketball_analyzer.config import load_settings
    from basketball_analyzer.web.app import create_app

    with serving(create_app(load_settings(database_url=db_url, web_upload_dir=str(tmp_path / "uploads")))) as url:
        yield url


def _open(page, server, video_id):
    page.goto(f"{server}/videos/{video_id}")
    page.wait_for_selector("body[data-frame='0'][data-tracks]", timeout=20_000)


def test_a_row_of_the_tracks_table_selects_and_follows_its_track(server, page, game):
    _open(page, server, game)
    page.wait_for_selector(f"#tracks tr[data-track='{LATE}']")
    page.click(f"#tracks tr[data-track='{LATE}']")
    # Not in frame 0: the viewer goes to where the track starts, and draws it.
    page.wait_for_selector("body[data-frame='80']", timeout=10_000)
    assert page.get_attribute("body", "data-selected") == str(LATE)
    assert "selected" in page.get_attribute(f"#tracks tr[data-track='{LATE}']", "class")
    assert f"#{LATE}" in page.inner_text("#selected") and "80–100" in page.inner_text("#selected")
    assert page.get_attribute("body", "data-boxes") == "12"
    # Its own heatmap, enlarged on a click.
    wait_until(page, "document.getElementById('heat-track')?.naturalWidth > 0")
    assert f"/tracks/{LATE}/heatmap.png" in page.get_attribute("#heat-track", "src")
    page.click("#heat-track")
    assert page.evaluate("document.getElementById('heat-dialog').open")
    wait_until(page, "document.getElementById('heat-large').naturalWidth > 0")
    assert page.evaluate("document.getElementById('heat-large').getBoundingClientRect().width") > 600
    assert f"#{LATE}" in page.inner_text("#heat-dialog-title")
    page.keyboard.press("Escape")
    # Selecting a track already on screen keeps the frame.
    page.click("#tracks tr[data-track='3']")
    page.wait_for_selector("body[data-selected='3']")
    page.wait_for_timeout(300)
    assert page.get_attribute("body", "data-frame") == "80"


def test_units_say_metres_when_calibrated_and_how_to_calibrate_otherwise(server, page, game, db_url, tmp_path):
    from basketball_analyzer.db import transaction
    from basketball_analyzer.db.detections import replace_detections
    from basketball_analyzer.sample import make_sample_clip
    from basketball_analyzer.videos import register_video

    _open(page, server, game)
    page.wait_for_selector("#units:has-text('metres')", timeout=20_000)
    assert "distance (m)" in page.inner_text("#tracks")
    clip = tmp_path / "plain.mp4"
    boxes = make_sample_clip(clip, frames=30, players=2)
    with transaction(db_url) as s:
        plain = register_video(s, clip).video.id
        replace_detections(s, plain, boxes)
    _open(page, server, plain)
    page.wait_for_selector("#units:has-text('pixels')", timeout=20_000)
    assert f"bball court set {plain}" in page.inner_text("#units")
    assert f"bball court set {plain}" in page.inner_text("#heat-body")


def test_speed_keys_and_the_clock(server, page, game):
    _open(page, server, game)
    page.keyboard.press(">")
    assert page.evaluate("document.getElementById('video').playbackRate") == 1.5
    for _ in range(3):
        page.keyboard.press("<")
    assert page.evaluate("document.getElementById('video').playbackRate") == 0.5
    assert page.input_value("#speed") == "0.5"
    page.fill("#frame", "95")
    page.press("#frame", "Enter")
    page.wait_for_selector("body[data-frame='95']", timeout=10_000)
    assert page.inner_text("#clock") == "0:03.1"  # 95 / 30 s
    assert "of 119" in page.inner_text("#frames-total")


def test_boxes_have_a_halo_that_shows_on_their_own_colour(server, page, game):
    _open(page, server, game)
    halo = page.evaluate("""async () => {
      const { drawBoxes } = await import('/static/overlay.js');
      const out = {};
      for (const [colour, floor] of [["#ffffff", "#ffffff"], ["#111111", "#111111"], ["#1f3a93", "#1f3a93"]]) {
        const c = document.createElement("canvas"); c.width = 200; c.height = 200;
        const g = c.getContext("2d");
        g.fillStyle = floor; g.fillRect(0, 0, 200, 200);
        drawBoxes(g, [{ id: 1, x: 50, y: 50, w: 80, h: 100 }], 1, 1, { colourOf: () => colour, labelOf: () => "#1" });
        const line = g.getImageData(50, 100, 1, 1).data, outside = g.getImageData(47, 100, 1, 1).data;
        out[colour] = [Array.from(line.slice(0, 3)), Array.from(outside.slice(0, 3))];
      }
      return out;
    }""")
    assert halo["#ffffff"] == [[255, 255, 255], [0, 0, 0]]  # a white team on a white floor: a black halo
    assert halo["#111111"] == [[17, 17, 17], [255, 255, 255]]  # a black team on a dark crowd: a white halo
    assert halo["#1f3a93"][1] == [255, 255, 255]


def test_the_jobs_page_names_videos_and_sends_the_runs_settings(server, page, game, db_url):
    from basketball_analyzer.db import DetectionJob, transaction

    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{server}/jobs")
    page.wait_for_selector(f"#video-select option[value='{game}']", state="attached")
    assert "game.mp4" in page.inner_text("#video-select")
    page.wait_for_selector("#detector option[value='sam3']", state="attached")
    page.select_option("#detector", "ssd")
    assert page.get_attribute("#confidence", "placeholder") == "default 0.3"
    page.select_option("#detector", "sam3")
    page.fill("#confidence", "0.4")
    page.fill("#sample-interval", "3")
    page.fill("#prompts", "player\n  referee \n")
    page.click("#create button[type=submit]")
    page.wait_for_selector("tr[data-status='pending']", timeout=10_000)
    assert "game.mp4" in page.inner_text("#local") and "game.mp4" in page.inner_text("#create-status")
    with transaction(db_url) as s:
        job = s.query(DetectionJob).one()
        assert job.parameters["detector"] == "sam3" and job.parameters["confidence_threshold"] == 0.4
        assert job.parameters["sample_interval"] == 3 and job.parameters["prompts"] == ["player", "referee"]
    # No bucket here: the page says so and never asks the bucket, while local jobs keep refreshing.
    assert "not configured" in page.inner_text("#no-bucket")
    assert page.is_disabled("#where option[value=cloud]")
    before = sum("/api/jobs" in u for u in requests)
    page.wait_for_timeout(2500)
    assert not any("/api/cloud/jobs" in u for u in requests)
    assert sum("/api/jobs" in u for u in requests) > before


def test_file_names_are_text_on_the_video_and_jobs_pages(server, page, db_url, tmp_path):
    from basketball_analyzer.db import transaction
    from basketball_analyzer.jobs import create_job
    from basketball_analyzer.detection import DetectionParams
    from basketball_analyzer.db.detections import replace_detections
    from basketball_analyzer.sample import make_sample_clip
    from basketball_analyzer.videos import register_video

    name = "<img src=x onerror=document.title='pwned'>.mp4"
    clip = tmp_path / name
    boxes = make_sample_clip(clip, frames=10, width=160, height=128, players=1)
    with transaction(db_url) as s:
        video_id = register_video(s, clip).video.id
        replace_detections(s, video_id, boxes)
        create_job(s, video_id, DetectionParams())
    page.goto(f"{server}/videos/{video_id}")
    page.wait_for_selector("body[data-frame='0']", timeout=20_000)
    assert page.inner_text("#title") == name
    page.goto(f"{server}/jobs")
    page.wait_for_selector("tr[data-job]", timeout=10_000)
    assert name in page.inner_text("#local") and name in page.inner_text("#video-select")
    assert page.locator("img[src='x']").count() == 0 and page.title() != "pwned"


STORE = """async (every) => {
  const { BoxStore } = await import('/static/overlay.js');
  const asked = [];
  let busy = 0;
  // The detections route, answered here: boxes on every `every`-th frame but 1250; each request noted with
  // how many others were in flight when it was made.
  window.fetch = async (path) => {
    const u = new URL(path, location.href), start = +u.searchParams.get('start'), end = +u.searchParams.get('end');
    asked.push([start, end, busy++]);
    await new Promise((ok) => setTimeout(ok, 50));
    busy--;
    const f = []; for (let n = start; n < end; n++) if (n % every === 0 && n !== 1250) f.push(n);
    const one = (v) => f.map(() => v);
    return new Response(JSON.stringify({ frame: f, id: one(7), x: f, y: one(1), w: one(2), h: one(3),
      confidence: one(0.9), label: one(0), labels: ['player'] }), { status: 200 });
  };
  const store = new BoxStore(1, 3000), before = store.at(1237);
  await store.prefetch(1237);
  const shown = store.at(1237).map((b) => b.x);
  await new Promise((ok) => setTimeout(ok, 600));
  const xs = (f) => store.at(f).map((b) => b.x);
  return { before, shown, asked, gap: [xs(1250), xs(1254), xs(1256)], next: xs(1612) };
}"""


def test_a_seek_gets_its_frame_first_then_the_chunk_then_the_next_ones(server, page, game):
    _open(page, server, game)
    sampled = page.evaluate(STORE, 5)
    assert sampled["before"] is None
    # A small piece around the frame, alone; then its chunk; then the next two, together.
    assert sampled["asked"] == [[1208, 1267, 0], [1200, 1500, 0], [1500, 1800, 0], [1800, 2100, 1]]
    assert sampled["shown"] == [1235]  # every 5th frame stored: frame 1235's boxes until 1240
    # A sampled frame that found nobody shows nobody until the next sampled frame, not the one before it.
    assert sampled["next"] == [1610] and sampled["gap"] == [[], [], [1255]]
    dense = page.evaluate(STORE, 1)
    assert dense["shown"] == [1237] and dense["gap"] == [[], [1254], [1256]]  # every frame: no stale boxes
