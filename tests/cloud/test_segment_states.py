"""Segment states that tell the truth: segments are operated through their job, a truncated video fails its
segments (and the job) instead of completing, the downloaded video is the submitted one, orphans show as
orphans, and reconcile reads a waiting segmented job only when something changed. Real SeaweedFS."""

from __future__ import annotations

import dataclasses

import pytest
from click.testing import CliRunner
from cloudutil import count_requests, hog_params, with_policy

from basketball_analyzer.cli import cli
from basketball_analyzer.cloud import importer
from basketball_analyzer.cloud.jobfiles import manifest_key
from basketball_analyzer.cloud.manifest import CloudJobStatus
from basketball_analyzer.cloud.status import list_jobs
from basketball_analyzer.cloud.submit import submit_job
from basketball_analyzer.sample import make_sample_clip
from basketball_analyzer.video import iter_frames, probe
from basketball_analyzer.worker.cloud import CloudWorker

S = CloudJobStatus
OVERLAP = 0.5  # seconds: 15 frames at 30 fps


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    """A 60-frame clip: two segments of 30 with the 15-frame overlap."""
    path = tmp_path_factory.mktemp("segstates") / "game.mp4"
    make_sample_clip(path, frames=60, width=320, height=180, players=2)
    return path


@pytest.fixture(scope="module")
def truncated(tmp_path_factory):
    """A 90-frame mp4 (index first) cut at 60% of its bytes: the index still lists the frames the file has
    lost; the last ~40 do not decode."""
    import av

    folder = tmp_path_factory.mktemp("truncated")
    whole, indexed = folder / "whole.mp4", folder / "indexed.mp4"
    make_sample_clip(whole, frames=90, width=320, height=180, players=2)
    with av.open(str(whole)) as src, av.open(str(indexed), "w", options={"movflags": "faststart"}) as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    cut = folder / "cut.mp4"
    data = indexed.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.6)])
    listed, decodable = probe(cut, exact=True).frame_count, sum(1 for _ in iter_frames(cut))
    assert decodable < listed < 90
    return cut, decodable


