"""The join refuses pieces that do not add up, and imports a joined job once, however importers race.

Each crafted job is what a buggy or hostile worker could leave in a real SeaweedFS bucket: part files whose
sha256 and row counts match their manifest entries, arranged so that a join trusting the entries would
double, drop or misplace frames. Every refusal is one line naming the segment, and nothing is written.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading

import numpy as np
import pytest
from click.testing import CliRunner
from cloudutil import hog_params

from basketball_analyzer.cli import cli
from basketball_analyzer.cloud import importer, segments
from basketball_analyzer.cloud.jobfiles import manifest_key
from basketball_analyzer.cloud.manifest import CloudJobStatus, JobManifest
from basketball_analyzer.cloud.segments import combined_sha256
from basketball_analyzer.cloud.submit import submit_job
from basketball_analyzer.db import transaction
from basketball_analyzer.db.detections import count_detections, load_detections
from basketball_analyzer.detections import Detections
from basketball_analyzer.exceptions import JobError, ManifestError, ResultsError
from basketball_analyzer.results import ingest
from basketball_analyzer.videos import register_video
from support.results import ledger_rows, write_results

S = CloudJobStatus


def frame_boxes(lo: int, hi: int, players: int = 3, width: float = 30.0) -> Detections:
    """Boxes of frames lo..hi-1 whose place depends on (frame, player) only, so two files agree on a frame."""
    frames = np.repeat(np.arange(lo, hi), players)
    ids = np.tile(np.arange(players), hi - lo)
    n = len(frames)
    return Detections.from_xywh(frames, ids, (40.0 * ids + frames).astype(float), np.full(n, 50.0),
                                np.full(n, width), np.full(n, 60.0), np.full(n, 0.75))


@pytest.fixture
def video(sample_clip):
    """(video id, path) of the 40-frame clip, registered in this test's database (DATABASE_URL: the test's
    SQLite file, or `db_url` where a test asks for it first)."""
    with transaction() as s:
        return register_video(s, sample_clip[0]).video.id, sample_clip[0]


def segmented_job(queue, tmp_path, video, layouts, width: float = 30.0) -> JobManifest:
    """A completed two-segment job (frames 0-20 and 20-40) whose segments' parts are `layouts`: per segment,
    a list of (start_frame, end_frame, boxes) entries, each uploaded as the file its entry describes."""
    vid, path = video
    job = submit_job(queue, video_id=vid, params=hog_params(), segments=2, overlap_seconds=0.5)
    for seg_id, layout in zip(job.segment_ids, layouts):
        claim = queue._try_claim(seg_id, "crafty")
        entries = []
        for n, (start, end, det) in enumerate(layout):
            f = tmp_path / f"{seg_id}-{n}.parquet"
            w = write_results(f, det, job_id=seg_id, video_id=vid)
            key = queue.files.upload_results(seg_id, f, claim.token, part=n)
            entries.append({"key": key, "sha256": w.sha256, "rows": w.rows, "start_frame": start,
                            "end_frame": end, "overlap_frames": 0, "token": claim.token})
        queue.update(seg_id, lambda m, entries=entries: dataclasses.replace(
            m, status=S.completed, parts=entries, results_key=None, lease_expires_at=None,
            results_sha256=combined_sha256(e["sha256"] for e in entries),
            results_rows=sum(e["rows"] for e in entries), frames_processed=m.frames_total))
        queue.files.drop_markers(seg_id)
    parent = segments.settle(queue, job.job_id)
    assert parent.status is S.completed
    return parent


def good_layouts(width: float = 30.0):
    return [[(0, 10, frame_boxes(0, 10, width=width)), (10, 20, frame_boxes(10, 20, width=width))],
            [(20, 40, frame_boxes(20, 40, width=width))]]


def stored(db_url, vid) -> int:
    with transaction(db_url) as s:
        return count_detections(s, vid)


def doubled(det: Detections) -> Detections:
    return Detections.merge([det, det])[np.argsort(np.r_[det.frame_number, det.frame_number], kind="stable")]


# Segment 1 owns frames 0-20: each layout's files match their entries, and each would corrupt the import.
CRAFTED = {
    "a part outside its segment": ([(0, 10, frame_boxes(0, 10)), (10, 20, frame_boxes(10, 20)),
                                    (20, 40, frame_boxes(20, 40))],
                                   "segment 1/2 (frames 0-20) ({seg}) part 3 (frames 20-40) lies outside its "
                                   "frames 0-20"),
    "overlapping parts": ([(0, 10, frame_boxes(0, 10)), (5, 20, frame_boxes(5, 20))],
                          "part 2 (frames 5-20) overlaps the part before it (frames 5-10 twice)"),
    "a missing middle part": ([(0, 10, frame_boxes(0, 10)), (15, 20, frame_boxes(15, 20))],
                              "frames 10-15 are in no part (a gap before part 2)"),
    "a part listed twice": ([(0, 10, frame_boxes(0, 10)), (10, 20, frame_boxes(10, 20)),
                             (10, 20, frame_boxes(10, 20))],
                            "part 3 (frames 10-20) overlaps the part before it (frames 10-20 twice)"),
    "the parts end early": ([(0, 10, frame_boxes(0, 10))], "frames 10-20 are in no part (the parts end early)"),
    "a part with every row twice": ([(0, 10, doubled(frame_boxes(0, 10))), (10, 20, frame_boxes(10, 20))],
                                    "part 1 (frames 0-10): track 0 has two boxes on frame 0; refusing the file"),
    "a part with rows past its end": ([(0, 10, frame_boxes(0, 14)), (10, 20, frame_boxes(10, 20))],
                                      "part 1 (frames 0-10) hold boxes of frame 10, outside the frames 0-10"),
}


@pytest.mark.parametrize("case", list(CRAFTED))
def test_crafted_parts_are_refused_in_one_line_and_the_next_job_imports(queue, tmp_path, video, case):
    layout, message = CRAFTED[case]
    bad = segmented_job(queue, tmp_path, video, [layout, good_layouts()[1]])
    good = segmented_job(queue, tmp_path, video, good_layouts())
    outcomes = {o.cloud_job_id: o for o in importer.import_all(queue.storage, None)}
    error = outcomes[bad.job_id].error
    assert error and message.format(seg=bad.segment_ids[0]) in error and "\n" not in error, error
    assert f"job {bad.job_id}: segment 1/2 (frames 0-20)" in error
    assert outcomes[good.job_id].error is None and outcomes[good.job_id].rows == 120
    assert queue.get(bad.job_id)[0].status is S.completed and queue.get(good.job_id)[0].status is S.imported
    with transaction(None) as s:
        det = load_detections(s, video[0])
    # The good job's boxes, each (frame, player) once.
    assert len(det) == 120 and np.array_equal(np.bincount(det.frame_number), np.full(40, 3))
    assert ledger_rows(None) == 1


def test_import_all_reports_a_crafted_job_as_one_line_of_not_imported(queue, tmp_path, video):
    layout, message = CRAFTED["a missing middle part"]
    bad = segmented_job(queue, tmp_path, video, [layout, good_layouts()[1]])
    result = CliRunner().invoke(cli, ["cloud", "import-all"])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "Not imported" in result.output and bad.job_id in result.output
    assert "1 of 1 job(s) could not be imported" in result.output
    assert stored(None, video[0]) == 0 and ledger_rows(None) == 0


@pytest.mark.parametrize("entry, message", [
    ({"start_frame": None}, "part 1 has no start_frame (a non-negative integer)"),
    ({"sha256": None}, "part 1 has no sha256 (64 hex digits)"),
    ({"rows": "many"}, "part 1 has rows 'many', not a non-negative integer"),
    ({"end_frame": 0}, "part 1 has start_frame 0 not before end_frame 0"),
])
def test_malformed_part_entries_fail_validation_and_the_next_job_imports(queue, tmp_path, video,
                                                                          entry, message):
    bad = segmented_job(queue, tmp_path, video, good_layouts())
    good = segmented_job(queue, tmp_path, video, good_layouts())
    seg_id = bad.segment_ids[0]
    data = queue.get(seg_id)[0].to_dict()
    data["parts"][0].update(entry)
    data["parts"][0] = {k: v for k, v in data["parts"][0].items() if v is not None}
    raw = json.dumps(data).encode()
    with pytest.raises(ManifestError, match=re.escape(message)):
        JobManifest.from_json(raw)
    queue.storage.put_bytes(manifest_key(seg_id), raw)
    outcomes = {o.cloud_job_id: o for o in importer.import_all(queue.storage, None)}
    assert message in outcomes[bad.job_id].error and "\n" not in outcomes[bad.job_id].error
    assert outcomes[good.job_id].rows == 120 and queue.get(good.job_id)[0].status is S.imported


# -- every segment belongs to its job -------------------------------------------------------------------

def test_a_segment_of_another_video_or_job_is_refused(queue, tmp_path, video, tiny_clip):
    vid, _ = video
    with transaction(None) as s:
        other = register_video(s, tiny_clip).video.id
    a = segmented_job(queue, tmp_path, video, good_layouts())
    b = segmented_job(queue, tmp_path, video, good_layouts())
    c = segmented_job(queue, tmp_path, video, good_layouts())
    # a: its second segment says it is of the other video (results imported into video 2 before).
    queue.update(a.segment_ids[1], lambda m: dataclasses.replace(m, video_id=other))
    # b: names c's second segment as its own.
    queue.update(b.job_id, lambda m: dataclasses.replace(m, segment_ids=[m.segment_ids[0], c.segment_ids[1]]))
    # c: its first segment ran on another file.
    queue.update(c.segment_ids[0], lambda m: dataclasses.replace(m, video_sha256="0" * 64))
    errors = {o.cloud_job_id: o.error for o in importer.import_all(queue.storage, None)}
    assert f"job {a.job_id}: segment 2/2 ({a.segment_ids[1]}) ran on another video (video_id {other}, the " \
        f"job's {vid})" in errors[a.job_id]
    assert f"({c.segment_ids[1]}) belongs to job {c.job_id}, not to this job" in errors[b.job_id]
    assert f"({c.segment_ids[0]}) ran on another video (video_sha256 0000" in errors[c.job_id]
    assert stored(None, vid) == 0 and stored(None, other) == 0 and ledger_rows(None) == 0


def test_a_segment_not_completed_is_refused(queue, tmp_path, video):
    job = segmented_job(queue, tmp_path, video, good_layouts())
    queue.update(job.segment_ids[1], lambda m: dataclasses.replace(m, status=S.pending))  # behind the job's back
    with pytest.raises(ResultsError, match=r"segment 2/2 \(frames 20-40\) .* is pending; a job imports only "
                                           "when all its segments completed"):
        importer.import_job(queue.storage, None, job.job_id)
    assert stored(None, video[0]) == 0 and queue.get(job.job_id)[0].status is S.completed


def test_a_checksum_error_names_the_segment(queue, tmp_path, video):
    job = segmented_job(queue, tmp_path, video, good_layouts())
    seg = queue.get(job.segment_ids[1])[0]
    f = tmp_path / "swap.parquet"
    write_results(f, frame_boxes(20, 40, width=31.0), job_id=seg.job_id, video_id=video[0])
    queue.storage.put_bytes(seg.parts[0]["key"], f.read_bytes())
    with pytest.raises(ResultsError) as err:
        importer.import_job(queue.storage, None, job.job_id)
    assert str(err.value).startswith(f"results file of job {job.job_id}: segment 2/2 (frames 20-40) "
                                     f"({seg.job_id}) part 1 (frames 20-40) fails its checksum")


# -- one import per job, ever ---------------------------------------------------------------------------

def test_an_importer_held_after_its_check_does_not_import_a_joined_job_again(db_url, queue, tmp_path, video,
                                                                            monkeypatch):
    """P2 checks J1, then waits; P1 imports J1 and then the newer J2 of the same video; P2 goes on. The
    video must end with J2's boxes: P2 recognises J1 as imported (the ledger's identity of a joined job)."""
    j1 = segmented_job(queue, tmp_path, video, good_layouts(width=30.0))
    j2 = segmented_job(queue, tmp_path, video, good_layouts(width=32.0))
    checked, go = threading.Event(), threading.Event()
    real = importer._download_and_import

    def held(*args, **kwargs):
        if threading.current_thread().name == "P2":
            checked.set()
            assert go.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(importer, "_download_and_import", held)
    p2: dict = {}

    def run_p2():
        try:
            p2["outcome"] = importer.import_job(queue.storage, db_url, j1.job_id)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            p2["error"] = exc

    thread = threading.Thread(target=run_p2, name="P2")
    thread.start()
    assert checked.wait(60)
    assert not importer.import_job(queue.storage, db_url, j1.job_id).already_imported  # P1
    assert not importer.import_job(queue.storage, db_url, j2.job_id).already_imported
    go.set()
    thread.join(60)
    assert "error" not in p2, p2
    assert p2["outcome"].already_imported
    with transaction(db_url) as s:
        det = load_detections(s, video[0])
    assert len(det) == 120 and set(det.columns()["bbox_width"].tolist()) == {32.0}  # J2's boxes
    assert ledger_rows(db_url) == 2


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_importers_inside_their_transactions_store_a_job_once(db_url, queue, tmp_path, video, monkeypatch):
    """PostgreSQL lets both importers be inside the writing step at once (SQLite has one writer at a time):
    P2, held after its in-transaction check, finds P1's ledger row by the unique constraint and rolls back."""
    job = segmented_job(queue, tmp_path, video, good_layouts())
    checked, go = threading.Event(), threading.Event()
    real = ingest.registered_video

    def held(*args, **kwargs):
        if threading.current_thread().name == "P2":
            checked.set()
            assert go.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest, "registered_video", held)
    p2: dict = {}

    def run_p2():
        try:
            p2["outcome"] = importer.import_job(queue.storage, db_url, job.job_id)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            p2["error"] = exc

    thread = threading.Thread(target=run_p2, name="P2")
    thread.start()
    assert checked.wait(60)
    assert importer.import_job(queue.storage, db_url, job.job_id).rows == 120  # P1, while P2 is mid-transaction
    go.set()
    thread.join(60)
    assert "error" not in p2, p2
    assert p2["outcome"].already_imported and p2["outcome"].rows == 120
    assert stored(db_url, video[0]) == 120 and ledger_rows(db_url) == 1


def test_a_cancel_during_the_import_leaves_nothing_stored(queue, tmp_path, video, monkeypatch):
    """A cancel that lands after the rows are written but before the job is marked imported: the mark fails,
    the transaction rolls back, and the job stays cancelled with nothing of it in the database."""
    job = segmented_job(queue, tmp_path, video, good_layouts())
    real = importer._mark_imported

    def cancel_first(q, manifest):
        queue.cancel(manifest.job_id)
        real(q, manifest)

    monkeypatch.setattr(importer, "_mark_imported", cancel_first)
    with pytest.raises(JobError, match=f"job {job.job_id} changed while it was being imported "
                                       r"\(it is cancelled now\); nothing imported"):
        importer.import_job(queue.storage, None, job.job_id)
    assert stored(None, video[0]) == 0 and ledger_rows(None) == 0
    assert queue.get(job.job_id)[0].status is S.cancelled
