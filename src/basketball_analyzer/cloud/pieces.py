"""A job's results pieces (its segments' files, or its parts), and the checks that they add up.

A manifest's list of pieces is data from the bucket, written by workers that may be buggy or hostile. The
join (`joining.py`) writes each piece's own frames, so before anything is downloaded `pieces` checks that
the pieces tile the job exactly: every segment is the parent's (parent id, video, place in the job) and
completed, the segments follow one another from frame 0, and each segment's parts cover its frames with
no gap, no overlap and nothing outside. `check_rows` then checks each downloaded file against its entry:
its embedded ids and its rows inside the frames it says it holds (reading it refuses a (frame, track id)
twice). Any refusal is one `ResultsError` line naming the segment (or part) and what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..detections import Detections
from ..exceptions import ResultsError
from .manifest import CloudJobStatus, JobManifest
from .segments import describe, load

S = CloudJobStatus


@dataclass(frozen=True)
class Piece:
    """One results file to join: whose it is, which frames it owns, and whether tracking restarted there."""

    job: JobManifest  # the job or segment that wrote it
    key: str
    sha256: str
    rows: int | None
    start_frame: int
    end_frame: int  # the frames it owns are [start_frame, end_frame) (its segment's end at most)
    overlap_frames: int  # frames before start_frame it also holds (to carry ids over)
    restart: bool  # tracked from a fresh state: ids are carried over through the overlap
    name: str  # how messages name it: "segment 2/3 (frames 30-60)", "… part 2 (frames 40-50)"
    holds_until: int | None = None  # the file may hold rows up to here (a last part runs past its end)


def pieces(queue, job: JobManifest) -> list[Piece]:
    """Every results file of a job in frame order, checked to tile the job's frames exactly (see above)."""
    if not job.segmented:
        return _pieces_of(job, f"job {job.job_id}", open_end=True)
    segments = load(queue, job)
    out: list[Piece] = []
    expected_start = 0
    for index, (seg_id, seg) in enumerate(segments):
        where = f"job {job.job_id}: segment {index + 1}/{len(segments)} ({seg_id})"
        if seg is None:
            raise ResultsError(f"{where} is missing from the bucket; retry the job")
        _check_belongs(job, seg, index, len(segments), where)
        where = f"job {job.job_id}: {describe(seg)} ({seg_id})"
        if seg.segment["start_frame"] != expected_start:
            raise ResultsError(f"{where} starts at frame {seg.segment['start_frame']}, not where the one before "
                               f"it ends ({expected_start}); refusing the job")
        if seg.status is not S.completed:
            raise ResultsError(f"{where} is {seg.status.value}; a job imports only when all its segments "
                               "completed (retry the job)")
        expected_start = seg.segment["end_frame"]
        out += _pieces_of(seg, where, open_end=index == len(segments) - 1)
    return out


def _check_belongs(job: JobManifest, seg: JobManifest, index: int, count: int, where: str) -> None:
    """`ResultsError` unless the segment says it is this job's `index`-th of `count`, on the same file."""
    if seg.parent_id != job.job_id:
        raise ResultsError(f"{where} belongs to job {seg.parent_id or 'none'}, not to this job; refusing the job")
    info = seg.segment or {}
    if (info.get("index"), info.get("count")) != (index, count):
        raise ResultsError(f"{where} says it is segment {info.get('index', -1) + 1}/{info.get('count')}; "
                           "refusing the job")
    for name in ("video_id", "video_sha256", "video_size"):
        if getattr(seg, name) != getattr(job, name):
            shown = str(getattr(seg, name))[:16]
            raise ResultsError(f"{where} ran on another video ({name} {shown}, the job's "
                               f"{str(getattr(job, name))[:16]}); refusing the job")


def _interval(m: JobManifest) -> int:
    value = m.parameters.get("sample_interval")
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else 1


def _pieces_of(m: JobManifest, where: str, *, open_end: bool) -> list[Piece]:
    """A job's or segment's files. `open_end`: the job's last frames, whose end the video decides (a
    variable-rate video numbers frames past its header's count; import checks them against the video)."""
    seg = m.segment or {"start_frame": 0, "end_frame": None, "overlap_frames": 0}
    start, end = seg["start_frame"], seg["end_frame"]
    span = f"frames {start}-{end}" if end is not None else f"frames from {start}"
    if not m.parts:
        if not m.results_key or not m.results_sha256:
            raise ResultsError(f"{where} has no results; retry the job")
        return [Piece(m, m.results_key, m.results_sha256, m.results_rows, start, end if end else 2**31 - 1,
                      seg["overlap_frames"], restart=True, name=where)]
    out = []
    at = start
    for i, p in enumerate(m.parts):
        lo, hi = p["start_frame"], p["end_frame"]
        name = f"{where} part {i + 1} (frames {lo}-{hi})"
        if end is not None and lo >= end or hi <= start:
            raise ResultsError(f"{name} lies outside its {span}; refusing the job")
        if lo > at:
            raise ResultsError(f"{where}: frames {at}-{lo} are in no part (a gap before part {i + 1}); "
                               "refusing the job")
        if lo < at:
            raise ResultsError(f"{name} overlaps the part before it (frames {lo}-{at} twice); refusing the job")
        restart = i == 0 or p.get("token") != m.parts[i - 1].get("token")
        # The last part of a segment may run past its end by less than one sample interval (the worker's
        # next sampled frame); those frames are the next segment's, so it owns no more than its segment.
        owned_end = hi if end is None or open_end else min(hi, end)
        out.append(Piece(m, p["key"], p["sha256"], p["rows"], lo, owned_end, p["overlap_frames"], restart,
                         name, holds_until=hi))
        at = hi
    if end is not None and at < end:
        raise ResultsError(f"{where}: frames {at}-{end} are in no part (the parts end early); refusing the job")
    if end is not None and not open_end and at >= end + _interval(m):
        raise ResultsError(f"{where}: its last part ends at frame {at}, past its {span}; refusing the job")
    return out


def check_rows(boxes: Detections, piece: Piece, metadata: dict[str, str], video_id: int) -> None:
    """`ResultsError` unless a downloaded piece is what its entry says: its job's and video's, its row
    count and its rows inside [start - overlap, end). (No (frame, track id) twice is checked as the file is
    read: results/format.read_results.)"""
    embedded = metadata.get("job_id", "")
    if embedded != piece.job.job_id:
        raise ResultsError(f"results of {piece.name} say they are of job {embedded[:40]!r}; refusing them")
    if metadata.get("video_id", "") != str(video_id):
        raise ResultsError(f"results of {piece.name} say they are of video {metadata.get('video_id', '')[:20]!r},"
                           f" not video {video_id}; refusing them")
    if piece.rows is not None and len(boxes) != piece.rows:
        raise ResultsError(f"results of {piece.name} hold {len(boxes):,} rows, not {piece.rows:,}")
    if not len(boxes):
        return
    lo = piece.start_frame - piece.overlap_frames
    hi = piece.holds_until if piece.holds_until is not None else piece.end_frame
    frames = boxes.frame_number.astype(np.int64)
    outside = (frames < lo) | (frames >= hi)
    if outside.any():
        raise ResultsError(f"results of {piece.name} hold boxes of frame {int(frames[outside][0])}, outside "
                           f"the frames {max(lo, 0)}-{hi} it covers; refusing them")
