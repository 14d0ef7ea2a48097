"""A run remembers its sampling: time on screen and possession come out the same, within one sampled frame,
whether the run stored every frame or every third (the synthetic game, stored through results files)."""

from __future__ import annotations

import numpy as np
import pytest
from support.game import with_ball

from basketball_analyzer.analytics.stats import video_stats
from basketball_analyzer.db import transaction
from basketball_analyzer.detection import DetectionParams
from basketball_analyzer.detections import Detections
from basketball_analyzer.jobs import create_job
from basketball_analyzer.results.format import ResultsWriter
from basketball_analyzer.results.ingest import import_results_file
from basketball_analyzer.results.runs import stored_run
from basketball_analyzer.videos import register_video


def _store_run(path, video_id: int, boxes: Detections, interval: int, cloud_job_id: str | None) -> None:
    """What a run with `--sample-interval interval` stores: every interval-th frame, through a results file."""
    params = DetectionParams(sample_interval=interval, detector="hog")
    kept = boxes[boxes.frame_number % interval == 0]
    with transaction() as s:
        job_id = None if cloud_job_id else create_job(s, video_id, params).id
    with ResultsWriter(path, job_id=cloud_job_id or f"local-{job_id}", video_id=video_id, detector="hog",
                       parameters=params.to_dict()) as writer:
        writer.write(kept)
    with transaction() as s:
        import_results_file(s, video_id=video_id, results_path=path, expected_sha256=writer.sha256,
                            job_id=job_id, cloud_job_id=cloud_job_id, frames_processed=writer.frames,
                            expected_rows=writer.rows if cloud_job_id else None)


def test_stats_agree_between_every_frame_and_every_third(game_clip, tmp_path):
    path, truth = game_clip
    boxes = with_ball(truth, truth.boxes)
    with transaction() as s:
        video_id = register_video(s, path).video.id
    one_frame = 3 / truth.fps  # one sampled frame of the sparser run
    results = {}
    # Every frame as a local job; every third as a cloud import (the ledger remembers its parameters).
    for interval, cloud_job_id in ((1, None), (3, "01JD3V6W8K2M4N5P7Q9R0S1T2V")):
        _store_run(tmp_path / f"run{interval}.parquet", video_id, boxes, interval, cloud_job_id)
        with transaction() as s:
            run = stored_run(s, video_id)
            results[interval] = {r.tracking_id: r for r in video_stats(s, video_id).tracks}
        assert run.sample_interval == interval and run.recorded
        assert run.source == (f"cloud job {cloud_job_id}" if cloud_job_id else "job 1")
    every, third = results[1], results[3]
    assert every[0].possession_seconds == pytest.approx(4.0, abs=1 / truth.fps)
    for track, row in every.items():
        assert abs(row.seconds - third[track].seconds) <= one_frame, track
        assert abs(row.possession_seconds - third[track].possession_seconds) <= one_frame, track
    assert sum(r.possession_seconds for r in third.values()) == pytest.approx(
        sum(r.possession_seconds for r in every.values()), abs=one_frame)


def test_an_unrecorded_run_is_read_off_its_frame_numbers(game_clip):
    from basketball_analyzer.db.detections import replace_detections

    path, truth = game_clip
    with transaction() as s:
        video_id = register_video(s, path).video.id
        replace_detections(s, video_id, truth.boxes[truth.boxes.frame_number % 4 == 0])  # stored by hand
    with transaction() as s:
        run = stored_run(s, video_id)
    assert (run.sample_interval, run.recorded) == (4, False)
    assert run.frame_seconds(truth.fps) == pytest.approx(4 / truth.fps)
    assert np.isfinite(run.frame_seconds(0))  # an unknown rate counts as 30 fps, never a division by zero
