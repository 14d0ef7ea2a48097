"""What `bball cloud status` and the web app show of the bucket: every job, its segments and live progress."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..exceptions import ManifestError
from ..lifecycle import USER_ACTIONS, actions
from .manifest import CloudJobStatus, JobManifest

if TYPE_CHECKING:
    from .queue import CloudQueue

S = CloudJobStatus


@dataclass
class JobView:
    """One row of `bball cloud status`: the manifest (or why it could not be read) and live progress."""

    job_id: str
    manifest: JobManifest | None
    problem: str | None = None
    progress: dict | None = None
    segments: list["JobView"] = field(default_factory=list)  # of a segmented job, in order

    @property
    def status(self) -> str:
        """The status shown: a pending segmented job is `processing` while any of its segments is."""
        if self.manifest is None:
            return "invalid"
        if self.manifest.status is S.pending and any(v.manifest and v.manifest.status is not S.pending
                                                     for v in self.segments):
            return S.processing.value
        return self.manifest.status.value

    @property
    def actions(self) -> list[str]:
        """What a user can do with the job now (of cancel, retry, import), from the one state machine; a
        segment is imported with its job, not alone."""
        if self.manifest is None:
            return []
        return actions(self.manifest.status, ("cancel", "retry") if self.manifest.parent_id else USER_ACTIONS)

    @property
    def frames_done(self) -> int | None:
        """Frames processed so far (live progress while processing; summed over segments).

        None when a worker's progress record says something that is not a count: it is data from the
        bucket, shown as unknown, never raised.
        """
        if self.manifest is None:
            return 0
        if self.segments and self.manifest.status is S.pending:
            done = [v.own_frames_done for v in self.segments]
            return None if None in done else sum(done)
        if self.progress and self.manifest.status is S.processing:
            live = self.progress.get("frames_processed")
            if isinstance(live, int) and not isinstance(live, bool) and 0 <= live < 2**63:
                return live
            return None
        return self.manifest.frames_processed

    @property
    def own_frames_done(self) -> int | None:
        """A segment's frames done without the overlap it decodes first (its job's progress counts each
        frame once); other jobs' `frames_done`."""
        done = self.frames_done
        seg = self.manifest.segment if self.manifest is not None else None
        if done is None or not seg:
            return done
        k = self.manifest.parameters.get("sample_interval")
        k = k if isinstance(k, int) and not isinstance(k, bool) and k > 0 else 1
        from ..pipeline import sampled_between

        owned = sampled_between(int(seg["start_frame"]), int(seg["end_frame"]), k)  # sampled frames it owns
        overlap = max(0, (self.manifest.frames_total or owned) - owned)
        return min(max(0, done - overlap), owned)


def list_jobs(queue: "CloudQueue", with_progress: bool = True, threads: int = 8) -> list[JobView]:
    """Every job in the bucket, oldest first; unreadable manifests are reported, not raised.

    Segments are listed under their job (`JobView.segments`), not as jobs of their own.
    """
    ids = queue.files.list_job_ids()

    def load(job_id: str) -> JobView:
        try:
            found = queue.files.get_manifest(job_id)
        except ManifestError as exc:
            return JobView(job_id, None, problem=str(exc))
        if found is None:
            return JobView(job_id, None, problem="manifest disappeared")
        view = JobView(job_id, found[0])
        if with_progress and found[0].status is S.processing:
            view.progress = queue.files.get_progress(job_id)
        return view

    if not ids:
        return []
    with ThreadPoolExecutor(max_workers=min(threads, len(ids))) as pool:
        views = list(pool.map(load, ids))
    by_id = {v.job_id: v for v in views}
    for v in views:
        if v.manifest is not None and v.manifest.segmented:
            v.segments = [by_id[i] for i in v.manifest.segment_ids or [] if i in by_id]
    return [v for v in views if v.manifest is None or v.manifest.parent_id not in by_id]
