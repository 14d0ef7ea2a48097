"""A preempted worker (SIGKILL at 70% of a segment): how much of its work the takeover redoes, per part size.

    uv run python benchmarks/segments_preempt.py [--frames 6000] [--frame-ms 5] [--parts 1000,1500]
                                                 [--kill-at 0.7] [--segments 1] [--lease 5]

A local SeaweedFS stands in for the bucket. The clip (192 x 128, cheap to decode) is submitted as one job
(`--segments 1`, the default: the whole game is the segment) or in N segments, of which the preempted
worker claims the first. That worker is a separate process (this script with `--_worker`) running the real
`CloudWorker` with a detector that costs a fixed time per frame (it sleeps, as a GPU call would) and writes
the index of each frame it finished to a file. The kill point comes from that file, not from the job's
progress object, which is written at most once a second (about 200 frames at 5 ms). When the worker has
finished `--kill-at` of its segment's frames it gets SIGKILL, and an in-process worker takes over once the
lease (`--lease` seconds) runs out, finishes the job, and the job is imported and checked (one box on every
frame). Redone = frames the takeover detected that the killed worker had already detected: from the resume
point less the resume overlap up to the kill point. Without parts (CLOUD_PART_FRAMES=0) a takeover starts
the segment over and redoes everything up to the kill point: that is the baseline (`--parts 0` measures it).
The target: redone is at most one part plus the resume overlap (CLOUD_PART_FRAMES + 2 s of frames: 60 at the
clip's 30 fps); a part is saved as soon as its last frame is detected, so a kill while it uploads adds none.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _common import FixedCostDetector, OneDetector, machine

PREEMPTED, TAKEOVER = "preempted", "takeover"


class LastFrameDetector(FixedCostDetector):
    """The fixed-cost detector, writing the index of each frame it finished to `path` (the kill point)."""

    def __init__(self, seconds: float, path: str):
        super().__init__(seconds)
        self.fd = os.open(path, os.O_WRONLY)

    def track(self, frames, fps: float = 30.0):
        for det in super().track(frames, fps):
            os.pwrite(self.fd, b"%12d" % int(det.frame_number[0]), 0)
            yield det


class RecordingDetector(FixedCostDetector):
    """The fixed-cost detector, keeping the frame indices of each run (one list per job it ran)."""

    def __init__(self, seconds: float):
        super().__init__(seconds)
        self.runs: list[list[int]] = []

    def track(self, frames, fps: float = 30.0):
        run: list[int] = []
        self.runs.append(run)
        for det in super().track(frames, fps):
            run.append(int(det.frame_number[0]))
            yield det


@dataclass
class Outcome:
    """One preemption: where the worker was killed, where the takeover began, and what it redid."""

    part: int
    segment_from: int  # the first frame the segment decodes (a restart without parts begins here)
    killed_at: int  # frames [.., killed_at) were detected by the killed worker
    resumed_at: int  # the first frame no kept part covers
    decoded_from: int  # the first frame the takeover decoded (resumed_at less the resume overlap)
    redone: int
    seconds: float  # from the kill to the job completed (the lease wait included)
    problems: list[str]

    @property
    def without_parts(self) -> int:
        """Frames a takeover redoes when it starts the segment over."""
        return self.killed_at - self.segment_from


def last_frame(path: Path) -> int:
    """The index of the last frame the preempted worker finished (-1 before the first)."""
    try:
        return int(path.read_bytes() or b"-1")
    except ValueError:  # caught between two writes: ask again next time
        return -1


def wait_for(predicate, timeout: float, what: str, every: float = 0.1):
    """Poll `predicate` until it returns something true; `TimeoutError` naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def held_by(queue, job, worker_id: str):
    """The manifest of the job (or segment) `worker_id` holds, or None."""
    for job_id in job.segment_ids or [job.job_id]:
        manifest = queue.get(job_id)[0]
        if manifest.worker_id == worker_id:
            return manifest
    return None


