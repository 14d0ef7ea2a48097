"""Importing results: idempotent, atomic (a crash at any step, then again → exactly one copy), verified."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, select

from basketball_analyzer.cloud import importer
from basketball_analyzer.cloud.importer import find_import, import_results_file
from basketball_analyzer.cloud.results import ResultsWriter
from basketball_analyzer.db import CloudImport, transaction
from basketball_analyzer.db.detections import count_detections, insert_detections, load_detections
from basketball_analyzer.detections import Detections
from basketball_analyzer.exceptions import JobError, NotFound, ResultsError
from basketball_analyzer.lifecycle import ResultsFile
from basketball_analyzer.videos import register_video


def boxes(frames: int = 40, players: int = 3, width: float = 30.0) -> Detections:
    """Boxes on every frame with exactly representable coordinates."""
    n = frames * players
    return Detections.from_xywh(np.repeat(np.arange(frames), players), np.tile(np.arange(players), frames),
                                np.arange(n) % 500, np.arange(n) % 300, np.full(n, width), np.full(n, 60.0),
                                np.full(n, 0.75))


def write_results(path, det: Detections, job_id: str = "job-a", video_id: int = 1) -> ResultsWriter:
    with ResultsWriter(path, job_id=job_id, video_id=video_id, detector="hog", row_group_rows=50) as w:
        w.write(det)
    return w


@pytest.fixture
def video_id(db_url, sample_clip):
    with transaction(db_url) as s:
        return register_video(s, sample_clip[0]).video.id


def do_import(db_url, video_id, path, writer, job_id="job-a", **kw):
    with transaction(db_url) as s:
        return import_results_file(s, cloud_job_id=job_id, video_id=video_id, results_path=path,
                                   expected_sha256=writer.sha256, results_key=f"results/{job_id}.parquet",
                                   frames_processed=writer.frames, **kw)


def ledger_rows(db_url) -> int:
    with transaction(db_url) as s:
        return s.execute(select(func.count()).select_from(CloudImport)).scalar_one()


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

    monkeypatch.setattr(importer, "_record", crash)
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


def test_new_results_for_the_same_job_replace_the_old(db_url, video_id, tmp_path):
    path = tmp_path / "r.parquet"
    do_import(db_url, video_id, path, write_results(path, boxes()))
    path2 = tmp_path / "r2.parquet"
    outcome = do_import(db_url, video_id, path2, write_results(path2, boxes(frames=4)))
    assert (outcome.rows, outcome.already_imported) == (12, False)
    with transaction(db_url) as s:
        assert count_detections(s, video_id) == 12
        assert find_import(s, "job-a").detections == 12
    assert ledger_rows(db_url) == 1


# -- from the bucket: import_job / import_all / CLI (real SeaweedFS S3 server, SQLite file) ----------------

@pytest.fixture
def clips(sample_clip, tiny_clip):
    """{video id: (path, frame count)} for two registered videos in the test's default database."""
    with transaction() as s:
        a = register_video(s, sample_clip[0]).video
        b = register_video(s, tiny_clip).video
        return {a.id: (sample_clip[0], a.frame_count), b.id: (tiny_clip, b.frame_count)}


def completed_job(queue, storage, tmp_path, video_id, path, frames) -> str:
    """Submit, claim, write results and complete a job as a worker would (without running a detector)."""
    from cloudutil import hog_params

    manifest = queue.submit(video_id, path, hog_params(), frames_total=frames)
    claim = queue.claim("test-worker")
    assert claim.job_id == manifest.job_id
    results = tmp_path / f"{manifest.job_id}.parquet"
    writer = write_results(results, boxes(frames=frames), job_id=manifest.job_id, video_id=video_id)
    claim.complete(ResultsFile(results, writer.sha256, writer.rows, frames, frames))
    return manifest.job_id


def stored(video_id=None) -> int:
    with transaction() as s:
        return count_detections(s, video_id)


def status(queue, job_id) -> str:
    return queue.get(job_id)[0].status.value


