"""The ingest gate: idempotent, atomic (a crash at any step, then again → exactly one copy), verified rows."""

from __future__ import annotations

import numpy as np
import pytest
from basketball_analyzer.db import transaction
from basketball_analyzer.db.detections import count_detections, insert_detections, load_detections
from basketball_analyzer.detections import Detections
from basketball_analyzer.exceptions import NotFound, ResultsError
from basketball_analyzer.results import ingest
from basketball_analyzer.results.ingest import find_import, import_results_file
from basketball_analyzer.videos import register_video
from support.results import boxes, ledger_rows, write_results


@pytest.fixture
def video_id(db_url, sample_clip):
    with transaction(db_url) as s:
        return register_video(s, sample_clip[0]).video.id


def do_import(db_url, video_id, path, writer, job_id="job-a", **kw):
    with transaction(db_url) as s:
        return import_results_file(s, cloud_job_id=job_id, video_id=video_id, results_path=path,
                                   expected_sha256=writer.sha256, results_key=f"results/{job_id}.parquet",
                                   frames_processed=writer.frames, **kw)


def test_import_stores_every_box_and_a_ledger_row(db_url, video_id, tmp_path):
    det = boxes()
    path = tmp_path / "r.parquet"
    writer = write_results(path, det)
    outcome = do_import(db_url, video_id, path, writer)

    assert (outcome.rows, outcome.already_imported) == (120, False)
    with transaction(db_url) as s:
        stored = load_detections(s, video_id, cloud_job_id="job-a")
        entry = find_import(s, "job-a")
        np.testing.assert_allclose(stored.xyxy, det.xyxy)
        np.testing.assert_array_equal(stored.tracker_id, det.tracker_id)
        assert (entry.video_id, entry.detections, entry.frames_processed) == (video_id, 120, 40)
        assert (entry.results_sha256, entry.results_key) == (writer.sha256, "results/job-a.parquet")


def test_importing_twice_is_a_no_op(db_url, video_id, tmp_path):
    path = tmp_path / "r.parquet"
    writer = write_results(path, boxes())
    do_import(db_url, video_id, path, writer)
    path.unlink()  # the second import must not even need the file
    again = do_import(db_url, video_id, path, writer)
    assert (again.already_imported, again.rows) == (True, 120)
    with transaction(db_url) as s:
        assert count_detections(s, video_id) == 120
    assert ledger_rows(db_url) == 1


def test_import_replaces_the_videos_earlier_result(db_url, video_id, tmp_path):
    with transaction(db_url) as s:
        insert_detections(s, video_id, boxes(frames=5), job_id=None)
    path = tmp_path / "r.parquet"
    do_import(db_url, video_id, path, write_results(path, boxes(frames=10)))
    with transaction(db_url) as s:
        assert count_detections(s, video_id) == 30
        assert count_detections(s, video_id, cloud_job_id="job-a") == 30


