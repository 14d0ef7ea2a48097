"""The video page of a 20-minute game in a real Chromium, with and without a `/stats` request running.

    uv run python benchmarks/web_viewer.py [--minutes 20] [--seeks 15] [--play 10]

Writes a 320 x 180 H.264 game of the given length (36,000 frames at 30 fps for 20 minutes) with ten moving
figures, registers it in a scratch SQLite database and stores ten synthetic boxes a frame (360,000), where
the figures are. Then, served by `bball serve`'s app, Chromium opens the video page and measures:

- time to the first boxes drawn (from navigation start to the overlay's first frame with boxes);
- seeks: typing a frame number in a chunk of boxes not loaded yet, until that frame's boxes are drawn
  (1.5 s apart, as a user watches a moment after a seek);
- playback: over N seconds at 1x, the share of presented frames (frame callbacks) the overlay drew in the
  callback itself, and the share of composited frames that got a callback at all.

Each is measured twice in the same run: the baseline with nothing else running, and with `/stats` requests
(the slowest read of the app) running back to back. Targets: first boxes < 1 s and median seek < 0.3 s
under the `/stats` load; >= 95% of presented frames drawn.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from _common import machine, synthetic_game

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.browser import CHROMIUM, chromium_page, serving  # noqa: E402 - the tests' browser and server

FPS, WIDTH, HEIGHT, PLAYERS = 30, 320, 180, 10
SCALE = WIDTH / 1920  # synthetic_game's boxes are laid out on a 1920-wide picture
CHUNK = 300
SETTLE = 1.5  # seconds between two seeks


def game_boxes(frames: int):
    """Ten players' boxes a frame, scaled to the clip."""
    from basketball_analyzer.detections import Detections

    d = synthetic_game(frames * PLAYERS)
    xywh = np.c_[d.xyxy[:, :2], d.xyxy[:, 2:] - d.xyxy[:, :2]] * SCALE
    return Detections.from_xywh(d.frame_number, d.tracker_id, *xywh.T, d.confidence)


def write_game(path: Path, boxes) -> None:
    """An H.264 clip with a dark figure in every box (so the page looks like the boxes fit something)."""
    import av

    floor = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    floor[:] = (150, 190, 215)
    frames = int(boxes.frame_number.max()) + 1
    starts = np.searchsorted(boxes.frame_number, np.arange(frames + 1))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "28"}
        for n in range(frames):
            img = floor.copy()
            for x1, y1, x2, y2 in boxes.xyxy[starts[n]:starts[n + 1]].astype(int):
                img[max(0, y1 + 2):max(0, y2 - 2), max(0, x1 + 2):max(0, x2 - 2)] = (70, 50, 40)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@contextmanager
def stats_load(url: str, video_id: int, on: bool):
    """`/stats` requests back to back while the block runs (none when `on` is false); yields their durations."""
    import httpx

    stop, durations = threading.Event(), []

    def run():
        with httpx.Client(timeout=300) as client:
            while not stop.is_set():
                t = time.perf_counter()
                assert client.get(f"{url}/api/videos/{video_id}/stats").status_code == 200
                durations.append(time.perf_counter() - t)

    thread = threading.Thread(target=run, daemon=True)
    if on:
        thread.start()
        time.sleep(1.0)  # the first one is under way
    try:
        yield durations
    finally:
        stop.set()
        if on:
            thread.join(300)


SEEK = """async (frame) => {
  const video = document.getElementById("video"), input = document.getElementById("frame"), t = performance.now();
  let seeked = null;
  video.addEventListener("seeked", () => (seeked = performance.now() - t), { once: true });
  const drawn = new Promise((ok) => new MutationObserver((_m, o) => {
    if (document.body.dataset.frame === String(frame)) { o.disconnect(); ok(); }
  }).observe(document.body, { attributes: true, attributeFilter: ["data-frame"] }));
  performance.clearResourceTimings();
  input.value = String(frame);
  input.dispatchEvent(new Event("change"));
  await drawn;
  const covers = (e) => { const u = new URL(e.name); return +u.searchParams.get("start") <= frame && frame < +u.searchParams.get("end"); };
  const boxes = performance.getEntriesByType("resource").filter((e) => e.name.includes("/detections") && covers(e))
    .sort((a, b) => a.startTime - b.startTime)[0];
  return [(performance.now() - t) / 1000, seeked / 1000, boxes ? boxes.duration / 1000 : null];
}"""


def until(page, expression: str, timeout: float = 120.0):
    """Poll `expression` in the page until it is truthy; return it. (The app's Content-Security-Policy forbids
    the eval() that Playwright's wait_for_function uses.)"""
    deadline = time.monotonic() + timeout
    while not (value := page.evaluate(expression)):
        if time.monotonic() > deadline:
            raise TimeoutError(expression)
        time.sleep(0.01)
    return value


