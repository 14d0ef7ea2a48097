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
from ..results.format import ResultsWriter, read_metadata, read_parameters, read_results
from .jobfiles import own_key
from .manifest import JobManifest
from .pieces import Piece, check_rows, pieces


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


def join_segments(queue, job: JobManifest, dest: Path) -> Joined:
    """Download each piece of a job's results (checksums verified) and write them as one file at `dest`.

    The pieces are checked to tile the job before the first download (`pieces.pieces`), and each file
    against its entry as it arrives; any refusal leaves nothing at `dest`."""
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
                    boxes = _read(path, piece, job.video_id)
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


def _read(path: Path, piece: Piece, video_id: int) -> Detections:
    """A piece's boxes in frame order, checked against its entry (checksum, ids, rows, frames)."""
    boxes = Detections.merge(read_results(path, expected_sha256=piece.sha256, frame_count=None,
                                          name=f"of {piece.name}"))
    check_rows(boxes, piece, read_metadata(path), video_id)
    order = np.argsort(boxes.frame_number, kind="stable")
    return boxes[order]
