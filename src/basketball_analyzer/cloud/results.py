"""Results files: a worker's `Detections` as Parquet (zstd), written as frames arrive, read back verified.

The columns are exactly `Detections.columns()` (the `player_detections` layout), so pandas, DuckDB or
`pyarrow.parquet` read a results file as it is. The file's key-value metadata says which job, video and
detector produced it and which schema version it follows. Memory stays flat in the video's length: the
writer flushes a row group every `row_group_rows` boxes and the reader yields one batch at a time.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..detections import Detections
from ..exceptions import ResultsError
from ..video import sha256_file

SCHEMA_VERSION = 1
COLUMNS = ("frame_number", "tracking_id", "bbox_x", "bbox_y", "bbox_width", "bbox_height", "confidence_score")
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
    meta = {f"{_META_PREFIX}{k}".encode(): str(v).encode() for k, v in metadata.items()}
    return pa.schema(fields, metadata=meta)


class ResultsWriter:
    """Write `Detections` to a Parquet results file as they arrive; closed: `.sha256`, `.rows`, `.frames`.

    Use as a context manager. On an exception inside the block the partial file is removed.
    """

    def __init__(self, path: str | os.PathLike, *, job_id: str | None = None, video_id: int | None = None,
                 detector: str | None = None, row_group_rows: int = ROW_GROUP_ROWS) -> None:
        self.path = Path(path)
        self.metadata = {"schema_version": SCHEMA_VERSION, "job_id": job_id or "", "video_id": video_id or "",
                         "detector": detector or ""}
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
                                            use_dictionary=list(_INT_COLUMNS), use_byte_stream_split=floats,
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
            if name in _INT_COLUMNS and len(values) and (values.min() < -(2**31) or values.max() >= 2**31):
                raise ValueError(f"{name} does not fit in 32 bits")
            part[name] = values.astype(_DTYPES[name], copy=False)
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
        merged = {name: np.concatenate([p[name] for p in self._parts]) for name in COLUMNS}
        n = self._buffered
        keep = 0 if final else n % self.row_group_rows
        if n - keep:
            arrays = [pa.array(merged[name][: n - keep]) for name in COLUMNS]
            self._writer.write_table(pa.Table.from_arrays(arrays, schema=self._writer.schema),
                                     row_group_size=self.row_group_rows)
        self._parts = [{name: merged[name][n - keep:].copy() for name in COLUMNS}] if keep else []
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


def read_results(path: str | os.PathLike, *, expected_sha256: str | None, frame_count: int | None,
                 batch_rows: int = BATCH_ROWS) -> Iterator[Detections]:
    """Yield the file's boxes in batches, verifying the checksum first and then every row.

    A bad file raises `ResultsError` with one line naming the file, the row and the problem; the checksum
    and the schema are checked before the first batch is yielded.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    name = path.name
    if not path.is_file():
        raise ResultsError(f"results file not found: {path}")
    if expected_sha256 is not None:
        actual = sha256_file(path)
        if actual != expected_sha256.lower():
            raise ResultsError(f"results file {name} fails its checksum (sha256 {actual[:12]}…, manifest "
                               f"says {expected_sha256[:12]}…): it is corrupt or incomplete; re-run the job")
    meta = read_metadata(path)
    version = meta.get("schema_version")
    if version != str(SCHEMA_VERSION):
        raise ResultsError(f"results file {name} has schema version {version or 'none'}; this bball reads "
                           f"version {SCHEMA_VERSION} (upgrade bball or re-run the job)")
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:
        raise ResultsError(f"results file {name} is not a readable Parquet file: {_short(exc)}") from None
    missing = [c for c in COLUMNS if c not in pf.schema_arrow.names]
    if missing:
        raise ResultsError(f"results file {name} lacks column(s) {', '.join(missing)}")
    return _batches(pf, name, frame_count, batch_rows)


def _batches(pf, name: str, frame_count: int | None, batch_rows: int) -> Iterator[Detections]:
    offset = 0
    try:
        batches = pf.iter_batches(batch_size=batch_rows, columns=list(COLUMNS))
        for batch in batches:
            cols = {}
            for i, col in enumerate(COLUMNS):
                arr = batch.column(i)
                if arr.null_count:
                    bad = offset + int(np.flatnonzero(arr.is_null().to_numpy(zero_copy_only=False))[0])
                    raise ResultsError(f"results file {name}: row {bad}: {col} is empty")
                cols[col] = _to_numpy(arr, col, name)
            _validate(cols, offset, name, frame_count)
            offset += batch.num_rows
            yield Detections.from_xywh(cols["frame_number"], cols["tracking_id"], cols["bbox_x"],
                                       cols["bbox_y"], cols["bbox_width"], cols["bbox_height"],
                                       cols["confidence_score"])
    except ResultsError:
        raise
    except Exception as exc:
        raise ResultsError(f"results file {name} is unreadable near row {offset}: {_short(exc)}") from None


def _to_numpy(arr, col: str, name: str) -> np.ndarray:
    values = arr.to_numpy(zero_copy_only=False)
    dtype = _DTYPES[col]
    if col in _INT_COLUMNS:
        if values.dtype.kind not in "iu":
            raise ResultsError(f"results file {name}: column {col} holds {values.dtype}, expected integers")
        if len(values) and (values.min() < -(2**31) or values.max() >= 2**31):
            raise ResultsError(f"results file {name}: column {col} holds values beyond 32 bits")
    elif values.dtype.kind not in "fiu":
        raise ResultsError(f"results file {name}: column {col} holds {values.dtype}, expected numbers")
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
    checks += [
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
    return text[:200]
