"""The results file format: a run's `Detections` as Parquet (zstd), written as frames arrive, read back verified.

The columns are `Detections.columns()` plus each box's `label` (the `player_detections` layout), so
pandas, DuckDB or `pyarrow.parquet` read a results file as it is. The file's key-value metadata says which
job, video and detector produced it, with which parameters (`parameters`, JSON, and `sample_interval`:
each stored frame stands for that many video frames), and which schema version it follows. Memory stays flat in the video's
length: the writer flushes a row group every `row_group_rows` boxes and the reader yields one batch at a
time.

Schema versions: 1 had no `label` column (its boxes read back as "player"); 2 adds it.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..detections import Detections, check_labels, fits_int32
from ..exceptions import ResultsError
from ..video import sha256_file

SCHEMA_VERSION = 2
READABLE_VERSIONS = ("1", "2")
COLUMNS = ("frame_number", "tracking_id", "bbox_x", "bbox_y", "bbox_width", "bbox_height", "confidence_score")
LABEL_COLUMN = "label"
FILE_COLUMNS = (*COLUMNS, LABEL_COLUMN)
"""Every column a version-2 file holds, in order."""
_INT_COLUMNS = ("frame_number", "tracking_id")
# int32 matches the database's INTEGER columns; a value that does not fit fails on write, not on import.
_DTYPES = {"frame_number": np.int32, "tracking_id": np.int32, "bbox_x": np.float32, "bbox_y": np.float32,
           "bbox_width": np.float32, "bbox_height": np.float32, "confidence_score": np.float32}
ROW_GROUP_ROWS = 131_072
BATCH_ROWS = 131_072
_META_PREFIX = "bball."


def _arrow_schema(metadata: dict[str, str]):
    import pyarrow as pa

    types = {np.int32: pa.int32(), np.float32: pa.float32()}
    fields = [pa.field(name, types[_DTYPES[name]], nullable=False) for name in COLUMNS]
    fields.append(pa.field(LABEL_COLUMN, pa.string(), nullable=False))
    meta = {f"{_META_PREFIX}{k}".encode(): str(v).encode() for k, v in metadata.items()}
    return pa.schema(fields, metadata=meta)


class ResultsWriter:
    """Write `Detections` to a Parquet results file as they arrive; closed: `.sha256`, `.rows`, `.frames`.

    Use as a context manager. On an exception inside the block the partial file is removed.
    """

    def __init__(self, path: str | os.PathLike, *, job_id: str | None = None, video_id: int | None = None,
                 detector: str | None = None, parameters: dict[str, Any] | None = None,
                 row_group_rows: int = ROW_GROUP_ROWS) -> None:
        """`job_id` is the cloud job's id, or `local-<id>` for a local job: import checks it. `parameters`
        are the run's (`DetectionParams.to_dict()`): the file remembers how it was sampled."""
        self.path = Path(path)
        self.metadata = {"schema_version": SCHEMA_VERSION, "job_id": job_id or "", "video_id": video_id or "",
                         "detector": detector or ""}
        if parameters:
            self.metadata["parameters"] = json.dumps(parameters, sort_keys=True, allow_nan=False)
            self.metadata["sample_interval"] = parameters.get("sample_interval", "")
        self.row_group_rows = int(row_group_rows)
        self.rows = 0
        self.frames = 0
        self.sha256: str | None = None
        self._parts: list[dict[str, np.ndarray]] = []
        self._buffered = 0
        self._last_frame: int | None = None
        self._writer: Any = None
        self._closed = False

    def __enter__(self) -> "ResultsWriter":
        self.open()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def open(self) -> None:
        """Create the file (done by `__enter__`)."""
        import pyarrow.parquet as pq

        if self._writer is None:
            # Byte-stream-split floats compress about 40% smaller under zstd than dictionary-encoded ones.
            floats = [c for c in COLUMNS if c not in _INT_COLUMNS]
            self._writer = pq.ParquetWriter(self.path, _arrow_schema(self.metadata), compression="zstd",
                                            use_dictionary=[*_INT_COLUMNS, LABEL_COLUMN],
                                            use_byte_stream_split=floats,
                                            write_statistics=True)

    def write(self, detections: Detections) -> None:
        """Append boxes (any number of frames, in frame order); flushes row groups as they fill."""
        if self._closed:
            raise ValueError("results writer is closed")
        if not len(detections):
            return
        self.open()
        cols = detections.columns()
        part = {}
        for name in COLUMNS:
            values = cols[name]
            if name in _INT_COLUMNS and not fits_int32(values):
                raise ValueError(f"{name} does not fit in 32 bits")
            part[name] = values.astype(_DTYPES[name], copy=False)
        labels = detections.labels
        check_labels(labels)
        part[LABEL_COLUMN] = labels.astype(object, copy=False)
        frames = part["frame_number"]
        # Frames arrive in order, so counting changes of frame number counts frames without remembering them.
        changes = int(np.count_nonzero(np.diff(frames))) + 1
        if self._last_frame is not None and int(frames[0]) == self._last_frame:
            changes -= 1
        self.frames += changes
        self._last_frame = int(frames[-1])
        self._parts.append(part)
        self._buffered += len(detections)
        self.rows += len(detections)
        if self._buffered >= self.row_group_rows:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        """Write whole row groups of `row_group_rows`; the remainder waits for more boxes unless `final`."""
        import pyarrow as pa

        if not self._parts:
            return
        merged = {name: np.concatenate([p[name] for p in self._parts]) for name in FILE_COLUMNS}
        n = self._buffered
        keep = 0 if final else n % self.row_group_rows
        if n - keep:
            arrays = [pa.array(merged[name][: n - keep], type=pa.string() if name == LABEL_COLUMN else None)
                      for name in FILE_COLUMNS]
            self._writer.write_table(pa.Table.from_arrays(arrays, schema=self._writer.schema),
                                     row_group_size=self.row_group_rows)
        self._parts = [{name: merged[name][n - keep:].copy() for name in FILE_COLUMNS}] if keep else []
        self._buffered = keep

    def close(self) -> None:
        """Flush, write the footer and compute the file's sha256."""
        if self._closed:
            return
        self.open()
        self._flush(final=True)
        self._writer.close()
        self._closed = True
        self.sha256 = sha256_file(self.path)

    def abort(self) -> None:
        """Close without finishing and delete the partial file."""
        self._closed = True
        self._parts = []
        try:
            if self._writer is not None:
                self._writer.close()
        finally:
            self.path.unlink(missing_ok=True)


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The file's `bball.*` metadata (schema_version, job_id, video_id, detector) without reading rows."""
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except FileNotFoundError:
        raise ResultsError(f"results file not found: {path}") from None
    except Exception as exc:
        raise ResultsError(f"results file {Path(path).name} is not a readable Parquet file: "
                           f"{_short(exc)}") from None
    meta = schema.metadata or {}
    return {k.decode()[len(_META_PREFIX):]: v.decode() for k, v in meta.items()
            if k.decode().startswith(_META_PREFIX)}


