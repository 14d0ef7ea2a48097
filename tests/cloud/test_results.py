"""Parquet results files: written incrementally, read back exactly, and every kind of corruption refused."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from basketball_analyzer.cloud.results import COLUMNS, ResultsWriter, read_metadata, read_results
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
    assert tuple(table.column_names) == COLUMNS
    assert table.num_rows == 15
    columns = pq.ParquetFile(path).metadata.row_group(0)
    assert {columns.column(i).compression for i in range(len(COLUMNS))} == {"ZSTD"}
    assert read_metadata(path) == {"schema_version": "1", "job_id": "job-1", "video_id": "7",
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

    path = tmp_path / "v2.parquet"
    table = pa.table({c: pa.array([1], pa.int32()) for c in COLUMNS})
    pq.write_table(table.replace_schema_metadata({b"bball.schema_version": b"2"}), path)
    with pytest.raises(ResultsError, match="schema version 2"):
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