def worker(settings, name: str) -> CloudWorker:
    w = CloudWorker(settings, worker_id=name)
    w.queue = with_policy(w.queue, min_write_interval=0)
    return w


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def one_line(result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def test_retry_cancel_and_delete_of_one_segment_are_refused_and_change_nothing(queue, cloud_settings, game):
    job = submit_job(queue, video_path=game, params=hog_params(), overlap_seconds=OVERLAP, segments=2)
    assert worker(cloud_settings, "w").work(burst=True) == 2
    assert queue.get(job.job_id)[0].status is S.completed
    first = job.segment_ids[0]
    before = [queue.get(i)[1] for i in (job.job_id, *job.segment_ids)]
    assert one_line(run("cloud", "retry", "--job-id", first)) == (
        f"Error: job {first} is segment 1/2 (frames 0-30) of job {job.job_id}; retry job {job.job_id} instead "
        "(it re-runs only the segments that did not complete)")
    assert f"cancel job {job.job_id} instead" in one_line(run("cloud", "cancel", "--job-id", first))
    assert f"delete job {job.job_id} instead" in one_line(run("cloud", "delete", "--job-id", first, "--yes"))
    assert [queue.get(i)[1] for i in (job.job_id, *job.segment_ids)] == before  # not one write
    outcome = importer.import_job(queue.storage, None, job.job_id)
    assert outcome.rows > 0 and queue.get(job.job_id)[0].status is S.imported


def test_a_truncated_video_fails_its_segments_and_the_job_with_the_reason(queue, cloud_settings, truncated):
    path, decodable = truncated
    job = submit_job(queue, video_path=path, params=hog_params(), overlap_seconds=OVERLAP, segments=3)
    assert worker(cloud_settings, "w").work(burst=True) == 3
    segs = [queue.get(i)[0] for i in job.segment_ids]
    short = [s for s in segs if s.segment["end_frame"] > decodable]
    assert short and [s.status for s in segs] == [S.failed if s in short else S.completed for s in segs]
    start, end = short[0].segment["start_frame"], short[0].segment["end_frame"]
    assert short[-1].error.startswith(f"the video stops at frame {decodable - 1}, before the end of frames ")
    assert short[-1].error.endswith("frames decoded): the file is truncated or damaged")
    parent, _ = queue.get(job.job_id)
    assert parent.status is S.failed and parent.error.startswith(f"segment {segs.index(short[0]) + 1}/3 (frames "
                                                                 f"{start}-{end}): the video stops at frame ")
    # What the segments really did, each frame once: the frames that decode, not all the index lists.
    assert parent.frames_processed == decodable
    assert importer.import_all(queue.storage, None) == []


def test_a_worker_refuses_a_video_that_is_not_the_submitted_file(queue, cloud_settings, game, tiny_clip):
    a = submit_job(queue, video_path=game, params=hog_params(), segments=1)
    b = submit_job(queue, video_path=tiny_clip, params=hog_params(), segments=1)
    c = submit_job(queue, video_path=tiny_clip, params=hog_params(), segments=1)
    # a's manifest points at b's video (sizes differ); c's says its file has another sha256.
    queue.update(a.job_id, lambda m: dataclasses.replace(m, parameters={**m.parameters, "video_key": b.video_key}))
    queue.update(c.job_id, lambda m: dataclasses.replace(m, video_sha256="ab" * 32))
    assert worker(cloud_settings, "w").work(burst=True) == 3
    a, b, c = (queue.get(j.job_id)[0] for j in (a, b, c))
    assert (a.status, b.status, c.status) == (S.failed, S.completed, S.failed)
    assert a.error.startswith(f"job {a.job_id}: its video {b.video_key} is {tiny_clip.stat().st_size:,} bytes, "
                              f"but the job was submitted with a file of {game.stat().st_size:,}")
    assert "has sha256" in c.error and "not the submitted file's abababababab" in c.error
    assert a.frames_processed == 0 and c.frames_processed == 0  # refused before it ran


def test_segments_of_a_deleted_job_show_as_orphans(queue, cloud_settings, game):
    job = submit_job(queue, video_path=game, params=hog_params(), overlap_seconds=OVERLAP, segments=2)
    assert worker(cloud_settings, "w").work(burst=True) == 2
    queue.storage.delete(manifest_key(job.job_id))
    views = list_jobs(queue)
    assert [v.status for v in views] == ["orphaned", "orphaned"]
    assert all(v.actions == [] for v in views)
    assert views[0].problem.startswith(f"segment 1/2 (frames 0-30) of job {job.job_id}, whose manifest is gone")
    result = run("cloud", "status")
    assert result.exit_code == 0 and result.output.count("orphaned") == 2 and "whose manifest" in result.output
    assert importer.import_all(queue.storage, None) == []  # nothing to import, nothing pointing nowhere
    seg = job.segment_ids[0]
    assert "which no longer exists; delete it" in one_line(run("cloud", "retry", "--job-id", seg))
    assert run("cloud", "delete", "--job-id", seg, "--yes").exit_code == 0
    assert [v.job_id for v in list_jobs(queue)] == [job.segment_ids[1]]


def test_reconcile_reads_a_waiting_segmented_job_only_when_it_or_a_segment_changed(queue, cloud_settings, game):
    job = submit_job(queue, video_path=game, params=hog_params(), overlap_seconds=OVERLAP, segments=2)
    assert worker(cloud_settings, "w").work(max_jobs=1) == 1  # one segment done, the job still pending
    q = with_policy(queue, marker_grace=0)
    first = q.reconcile()
    assert first.manifests_read == 2  # the job and its completed segment (the other has its marker)
    requests = count_requests(q.storage)
    again = q.reconcile()
    assert again.manifests_read == 0 and requests.get("GetObject", 0) == 0  # nothing changed: LISTs only
    # The last segment completes without settling the job (a crash): the next pass sees it and settles.
    done = next(i for i in job.segment_ids if queue.get(i)[0].status is S.pending)
    assert queue._try_claim(done, "w2") is not None
    queue.files.drop_markers(done)
    queue.update(done, lambda m: m.transition(S.completed))
    q.reconcile()
    assert q.get(job.job_id)[0].status is not S.pending
