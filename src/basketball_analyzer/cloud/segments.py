"""Segments: one long video split into pieces that any worker claims on its own, joined again at import.

A segmented job's manifest names its segments' job ids. Each segment is a job of its own, with its own
manifest, markers, lease, claim token and fencing exactly like an unsegmented job, and it names its
parent and the frames it owns. The parent is never claimed. `settle` rolls it up from its segments with
one conditional write. It runs after every segment ends: from the worker, on abandon, and from reconcile,
which covers a crash between the two writes.
- every segment completed -> the job is completed (its results are the segments' files, joined at import);
- a segment failed -> the job fails with that segment's reason. The others' results stay, and `retry`
  re-queues only the segments that did not complete.
`cancel` cancels the job first, so no later settle can complete it, and then each segment.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass, replace

from ..exceptions import BballError, JobError, NotFound, SegmentError
from ..lifecycle import ACTIVE, CANCEL, RETRY
from .manifest import (SCHEMA_VERSION, CloudJobStatus, JobManifest, new_job_id,
                       utcnow_iso)
from .store import ManifestStore

log = logging.getLogger(__name__)
S = CloudJobStatus

RESUME_OVERLAP_SECONDS = 2.0
"""A takeover decodes this much video before the last part's end, to carry track ids over: longer than
ByteTrack's 1 s memory for a lost track, so the new tracker has caught up by the part's end."""
OVERLAP_SECONDS = 2.0
"""Each segment also decodes this much of the previous one; track ids are carried across on those frames."""
AUTO_SEGMENT_MINUTES = 10.0
AUTO_ABOVE_MINUTES = 20.0
"""Without --segments or --segment-minutes, a video longer than this gets one segment per AUTO_SEGMENT_MINUTES."""


@dataclass(frozen=True)
class SegmentPlan:
    """How a video is cut: [start, end) video frames per segment, and how far each decodes back."""

    bounds: tuple[tuple[int, int], ...]
    overlap_frames: int
    auto: bool = False

    @property
    def count(self) -> int:
        """Number of segments (1: an unsegmented job)."""
        return len(self.bounds)


def check_options(segments: int | None, segment_minutes: float | None) -> None:
    """`SegmentError` for segment options that no video could satisfy (checked before anything is read)."""
    if segments is not None and segment_minutes is not None:
        raise SegmentError("give --segments or --segment-minutes, not both")
    if segments is not None and segments < 1:
        raise SegmentError(f"--segments must be at least 1, not {segments}")
    if segment_minutes is not None and not segment_minutes > 0:
        raise SegmentError(f"--segment-minutes must be more than 0, not {segment_minutes:g}")


def overlap_frames(seconds: float, fps: float | None, sample_interval: int = 1) -> int:
    """Video frames in an overlap of `seconds` (30 fps assumed when the rate is unknown), never fewer than two
    sampled frames: ids are matched on the overlap's boxes."""
    return max(round(seconds * (fps or 30.0)), 2 * sample_interval)


def resume_overlap_frames(fps: float | None, sample_interval: int = 1) -> int:
    """Video frames a takeover decodes before where it resumes."""
    return overlap_frames(RESUME_OVERLAP_SECONDS, fps, sample_interval)


