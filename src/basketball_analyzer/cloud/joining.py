"""Joining a job's results pieces (segments, parts) into one results file, with one track id per player.

Each segment, and each part where a takeover resumed, was tracked from a fresh state, so its ids start
over; it also decoded the last frames before it (the overlap). On those frames the earlier piece's boxes
already carry the joined ids, and `IdStitcher` hands them to the new piece's tracks by optimal matching on
box IoU. A piece's own frames come from it alone: the overlap's boxes are kept from the piece that owns
those frames. Parts written by one run share its tracker, so their ids continue as they are.
"""

from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..detection.stitching import IdStitcher
from ..detections import Detections
from ..exceptions import ResultsError
from .jobfiles import own_key
from .manifest import JobManifest
from ..results.format import ResultsWriter, read_metadata, read_parameters, read_results
from .segments import describe, load


DOWNLOAD_THREADS = 4
"""Pieces downloaded at once while earlier ones are joined (a segmented game has one per segment or part)."""

TAIL_FRAMES = 4096
"""Frames of joined boxes kept for the next piece's overlap (overlaps are a few seconds)."""


@dataclass(frozen=True)
class Joined:
    """The joined results file of a segmented job."""

    path: Path
    sha256: str
    rows: int
    detector: str


@dataclass(frozen=True)
class Piece:
    """One results file to join: whose it is, which frames it owns, and whether tracking restarted there."""

    job: JobManifest  # the job or segment that wrote it
    key: str
    sha256: str
    rows: int | None
    start_frame: int
    end_frame: int
    overlap_frames: int  # frames before start_frame it also holds (to carry ids over)
    restart: bool  # tracked from a fresh state: ids are carried over through the overlap


def pieces(queue, job: JobManifest) -> list[Piece]:
    """Every results file of a job in frame order: its segments' (or its own), each whole or in parts."""
    if not job.segmented:
        return _pieces_of(job)
    out = []
    for seg_id, seg in load(queue, job):
        if seg is None:
            raise ResultsError(f"job {job.job_id}: segment {seg_id} is missing; retry the job")
        out += _pieces_of(seg)
    return out


def _pieces_of(m: JobManifest) -> list[Piece]:
    seg = m.segment or {"start_frame": 0, "end_frame": 2**31 - 1, "overlap_frames": 0}
    if m.parts:
        return [Piece(m, p["key"], p["sha256"], p["rows"], p["start_frame"], p["end_frame"], p["overlap_frames"],
                      restart=i == 0 or p.get("token") != m.parts[i - 1].get("token"))
                for i, p in enumerate(m.parts)]
    if not m.results_key or not m.results_sha256:
        raise ResultsError(f"job {m.job_id} has no results; retry the job")
    return [Piece(m, m.results_key, m.results_sha256, m.results_rows, seg["start_frame"], seg["end_frame"],
                  seg["overlap_frames"], restart=True)]


def join_segments(queue, job: JobManifest, dest: Path) -> Joined:
    """Download each piece of a job's results (checksums verified) and write them as one file at `dest`."""
    stitcher = IdStitcher()
    tail = Detections.empty()  # the previous piece's boxes (joined ids), for the next piece's overlap
    writer: ResultsWriter | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="bball-join-") as tmp, \
                ThreadPoolExecutor(DOWNLOAD_THREADS, thread_name_prefix="bball-join") as pool:
            found = pieces(queue, job)

            def download(n: int) -> Path:
                piece, path = found[n], Path(tmp) / f"{n}.parquet"
                queue.files.download_results(piece.job.job_id, path, key=own_key(piece.job.job_id, piece.key))
                return path

            downloads = [pool.submit(download, n) for n in range(len(found))]  # in order, a few at once
            try:
                for n, piece in enumerate(found):
                    path = downloads[n].result()
                    boxes = _read(path, piece)
                    if writer is None:  # the detector's name and the run's parameters come from the first file
                        writer = ResultsWriter(dest, job_id=job.job_id, video_id=job.video_id,
                                               detector=read_metadata(path).get("detector", ""),
                                               parameters=read_parameters(path))
                        writer.open()
                    path.unlink()
                    start, end = piece.start_frame, piece.end_frame
                    if piece.restart and n > 0:
                        shared = boxes[(boxes.frame_number >= start - piece.overlap_frames)
                                       & (boxes.frame_number < start)]
                        stitcher.start_window(tail, shared)
                    own = boxes[(boxes.frame_number >= start) & (boxes.frame_number < end)]
                    own.tracker_id = stitcher.to_global(own.tracker_id)
                    writer.write(own)
                    tail = Detections.merge([tail, own])
                    if len(tail):
                        tail = tail[tail.frame_number > int(tail.frame_number.max()) - TAIL_FRAMES]
            except BaseException:
                pool.shutdown(cancel_futures=True)  # the downloads not yet started are not needed
                raise
        if writer is None:
            raise ResultsError(f"job {job.job_id} names no results")
        writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return Joined(dest, writer.sha256 or "", writer.rows, writer.metadata["detector"])


def _read(path: Path, piece: Piece) -> Detections:
    """A piece's boxes, checked against its manifest (checksum, job id, rows)."""
    what = describe(piece.job) if piece.job.segment else f"job {piece.job.job_id}"
    embedded = read_metadata(path).get("job_id", "")
    if embedded != piece.job.job_id:
        raise ResultsError(f"results of {what} say they are of job {embedded[:40]!r}; refusing them")
    boxes = Detections.merge(read_results(path, expected_sha256=piece.sha256, frame_count=None))
    if piece.rows is not None and len(boxes) != piece.rows:
        raise ResultsError(f"results of {what} hold {len(boxes):,} rows, not {piece.rows:,}")
    order = np.argsort(boxes.frame_number, kind="stable")
    return boxes[order]