def test_crash_before_the_ledger_row_leaves_nothing_then_one_copy(db_url, video_id, tmp_path, monkeypatch):
    path = tmp_path / "r.parquet"
    writer = write_results(path, boxes())

    def crash(session, entry):
        raise RuntimeError("power cut")

    monkeypatch.setattr(ingest, "_record", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        do_import(db_url, video_id, path, writer)
    with transaction(db_url) as s:
        assert count_detections(s, video_id) == 0
    assert ledger_rows(db_url) == 0

    monkeypatch.undo()
    do_import(db_url, video_id, path, writer)
    do_import(db_url, video_id, path, writer)
    with transaction(db_url) as s:
        assert count_detections(s, video_id) == 120
    assert ledger_rows(db_url) == 1


@pytest.mark.parametrize("row, column, value, message", [
    (70, "bbox_width", -2.0, "row 70: bbox_width is -2.0, not positive"),
    (95, "bbox_x", np.nan, "row 95: bbox_x is NaN"),
    (119, "frame_number", 40, "row 119: frame_number is 40, outside the video's frames 0..39"),
    (119, "tracking_id", 0, "track 0 has two boxes on frame 39"),  # found after the last batch
])
def test_bad_rows_write_nothing(db_url, video_id, tmp_path, row, column, value, message):
    with transaction(db_url) as s:
        insert_detections(s, video_id, boxes(frames=2))  # an earlier result that must survive
    cols = {k: v.copy() for k, v in boxes().columns().items()}
    cols[column][row] = value
    bad = Detections.from_xywh(cols["frame_number"], cols["tracking_id"], cols["bbox_x"], cols["bbox_y"],
                               cols["bbox_width"], cols["bbox_height"], cols["confidence_score"])
    path = tmp_path / "bad.parquet"
    writer = write_results(path, bad)  # rows 0..49 are fine and get inserted before the bad one is read
    with pytest.raises(ResultsError, match=message):
        do_import(db_url, video_id, path, writer)
    with transaction(db_url) as s:
        assert count_detections(s, video_id) == 6
    assert ledger_rows(db_url) == 0


def test_bad_checksum_writes_nothing(db_url, video_id, tmp_path):
    path = tmp_path / "r.parquet"
    writer = write_results(path, boxes())
    writer.sha256 = "f" * 64
    with pytest.raises(ResultsError, match="fails its checksum"):
        do_import(db_url, video_id, path, writer)
    with transaction(db_url) as s:
        assert count_detections(s, video_id) == 0
    assert ledger_rows(db_url) == 0


def test_unknown_video_is_a_clear_error(db_url, video_id, tmp_path):
    path = tmp_path / "r.parquet"
    writer = write_results(path, boxes())
    with pytest.raises(NotFound, match="video 999, which is not registered"):
        do_import(db_url, 999, path, writer)


def test_other_results_for_an_imported_job_are_refused_and_the_first_stay(db_url, video_id, tmp_path):
    """One import per cloud job, ever: a job's manifest cannot name new results once it is imported, so
    other results under its id are refused (one line), never written over the first."""
    path = tmp_path / "r.parquet"
    do_import(db_url, video_id, path, write_results(path, boxes()))
    path2 = tmp_path / "r2.parquet"
    with pytest.raises(ResultsError, match="cloud job job-a was imported into this database before with other "
                                           "results .*; a job is imported once"):
        do_import(db_url, video_id, path2, write_results(path2, boxes(frames=4)))
    with transaction(db_url) as s:
        assert count_detections(s, video_id) == 120
        assert find_import(s, "job-a").detections == 120
    assert ledger_rows(db_url) == 1


# -- local runs take the same path (contract: the importer is the one way into the database) ----------------

def test_local_run_stores_with_its_job_id_and_no_ledger_row(db_url, video_id, tmp_path):
    from basketball_analyzer.db import DetectionJob
    from basketball_analyzer.detection import DetectionParams
    from basketball_analyzer.jobs import create_job

    with transaction(db_url) as s:
        job_id = create_job(s, video_id, DetectionParams(detector="hog")).id
    path = tmp_path / "local.parquet"
    writer = write_results(path, boxes(), job_id=f"local-{job_id}", video_id=video_id)
    with transaction(db_url) as s:
        outcome = import_results_file(s, video_id=video_id, results_path=path, expected_sha256=writer.sha256,
                                      job_id=job_id, frames_processed=40)
    assert (outcome.cloud_job_id, outcome.rows) == (f"local-{job_id}", 120)
    with transaction(db_url) as s:
        assert len(load_detections(s, video_id, job_id=job_id)) == 120
        assert s.get(DetectionJob, job_id) is not None
    assert ledger_rows(db_url) == 0

    other = tmp_path / "other.parquet"
    writer = write_results(other, boxes(), job_id="local-999", video_id=video_id)  # another job's file
    with pytest.raises(ResultsError, match="say they are of job 'local-999'"), transaction(db_url) as s:
        import_results_file(s, video_id=video_id, results_path=other, expected_sha256=writer.sha256,
                            job_id=job_id, frames_processed=40)


@pytest.mark.parametrize("frames_processed, stored_after", [(40, 0), (0, 120)])
def test_local_empty_result_counts_only_when_frames_were_processed(db_url, video_id, tmp_path,
                                                                    frames_processed, stored_after):
    with transaction(db_url) as s:
        insert_detections(s, video_id, boxes())
    path = tmp_path / "empty.parquet"
    writer = write_results(path, Detections.empty(), job_id="local-5", video_id=video_id)
    try:
        with transaction(db_url) as s:
            import_results_file(s, video_id=video_id, results_path=path, expected_sha256=writer.sha256,
                                job_id=5, frames_processed=frames_processed)
    except ResultsError as exc:
        assert "are empty" in str(exc) and frames_processed == 0
    with transaction(db_url) as s:
        assert count_detections(s, video_id) == stored_after