def test_import_job_stores_marks_imported_and_is_idempotent(queue, storage, tmp_path, clips):
    (vid, (path, frames)), *_ = clips.items()
    job_id = completed_job(queue, storage, tmp_path, vid, path, frames)

    first = importer.import_job(storage, None, job_id)
    assert (first.rows, first.already_imported, first.video_id) == (frames * 3, False, vid)
    assert status(queue, job_id) == "imported"
    second = importer.import_job(storage, None, job_id)
    assert (second.rows, second.already_imported) == (frames * 3, True)
    assert stored(vid) == frames * 3
    assert ledger_rows(None) == 1
    with transaction() as s:
        assert find_import(s, job_id).frames_processed == frames
    assert queue.files.list_job_ids() == [job_id]  # no clean-up unless asked


def test_crash_between_commit_and_manifest_update_then_one_copy(queue, storage, tmp_path, clips, monkeypatch):
    (vid, (path, frames)), *_ = clips.items()
    job_id = completed_job(queue, storage, tmp_path, vid, path, frames)

    def crash(queue, job_id):
        raise RuntimeError("killed after commit")

    monkeypatch.setattr(importer, "_mark_imported", crash)
    with pytest.raises(RuntimeError):
        importer.import_job(storage, None, job_id)
    assert stored(vid) == frames * 3 and status(queue, job_id) == "completed"

    monkeypatch.undo()
    outcomes = importer.import_all(storage, None)
    assert [(o.cloud_job_id, o.already_imported) for o in outcomes] == [(job_id, True)]
    assert stored(vid) == frames * 3
    assert ledger_rows(None) == 1
    assert status(queue, job_id) == "imported"


def test_crash_inside_the_db_step_then_one_copy(queue, storage, tmp_path, clips, monkeypatch):
    (vid, (path, frames)), *_ = clips.items()
    job_id = completed_job(queue, storage, tmp_path, vid, path, frames)
    def crash(session, entry):
        raise OSError("disk full")

    monkeypatch.setattr(importer, "_record", crash)
    with pytest.raises(OSError):
        importer.import_job(storage, None, job_id)
    assert stored() == 0 and ledger_rows(None) == 0 and status(queue, job_id) == "completed"
    monkeypatch.undo()
    importer.import_job(storage, None, job_id)
    importer.import_job(storage, None, job_id)
    assert stored() == frames * 3 and ledger_rows(None) == 1


def test_crash_during_cleanup_is_finished_by_the_next_run(queue, storage, tmp_path, clips, monkeypatch):
    (vid, (path, frames)), *_ = clips.items()
    job_id = completed_job(queue, storage, tmp_path, vid, path, frames)
    monkeypatch.setattr(type(queue.files), "delete_job_files",
                        lambda self, job_id: (_ for _ in ()).throw(RuntimeError("killed in clean-up")))
    with pytest.raises(RuntimeError):
        importer.import_all(storage, None, cleanup=True)
    assert status(queue, job_id) == "imported" and queue.files.list_job_ids() == [job_id]
    monkeypatch.undo()
    outcomes = importer.import_all(storage, None, cleanup=True)
    assert [(o.already_imported, o.cleaned_up) for o in outcomes] == [(True, True)]
    assert queue.files.list_job_ids() == []
    assert stored(vid) == frames * 3 and ledger_rows(None) == 1
    assert importer.import_all(storage, None, cleanup=True) == []


def test_corrupt_results_in_the_bucket_write_nothing(queue, storage, tmp_path, clips):
    (vid, (path, frames)), *_ = clips.items()
    job_id = completed_job(queue, storage, tmp_path, vid, path, frames)
    manifest = queue.get(job_id)[0]
    other = tmp_path / "other.parquet"
    write_results(other, boxes(frames=2))
    storage.put_bytes(manifest.results_key, other.read_bytes())  # swapped under the manifest's checksum
    with pytest.raises(ResultsError, match="fails its checksum"):
        importer.import_job(storage, None, job_id)
    assert stored() == 0 and ledger_rows(None) == 0 and status(queue, job_id) == "completed"


