"""`bball demo` end to end: the real SeaweedFS, the real worker process, the user's database, the pictures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest
from click.testing import CliRunner

from basketball_analyzer.cli import cli
from basketball_analyzer.db import transaction
from basketball_analyzer.db.detections import count_detections
from basketball_analyzer.video import iter_frames, probe
from basketball_analyzer.videos import list_videos

pytestmark = pytest.mark.slow


def _demo_env(tmp_path: Path, db_url: str) -> tuple[dict[str, str], Path]:
    """The environment of a `bball demo` subprocess, with its own TMPDIR so leftovers can be seen."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "DATABASE_URL": db_url, "TMPDIR": str(scratch), "PYTHONUNBUFFERED": "1",
           "COLUMNS": "200"}
    return env, scratch


def _processes_with(marker: str) -> list[str]:
    """Command lines of live processes whose environment mentions `marker` (our TMPDIR)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker.encode() in environ:
            found.append(f"{pid}: {cmd}")
    return found


def test_demo_runs_the_whole_round_trip(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'user.db'}"
    env, scratch = _demo_env(tmp_path, db_url)
    out_dir = tmp_path / "out"
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "basketball_analyzer", "demo", "--sample-seconds", "1",
                           "--detector", "ssd", "--output-dir", str(out_dir)],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=240,
                          check=False)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout
    out = proc.stdout
    for step in ("Starting a local S3 server", "Registering", "Submitting", "Running one cloud worker",
                 "Importing", "Teams by jersey colour", "Rendering"):
        assert step in out, out
    assert "15/15 frames" in out and "Demo summary" in out
    # The story: the two jersey colours (red, navy) found as two teams, stats in metres, heatmaps drawn.
    assert "Two teams, separation" in out and "Stats per team" in out and "distance (m)" in out

    # The video is registered in the user's database with the imported detections.
    with transaction(db_url) as s:
        videos = list_videos(s)
        assert len(videos) == 1 and videos[0].frame_count == 15
        stored = count_detections(s, video_id=videos[0].id)
    assert stored > 0
    assert f"Database:  {db_url} (video {videos[0].id})" in out

    clip = out_dir / "sample-game-15f.mp4"
    mp4 = out_dir / "sample-game-15f-annotated.mp4"
    png = out_dir / "sample-game-15f-sheet.png"
    heat = out_dir / "sample-game-15f-heatmap.png"
    assert str(mp4) in out and str(png) in out and str(heat) in out
    info = probe(mp4)
    assert (info.frame_count, info.width, info.height) == (15, 960, 540)
    assert sum(1 for _ in iter_frames(mp4)) == 15
    assert probe(clip).frame_count == 15
    # 12 tiles of 480x270 in a 4x3 grid.
    assert cv2.imread(str(png)).shape == (810, 1920, 3)
    assert cv2.imread(str(heat)) is not None

    assert list(scratch.iterdir()) == []  # the temporary folder (server data, worker log) is gone
    assert _processes_with(str(scratch)) == []
    print(f"demo took {elapsed:.1f} s")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_stopping_the_demo_stops_worker_and_server_and_removes_temp_dir(tmp_path, signum):
    db_url = f"sqlite:///{tmp_path / 'user.db'}"
    env, scratch = _demo_env(tmp_path, db_url)
    proc = subprocess.Popen([sys.executable, "-m", "basketball_analyzer", "demo", "--sample-seconds", "5",
                             "--detector", "hog", "--output-dir", str(tmp_path / "out")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Running one cloud worker" in line:
                break
        assert any("Running one cloud worker" in s for s in lines), "".join(lines)
        # Mid-run: stopped as soon as the worker has claimed the job (its log, in the demo's folder, says so).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("job.claimed" in log.read_text(errors="replace")
                                                      for log in scratch.rglob("worker.log")):
            time.sleep(0.05)
        running = _processes_with(str(scratch))
        assert any("weed" in p for p in running), running
        assert any("basketball_analyzer.worker" in p for p in running), running
        proc.send_signal(signum)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, "".join(lines) + rest
    assert "Traceback" not in rest
    assert _processes_with(str(scratch)) == []
    assert list(scratch.iterdir()) == []
    assert not list((tmp_path / "out").glob("*-annotated.mp4"))
    with transaction(db_url) as s:
        assert count_detections(s) == 0  # nothing imported from a run that was stopped


def test_demo_refuses_a_configured_bucket_with_waiting_jobs(tmp_path, monkeypatch):
    """The demo's worker would take the oldest job: someone else's. It must say so and touch nothing."""
    from basketball_analyzer.cloud.queue import CloudQueue
    from basketball_analyzer.cloud.server import LocalS3Server
    from basketball_analyzer.config import get_settings, load_settings
    from basketball_analyzer.detection import DetectionParams
    from basketball_analyzer.sample import make_sample_clip

    clip = tmp_path / "theirs.mp4"
    make_sample_clip(clip, frames=5, width=320, height=240, players=1)
    with LocalS3Server(directory=tmp_path / "s3") as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        queue = CloudQueue.from_settings(load_settings())
        theirs = queue.submit(7, clip, DetectionParams(detector="hog"), frames_total=5)
        result = CliRunner().invoke(cli, ["demo", "--output-dir", str(tmp_path / "out"), "--detector", "hog",
                                          "--sample-seconds", "1"])
        assert result.exit_code == 1, result.output
        assert "already has 1 job(s) waiting" in result.output and "--local-storage" in result.output
        assert queue.candidates() == [theirs.job_id]
        assert queue.files.list_job_ids() == [theirs.job_id]
        with transaction() as s:
            assert list_videos(s) == []  # refused before registering anything


def test_demo_with_a_missing_video_fails_before_starting_anything(tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--video", str(tmp_path / "nope.mp4"),
                                      "--output-dir", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: video not found: {tmp_path / 'nope.mp4'}"]
    assert not (tmp_path / "out").exists()
