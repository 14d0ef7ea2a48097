"""Bad input, as a clumsy user or an attacker would give it, against a real SeaweedFS: one line, exit 1,
nothing written. Each case is a row of the table in docs/cloud.md ("Bad input")."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from click.testing import CliRunner
from test_import import boxes, completed_job, stored

from basketball_analyzer.cli import cli
from basketball_analyzer.cloud import importer
from basketball_analyzer.results.format import ResultsWriter
from basketball_analyzer.cloud.storage import CloudStorage
from basketball_analyzer.config import get_settings
from basketball_analyzer.db import transaction
from basketball_analyzer.db.detections import insert_detections
from basketball_analyzer.detections import Detections
from basketball_analyzer.exceptions import ManifestError, NotFound, ResultsError, WrongVideo
from basketball_analyzer.lifecycle import ResultsFile
from basketball_analyzer.videos import register_video


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input)


def one_error_line(result, exit_code: int = 1) -> str:
    """The single `Error: …` line of a failed command (asserting there is nothing else, no traceback)."""
    assert result.exit_code == exit_code, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


@pytest.fixture
def clips(sample_clip, tiny_clip):
    """Two registered videos; the first already holds 120 detections that a bad import must not touch."""
    with transaction() as s:
        a = register_video(s, sample_clip[0]).video
        b = register_video(s, tiny_clip).video
        insert_detections(s, a.id, boxes(frames=40))
        return {"a": (a.id, sample_clip[0], a.frame_count), "b": (b.id, tiny_clip, b.frame_count)}


def crafted_job(queue, tmp_path, vid, video_path, det: Detections, *, job_in_file: str | None = None,
                video_in_file: int | None = None, **manifest_changes) -> str:
    """A completed job whose results file (and manifest fields) are whatever an attacker chose."""
    from cloudutil import hog_params

    from basketball_analyzer.video import sha256_file

    manifest = queue.submit(vid, video_path, hog_params(), frames_total=40,
                            video_sha256=sha256_file(video_path), video_size=video_path.stat().st_size)
    path = tmp_path / f"{manifest.job_id}.parquet"
    with ResultsWriter(path, job_id=job_in_file or manifest.job_id, detector="hog",
                       video_id=video_in_file if video_in_file is not None else vid) as writer:
        writer.write(det)
    job = queue.claim("attacker")  # after the (slow) write, so the short test lease does not run out
    job.complete(ResultsFile(path, writer.sha256, writer.rows, writer.frames, 40))
    if manifest_changes:
        queue.update(manifest.job_id, lambda m: dataclasses.replace(m, **manifest_changes))
    return manifest.job_id


# -- results bound to their video ---------------------------------------------------------------------

def test_results_of_another_file_do_not_replace_the_video(queue, tmp_path, clips, cloud_env):
    """The reported bug: a job run on other.mp4 under video a's id would have wiped a's detections."""
    vid, _, _ = clips["a"]
    _, other, _ = clips["b"]
    job_id = crafted_job(queue, tmp_path, vid, other, boxes(frames=6))  # uploaded: the tiny clip
    line = one_error_line(run("cloud", "import-job", "--job-id", job_id))
    assert line.startswith(f"Error: cloud job {job_id} ran on a different file than video {vid} (court.mp4)")
    assert stored(vid) == 120
    assert queue.get(job_id)[0].status.value == "completed"


def test_video_size_mismatch_is_refused(queue, tmp_path, clips):
    vid, path, _ = clips["a"]
    job_id = crafted_job(queue, tmp_path, vid, path, boxes(frames=6), video_size=12345)
    with pytest.raises(WrongVideo, match="ran on a file of 12,345 bytes"):
        importer.import_job(queue.storage, None, job_id)
    assert stored(vid) == 120


def test_submit_refuses_a_video_id_whose_file_is_not_the_one_given(queue, clips, cloud_env):
    vid, _, _ = clips["a"]
    _, other, _ = clips["b"]
    line = one_error_line(run("cloud", "submit", "--video-id", str(vid), "--video-path", str(other),
                              "--detector", "hog"))
    assert line.startswith(f"Error: tiny.mp4 is not video {vid} (court.mp4)")
    assert list(queue.storage.list_objects("")) == []  # nothing uploaded


def test_submit_with_a_path_alone_registers_it(queue, tmp_path, cloud_env):
    from basketball_analyzer.sample import make_sample_clip

    clip = tmp_path / "new.mp4"
    make_sample_clip(clip, frames=4, width=192, height=128, players=1)
    result = run("cloud", "submit", "--video-path", str(clip), "--detector", "hog")
    assert result.exit_code == 0, result.output
    assert "for video 1 (4 frames to process)" in result.output
    manifest = queue.get(queue.files.list_job_ids()[0])[0]
    with transaction() as s:
        from basketball_analyzer.videos import get_video

        assert (manifest.video_sha256, manifest.video_size) == (get_video(s, 1).sha256, clip.stat().st_size)


# -- crafted results ------------------------------------------------------------------------------------

@pytest.mark.parametrize("changes, why", [
    ({"frames_processed": 0}, "does not report processed frames"),   # "0 rows, 0 frames": nothing was run
    ({"results_rows": None}, "does not report processed frames"),    # rows not declared
])
def test_an_empty_results_file_does_not_wipe_a_video(queue, tmp_path, clips, changes, why):
    vid, path, _ = clips["a"]
    job_id = crafted_job(queue, tmp_path, vid, path, Detections.empty(), **changes)
    with pytest.raises(ResultsError, match=why) as info:
        importer.import_job(queue.storage, None, job_id)
    assert f"refusing to replace video {vid}'s 120 detections" in str(info.value)
    assert stored(vid) == 120


def test_an_empty_result_of_processed_frames_is_stored(queue, tmp_path, clips):
    """Documented: 0 rows over frames that were processed is a real result (nobody on court)."""
    vid, path, _ = clips["a"]
    job_id = crafted_job(queue, tmp_path, vid, path, Detections.empty(), frames_processed=40)
    assert importer.import_job(queue.storage, None, job_id).rows == 0
    assert stored(vid) == 0


def test_two_million_rows_in_a_tiny_file_hit_the_row_cap(queue, tmp_path, clips, cloud_env):
    vid, path, frames = clips["a"]
    n = 2_000_000
    det = Detections.from_xywh(np.zeros(n, np.int64), np.full(n, -1), np.ones(n), np.ones(n), np.ones(n),
                               np.ones(n), np.full(n, 0.5))
    job_id = crafted_job(queue, tmp_path, vid, path, det)
    size = queue.storage.object_size(queue.get(job_id)[0].results_key)
    assert size < 200_000  # the attack: a tiny download that would insert millions of rows
    line = one_error_line(run("cloud", "import-job", "--job-id", job_id))
    assert line == (f"Error: results of cloud job {job_id} hold 2,000,000 rows, more than "
                    f"RESULTS_MAX_ROWS_PER_FRAME (500) x the video's {frames} frames; refusing them")
    assert stored(vid) == 120


def test_too_many_boxes_in_one_frame_are_refused(queue, tmp_path, clips, monkeypatch):
    vid, path, _ = clips["a"]
    n = 600  # under the file's total cap (500 x 40 frames), over the per-frame cap in frame 3
    det = Detections.from_xywh(np.full(n, 3), np.full(n, -1), np.ones(n), np.ones(n), np.ones(n),
                               np.ones(n), np.full(n, 0.5))
    job_id = crafted_job(queue, tmp_path, vid, path, det)
    with pytest.raises(ResultsError, match="frame 3 has more than 500 boxes"):
        importer.import_job(queue.storage, None, job_id)
    assert stored(vid) == 120


def test_results_over_the_size_cap_are_refused_before_download(queue, tmp_path, clips, monkeypatch):
    vid, path, _ = clips["a"]
    job_id = crafted_job(queue, tmp_path, vid, path, boxes(frames=40))
    monkeypatch.setenv("RESULTS_MAX_BYTES", "1000")
    get_settings.cache_clear()
    counts = __import__("cloudutil").count_requests(queue.storage)
    with pytest.raises(ResultsError, match=r"bytes, over RESULTS_MAX_BYTES \(1,000\)"):
        importer.import_job(queue.storage, None, job_id)
    assert counts.get("GetObject") == 1  # the manifest; the results were never downloaded
    assert stored(vid) == 120


@pytest.mark.parametrize("field", ["job", "video"])
def test_results_naming_another_job_or_video_are_refused(queue, tmp_path, clips, field, cloud_env):
    vid, path, _ = clips["a"]
    kw = {"job_in_file": "01JD3V6W8K2M4N5P7Q9R0S1T2V"} if field == "job" else {"video_in_file": 2}
    job_id = crafted_job(queue, tmp_path, vid, path, boxes(frames=40), **kw)
    line = one_error_line(run("cloud", "import-job", "--job-id", job_id))
    expected = ("say they are of job '01JD3V6W8K2M4N5P7Q9R0S1T2V'; refusing results of another job"
                if field == "job" else f"say they are of video '2', not video {vid}; nothing imported")
    assert line == f"Error: results of cloud job {job_id} {expected}"
    assert stored(vid) == 120


def test_row_count_differing_from_the_manifest_is_refused(queue, tmp_path, clips):
    vid, path, _ = clips["a"]
    job_id = crafted_job(queue, tmp_path, vid, path, boxes(frames=40), results_rows=7)
    with pytest.raises(ResultsError, match="hold 120 rows but the job reported 7"):
        importer.import_job(queue.storage, None, job_id)


# -- import-all goes on past a bad job ----------------------------------------------------------------

def test_import_all_imports_good_jobs_around_bad_ones(queue, storage, tmp_path, clips, cloud_env):
    (va, pa_, fa), (vb, pb, fb) = clips["a"], clips["b"]
    good_a = completed_job(queue, storage, tmp_path, va, pa_, fa)
    huge = crafted_job(queue, tmp_path, vb, pb, boxes(frames=6), video_id=2**40)  # beyond INTEGER
    missing = completed_job(queue, storage, tmp_path, 999, pb, fb)
    good_b = completed_job(queue, storage, tmp_path, vb, pb, fb)
    from basketball_analyzer.cloud.jobfiles import manifest_key
    from basketball_analyzer.cloud.manifest import new_job_id

    broken = new_job_id()
    storage.put_bytes(manifest_key(broken), b'{"schema_version": 1, "job_id": "%s", "video_id": 1, '
                      b'"status": "\\u001b[2Jdone"}' % broken.encode())
    result = run("cloud", "import-all")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "OverflowError" not in result.output
    imported, _, failed = result.output.partition("Not imported")
    assert good_a in imported and good_b in imported and huge not in imported
    assert f"video {2**40}, beyond the database's id range" in failed and huge in failed
    assert "video 999, which is not registered" in failed and missing in failed
    assert broken in failed and "manifest unreadable: job " in failed
    assert "unknown status '\\x1b[2Jdone'" in failed
    assert "\x1b" not in result.output
    assert result.output.strip().splitlines()[-1] == \
        "Error: 3 of 5 job(s) could not be imported; see the table above"
    assert stored(va) == fa * 3 and stored(vb) == fb * 3
    with pytest.raises(NotFound, match="beyond the database's id range"):
        importer.import_job(storage, None, huge)


# -- status shows bucket strings as data ----------------------------------------------------------------

def test_status_shows_markup_and_escape_sequences_literally(queue, storage, tiny_clip, cloud_env):
    from cloudutil import hog_params

    from basketball_analyzer.cloud.jobfiles import manifest_key, progress_key
    from basketball_analyzer.cloud.manifest import new_job_id

    failed = queue.submit(1, tiny_clip, hog_params(), frames_total=6)
    queue.update(failed.job_id, lambda m: dataclasses.replace(
        m, status="failed", error="[/] [bold red]boom[/bold red] \x1b[2J\x1b]0;pwned\x07 done",
        worker_id="[/]"))
    running = queue.submit(1, tiny_clip, hog_params(), frames_total=6)
    queue.claim("w-[red]x[/red]")
    storage.put_bytes(progress_key(running.job_id), b'{"frames_processed": "lots[/]"}')
    bad = new_job_id()
    storage.put_bytes(manifest_key(bad), b'{"schema_version": 1, "job_id": "\\u001b[31m[/]"}')

    result = run("cloud", "status")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "\x1b" not in out and "\x07" not in out
    assert "[/] [bold red]boom[/bold red] \\x1b[2J\\x1b]0;pwned\\x07 done" in out
    assert "w-[red]x[/red]" in out and "?/6" in out
    assert "invalid" in out and bad in out

    storage.put_bytes(progress_key(running.job_id), b"not json at all")
    assert run("cloud", "status").exit_code == 0
    storage.put_bytes(progress_key(running.job_id), b'{"frames_processed": 1e999}')
    assert "?/6" in run("cloud", "status").output


# -- endpoint, credentials, clock, bucket -----------------------------------------------------------------

def test_password_in_the_endpoint_url_is_never_printed(cloud_env, monkeypatch, caplog):
    url = cloud_env["R2_ENDPOINT_URL"].replace("://", "://admin:hunter2-s3cret@")
    monkeypatch.setenv("R2_ENDPOINT_URL", url)
    get_settings.cache_clear()
    for args in (["cloud", "status"], ["-vv", "cloud", "import-all"], ["worker", "--cloud", "--once"]):
        result = run(*args)
        assert result.exit_code == 1, result.output
        assert "hunter2-s3cret" not in result.output and "hunter2-s3cret" not in caplog.text
        assert "Traceback" not in result.output
        assert "invalid bucket endpoint http://admin:***@127.0.0.1:" in result.output
        assert "it contains credentials" in result.output.strip().splitlines()[-1]


@pytest.mark.parametrize("endpoint, problem", [
    ("localhost:8333", "it must start with https://"),
    ("http://[::1", "Invalid IPv6 URL"),
    ("http://127.0.0.1:99999", "Port out of range"),
    ("https://", "it names no host"),
    ("http://host name:80", "spaces or control characters"),
    ("http://host/\x1b[2J", "spaces or control characters"),
])
def test_a_malformed_endpoint_is_one_line(cloud_env, monkeypatch, endpoint, problem):
    monkeypatch.setenv("R2_ENDPOINT_URL", endpoint)
    get_settings.cache_clear()
    line = one_error_line(run("cloud", "status"))
    assert line.startswith("Error: invalid bucket endpoint ") and line.endswith(problem) or problem in line
    assert "\x1b" not in line


def test_a_skewed_clock_is_reported_as_such(storage, monkeypatch):
    import datetime

    import botocore.auth

    real = botocore.auth.get_current_datetime
    monkeypatch.setattr(botocore.auth, "get_current_datetime",
                        lambda *a, **k: real(*a, **k) - datetime.timedelta(hours=2))
    with pytest.raises(Exception) as info:
        storage.check()
    text = str(info.value)
    assert "clock is wrong" in text and "RequestTimeTooSkewed" in text and "credentials" not in text


def test_a_missing_bucket_fails_before_anything_is_uploaded(s3_server, cloud_env, monkeypatch, tiny_clip):
    monkeypatch.setenv("R2_BUCKET_NAME", "no-such-bucket-here")
    get_settings.cache_clear()
    line = one_error_line(run("cloud", "submit", "--video-path", str(tiny_clip), "--detector", "hog"))
    assert line == (f"Error: open bucket 'no-such-bucket-here': bucket 'no-such-bucket-here' does not exist at "
                    f"{cloud_env['R2_ENDPOINT_URL']}; create it (Cloudflare dashboard, or `npx wrangler r2 "
                    "bucket create no-such-bucket-here`) or set R2_BUCKET_NAME")
    # SeaweedFS would have created it on the first upload; R2 would not: nothing may have been written.
    probe = CloudStorage(endpoint_url=s3_server.endpoint_url, access_key=s3_server.access_key,
                         secret_key=s3_server.secret_key, bucket="no-such-bucket-here")
    assert probe.bucket_exists() is False
    assert "does not exist" in one_error_line(run("cloud", "status"))
    with transaction() as s:
        from basketball_analyzer.videos import list_videos

        assert list_videos(s) == []  # not even registered


def test_submit_refuses_a_registered_file_that_changed(queue, tmp_path, tiny_clip, cloud_env):
    import shutil

    clip = tmp_path / "edited.mp4"
    shutil.copy(tiny_clip, clip)
    with transaction() as s:
        vid = register_video(s, clip).video.id
    with open(clip, "ab") as fh:
        fh.write(b"\0" * 16)  # still a playable video, no longer the registered one
    line = one_error_line(run("cloud", "submit", "--video-id", str(vid), "--detector", "hog"))
    assert line == (f"Error: video {vid}'s file {clip} has changed since it was registered (its sha256 "
                    "differs); register the new file with `bball video add`")
    assert list(queue.storage.list_objects("")) == []
    result = run("cloud", "submit", "--video-id", "99999999999")
    assert result.exit_code == 2 and "is not in the range 1<=x<=2147483647" in result.output


def test_a_worker_meeting_a_missing_bucket_says_so(cloud_env, monkeypatch):
    monkeypatch.setenv("R2_BUCKET_NAME", "no-such-bucket-here")
    get_settings.cache_clear()
    result = run("worker", "--cloud", "--once")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "bucket 'no-such-bucket-here' does not exist" in result.output.strip().splitlines()[-1]
    assert "HTTP 404" not in result.output


def test_a_huge_manifest_is_refused_before_it_is_read(queue, storage, tmp_path, clips, cloud_env):
    import json

    from basketball_analyzer.cloud.jobfiles import manifest_key

    vid, path, _ = clips["a"]
    job_id = crafted_job(queue, tmp_path, vid, path, boxes(frames=40))
    data = queue.get(job_id)[0].to_dict()
    data["padding"] = "x" * (2 * 1024 * 1024)  # unknown keys are ignored: only the size gives it away
    storage.put_bytes(manifest_key(job_id), json.dumps(data).encode())
    line = one_error_line(run("cloud", "import-job", "--job-id", job_id))
    assert line == (f"Error: the manifest of job {job_id} is {len(json.dumps(data)):,} bytes, over "
                    "MANIFEST_MAX_BYTES (1,048,576); refusing to read it")
    counts = __import__("cloudutil").count_requests(storage)
    with pytest.raises(ManifestError):
        importer.import_job(storage, None, job_id)
    assert counts == {"HeadObject": 1}  # the size, and nothing read
    assert stored(vid) == 120


def test_a_bad_bucket_name_says_what_a_name_may_hold(cloud_env, monkeypatch, tiny_clip):
    monkeypatch.setenv("R2_BUCKET_NAME", "Bad_Name!")
    get_settings.cache_clear()
    expected = ("Error: invalid bucket name 'Bad_Name!' (R2_BUCKET_NAME): a bucket name is 3 to 63 lowercase "
                "letters, digits and hyphens, like bball-jobs")
    assert one_error_line(run("cloud", "status")) == expected
    assert one_error_line(run("cloud", "submit", "--video-path", str(tiny_clip), "--detector", "hog")) == expected


def test_a_path_too_long_for_the_system_is_one_line(queue, tmp_path, cloud_env):
    long = tmp_path / ("v" * 300 + ".mp4")  # one name over NAME_MAX: the system refuses to look it up
    for args in (("cloud", "submit", "--video-path", str(long), "--detector", "hog"), ("video", "add", str(long))):
        line = one_error_line(run(*args))
        assert line.startswith("Error: cannot open video file ") and line.endswith(": File name too long"), line
    assert list(queue.storage.list_objects("")) == []


def test_a_failed_submit_leaves_no_video_registered(queue, tiny_clip, cloud_env):
    """The segments are planned after the file is registered: a plan that cannot work must not leave it."""
    from basketball_analyzer.videos import list_videos

    line = one_error_line(run("cloud", "submit", "--video-path", str(tiny_clip), "--detector", "hog",
                              "--segments", "2"))
    assert "shorter than the 60-frame overlap" in line
    with transaction() as s:
        assert list_videos(s) == []
    with transaction() as s:  # a video registered before the submit stays registered
        vid = register_video(s, tiny_clip).video.id
    one_error_line(run("cloud", "submit", "--video-path", str(tiny_clip), "--detector", "hog", "--segments", "2"))
    with transaction() as s:
        assert [v.id for v in list_videos(s)] == [vid]
    assert list(queue.storage.list_objects("")) == []