def read_parameters(path: str | os.PathLike) -> dict[str, Any] | None:
    """The run parameters the file records (None for files written before they were); `ResultsError` when
    they are not a JSON object."""
    text = read_metadata(path).get("parameters")
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ResultsError(f"results file {Path(path).name}: its parameters are not a JSON object")
    return value


def count_rows(path: str | os.PathLike) -> int:
    """Rows the file's footer declares (no row is read): checked against caps before an import writes."""
    import pyarrow.parquet as pq

    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except Exception as exc:
        raise ResultsError(f"results file {Path(path).name} is not a readable Parquet file: "
                           f"{_short(exc)}") from None


def verify_checksum(path: str | os.PathLike, expected_sha256: str, name: str | None = None) -> None:
    """`ResultsError` unless the file's sha256 is `expected_sha256` (`name`: how the message names the file,
    by default its file name)."""
    actual = sha256_file(path)
    if actual != str(expected_sha256).lower():
        raise ResultsError(f"results file {name or Path(path).name} fails its checksum (sha256 {actual[:12]}…, "
                           f"manifest says {_shown(str(expected_sha256)[:12])}…): it is corrupt or "
                           "incomplete; re-run the job")


def read_results(path: str | os.PathLike, *, expected_sha256: str | None, frame_count: int | None,
                 batch_rows: int = BATCH_ROWS, max_rows_per_frame: int | None = None,
                 name: str | None = None) -> Iterator[Detections]:
    """Yield the file's boxes (labelled) in batches, verifying the checksum first and then every row.

    A bad file raises `ResultsError` with one line naming the file, the row and the problem; the checksum
    and the schema are checked before the first batch is yielded. A track with two boxes on one frame is
    refused, and with `max_rows_per_frame` a frame holding more boxes than that. `name` is how messages name
    the file (a downloaded piece is named by what it is, not by its temporary file); by default its file name.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    name = name or path.name
    if not path.is_file():
        raise ResultsError(f"results file not found: {path}")
    if expected_sha256 is not None:
        verify_checksum(path, expected_sha256, name)
    meta = read_metadata(path)
    version = meta.get("schema_version")
    if version not in READABLE_VERSIONS:
        raise ResultsError(f"results file {name} has schema version {_shown(version or 'none')}; this bball "
                           f"reads versions 1..{SCHEMA_VERSION} (upgrade bball or re-run the job)")
    expected = COLUMNS if version == "1" else FILE_COLUMNS
    try:
        pf = pq.ParquetFile(path)
        missing = [c for c in expected if c not in pf.schema_arrow.names]
        if not missing and LABEL_COLUMN in expected:
            # Labels repeat a handful of values: read them as a dictionary, check each distinct one once.
            pf = pq.ParquetFile(path, read_dictionary=[LABEL_COLUMN])
    except Exception as exc:
        raise ResultsError(f"results file {name} is not a readable Parquet file: {_short(exc)}") from None
    if missing:
        raise ResultsError(f"results file {name} lacks column(s) {', '.join(missing)}")
    per_frame = _FrameCounter(name, max_rows_per_frame)
    return _batches(pf, name, frame_count, batch_rows, expected, per_frame, _TrackKeys(name))


class _TrackKeys:
    """Refuses a tracked box twice: one (frame, tracking id) in two rows, anywhere in the file (untracked boxes,
    id -1, may repeat). Batches' keys are kept and sorted once after the last batch: a file refused there has
    been streamed whole, and the caller's transaction rolls it back."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.keys: list[np.ndarray] = []

    def add(self, frames: np.ndarray, ids: np.ndarray) -> None:
        tracked = ids >= 0
        self.keys.append((frames[tracked].astype(np.int64) << 32) | ids[tracked].astype(np.int64))

    def check(self) -> None:
        keys = np.sort(np.concatenate(self.keys)) if self.keys else np.zeros(0, np.int64)
        twice = np.flatnonzero(keys[1:] == keys[:-1])
        if len(twice):
            key = int(keys[twice[0]])
            raise ResultsError(f"results file {self.name}: track {key & 0xFFFFFFFF} has two boxes on frame "
                               f"{key >> 32}; refusing the file")