def preempt(server, clip: Path, tmp: Path, part: int, args) -> Outcome:
    """Submit the clip, SIGKILL the worker at `args.kill_at` of its segment, let a takeover finish; check."""
    from basketball_analyzer.cloud.importer import import_job
    from basketball_analyzer.cloud.manifest import CloudJobStatus
    from basketball_analyzer.cloud.queue import CloudQueue
    from basketball_analyzer.cloud.submit import submit_job
    from basketball_analyzer.config import load_settings
    from basketball_analyzer.db import transaction
    from basketball_analyzer.db.detections import load_detections
    from basketball_analyzer.detection import DetectionParams
    from basketball_analyzer.worker.cloud import CloudWorker

    db_url = f"sqlite:///{tmp / f'preempt-{part}.db'}"
    env = {**server.env(), "R2_BUCKET_NAME": server.create_bucket(f"preempt-{part}-{uuid.uuid4().hex[:8]}"),
           "DATABASE_URL": db_url, "CLOUD_PART_FRAMES": str(part), "CLOUD_LEASE_SECONDS": str(args.lease),
           "CLOUD_WORKER_POLL_INTERVAL": "0.2", "CLOUD_WORKER_MAX_POLL_INTERVAL": "1"}
    settings = load_settings(**{k.lower(): v for k, v in env.items()})
    queue = CloudQueue.from_settings(settings)
    job = submit_job(queue, params=DetectionParams(), video_path=clip, database_url=db_url,
                     segments=args.segments)
    counter, log = tmp / f"last-frame-{part}", tmp / f"worker-{part}.log"
    counter.write_bytes(b"%12d" % -1)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_worker", str(counter), "--frame-ms",
           str(args.frame_ms)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env={**os.environ, **env, "WORKER_ID": PREEMPTED}, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        held = wait_for(lambda: held_by(queue, job, PREEMPTED) or proc.poll() is not None, 60,
                        "the worker's claim")
        if proc.poll() is not None:
            raise RuntimeError(f"the worker exited (code {proc.returncode}) without a job: "
                               f"{log.read_text()[-2000:]}")
        seg = held.segment
        start, end = (seg["start_frame"], seg["end_frame"]) if seg else (0, args.frames)
        segment_from = held.frame_range[0] if seg else 0
        kill = start + math.ceil(args.kill_at * (end - start))
        wait_for(lambda: last_frame(counter) + 1 >= kill or proc.poll() is not None, 600,
                 f"frame {kill}", every=0.005)
        if proc.poll() is not None:
            raise RuntimeError(f"the worker exited (code {proc.returncode}) before frame {kill}: "
                               f"{log.read_text()[-2000:]}")
        proc.kill()  # SIGKILL: a spot machine taken away
        proc.wait(timeout=10)
        killed = time.perf_counter()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    killed_at = last_frame(counter) + 1
    before = queue.get(held.job_id)[0]
    kept = before.parts or []

    detector = RecordingDetector(args.frame_ms / 1000)
    takeover = CloudWorker(settings, worker_id=TAKEOVER)
    takeover.detectors = OneDetector(detector)
    done = CloudJobStatus.completed
    # Other segments are processed as they come; the killed one once its lease has run out.
    wait_for(lambda: takeover.process_next() is None and queue.get(job.job_id)[0].status is done, 600,
             "the takeover to finish the job", every=0.2)
    seconds = time.perf_counter() - killed
    after = queue.get(held.job_id)[0]

    problems = []
    if after.worker_id != TAKEOVER or (after.parts or [])[:len(kept)] != kept:
        problems.append("the takeover did not keep the killed worker's parts")
    resumed_at = before.resume_from if kept else start
    ours = [p for p in after.parts or [] if p["token"] == after.claim_token]
    if kept and ours:  # the takeover's first part names where it started decoding
        decoded_from = ours[0]["start_frame"] - ours[0]["overlap_frames"]
    else:  # no parts: it decoded the whole segment again, [end - frames_processed, end)
        decoded_from = (after.segment["end_frame"] if after.segment else args.frames) - after.frames_processed
    run = next((r for r in detector.runs if r and r[0] == decoded_from), [])
    redone = sum(1 for i in run if i < killed_at)
    if redone != max(0, killed_at - decoded_from):
        problems.append(f"the takeover's detector saw {redone} frames before {killed_at}, not "
                        f"{killed_at - decoded_from}")
    import_job(queue.storage, db_url, job.job_id)
    with transaction(db_url) as s:
        frames = load_detections(s, job.video_id).frame_number
    counts = np.bincount(frames, minlength=args.frames)
    if len(counts) != args.frames or (counts != 1).any():
        problems.append(f"imported {len(frames)} boxes; {int((counts == 0).sum())} frames have none and "
                        f"{int((counts > 1).sum())} more than one")
    return Outcome(part, segment_from, killed_at, resumed_at, decoded_from, redone, seconds, problems)