def test_only_completed_jobs_import(queue, storage, clips):
    from cloudutil import hog_params

    (vid, (path, frames)), *_ = clips.items()
    pending = queue.submit(vid, path, hog_params(), frames_total=frames)
    with pytest.raises(JobError, match="is pending; only completed jobs can be imported"):
        importer.import_job(storage, None, pending.job_id)
    assert importer.import_all(storage, None) == []


def test_import_all_imports_each_job_and_reports_a_bad_one(queue, storage, tmp_path, clips):
    (va, (pa_, fa)), (vb, (pb, fb)) = clips.items()
    ja = completed_job(queue, storage, tmp_path, va, pa_, fa)
    jb = completed_job(queue, storage, tmp_path, vb, pb, fb)
    jc = completed_job(queue, storage, tmp_path, 999, pb, fb)  # a video this database does not have
    calls = []
    outcomes = importer.import_all(storage, None, cleanup=True,
                                   on_progress=lambda done, total, o: calls.append((done, total)))
    by_id = {o.cloud_job_id: o for o in outcomes}
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert (by_id[ja].rows, by_id[jb].rows) == (fa * 3, fb * 3)
    assert by_id[ja].cleaned_up and by_id[jb].cleaned_up
    assert "video 999, which is not registered" in by_id[jc].error
    assert stored(va) == fa * 3 and stored(vb) == fb * 3 and ledger_rows(None) == 2
    assert queue.files.list_job_ids() == [jc]
    assert status(queue, jc) == "completed"


def test_cli_import_all_and_import_job(queue, storage, tmp_path, clips):
    from click.testing import CliRunner

    from basketball_analyzer.cli import cli

    (vid, (path, frames)), *_ = clips.items()
    job_id = completed_job(queue, storage, tmp_path, vid, path, frames)
    runner = CliRunner()
    result = runner.invoke(cli, ["cloud", "import-all", "--cleanup"])
    assert result.exit_code == 0, result.output
    assert job_id in result.output and "imported, cleaned" in result.output
    assert f"Imported {frames * 3} detections from 1 job(s) in " in result.output
    assert stored(vid) == frames * 3

    result = runner.invoke(cli, ["cloud", "import-all"])
    assert (result.exit_code, result.output.strip()) == (
        0, "No completed cloud jobs to import (see `bball cloud status`).")

    result = runner.invoke(cli, ["cloud", "import-job", "--job-id", job_id])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: no cloud job {job_id}") and result.output.count("\n") == 1

    result = runner.invoke(cli, ["cloud", "import-job", "--job-id", "../../etc"])
    assert result.exit_code == 1 and "Traceback" not in result.output and result.output.count("\n") == 1


def test_cli_import_all_fails_when_a_job_fails(queue, storage, tmp_path, clips):
    from click.testing import CliRunner

    from basketball_analyzer.cli import cli

    (vid, (path, frames)), *_ = clips.items()
    completed_job(queue, storage, tmp_path, 999, path, frames)
    result = CliRunner().invoke(cli, ["cloud", "import-all"])
    assert result.exit_code == 1
    assert "Not imported" in result.output and "which is not registered" in result.output
    assert "1 of 1 job(s) could not be imported" in result.output


def test_a_real_worker_run_imports(queue, storage, cloud_settings, clips):
    """End to end with the CPU detector: the worker's results file passes every check and lands once."""
    from cloudutil import hog_params

    from basketball_analyzer.cloud.submit import submit_job
    from basketball_analyzer.worker.cloud import CloudWorker

    (vid, (path, frames)), _ = clips.items()
    job = submit_job(queue, video_id=vid, params=hog_params(), video_path=path)
    assert CloudWorker(cloud_settings, worker_id="w1", storage=storage).work(burst=True) == 1
    manifest = queue.get(job.job_id)[0]
    assert manifest.status.value == "completed"

    outcome = importer.import_job(storage, None, job.job_id, cleanup=True)
    assert outcome.rows == manifest.results_rows == stored(vid)
    with transaction() as s:
        det = load_detections(s, vid, cloud_job_id=job.job_id)
    assert len(det) == outcome.rows > 0
    assert det.frame_number.min() >= 0 and det.frame_number.max() < frames
    assert queue.files.list_job_ids() == []


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