class _FrameCounter:
    """Counts boxes per frame across batches (frames need not be in order) and refuses a crowded frame."""

    def __init__(self, name: str, limit: int | None) -> None:
        self.name, self.limit = name, limit
        self.counts = np.zeros(0, np.int64)

    def add(self, frames: np.ndarray) -> None:
        if self.limit is None or not len(frames):
            return
        top = int(frames.max()) + 1
        if top > len(self.counts):  # frames are already checked to be inside the video
            self.counts = np.concatenate([self.counts, np.zeros(top - len(self.counts), np.int64)])
        self.counts += np.bincount(frames, minlength=len(self.counts))
        crowded = np.flatnonzero(self.counts > self.limit)
        if len(crowded):
            raise ResultsError(f"results file {self.name}: frame {int(crowded[0])} has more than {self.limit} "
                               f"boxes (RESULTS_MAX_ROWS_PER_FRAME); refusing the file")


def _batches(pf, name: str, frame_count: int | None, batch_rows: int, columns: tuple[str, ...],
             per_frame: _FrameCounter, keys: _TrackKeys) -> Iterator[Detections]:
    offset = 0
    try:
        batches = pf.iter_batches(batch_size=batch_rows, columns=list(columns))
        for batch in batches:
            cols = {}
            for i, col in enumerate(COLUMNS):
                arr = batch.column(i)
                if arr.null_count:
                    bad = offset + int(np.flatnonzero(arr.is_null().to_numpy(zero_copy_only=False))[0])
                    raise ResultsError(f"results file {name}: row {bad}: {col} is empty")
                cols[col] = _to_numpy(arr, col, name)
            _validate(cols, offset, name, frame_count)
            per_frame.add(cols["frame_number"].astype(np.int64))
            keys.add(cols["frame_number"], cols["tracking_id"])
            det = Detections.from_xywh(cols["frame_number"], cols["tracking_id"], cols["bbox_x"],
                                       cols["bbox_y"], cols["bbox_width"], cols["bbox_height"],
                                       cols["confidence_score"])
            if LABEL_COLUMN in columns:
                det = det.with_labels(_labels(batch.column(len(COLUMNS)), offset, name))
            offset += batch.num_rows
            yield det
        keys.check()
    except ResultsError:
        raise
    except Exception as exc:
        raise ResultsError(f"results file {name} is unreadable near row {offset}: {_short(exc)}") from None