def worker_main(counter: str, frame_seconds: float) -> int:
    """The preempted worker's process: claim one job and run it (settings from the environment)."""
    from basketball_analyzer.worker.cloud import CloudWorker

    worker = CloudWorker()
    worker.detectors = OneDetector(LastFrameDetector(frame_seconds, counter))
    worker.process_next()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Preempt one worker per part size and print what the takeover redid against a restart without parts."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=6000)
    p.add_argument("--frame-ms", type=float, default=5.0, help="the detector's cost per frame")
    p.add_argument("--parts", default="1000,1500", help="CLOUD_PART_FRAMES values to try (0: no parts)")
    p.add_argument("--kill-at", type=float, default=0.7, help="fraction of its segment the worker finishes")
    p.add_argument("--segments", type=int, default=1, help="segments; the preempted worker claims the first")
    p.add_argument("--lease", type=float, default=5.0, help="CLOUD_LEASE_SECONDS")
    p.add_argument("--_worker", metavar="FILE", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._worker:
        return worker_main(args._worker, args.frame_ms / 1000)
    from basketball_analyzer.cloud.segments import resume_overlap_frames
    from basketball_analyzer.cloud.server import LocalS3Server
    from basketball_analyzer.sample import make_sample_clip

    # The takeover's "lease of worker preempted expired; taking it over" is expected here, not news.
    logging.getLogger("basketball_analyzer").setLevel(logging.ERROR)

    rows = []
    with tempfile.TemporaryDirectory(prefix="bball-preempt-bench-") as tmp:
        clip = Path(tmp) / "clip.mp4"
        make_sample_clip(clip, frames=args.frames, width=192, height=128, players=1)
        with LocalS3Server(directory=Path(tmp) / "s3") as server:
            for part in (int(x) for x in args.parts.split(",")):
                rows.append(preempt(server, clip, Path(tmp), part, args))
    return 0 if report(rows, args, resume_overlap_frames(30.0)) else 1  # the clip is 30 fps


def report(rows: list[Outcome], args, overlap: int) -> bool:
    """Print one line per part size against a restart without parts; True when every target is met."""
    print(f"One {args.frames}-frame game in {args.segments} segment(s), detector {args.frame_ms:g} ms/frame, "
          f"lease {args.lease:g} s; the worker of the first segment SIGKILLed at {args.kill_at:.0%} of it")
    print(f"machine: {machine()}")
    print(f"{'part':>5} {'kill at':>7} {'resumed at':>10} {'decoded from':>12} {'redone':>6} {'/ part':>6} "
          f"{'no parts':>8} {'ratio':>6} {'takeover s':>10}  target: redone <= part + {overlap}")
    met = True
    for o in rows:
        ok = not o.problems and (o.part == 0 or o.redone <= o.part + overlap)
        met &= ok
        per_part = f"{o.redone / o.part:>6.2f}" if o.part else f"{'-':>6}"
        verdict = ("met" if ok else "NOT met") if o.part else "(the baseline, measured)"
        print(f"{o.part:>5} {o.killed_at:>7} {o.resumed_at:>10} {o.decoded_from:>12} {o.redone:>6} "
              f"{per_part} {o.without_parts:>8} {o.redone / o.without_parts:>6.2f} {o.seconds:>10.1f}  "
              f"{verdict}")
        for problem in o.problems:
            print(f"      problem: {problem}")
    print("no parts: what a takeover without parts (CLOUD_PART_FRAMES=0) redoes: it starts the segment over")
    print("ratio: redone with parts / without; takeover s: from the kill to the job completed, lease wait in")
    return met


if __name__ == "__main__":
    sys.exit(main())
