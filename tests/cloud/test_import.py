"""Importing cloud jobs: from the bucket into the database once, whatever step a crash interrupts."""

from __future__ import annotations

import pytest

from basketball_analyzer.cloud import importer
from basketball_analyzer.db import transaction
from basketball_analyzer.db.detections import count_detections, load_detections
from basketball_analyzer.exceptions import JobError, ResultsError
from basketball_analyzer.lifecycle import ResultsFile
from basketball_analyzer.results import ingest
from basketball_analyzer.results.ingest import find_import
from basketball_analyzer.videos import register_video
from support.results import boxes, ledger_rows, write_results


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


def test_crash_at_the_manifest_mark_rolls_back_then_one_copy(queue, storage, tmp_path, clips, monkeypatch):
    """The mark is inside the database transaction: a crash before it leaves nothing stored and the job
    completed, so the next run imports it from scratch."""
    (vid, (path, frames)), *_ = clips.items()
    job_id = completed_job(queue, storage, tmp_path, vid, path, frames)

    def crash(queue, manifest):
        raise RuntimeError("killed before the mark")

    monkeypatch.setattr(importer, "_mark_imported", crash)
    with pytest.raises(RuntimeError):
        importer.import_job(storage, None, job_id)
    assert stored(vid) == 0 and ledger_rows(None) == 0 and status(queue, job_id) == "completed"

    monkeypatch.undo()
    outcomes = importer.import_all(storage, None)
    assert [(o.cloud_job_id, o.already_imported) for o in outcomes] == [(job_id, False)]
    assert stored(vid) == frames * 3 and ledger_rows(None) == 1 and status(queue, job_id) == "imported"


def test_crash_between_the_mark_and_the_commit_then_import_job_stores_it_once(queue, storage, tmp_path, clips,
                                                                             monkeypatch):
    """The one window left: the manifest says imported, the database rolled back; the results are still in
    the bucket and `import-job` stores them."""
    (vid, (path, frames)), *_ = clips.items()
    job_id = completed_job(queue, storage, tmp_path, vid, path, frames)
    real = importer._mark_imported

    def mark_then_crash(queue, manifest):
        real(queue, manifest)
        raise RuntimeError("killed before the commit")

    monkeypatch.setattr(importer, "_mark_imported", mark_then_crash)
    with pytest.raises(RuntimeError):
        importer.import_job(storage, None, job_id)
    assert stored(vid) == 0 and status(queue, job_id) == "imported"
    monkeypatch.undo()
    assert importer.import_job(storage, None, job_id).already_imported is False
    assert importer.import_job(storage, None, job_id).already_imported is True
    assert stored(vid) == frames * 3 and ledger_rows(None) == 1


def test_crash_inside_the_db_step_then_one_copy(queue, storage, tmp_path, clips, monkeypatch):
    (vid, (path, frames)), *_ = clips.items()
    job_id = completed_job(queue, storage, tmp_path, vid, path, frames)
    def crash(session, entry):
        raise OSError("disk full")

    monkeypatch.setattr(ingest, "_record", crash)
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
    class Killed(BaseException):  # the process dies: not an error import-all reports and goes past
        pass

    monkeypatch.setattr(type(queue.files), "delete_job_files",
                        lambda self, job_id: (_ for _ in ()).throw(Killed("killed in clean-up")))
    with pytest.raises(Killed):
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
