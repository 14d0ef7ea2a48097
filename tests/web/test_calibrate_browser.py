"""The court calibration and the court positions in the viewer, as a user meets them in a real Chromium, on the
synthetic broadcast (a camera that pans and zooms, then cuts to a replay): points clicked on the frame shown and on
the drawn court (landmarks snap), the fit drawn back over the picture, the keyframe saved and followed, the stored
positions against the truth; the minimap's dots and the dimmed or hidden people off the court."""

from __future__ import annotations

import numpy as np
import pytest
from support.broadcast import make_broadcast, store_broadcast
from support.browser import CHROMIUM, SKIP_REASON, serving, wait_until

from basketball_analyzer.analytics.court import COURTS, apply_homography

pytestmark = [pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON),
              pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]

FRAMES, CUT, KEY = 90, (60, 72), 20
CARD = "document.getElementById('calibrate-card').dataset"


@pytest.fixture(scope="module")
def broadcast(tmp_path_factory):
    return make_broadcast(tmp_path_factory, frames=FRAMES, cuts=[CUT])


@pytest.fixture
def video(db_url, broadcast):
    """(video id, truth): the broadcast with its true boxes (the page, not a detector, is under test)."""
    return store_broadcast(db_url, broadcast)


@pytest.fixture
def server(db_url, tmp_path):
    from basketball_analyzer.config import load_settings
    from basketball_analyzer.web.app import create_app

    with serving(create_app(load_settings(database_url=db_url, web_upload_dir=str(tmp_path / "up")))) as url:
        yield url


def _open(page, server, video_id, frame=0):
    page.goto(f"{server}/videos/{video_id}")
    page.wait_for_selector("body[data-frame='0']", timeout=20_000)
    if frame:
        page.fill("#frame", str(frame))
        page.press("#frame", "Enter")
        page.wait_for_selector(f"body[data-frame='{frame}']", timeout=10_000)


def _pick(page, image_xy, court_xy, nudge=(0, 0)):
    """Click a pixel of the picture, then a court spot on the drawn court (nudged by some screen pixels)."""
    spot = page.evaluate("([x, y]) => window.bballCalibrate.pictureSpot(x, y)", list(image_xy))
    page.mouse.click(spot["x"], spot["y"])
    spot = page.evaluate("(p) => window.bballCalibrate.courtSpot(p)", list(court_xy))
    page.mouse.click(spot["x"] + nudge[0], spot["y"] + nudge[1])


def _layer_pixels(page, image_points) -> list[list[int]]:
    """RGBA of the calibration layer at video pixels: the brightest of each 3 x 3 neighbourhood's cyan."""
    return page.evaluate("""(points) => {
      const c = document.getElementById('calib-layer'), g = c.getContext('2d'), sx = c.width / 640, sy = c.height / 360;
      return points.map(([x, y]) => {
        const d = g.getImageData(Math.round(x * sx) - 1, Math.round(y * sy) - 1, 3, 3).data;
        let best = [0, 0, 0, 0];
        for (let i = 0; i < d.length; i += 4) if (d[i + 2] - d[i] > best[2] - best[0]) best = Array.from(d.slice(i, i + 4));
        return best;
      });
    }""", [list(map(float, p)) for p in image_points])


def _pairs(truth, frame):
    out = []
    for pair in truth.calibration_pairs(frame):
        xy, name = pair.split("=")
        out.append(([float(v) for v in xy.split(",")], name))
    return out


def test_calibrating_in_the_browser_saves_a_keyframe_whose_positions_match_the_truth(server, page, video, db_url):
    from sqlalchemy import text

    from basketball_analyzer.db import transaction

    video_id, truth = video
    fiba = COURTS["fiba"]
    _open(page, server, video_id, KEY)
    page.click("#calibrate")
    page.wait_for_selector("#calibrate-card:not([hidden]) #calib-map")
    assert "on frame 20" in page.inner_text("#calib-frame")
    pairs = dict((name, xy) for xy, name in _pairs(truth, KEY))
    assert len(pairs) >= 6, pairs
    # Three points on the half-way line and one more: a line, not a plane; the server says so, nothing to save.
    for i, name in enumerate(["midcourt_far", "center", "midcourt_near"]):
        _pick(page, pairs[name], fiba.landmarks[name], nudge=(5, -4) if i == 0 else (0, 0))  # landmarks snap
        wait_until(page, f"{CARD}.pairs === '{i + 1}'")
    assert "3 of 4 pairs" in page.inner_text("#calib-fit") and page.is_disabled("#calib-save")
    assert "midcourt far" in page.inner_text("#calib-pairs")  # the nudged click took the landmark
    rest = [n for n in pairs if n not in ("midcourt_far", "center", "midcourt_near")]
    _pick(page, pairs[rest[0]], fiba.landmarks[rest[0]])
    wait_until(page, f"{CARD}.fit === 'error'")
    assert "collinear" in page.inner_text("#calib-fit") and page.is_disabled("#calib-save")
    for name in rest[1:]:
        _pick(page, pairs[name], fiba.landmarks[name])
    wait_until(page, f"{CARD}.fit === 'ok'")
    fit = page.inner_text("#calib-fit")
    assert "m RMS" in fit and f"over {len(pairs)} points" in fit
    # The fitted lines are drawn over the picture where the court's lines are in this frame.
    to_image = np.linalg.inv(truth.to_court[KEY])
    on_lines = apply_homography(to_image, [[14.0, 4.0], [14.0, 11.0], [14.0 + 1.8, 7.5]])  # half-way line, circle
    away = apply_homography(to_image, [[10.0, 4.0], [18.0, 11.0]])
    for r, g, b, a in _layer_pixels(page, on_lines):
        assert b > 200 and g > 180 and r < 90 and a > 200, (r, g, b, a)
    for r, g, b, a in _layer_pixels(page, away):
        assert a == 0 or b - r < 60, (r, g, b, a)
    assert page.is_enabled("#calib-save")
    page.click("#calib-save")
    wait_until(page, f"{CARD}.saved === '{KEY}'", timeout=120)
    result = page.inner_text("#calib-result")
    assert f"Saved frame {KEY} as a keyframe" in result and f"Mapped {CUT[0]} of {FRAMES} frames" in result
    assert f"Unmapped: frames {CUT[0]}–{FRAMES - 1}" in result and "cut" in result

    with transaction(db_url) as s:
        rows = s.execute(text("SELECT frame_number, tracking_id, court_x, court_y FROM player_positions "
                              "WHERE video_id = :v"), {"v": video_id}).all()
        keys = s.execute(text("SELECT frame_number, court FROM court_calibrations")).all()
    assert [tuple(k) for k in keys] == [(KEY, "fiba")]
    a = np.array(rows, np.float64)
    f, k = a[:, 0].astype(int), a[:, 1].astype(int)
    sel = truth.on_court[k]
    err = np.linalg.norm(a[sel, 2:] - truth.positions[f[sel], k[sel]], axis=1)
    assert len(err) > 400 and np.median(err) < 0.3 and np.percentile(err, 95) < 1.0

    # Back in the viewer: the minimap and the status line read the new positions at once.
    page.click("#calibrate")
    page.wait_for_selector("#court-card:not([hidden])")
    page.fill("#frame", "30")
    page.press("#frame", "Enter")
    page.wait_for_selector("body[data-frame='30']", timeout=10_000)
    chunk = page.evaluate(f"fetch('/api/videos/{video_id}/detections?start=30&end=31').then((r) => r.json())")
    on = sum(v is True for v in chunk["on_court"])
    assert 0 < on < len(chunk["on_court"])
    wait_until(page, f"document.getElementById('minimap').dataset.dots === '{on}'")
    assert f"{len(chunk['on_court']) - on} off the court" in page.inner_text("#status")
    assert f"Mapped {CUT[0]} of {FRAMES} frames" in page.inner_text("#court-info")


