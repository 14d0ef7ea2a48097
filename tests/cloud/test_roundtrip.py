"""The whole round trip through the CLI: video add → cloud submit → status → worker (single job) → import-all."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from basketball_analyzer.cli import cli
from basketball_analyzer.sample import make_sample_clip


def run(*args: str):
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.slow
def test_submit_status_worker_import_counts_match(cloud_env, tmp_path):
    pytest.importorskip("basketball_analyzer.cli.cloud_import", reason="import-all (helper C) not built yet")
    from sqlalchemy import text

    from basketball_analyzer.cloud.queue import CloudQueue
    from basketball_analyzer.config import get_settings
    from basketball_analyzer.db import transaction

    clip = tmp_path / "game clip.mp4"
    make_sample_clip(clip, frames=30, width=320, height=180, players=2)
    video_id = int(re.search(r"video (\d+)", run("video", "add", str(clip))).group(1))

    out = run("cloud", "submit", "--video-id", str(video_id), "--sample-interval", "2", "--detector", "hog")
    job_id = re.search(r"Submitted job (\w+)", out).group(1)
    assert "bball worker --cloud" in out

    status = json.loads(run("cloud", "status", "--json"))
    assert [(s["job_id"], s["manifest"]["status"]) for s in status] == [(job_id, "pending")]
    assert "pending" in run("cloud", "status") and "0/15" in run("cloud", "status")

    worker = subprocess.run([sys.executable, "-m", "basketball_analyzer", "worker", "--cloud"],
                            env={**os.environ, "SINGLE_JOB": "1", "WORKER_ID": "roundtrip"},
                            capture_output=True, text=True, timeout=120)
    assert worker.returncode == 0, worker.stderr
    assert "worker.stopped" in worker.stderr and "jobs=1" in worker.stderr
    for secret in (cloud_env["R2_SECRET_ACCESS_KEY"], cloud_env["R2_ACCESS_KEY_ID"]):
        assert secret not in worker.stderr and secret not in run("cloud", "status", "--json")

    manifest, _ = CloudQueue.from_settings(get_settings()).get(job_id)
    assert manifest.status.value == "completed" and manifest.frames_processed == 15
    assert "15/15" in run("cloud", "status")

    run("cloud", "import-all")
    with transaction() as s:
        count = s.execute(text("SELECT COUNT(*) FROM player_detections WHERE video_id = :v"),
                          {"v": video_id}).scalar_one()
    assert count == manifest.results_rows > 0
