"""Parquet results files: written incrementally, read back exactly, and every kind of corruption refused."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from basketball_analyzer.results.format import COLUMNS, ResultsWriter, read_metadata, read_results
from basketball_analyzer.detections import Detections
from basketball_analyzer.exceptions import ResultsError
from basketball_analyzer.video import sha256_file


def frames(first: int, count: int, players: int = 3, seed: int = 0) -> Detections:
    """`count` frames of `players` boxes with exactly representable coordinates."""
    rng = np.random.default_rng(seed)
    n = count * players
    x = rng.integers(0, 500, n).astype(np.float32)
    y = rng.integers(0, 300, n).astype(np.float32)
    w = rng.integers(10, 60, n).astype(np.float32)
    h = rng.integers(20, 90, n).astype(np.float32)
    conf = (rng.integers(1, 64, n) / 64).astype(np.float32)
    frame = np.repeat(np.arange(first, first + count), players)
    return Detections.from_xywh(frame, np.tile(np.arange(players), count), x, y, w, h, conf)


def write(path, *parts: Detections, **kw) -> ResultsWriter:
    with ResultsWriter(path, job_id="job-1", video_id=7, detector="hog", **kw) as writer:
        for part in parts:
            writer.write(part)
    return writer


def read_all(path, **kw) -> Detections:
    kw.setdefault("expected_sha256", None)
    kw.setdefault("frame_count", None)
    return Detections.merge(read_results(path, **kw))


def test_round_trip_in_many_writes_and_row_groups(tmp_path):
    path = tmp_path / "r.parquet"
    parts = [frames(0, 10), frames(10, 1), Detections.empty(), frames(11, 29, seed=1)]
    writer = write(path, *parts, row_group_rows=20)
    expected = Detections.merge(parts)

    assert writer.rows == len(expected) == 120
    assert writer.frames == 40
    assert writer.sha256 == sha256_file(path)
    assert pq.ParquetFile(path).num_row_groups == 6  # flushed as it went, not held until close
    got = read_all(path, expected_sha256=writer.sha256, frame_count=40, batch_rows=32)
    for name, col in expected.columns().items():
        np.testing.assert_array_equal(got.columns()[name], col, err_msg=name)


def test_file_is_self_describing_for_standard_tools(tmp_path):
    path = tmp_path / "r.parquet"
    write(path, frames(0, 5))
    table = pq.read_table(path)
    assert tuple(table.column_names) == (*COLUMNS, "label")
    assert table.num_rows == 15
    assert set(table.column("label").to_pylist()) == {"player"}
    columns = pq.ParquetFile(path).metadata.row_group(0)
    assert {columns.column(i).compression for i in range(len(COLUMNS) + 1)} == {"ZSTD"}
    assert read_metadata(path) == {"schema_version": "2", "job_id": "job-1", "video_id": "7",
                                   "detector": "hog"}


def test_frames_counted_across_writes_of_the_same_frame(tmp_path):
    a = frames(3, 1)
    writer = write(tmp_path / "r.parquet", a[slice(0, 1)], a[slice(1, 3)], frames(4, 2))
    assert (writer.rows, writer.frames) == (9, 3)


def test_empty_results_are_a_valid_file(tmp_path):
    path = tmp_path / "r.parquet"
    writer = write(path)
    assert (writer.rows, writer.frames) == (0, 0)
    assert len(read_all(path, expected_sha256=writer.sha256, frame_count=10)) == 0


def test_error_inside_the_writer_leaves_no_file(tmp_path):
    path = tmp_path / "r.parquet"
    with pytest.raises(RuntimeError), ResultsWriter(path) as writer:
        writer.write(frames(0, 3))
        raise RuntimeError("detector crashed")
    assert not path.exists()


def test_checksum_mismatch_is_refused_before_any_row(tmp_path):
    path = tmp_path / "r.parquet"
    write(path, frames(0, 5))
    with pytest.raises(ResultsError, match="fails its checksum"):
        read_results(path, expected_sha256="0" * 64, frame_count=5)


def test_truncated_file_fails_checksum_or_parse(tmp_path):
    path = tmp_path / "r.parquet"
    writer = write(path, frames(0, 5))
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ResultsError, match="fails its checksum"):
        read_all(path, expected_sha256=writer.sha256, frame_count=5)
    with pytest.raises(ResultsError, match="not a readable Parquet file"):
        read_all(path, frame_count=5)


def test_missing_file(tmp_path):
    with pytest.raises(ResultsError, match="not found"):
        read_all(tmp_path / "nope.parquet")


def _corrupt(det: Detections, row: int, column: str, value) -> Detections:
    cols = {k: v.copy() for k, v in det.columns().items()}
    cols[column][row] = value
    return Detections.from_xywh(cols["frame_number"], cols["tracking_id"], cols["bbox_x"], cols["bbox_y"],
                                cols["bbox_width"], cols["bbox_height"], cols["confidence_score"])


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize(
    "column, value, message",
    [
        ("bbox_x", np.nan, r"row 40: bbox_x is NaN, not a finite number"),
        ("bbox_y", np.inf, r"row 40: bbox_y is inf, not a finite number"),
        ("bbox_width", -3.0, r"row 40: bbox_width is -3.0, not positive"),
        ("bbox_height", 0.0, r"row 40: bbox_height is 0.0, not positive"),
        ("confidence_score", 1.5, r"row 40: confidence_score is 1.5, outside 0..1"),
        ("frame_number", 30, r"row 40: frame_number is 30, outside the video's frames 0..29"),
        ("frame_number", -1, r"row 40: frame_number is -1, outside"),
        ("tracking_id", -7, r"row 40: tracking_id is -7, below -1"),
    ],
)
def test_invalid_rows_are_refused_naming_the_row(tmp_path, column, value, message):
    path = tmp_path / "bad.parquet"
    bad = _corrupt(frames(0, 30), 40, column, value)
    writer = write(path, bad, row_group_rows=16)
    with pytest.raises(ResultsError, match=message) as info:
        read_all(path, expected_sha256=writer.sha256, frame_count=30, batch_rows=16)
    assert "\n" not in str(info.value)


def test_unknown_schema_version_and_missing_columns(tmp_path):
    import pyarrow as pa

    path = tmp_path / "v3.parquet"
    table = pa.table({c: pa.array([1], pa.int32()) for c in COLUMNS})
    pq.write_table(table.replace_schema_metadata({b"bball.schema_version": b"3"}), path)
    with pytest.raises(ResultsError, match="schema version 3"):
        read_all(path)
    pq.write_table(table.replace_schema_metadata({b"bball.schema_version": b"2"}), path)
    with pytest.raises(ResultsError, match="lacks column.*label"):  # version 2 files carry labels
        read_all(path)
    pq.write_table(table.drop(["bbox_width"]).replace_schema_metadata({b"bball.schema_version": b"1"}), path)
    with pytest.raises(ResultsError, match="lacks column"):
        read_all(path)


def test_nulls_are_refused(tmp_path):
    import pyarrow as pa

    path = tmp_path / "null.parquet"
    cols = {c: pa.array([1.0, None] if c == "bbox_height" else [1, 1], pa.float32()) for c in COLUMNS}
    cols["frame_number"] = pa.array([0, 1], pa.int32())
    cols["tracking_id"] = pa.array([0, 1], pa.int32())
    pq.write_table(pa.table(cols).replace_schema_metadata({b"bball.schema_version": b"1"}), path)
    with pytest.raises(ResultsError, match="row 1: bbox_height is empty"):
        read_all(path)


def _version1_file(path, rows: int = 4) -> None:
    """A results file as bball wrote them before labels (schema version 1, no label column)."""
    import pyarrow as pa

    cols = {c: pa.array([10.0] * rows, pa.float32()) for c in COLUMNS}
    cols["frame_number"] = pa.array(range(rows), pa.int32())
    cols["tracking_id"] = pa.array([1] * rows, pa.int32())
    cols["confidence_score"] = pa.array([0.5] * rows, pa.float32())
    pq.write_table(pa.table(cols).replace_schema_metadata({b"bball.schema_version": b"1"}), path)


def test_version_1_files_read_as_players(tmp_path):
    path = tmp_path / "v1.parquet"
    _version1_file(path)
    got = read_all(path, frame_count=4)
    assert len(got) == 4 and got.labels.tolist() == ["player"] * 4


def test_labels_round_trip_and_are_dictionary_encoded(tmp_path):
    path = tmp_path / "labels.parquet"
    det = frames(0, 20).with_labels(np.array(["player", "referee", "ball"] * 20, dtype=object))
    writer = write(path, det, row_group_rows=16)
    got = read_all(path, expected_sha256=writer.sha256, frame_count=20, batch_rows=7)
    assert got.labels.tolist() == det.labels.tolist()
    meta = pq.ParquetFile(path).metadata.row_group(0).column(len(COLUMNS))
    assert "RLE_DICTIONARY" in meta.encodings or "PLAIN_DICTIONARY" in meta.encodings


def test_bad_labels_are_refused(tmp_path):
    import pyarrow as pa

    with pytest.raises(ValueError, match="label"), ResultsWriter(tmp_path / "w.parquet") as writer:
        writer.write(frames(0, 1).with_labels("x" * 65))
    path = tmp_path / "bad.parquet"
    cols = {c: pa.array([10.0, 10.0], pa.float32()) for c in COLUMNS}
    cols["frame_number"] = pa.array([0, 1], pa.int32())
    cols["tracking_id"] = pa.array([1, 1], pa.int32())
    cols["confidence_score"] = pa.array([0.5, 0.5], pa.float32())
    for labels, message in ((["player", None], "row 1: label is empty"),
                            (["player", "\x1b[2J" + "y" * 70], r"label '\\x1b\[2J")):
        cols["label"] = pa.array(labels, pa.string())
        pq.write_table(pa.table(cols).replace_schema_metadata({b"bball.schema_version": b"2"}), path)
        with pytest.raises(ResultsError, match=message) as info:
            read_all(path, frame_count=2)
        assert "\x1b" not in str(info.value)


def test_float_beyond_32_bits_is_refused_before_conversion(tmp_path):
    """A finite float64 width of 1e300 would become inf as float32: refused as out of range."""
    import pyarrow as pa

    path = tmp_path / "big.parquet"
    cols = {c: pa.array([10.0, 10.0], pa.float64()) for c in COLUMNS}
    cols["frame_number"] = pa.array([0, 1], pa.int32())
    cols["tracking_id"] = pa.array([1, 1], pa.int32())
    cols["confidence_score"] = pa.array([0.5, 0.5], pa.float64())
    cols["bbox_width"] = pa.array([10.0, 1e300], pa.float64())
    cols["label"] = pa.array(["player"] * 2, pa.string())
    pq.write_table(pa.table(cols).replace_schema_metadata({b"bball.schema_version": b"2"}), path)
    with pytest.raises(ResultsError, match=r"bbox_width is 1e\+300, beyond the 32-bit float range"):
        read_all(path, frame_count=2)


def test_box_whose_edge_overflows_is_refused(tmp_path):
    path = tmp_path / "edge.parquet"
    big = float(np.finfo(np.float32).max) * 0.75
    det = Detections(np.array([[0, 0, 10, 10]], np.float32), [0.5], [1], [0])
    cols = det.columns()
    writer = ResultsWriter(path, video_id=1)
    with writer:
        # x and width both finite and in range; their sum (the right edge) is not.
        writer.write(Detections.from_xywh(cols["frame_number"], cols["tracking_id"], [0.0], [0.0], [10.0],
                                          [10.0], [0.5]))
    import pyarrow as pa

    table = pq.read_table(path)
    table = table.set_column(2, "bbox_x", pa.array([big], pa.float32()))
    table = table.set_column(4, "bbox_width", pa.array([big], pa.float32()))
    pq.write_table(table, path)
    with pytest.raises(ResultsError, match="right edge overflows"):
        read_all(path, frame_count=1)


def test_crowded_frame_is_refused(tmp_path):
    path = tmp_path / "crowd.parquet"
    write(path, frames(0, 2, players=3), frames(2, 1, players=9), row_group_rows=4)
    assert len(read_all(path, frame_count=3, max_rows_per_frame=9, batch_rows=4)) == 15
    with pytest.raises(ResultsError, match="frame 2 has more than 8 boxes"):
        read_all(path, frame_count=3, max_rows_per_frame=8, batch_rows=4)


def test_the_file_remembers_the_runs_parameters(tmp_path):
    from basketball_analyzer.detection import DetectionParams
    from basketball_analyzer.results.format import read_parameters

    params = DetectionParams(sample_interval=3, detector="hog").to_dict()
    with ResultsWriter(tmp_path / "r.parquet", job_id="j", video_id=1, parameters=params) as w:
        w.write(frames(0, 2))
    assert read_parameters(w.path) == params
    assert read_metadata(w.path)["sample_interval"] == "3"
    older = write(tmp_path / "old.parquet", frames(0, 2))  # no parameters: files from before they were kept
    assert read_parameters(older.path) is None


@pytest.mark.parametrize("batch_rows", [1_000, 4])  # the repeat in one batch, and across batches
def test_a_track_with_two_boxes_on_one_frame_is_refused(tmp_path, batch_rows):
    path = tmp_path / "r.parquet"
    good = frames(0, 6)
    twice = Detections.merge([good, good[np.flatnonzero((good.frame_number == 4) & (good.tracker_id == 2))]])
    write(path, twice)
    with pytest.raises(ResultsError, match=r"track 2 has two boxes on frame 4"):
        read_all(path, batch_rows=batch_rows)
    untracked = Detections(good.xyxy, good.confidence, np.full(len(good), -1), np.zeros(len(good), np.int64))
    write(path, untracked)  # untracked boxes (-1) may share a frame
    assert len(read_all(path, batch_rows=batch_rows)) == len(good)
