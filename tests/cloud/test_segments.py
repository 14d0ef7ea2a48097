"""Segments: one video split into jobs any worker claims, settled into one job, joined with continuous ids."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from cloudutil import SteppedClock, hog_params, with_policy

from basketball_analyzer.cloud.lease import LeasePolicy
from basketball_analyzer.cli import cli
from basketball_analyzer.cloud import importer, job as job_module
from basketball_analyzer.cloud.status import list_jobs
from basketball_analyzer.cloud.gc import delete_job
from basketball_analyzer.cloud.manifest import CloudJobStatus
from basketball_analyzer.cloud.queue import CloudQueue
from basketball_analyzer.cloud.segments import plan_segments
from basketball_analyzer.cloud.submit import submit_job
from basketball_analyzer.db import transaction
from basketball_analyzer.db.detections import load_detections
from basketball_analyzer.detection.stitching import box_iou
from basketball_analyzer.exceptions import JobError, LeaseLost, SegmentError
from basketball_analyzer.sample import make_sample_clip
from basketball_analyzer.video import iter_frames
from basketball_analyzer.worker.cloud import CloudWorker

S = CloudJobStatus
OVERLAP = 0.5  # seconds: 15 frames at 30 fps, so a 90-frame clip holds three segments of 30


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    """(path, ground truth) of a 90-frame clip with three players that cross the segment boundaries."""
    path = tmp_path_factory.mktemp("game") / "game.mp4"
    return path, make_sample_clip(path, frames=90, players=3)


def submit(queue, path, **kw):
    return submit_job(queue, video_path=path, params=hog_params(), overlap_seconds=OVERLAP, **kw)


def worker(settings, name: str) -> CloudWorker:
    w = CloudWorker(settings, worker_id=name)
    w.queue = with_policy(w.queue, min_write_interval=0)
    return w


def segments_of(queue, job_id):
    parent, _ = queue.get(job_id)
    return [queue.get(seg_id)[0] for seg_id in parent.segment_ids]


def test_plan_and_its_automatic_default():
    assert plan_segments(216_000, 30.0).count == 12  # two hours: one per 10 minutes, printed at submit
    assert plan_segments(30 * 60 * 15, 30.0).count == 1  # 15 minutes: one job, as before segments
    plan = plan_segments(100, 30.0, segments=3, overlap_seconds=0.5)
    assert plan.bounds == ((0, 33), (33, 66), (66, 100)) and plan.overlap_frames == 15
    assert plan_segments(30 * 60 * 25, 30.0, segment_minutes=5).count == 5
    with pytest.raises(SegmentError, match="shorter than the 60-frame overlap"):
        plan_segments(100, 30.0, segments=3)


def test_a_segment_decodes_only_its_frames(game):
    path, _ = game
    whole = {f.index: f.image for f in iter_frames(path)}
    part = list(iter_frames(path, start=45, end=70))
    assert [f.index for f in part] == list(range(45, 70))
    assert all(np.array_equal(whole[f.index], f.image) for f in part)
    assert [f.index for f in iter_frames(path, 4, start=45, end=70)] == [48, 52, 56, 60, 64, 68]


def test_segments_run_on_different_workers_and_join_with_one_id_per_player(queue, cloud_settings, game,
                                                                             db_url):
    path, truth = game
    whole = submit(queue, path, segments=1)
    job = submit(queue, path, segments=3)
    assert whole.segment_ids is None and whole.schema_version == 1
    assert len(job.segment_ids) == 3 and job.schema_version == 2
    assert job.segment_ids == sorted(job.segment_ids) and len({i[:10] for i in job.segment_ids}) == 1
    assert worker(cloud_settings, "w0").work(max_jobs=1) == 1  # the unsegmented job is the oldest
    for name in ("w1", "w2", "w3"):
        assert worker(cloud_settings, name).work(max_jobs=1) == 1
        assert queue.get(job.job_id)[0].status is (S.completed if name == "w3" else S.pending)
    segs = segments_of(queue, job.job_id)
    assert sorted(s.worker_id for s in segs) == ["w1", "w2", "w3"]  # each segment on its own worker
    assert [(s.segment["start_frame"], s.segment["end_frame"]) for s in segs] == [(0, 30), (30, 60), (60, 90)]
    assert [s.frames_processed for s in segs] == [30, 45, 45]  # 15 overlap frames decoded twice
    parent, _ = queue.get(job.job_id)
    assert parent.results_rows == sum(s.results_rows for s in segs)

    importer.import_job(queue.storage, db_url, whole.job_id)
    with transaction(db_url) as s:
        single = load_detections(s, whole.video_id)
    importer.import_job(queue.storage, db_url, job.job_id)
    with transaction(db_url) as s:
        joined = load_detections(s, job.video_id)
    assert queue.get(job.job_id)[0].status is S.imported
    with pytest.raises(JobError, match=f"is a segment of job {job.job_id}; import that job"):
        importer.import_job(queue.storage, db_url, job.segment_ids[0])
    # Every frame once, with as many boxes as the unsegmented run found (overlap boxes are not doubled).
    assert np.array_equal(np.bincount(joined.frame_number, minlength=90), np.bincount(single.frame_number,
                                                                                      minlength=90))
    assert len(joined.track_ids()) == len(single.track_ids()) == 3
    # Each player keeps one id across both boundaries (frames 29|30 and 59|60).
    for player in np.unique(truth.tracker_id):
        ids = []
        for frame in (29, 30, 59, 60):
            gt = truth[(truth.frame_number == frame) & (truth.tracker_id == player)]
            got = joined[joined.frame_number == frame]
            best = int(np.argmax(box_iou(gt.xyxy, got.xyxy)[0]))
            ids.append(int(got.tracker_id[best]))
        assert len(set(ids)) == 1, (player, ids)


def test_failed_segment_fails_the_job_and_retry_reruns_only_it(queue, cloud_settings, game, storage):
    path, _ = game
    job = submit(queue, path, segments=3)
    assert worker(cloud_settings, "w1").work(max_jobs=1) == 1
    claim = queue.claim("doomed")
    doomed = job.segment_ids.index(claim.job_id)
    claim.fail("detector exploded on frame 41")
    parent, _ = queue.get(job.job_id)
    assert parent.status is S.failed
    assert parent.error == (f"segment {doomed + 1}/3 (frames {30 * doomed}-{30 * doomed + 30}): "
                            "detector exploded on frame 41")
    assert worker(cloud_settings, "w3").work(burst=True) == 1  # the third still runs; the job stays failed
    kept = {s.job_id: s.results_key for s in segments_of(queue, job.job_id)}

    queue.retry(job.job_id)
    assert [s.status for s in segments_of(queue, job.job_id)] == [S.pending if i == doomed else S.completed
                                                                   for i in range(3)]
    assert queue.files.list_pending() == [claim.job_id]
    assert worker(cloud_settings, "w4").work(burst=True) == 1
    segs = segments_of(queue, job.job_id)
    assert queue.get(job.job_id)[0].status is S.completed
    assert [s.results_key == kept[s.job_id] for s in segs] == [i != doomed for i in range(3)]
    assert segs[doomed].worker_id == "w4"


def test_segment_abandoned_after_its_attempts_fails_the_job(storage, game):
    path, _ = game
    clock = SteppedClock(storage)
    q = CloudQueue(storage, LeasePolicy(lease_seconds=1, max_attempts=1), clock=clock)
    job = submit(q, path, segments=3)
    held = q.claim("dies")  # never heartbeats: its lease runs out
    dead = job.segment_ids.index(held.job_id)
    clock.advance(1.5)
    # The dead one is abandoned when a claim comes to it; the others are claimed.
    claimed = {c.job_id for c in (q.claim(f"next{i}") for i in range(3)) if c is not None}
    assert claimed == set(job.segment_ids) - {held.job_id}
    parent, _ = q.get(job.job_id)
    assert parent.status is S.failed
    assert parent.error.startswith(f"segment {dead + 1}/3 (frames {30 * dead}-{30 * dead + 30}): abandoned after 1")


def test_cancel_stops_every_segment_and_delete_removes_them(queue, cloud_settings, game):
    path, _ = game
    job = submit(queue, path, segments=3)
    running = queue.claim("busy")
    queue.cancel(job.job_id)
    assert [s.status for s in segments_of(queue, job.job_id)] == [S.cancelled] * 3
    assert list(queue.files.list_queue()) == []
    with pytest.raises(LeaseLost):
        running.heartbeat()
    assert worker(cloud_settings, "idle").work(burst=True) == 0
    delete_job(queue, job.job_id)
    assert list(queue.storage.list_objects("jobs/")) == []


def test_reconcile_settles_a_job_whose_last_segment_ended_without_settling(queue, cloud_settings, game,
                                                                          monkeypatch):
    path, _ = game
    job = submit(queue, path, segments=3)
    monkeypatch.setattr(job_module, "settle_quietly", lambda *a: None)  # a crash right after each segment
    assert worker(cloud_settings, "w").work(burst=True) == 3
    assert queue.get(job.job_id)[0].status is S.pending
    with_policy(queue, marker_grace=0).reconcile()
    assert queue.get(job.job_id)[0].status is S.completed


def test_short_video_is_one_job_as_before(queue, tiny_clip):
    job = submit_job(queue, video_path=tiny_clip, params=hog_params())
    assert job.segment_ids is None and job.schema_version == 1
    assert queue.files.list_pending() == [job.job_id]
    assert list_jobs(queue)[0].segments == []


@pytest.mark.parametrize("args, message", [
    (["--segments", "0"], "--segments must be at least 1, not 0"),
    (["--segments", "-2"], "--segments must be at least 1, not -2"),
    (["--segment-minutes", "0"], "--segment-minutes must be more than 0"),
    (["--segments", "7"], "7 segments for a video of 6 frames"),
    (["--segments", "2"], "segments of 3 frames are shorter than the 60-frame overlap"),
    (["--segments", "2", "--segment-minutes", "1"], "not both"),
])
def test_bad_segments_are_one_line_and_no_upload(queue, storage, tiny_clip, args, message):
    result = CliRunner().invoke(cli, ["cloud", "submit", "--video-path", str(tiny_clip), "--detector", "hog",
                                      *args])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1].startswith("Error: ") and message in lines[-1], result.output
    assert len([line for line in lines if "Error" in line]) == 1
    assert list(storage.list_objects("")) == []


def test_status_shows_each_segment(queue, cloud_settings, game):
    path, _ = game
    job = submit(queue, path, segments=3)
    worker(cloud_settings, "w1").work(max_jobs=1)
    worker(cloud_settings, "w2").work(max_jobs=1)
    result = CliRunner().invoke(cli, ["cloud", "status", "--segments"])
    assert result.exit_code == 0, result.output
    assert job.job_id in result.output and "processing" in result.output and "3 segments" in result.output
    assert "1/3 frames 0-30" in result.output and "completed" in result.output and "w1" in result.output
    assert "3/3 frames 60-90" in result.output
    # The job counts each frame once: two segments of 30 frames done, their 15-frame overlaps not added.
    assert "60/90" in result.output and "45/45" in result.output


def test_parts_follow_the_decoders_frame_numbers_across_a_dropped_frame(queue, cloud_settings, tmp_path,
                                                                          monkeypatch):
    """A camera that drops a frame leaves a gap in presentation time; a seeked decode numbers frames by it.
    Parts must be cut where the decoder says they are, or the boxes of the frame after each cut are lost."""
    from basketball_analyzer.detection import DetectionParams
    from basketball_analyzer.pipeline import run_detection

    path = tmp_path / "dropped.mp4"
    make_sample_clip(path, frames=150, width=320, height=180, players=2, dropped=[100, 101, 102])
    monkeypatch.setattr(cloud_settings, "cloud_part_frames", 20)
    params = DetectionParams(detector="ssd")
    job = submit_job(queue, video_path=path, params=params, overlap_seconds=OVERLAP, segments=2)
    assert worker(cloud_settings, "w").work(burst=True) == 2
    second = segments_of(queue, job.job_id)[1]
    start, end, overlap = (second.segment[k] for k in ("start_frame", "end_frame", "overlap_frames"))
    assert len(second.parts) > 2  # cut into parts after the gap too

    importer.import_job(queue.storage, cloud_settings.database_url, job.job_id)
    with transaction(cloud_settings.database_url) as s:
        joined = load_detections(s, job.video_id)
    direct = [d for d in run_detection(path, params, frame_range=(start - overlap, end)) if len(d)]
    expected = sorted({int(f) for d in direct for f in d.frame_number if f >= start})
    assert sorted({int(f) for f in joined.frame_number if f >= start}) == expected
