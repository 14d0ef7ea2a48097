"""The worker run the way the image runs it: the Dockerfile's CMD and ENV, settings from variables only,
SAM 3 from CLOUD_MODEL_PATH (the tiny test checkpoint), a real local S3 server, one job end to end."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
TIMEOUT = 240
FRAMES = 6  # SAM 3 on the CPU is most of the job's time per frame, even at the tiny size; one short job suffices


@pytest.fixture
def tiny_model(tiny_snapshot, tmp_path) -> Path:
    """The tiny SAM 3 checkpoint, staged the way `bball models stage` stages the real one."""
    from basketball_analyzer.config import Settings
    from basketball_analyzer.model_store import stage

    return stage(tmp_path / "models" / "sam3", Settings(), source=tiny_snapshot).dest


def image_env(dockerfile, **overrides: str) -> dict[str, str]:
    """The image's ENV with the venv of this test run in place of /opt/venv, and nothing else from here."""
    env = dockerfile.env()
    venv_bin = env["PATH"].split(":")[0]
    env["PATH"] = env["PATH"].replace(venv_bin, str(BIN)).replace("$PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update(overrides)
    return env


@pytest.mark.slow
def test_worker_processes_one_job_as_the_image_would(dockerfile, tiny_model, tmp_path):
    from basketball_analyzer.cloud.manifest import CloudJobStatus
    from basketball_analyzer.cloud.queue import CloudQueue
    from basketball_analyzer.results.format import read_metadata, read_results
    from basketball_analyzer.cloud.server import LocalS3Server
    from basketball_analyzer.cloud.storage import CloudStorage
    from basketball_analyzer.cloud.submit import submit_job
    from basketball_analyzer.detection import DetectionParams
    from basketball_analyzer.sample import make_sample_clip

    clip = tmp_path / "court clip.mp4"
    make_sample_clip(clip, frames=FRAMES, width=320, height=180)
    home = tmp_path / "home"  # the worker user's home: empty, no .env, no Hugging Face cache
    home.mkdir()
    with LocalS3Server(directory=tmp_path / "s3") as server:
        storage = CloudStorage(endpoint_url=server.endpoint_url, access_key=server.access_key,
                               secret_key=server.secret_key, bucket=server.bucket)
        queue = CloudQueue(storage)
        # As a laptop submits it without DETECTOR set: "auto", so the worker's own settings decide. The path
        # alone registers the clip in the laptop's database (the test's DATABASE_URL), as `cloud submit` does.
        job = submit_job(queue, params=DetectionParams(), video_path=clip)

        env = image_env(dockerfile, HOME=str(home), CLOUD_MODEL_PATH=str(tiny_model), DETECTOR="sam3",
                        SAM3_DEVICE="cpu", SINGLE_JOB="1", CLOUD_WORKER_POLL_INTERVAL="0.2",
                        LOG_FORMAT="json", **server.env())
        program, *args = dockerfile.cmd()
        executable = shutil.which(program, path=env["PATH"])
        assert executable == str(BIN / program)
        proc = subprocess.run([executable, *args], env=env, cwd=home, capture_output=True, text=True,
                              timeout=TIMEOUT, check=False)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, output[-3000:]

        manifest, _ = queue.get(job.job_id)
        assert manifest.status is CloudJobStatus.completed, manifest.error
        results = queue.files.download_results(job.job_id, tmp_path / "results.parquet", key=manifest.results_key)

    assert read_metadata(results)["detector"] == "sam3"
    frames = list(read_results(results, expected_sha256=manifest.results_sha256, frame_count=FRAMES))
    assert sum(len(d) for d in frames) == manifest.results_rows > 0

    assert server.secret_key not in output and server.access_key not in output
    # With LOG_FORMAT=json every log line is one JSON object (the CLI's own start/stop lines aside).
    lines = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("Worker ")]
    events = [json.loads(line) for line in lines]
    job_events = [e for e in events if e.get("job_id") == job.job_id and str(e.get("event", "")).startswith("job.")]
    kinds = [e["event"] for e in job_events]
    assert kinds[0] == "job.claimed" and kinds[-1] == "job.completed" and kinds.count("job.completed") == 1
    done = job_events[-1]
    assert done["video"] == "court clip.mp4" and done["frames"] == FRAMES and done["fps"] > 0


def test_worker_without_bucket_settings_says_what_is_missing(dockerfile, tmp_path):
    env = image_env(dockerfile, HOME=str(tmp_path))
    program, *args = dockerfile.cmd()
    proc = subprocess.run([shutil.which(program, path=env["PATH"]), *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert "R2_ACCESS_KEY_ID" in proc.stderr and "Traceback" not in proc.stderr
