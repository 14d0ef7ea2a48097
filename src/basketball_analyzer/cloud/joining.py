"""Joining a segmented job's results into one results file, with one track id per player across segments.

Each segment was tracked from a fresh state, so its ids start over; it also decoded the last frames of the
previous segment (the overlap). On those frames the previous segment's boxes already carry the joined ids,
and `IdStitcher` hands them to the new segment's tracks by optimal matching on box IoU. A segment's own
frames come from it alone: the overlap's boxes are kept from the segment that owns those frames.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..detection.stitching import IdStitcher
from ..detections import Detections
from ..exceptions import ResultsError
from .jobfiles import own_key
from .manifest import JobManifest
from .results import ResultsWriter, read_metadata, read_results
from .segments import describe, load


@dataclass(frozen=True)
class Joined:
    """The joined results file of a segmented job."""

    path: Path
    sha256: str
    rows: int
    detector: str


def join_segments(queue, job: JobManifest, dest: Path) -> Joined:
    """Download each completed segment's results (checksums verified) and write them as one file at `dest`."""
    stitcher = IdStitcher()
    tail = Detections.empty()  # the previous segment's boxes on the next one's overlap, with joined ids
    writer: ResultsWriter | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="bball-join-") as tmp:
            for seg_id, seg in load(queue, job):
                if seg is None or not seg.results_key or not seg.results_sha256:
                    raise ResultsError(f"job {job.job_id}: segment {seg_id} has no results; retry the job")
                path = Path(tmp) / f"{seg_id}.parquet"
                queue.files.download_results(seg_id, path, key=own_key(seg_id, seg.results_key))
                boxes = _read(path, seg)
                if writer is None:  # the detector's name comes from the first segment's file
                    writer = ResultsWriter(dest, job_id=job.job_id, video_id=job.video_id,
                                           detector=read_metadata(path).get("detector", ""))
                    writer.open()
                path.unlink()
                start, end = seg.segment["start_frame"], seg.segment["end_frame"]
                if seg.segment["index"] > 0:
                    shared = boxes[(boxes.frame_number >= start - seg.segment["overlap_frames"])
                                   & (boxes.frame_number < start)]
                    stitcher.start_window(tail, shared)
                own = boxes[(boxes.frame_number >= start) & (boxes.frame_number < end)]
                own.tracker_id = stitcher.to_global(own.tracker_id)
                writer.write(own)
                tail = own
        if writer is None:
            raise ResultsError(f"job {job.job_id} names no segments")
        writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return Joined(dest, writer.sha256 or "", writer.rows, writer.metadata["detector"])


def _read(path: Path, seg: JobManifest) -> Detections:
    """A segment's boxes, checked against its manifest (checksum, job id, rows)."""
    embedded = read_metadata(path).get("job_id", "")
    if embedded != seg.job_id:
        raise ResultsError(f"results of {describe(seg)} say they are of job {embedded[:40]!r}; refusing them")
    boxes = Detections.merge(read_results(path, expected_sha256=seg.results_sha256, frame_count=None))
    if seg.results_rows is not None and len(boxes) != seg.results_rows:
        raise ResultsError(f"results of {describe(seg)} hold {len(boxes):,} rows, not {seg.results_rows:,}")
    order = np.argsort(boxes.frame_number, kind="stable")
    return boxes[order]