def plan_segments(frame_count: int, fps: float, *, segments: int | None = None,
                  segment_minutes: float | None = None, sample_interval: int = 1,
                  overlap_seconds: float = OVERLAP_SECONDS) -> SegmentPlan:
    """The segments of a video of `frame_count` frames; `SegmentError` (one line) for settings that cannot work."""
    check_options(segments, segment_minutes)
    minutes = frame_count / fps / 60 if fps > 0 else 0.0
    auto = segments is None and segment_minutes is None
    if auto:
        count = math.ceil(minutes / AUTO_SEGMENT_MINUTES) if minutes > AUTO_ABOVE_MINUTES else 1
    elif segments is not None:
        count = segments
    else:
        count = max(1, math.ceil(minutes / segment_minutes - 1e-9))
    if count > frame_count:
        raise SegmentError(f"{count} segments for a video of {frame_count} frames: at most one segment per frame")
    overlap = overlap_frames(overlap_seconds, fps, sample_interval)
    bounds = tuple((i * frame_count // count, (i + 1) * frame_count // count) for i in range(count))
    shortest = min(end - start for start, end in bounds)
    if count > 1 and shortest < overlap:
        raise SegmentError(f"segments of {shortest} frames are shorter than the {overlap}-frame overlap "
                           f"({overlap / fps:.1f} s); use fewer segments")
    return SegmentPlan(bounds, overlap if count > 1 else 0, auto)


def segment_manifests(parent: JobManifest, plan: SegmentPlan, now: float, frames_of) -> list[JobManifest]:
    """Pending manifests of a new job's segments (`frames_of(start, end)`: sampled frames in a range)."""
    out = []
    # One millisecond for all: workers polling together claim them in random order (`queue.spread`); the
    # ids still sort by segment.
    ids = sorted(new_job_id(now) for _ in plan.bounds)
    for index, (start, end) in enumerate(plan.bounds):
        segment = {"index": index, "count": plan.count, "start_frame": start, "end_frame": end,
                   "overlap_frames": plan.overlap_frames if index else 0}
        lo = max(0, start - segment["overlap_frames"])
        out.append(JobManifest(job_id=ids[index], video_id=parent.video_id, status=S.pending,
                               created_at=parent.created_at, parameters=dict(parent.parameters),
                               frames_total=frames_of(lo, end), video_sha256=parent.video_sha256,
                               video_size=parent.video_size, parent_id=parent.job_id, segment=segment,
                               schema_version=SCHEMA_VERSION))
    return out


def combined_sha256(shas) -> str:
    """The identity of a set of results files (segments, parts): sha256 of their sha256s in order."""
    return hashlib.sha256("\n".join(s or "" for s in shas).encode()).hexdigest()


def describe(segment: JobManifest) -> str:
    """'segment 2/4 (frames 5400-10800)'"""
    seg = segment.segment or {}
    return (f"segment {seg.get('index', 0) + 1}/{seg.get('count', '?')} "
            f"(frames {seg.get('start_frame')}-{seg.get('end_frame')})")


def owned_done(segment: JobManifest, done: int) -> int:
    """Of `done` frames a segment processed, those it owns: a segment decodes its overlap first, and its
    job counts each frame once."""
    seg = segment.segment
    if not seg:
        return done
    from ..pipeline import sampled_between

    k = segment.parameters.get("sample_interval")
    k = k if isinstance(k, int) and not isinstance(k, bool) and k > 0 else 1
    owned = sampled_between(int(seg["start_frame"]), int(seg["end_frame"]), k)
    overlap = max(0, (segment.frames_total or owned) - owned)
    return min(max(0, done - overlap), owned)


def refuse_alone(store: ManifestStore, segment: JobManifest, action: str) -> None:
    """`JobError` (one line) for `action` (retry, cancel, delete) asked of one segment: a segment is run,
    retried and cancelled with its job, so the job's state and its segments' never disagree. A segment
    whose job is gone may only be deleted."""
    parent = segment.parent_id
    if store.files.get_manifest(parent) is None:
        if action == "delete":
            return
        raise JobError(f"job {segment.job_id} is {describe(segment)} of job {parent}, which no longer exists; "
                       f"delete it with `bball cloud delete --job-id {segment.job_id}` (or `bball cloud gc`)")
    how = {"retry": "it re-runs only the segments that did not complete",
           "cancel": "it cancels every segment", "delete": "it deletes every segment"}[action]
    raise JobError(f"job {segment.job_id} is {describe(segment)} of job {parent}; {action} job {parent} "
                   f"instead ({how})")


def load(store: ManifestStore, parent: JobManifest) -> list[tuple[str, JobManifest | None]]:
    """(segment id, manifest or None when missing) of each of a job's segments, in order."""
    out = []
    for seg_id in parent.segment_ids or []:
        found = store.files.get_manifest(seg_id)
        out.append((seg_id, found[0] if found else None))
    return out


def settle(store: ManifestStore, job_id: str) -> JobManifest:
    """Roll a segmented job up from its segments: completed when all are, failed when one failed."""
    settled: list[JobManifest | None] = [None]  # what this call wrote (several workers may settle at once)

    def change(m: JobManifest) -> JobManifest | None:
        settled[0] = _rolled_up(store, m)
        return settled[0]

    manifest = store.update(job_id, change)
    if settled[0] is not None:
        log.info("job %s: segments settled it %s", job_id, manifest.status.value)
    return manifest


def _rolled_up(store: ManifestStore, m: JobManifest) -> JobManifest | None:
    """The job as its segments say it now is, or None while nothing is to change."""
    if not m.segmented or m.status not in ACTIVE | {S.failed}:
        return None
    segments = load(store, m)
    now = utcnow_iso(store.now())
    # What the segments really did, each frame once (a segment that fell short failed, and says so).
    done = sum(owned_done(seg, seg.frames_processed) for _, seg in segments if seg is not None)
    if m.status is S.failed:  # settled already: the segments still running when it failed add their frames
        return replace(m, frames_processed=done) if done != m.frames_processed else None
    for i, (seg_id, seg) in enumerate(segments):
        if seg is None:
            return m.transition(S.failed, completed_at=now, frames_processed=done,
                                error=f"segment {i + 1}/{len(segments)} ({seg_id}) is missing from the bucket")
        if seg.status in (S.failed, S.cancelled):
            why = seg.error or f"it was {seg.status.value}"
            return m.transition(S.failed, completed_at=now, frames_processed=done,
                                error=f"{describe(seg)}: {why}"[:2000])
    if all(seg.status is S.completed for _, seg in segments):
        return m.transition(S.completed, completed_at=now, frames_processed=done,
                            results_rows=sum(seg.results_rows or 0 for _, seg in segments),
                            results_sha256=combined_sha256(seg.results_sha256 for _, seg in segments))
    return None


def settle_quietly(store: ManifestStore, parent_id: str | None) -> None:
    """`settle` after a segment ended; a failure is logged (reconcile settles the job later)."""
    if parent_id is None:
        return
    try:
        settle(store, parent_id)
    except BballError as exc:
        log.warning("job %s: could not settle it from its segments (%s); reconcile will", parent_id, exc)


def cancel(store: ManifestStore, parent: JobManifest) -> None:
    """Cancel every segment of a job (the job itself first, by the caller) and drop their markers."""
    now = utcnow_iso(store.now())
    for seg_id in parent.segment_ids or []:
        try:
            store.update(seg_id, lambda m: m.transition(S.cancelled, lease_expires_at=None, completed_at=now)
                         if CANCEL.allows(m.status) else None)
        except (JobError, NotFound):
            pass  # imported, or deleted: nothing to stop
        store.files.drop_markers(seg_id)


def retry(store: ManifestStore, parent: JobManifest, everything: bool) -> None:
    """Queue again the segments that did not complete (all of them when `everything`)."""
    for seg_id in parent.segment_ids or []:
        def change(m: JobManifest) -> JobManifest | None:
            if m.status is S.pending or m.status is S.processing:
                return None
            if m.status is S.completed and not everything:
                return None
            if not RETRY.allows(m.status):
                raise JobError(f"segment {m.job_id} is {m.status.value}; it cannot be retried")
            return m.requeued()

        seg = store.update(seg_id, change)
        if seg.status is S.pending:
            store.files.mark_pending(seg_id)


def delete_files(store: ManifestStore, job_id: str) -> int:
    """Delete every file of a job and of its segments; returns how many."""
    try:
        found = store.files.get_manifest(job_id)
    except BballError:
        found = None  # unreadable: its segments (if any) cannot be named; gc collects them as orphans
    count = 0
    if found is not None:
        for seg_id in found[0].segment_ids or []:
            count += store.files.delete_job_files(seg_id)
    return count + store.files.delete_job_files(job_id)
