"""What `bball cloud status` and the web app show of the bucket: every job, its segments and live progress."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..exceptions import ManifestError
from ..lifecycle import USER_ACTIONS, actions
from .manifest import CloudJobStatus, JobManifest
from .segments import describe, owned_done

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
    orphaned: bool = False  # a segment whose job's manifest is gone: nothing to run or import, only to delete

    @property
    def status(self) -> str:
        """The status shown: a pending segmented job is `processing` while any of its segments is."""
        if self.manifest is None:
            return "invalid"
        if self.orphaned:
            return "orphaned"
        if self.manifest.status is S.pending and any(v.manifest and v.manifest.status is not S.pending
                                                     for v in self.segments):
            return S.processing.value
        return self.manifest.status.value

    @property
    def actions(self) -> list[str]:
        """What a user can do with the job now (of cancel, retry, import), from the one state machine; a
        segment is run, cancelled, retried and imported with its job, never alone (`segments.refuse_alone`)."""
        if self.manifest is None or self.orphaned or self.manifest.parent_id:
            return []
        return actions(self.manifest.status, USER_ACTIONS)

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
        """A segment's frames done without the overlap it decodes first (`segments.owned_done`); other
        jobs' `frames_done`."""
        done = self.frames_done
        if done is None or self.manifest is None or not self.manifest.segment:
            return done
        return owned_done(self.manifest, done)


def list_jobs(queue: "CloudQueue", with_progress: bool = True, threads: int = 8) -> list[JobView]:
    """Every job in the bucket, oldest first; unreadable manifests are reported, not raised.

    Segments are listed under their job (`JobView.segments`), not as jobs of their own; a segment whose job
    is gone is listed as `orphaned`, with what to do about it as its `problem`.
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
    top = [v for v in views if v.manifest is None or v.manifest.parent_id not in by_id]
    for v in top:
        if v.manifest is not None and v.manifest.parent_id is not None:
            v.orphaned = True
            v.problem = (f"{describe(v.manifest)} of job {v.manifest.parent_id}, whose manifest is gone: "
                         f"nothing to run or import; `bball cloud delete --job-id {v.job_id}` (or "
                         "`bball cloud gc`) removes it")
    return top