def _labels(arr, offset: int, name: str) -> np.ndarray:
    """A batch's labels as an object array of str, each distinct value checked once."""
    import pyarrow as pa

    if arr.null_count:
        bad = offset + int(np.flatnonzero(arr.is_null().to_numpy(zero_copy_only=False))[0])
        raise ResultsError(f"results file {name}: row {bad}: label is empty")
    if not pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_encode()
    if not pa.types.is_string(arr.type.value_type) and not pa.types.is_large_string(arr.type.value_type):
        raise ResultsError(f"results file {name}: column label holds {arr.type.value_type}, expected text")
    distinct = np.array(arr.dictionary.to_pylist(), dtype=object)
    try:
        check_labels(distinct)
    except ValueError as exc:
        raise ResultsError(f"results file {name}: {_shown(str(exc))}") from None
    return distinct[arr.indices.to_numpy(zero_copy_only=False)]


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _to_numpy(arr, col: str, name: str) -> np.ndarray:
    values = arr.to_numpy(zero_copy_only=False)
    dtype = _DTYPES[col]
    if col in _INT_COLUMNS:
        if values.dtype.kind not in "iu":
            raise ResultsError(f"results file {name}: column {col} holds {values.dtype}, expected integers")
        if not fits_int32(values):
            raise ResultsError(f"results file {name}: column {col} holds values beyond 32 bits")
    elif values.dtype.kind not in "fiu":
        raise ResultsError(f"results file {name}: column {col} holds {values.dtype}, expected numbers")
    elif values.dtype != dtype and len(values):
        # Checked before the cast: a finite 1e300 would otherwise be stored as inf.
        big = np.isfinite(values) & (np.abs(values) > _FLOAT32_MAX)
        if big.any():
            i = int(np.argmax(big))
            raise ResultsError(f"results file {name}: {col} is {float(values[i])!r}, beyond the 32-bit float "
                               "range")
    return values.astype(dtype, copy=False)


def _validate(cols: dict[str, np.ndarray], offset: int, name: str, frame_count: int | None) -> None:
    """Raise on the first bad row of a batch; the checks are vectorised, the message names one row."""
    frame = cols["frame_number"]
    upper = frame_count if frame_count is not None else np.iinfo(np.int32).max
    checks = [
        (frame < 0, "frame_number", f"outside the video's frames 0..{upper - 1}"),
        (frame >= upper, "frame_number", f"outside the video's frames 0..{upper - 1}"),
        (cols["tracking_id"] < -1, "tracking_id", "below -1 (untracked)"),
    ]
    for col in ("bbox_x", "bbox_y", "bbox_width", "bbox_height", "confidence_score"):
        checks.append((~np.isfinite(cols[col]), col, "not a finite number"))
    with np.errstate(over="ignore"):  # an overflow is exactly what is being looked for
        right, bottom = cols["bbox_x"] + cols["bbox_width"], cols["bbox_y"] + cols["bbox_height"]
    checks += [
        (np.isfinite(cols["bbox_x"]) & ~np.isfinite(right), "bbox_width", "so large the box's right edge "
         "overflows"),
        (np.isfinite(cols["bbox_y"]) & ~np.isfinite(bottom), "bbox_height", "so large the box's bottom edge "
         "overflows"),
        (~(cols["bbox_width"] > 0), "bbox_width", "not positive"),
        (~(cols["bbox_height"] > 0), "bbox_height", "not positive"),
        ((cols["confidence_score"] < 0) | (cols["confidence_score"] > 1), "confidence_score",
         "outside 0..1"),
    ]
    for mask, col, problem in checks:
        if mask.any():
            i = int(np.argmax(mask))
            value = cols[col][i]
            shown = repr(float(value)) if not math.isnan(float(value)) else "NaN"
            if col in _INT_COLUMNS:
                shown = str(int(value))
            raise ResultsError(f"results file {name}: row {offset + i}: {col} is {shown}, {problem}")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return _shown(text[:200])


def _shown(text: str) -> str:
    """Text from a file, safe to print on one line (control characters escaped)."""
    from ..logs import printable

    return printable(text)