def measure(page, url: str, video_id: int, frames: int, seeks: int, play: float, seed: int) -> dict:
    """Open the page, seek, play; the numbers one side of the comparison reports."""
    opens = []
    for _ in range(3):
        page.goto(f"{url}/videos/{video_id}")
        opens.append(until(page, "window.bballViewer && window.bballViewer.firstBoxesAt") / 1000)
    # Chunks 4 apart: never one the page already read ahead (it loads the next two).
    rng = random.Random(seed)
    far = range(4, frames // CHUNK - 1, 4)
    chunks = rng.sample(far, min(seeks, len(far)))
    seek_times, video_seeks, box_requests = [], [], []
    for c in chunks:
        total, seeked, boxes = page.evaluate(SEEK, c * CHUNK + rng.randrange(CHUNK))
        seek_times.append(total)
        video_seeks.append(seeked if seeked is not None else total)
        box_requests.append(boxes or 0.0)
        page.wait_for_timeout(SETTLE * 1000)  # watch a moment, as a user does: the read-ahead lands
    page.fill("#frame", "0")
    page.press("#frame", "Enter")
    page.wait_for_selector("body[data-frame='0']")
    page.evaluate("Object.assign(window.bballViewer, { callbacks: 0, drawn: 0, log: [] })")
    page.click("#play")
    page.wait_for_timeout(play * 1000)
    page.click("#play")
    log = page.evaluate("window.bballViewer.log")
    callbacks = len(log)
    drawn = sum(1 for entry in log if entry[2])
    composited = log[-1][3] - log[0][3] + 1 if log else 0
    return {"open": statistics.median(opens), "opens": opens, "seek": statistics.median(seek_times),
            "seek_max": max(seek_times), "video_seek": statistics.median(video_seeks),
            "box_request": statistics.median(box_requests), "callbacks": callbacks, "drawn": drawn, "composited": composited,
            "frames_played": log[-1][1] - log[0][1] + 1 if log else 0}


def main(argv: list[str] | None = None) -> int:
    """Build the game, measure both sides, print the comparison; 0 when every target is met."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=20)
    p.add_argument("--seeks", type=int, default=15)
    p.add_argument("--play", type=float, default=10, help="seconds of playback")
    args = p.parse_args(argv)
    if CHROMIUM is None:
        print("Chromium not installed (scripts/ensure-chromium installs it)")
        return 2
    from basketball_analyzer.config import load_settings
    from basketball_analyzer.db import transaction
    from basketball_analyzer.db.detections import replace_detections
    from basketball_analyzer.db.engine import dispose_all
    from basketball_analyzer.videos import register_video
    from basketball_analyzer.web.app import create_app

    frames = int(args.minutes * 60 * FPS)
    with tempfile.TemporaryDirectory(prefix="bball-viewer-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        boxes = game_boxes(frames)
        t = time.perf_counter()
        write_game(Path(tmp) / "game.mp4", boxes)
        made = time.perf_counter() - t
        with transaction(url) as s:
            video = register_video(s, Path(tmp) / "game.mp4").video
            video_id = video.id
            replace_detections(s, video_id, boxes)
        results = {}
        with serving(create_app(load_settings(database_url=url))) as base, chromium_page() as page:
            for side, load in (("baseline", False), ("with /stats", True)):
                with stats_load(base, video_id, load) as durations:
                    results[side] = measure(page, base, video_id, frames, args.seeks, args.play, seed=1)
                results[side]["stats"] = list(durations)
        dispose_all()
    print(f"Video page on a {args.minutes:g}-minute game: {frames:,} frames, {len(boxes):,} boxes, SQLite; "
          f"clip {WIDTH}x{HEIGHT} written in {made:.0f} s")
    print(f"  machine: {machine()}; Chromium headless, software rendering")
    for side, r in results.items():
        stats = (f"; /stats took {statistics.median(r['stats']):.1f} s (x{len(r['stats'])})" if r["stats"] else "")
        print(f"  {side:12s} first boxes {r['open']:.2f} s (median of 3: "
              f"{', '.join(f'{x:.2f}' for x in r['opens'])}); seek median {r['seek'] * 1000:.0f} ms, "
              f"max {r['seek_max'] * 1000:.0f} ms over {args.seeks} (medians: the video's seek "
              f"{r['video_seek'] * 1000:.0f} ms, the boxes' request {r['box_request'] * 1000:.0f} ms){stats}")
        print(f"  {'':12s} playback {args.play:g} s: {r['drawn']} of {r['callbacks']} presented frames drawn "
              f"({r['drawn'] / max(1, r['callbacks']):.1%}); {r['callbacks']} callbacks for {r['composited']} "
              f"composited frames; {r['frames_played']} frames played")
    base, loaded = results["baseline"], results["with /stats"]
    print(f"  ratio with /stats / baseline: first boxes {loaded['open'] / base['open']:.2f}x, "
          f"seek {loaded['seek'] / base['seek']:.2f}x")
    met = (loaded["open"] < 1.0 and loaded["seek"] < 0.3
           and all(r["drawn"] >= 0.95 * r["callbacks"] for r in results.values()))
    print(f"  targets (first boxes < 1 s, seek < 0.3 s with /stats; >= 95% drawn): {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