@pytest.fixture
def followed(db_url, video):
    """The broadcast calibrated on frame 0 and followed (as `bball court set` does)."""
    from basketball_analyzer.analytics.calibration import set_calibration
    from basketball_analyzer.db import transaction

    video_id, truth = video
    with transaction(db_url) as s:
        set_calibration(s, video_id, truth.calibration_pairs(0), "fiba")
    return video_id, truth


def test_people_off_the_court_are_dimmed_or_hidden_and_the_minimap_leaves_them_out(server, page, followed):
    video_id, truth = followed
    _open(page, server, video_id)
    page.wait_for_selector("#off-court-toggle:not([hidden])")
    chunk = page.evaluate(f"fetch('/api/videos/{video_id}/detections?start=0&end=1').then((r) => r.json())")
    boxes = [dict(id=chunk["id"][i], x=chunk["x"][i], y=chunk["y"][i], w=chunk["w"][i], h=chunk["h"][i],
                  on=chunk["on_court"][i]) for i in range(len(chunk["id"]))]

    def alone(b):  # the middle of the box's left edge, and its centre, lie in no other box
        y = b["y"] + b["h"] / 2
        return not any(o is not b and o["x"] - 4 <= x <= o["x"] + o["w"] + 4 and o["y"] - 4 <= y <= o["y"] + o["h"] + 4
                       for o in boxes for x in (b["x"], b["x"] + b["w"] / 2))

    bench = next(b for b in boxes if b["on"] is False and not truth.on_court[b["id"]] and alone(b))
    player = next(b for b in boxes if b["on"] is True and alone(b))
    edge = """([boxes]) => { const c = document.getElementById('overlay'), g = c.getContext('2d');
      return boxes.map((b) => g.getImageData(Math.round(b.x * c.width / 640), Math.round((b.y + b.h / 2) * c.height / 360), 1, 1).data[3]); }"""
    wait_until(page, f"document.getElementById('minimap').dataset.dots === '{sum(b['on'] is True for b in boxes)}'")
    bench_alpha, player_alpha = page.evaluate(edge, [[bench, player]])
    assert player_alpha == 255 and 40 < bench_alpha < 160  # drawn, but dimmed
    page.check("#hide-off-court")  # the change redraws the frame at once
    bench_alpha, player_alpha = page.evaluate(edge, [[bench, player]])
    assert player_alpha == 255 and bench_alpha == 0  # hidden
    # A click where a hidden person stands selects nobody.
    spot = page.evaluate("""([b]) => { const r = document.getElementById('overlay').getBoundingClientRect();
      return { x: r.left + (b.x + b.w / 2) * r.width / 640, y: r.top + (b.y + b.h / 2) * r.height / 360 }; }""", [bench])
    page.mouse.click(spot["x"], spot["y"])
    assert page.get_attribute("body", "data-selected") in ("", None)
    page.uncheck("#hide-off-court")
    page.mouse.click(spot["x"], spot["y"])
    assert page.get_attribute("body", "data-selected") == str(bench["id"])
    # In the replay (unmapped) the minimap has no dots and says why.
    page.fill("#frame", str(CUT[0] + 2))
    page.press("#frame", "Enter")
    page.wait_for_selector(f"body[data-frame='{CUT[0] + 2}']", timeout=10_000)
    wait_until(page, "document.getElementById('minimap').dataset.dots === '0'")
    assert f"Frame {CUT[0] + 2} is unmapped" in page.inner_text("#minimap-note")
