"""`bball cloud delete` and `bball cloud gc` against a real SeaweedFS: what goes, what stays."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner
from cloudutil import hog_params

from basketball_analyzer.cli import cli
from basketball_analyzer.cloud.gc import collect, parse_age
from basketball_analyzer.cloud.jobfiles import job_prefix, pending_key
from basketball_analyzer.cloud.manifest import new_job_id
from basketball_analyzer.lifecycle import ResultsFile


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input)


def keys(storage, prefix: str = "") -> set[str]:
    return {o.key for o in storage.list_objects(prefix)}


@pytest.fixture
def jobs(queue, tiny_clip, tmp_path):
    """One job in each state gc must tell apart: {state: job id}."""
    def submit():
        return queue.submit(1, tiny_clip, hog_params(), frames_total=6).job_id

    ids = {name: submit() for name in ("cancelled", "failed", "imported", "completed", "pending")}
    queue.cancel(ids["cancelled"])
    for name in ("failed", "imported", "completed"):
        job = queue.claim("w1")
        while job.job_id != ids[name]:  # claims go oldest first
            job.release()
            job = queue.claim("w1")
        if name == "failed":
            job.fail("detector crashed")
        else:
            res = tmp_path / f"{name}.parquet"
            res.write_bytes(b"results")  # gc never reads results: any bytes do
            job.complete(ResultsFile(res, "0" * 64, 1, 6, 6))
            if name == "imported":
                queue.mark_imported(job.job_id)
    return ids


def test_gc_collects_finished_jobs_and_orphans_only(queue, storage, jobs, tiny_clip, cloud_env):
    orphan_id = new_job_id()
    queue.files.upload_video(orphan_id, tiny_clip)  # a submit killed between upload and manifest
    storage.put_bytes(pending_key(new_job_id()), b"")  # a marker whose job is gone
    storage.put_bytes("jobs/notes.txt", b"stray")
    storage.put_bytes("elsewhere/keep.txt", b"not ours")
    before = keys(storage)

    result = run("cloud", "gc", "--older-than", "0", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].startswith("Would delete 6 item(s), ")
    assert keys(storage) == before  # a dry run deletes nothing

    result = run("cloud", "gc", "--older-than", "0")
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].startswith("Deleted 6 item(s), ")
    left = keys(storage)
    for name in ("cancelled", "failed", "imported"):
        assert not any(k.startswith(job_prefix(jobs[name])) for k in left), name
    for name in ("completed", "pending"):
        assert any(k.startswith(job_prefix(jobs[name])) for k in left), name
    assert pending_key(jobs["pending"]) in left
    assert not any(orphan_id in k for k in left)
    assert "jobs/notes.txt" not in left and "elsewhere/keep.txt" in left
    assert [o for o in left if o.startswith("queue/") and jobs["pending"] not in o] == []


def test_gc_leaves_young_things_alone(queue, storage, jobs):
    before = keys(storage)
    result = run("cloud", "gc")  # default: older than 7 days
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Deleted 0 item(s), 0 bytes."
    assert keys(storage) == before


def test_gc_aborts_the_upload_of_a_killed_submit(queue, storage, tmp_path, cloud_env):
    """A process killed (SIGKILL) in the middle of a multipart upload leaves parts only gc can find."""
    video = tmp_path / "big.mp4"
    video.write_bytes(os.urandom(12 * 1024 * 1024))
    script = textwrap.dedent(f"""
        import os, signal
        from basketball_analyzer.cloud import storage as storage_mod
        from basketball_analyzer.cloud.queue import CloudQueue
        from basketball_analyzer.config import get_settings

        storage_mod.MULTIPART_CHUNK = 5 * 1024 * 1024
        queue = CloudQueue.from_settings(get_settings())

        def die(done, total):
            if done >= 5 * 1024 * 1024:  # a part is in: die like a kill -9, no clean-up runs
                os.kill(os.getpid(), signal.SIGKILL)

        queue.files.upload_video({new_job_id()!r}, {str(video)!r}, on_progress=die)
    """)
    proc = subprocess.run([sys.executable, "-c", script], env=os.environ.copy(), capture_output=True,
                          timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()
    uploads = storage.list_multipart_uploads()
    assert len(uploads) == 1 and uploads[0].key.startswith("jobs/")

    report = collect(queue, older_than=0, dry_run=True)
    assert [(i.kind, i.name) for i in report.items] == [("upload", uploads[0].key)]
    result = run("cloud", "gc", "--older-than", "0")
    assert result.exit_code == 0, result.output
    assert "multipart upload never completed" in result.output
    assert storage.list_multipart_uploads() == []


def test_delete_asks_then_removes_every_file(queue, storage, jobs, cloud_env):
    job_id = jobs["pending"]
    result = run("cloud", "delete", "--job-id", job_id, input="n\n")
    assert result.exit_code == 1 and "Aborted!" in result.output
    assert any(k.startswith(job_prefix(job_id)) for k in keys(storage))

    result = run("cloud", "delete", "--job-id", job_id, input="y\n")
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == f"Deleted job {job_id} (2 file(s))."
    assert not any(job_id in k for k in keys(storage))

    result = run("cloud", "delete", "--job-id", jobs["completed"], "--yes")
    assert result.exit_code == 0 and not any(jobs["completed"] in k for k in keys(storage))


@pytest.mark.parametrize("job_id, message", [
    ("01JD3V6W8K2M4N5P7Q9R0S1T2V", "Error: no cloud job 01JD3V6W8K2M4N5P7Q9R0S1T2V in bucket"),
    ("../../etc", "Error: invalid job id '../../etc'"),
])
def test_delete_of_an_unknown_or_invalid_job_is_one_line(cloud_env, job_id, message):
    result = run("cloud", "delete", "--job-id", job_id, "--yes")
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1 and result.output.startswith(message)


def test_gc_age_parsing(cloud_env):
    assert (parse_age("7d"), parse_age("12h"), parse_age("30m"), parse_age("0"), parse_age("1.5w")) == (
        7 * 86400, 12 * 3600, 1800, 0, 1.5 * 7 * 86400)
    result = run("cloud", "gc", "--older-than", "soon")
    assert result.exit_code == 2 and "'soon' is not an age like 7d" in result.output
