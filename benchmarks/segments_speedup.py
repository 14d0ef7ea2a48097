"""Time to result of one game against the number of workers (1, 2, 4, 8), split into as many segments.

    uv run python benchmarks/segments_speedup.py [--frames 6000] [--frame-ms 20] [--workers 1,2,4,8]

A local SeaweedFS stands in for the bucket. Workers run in this process, one thread each, with a detector
that costs a fixed time per frame (it sleeps, as a GPU call leaves the CPU free) and reports one box. The
default 20 ms/frame (50 frames/s, five times SAM 3's speed on an H100) keeps the run short while two CPU
cores do not limit it: decoding and writing eight segments take about 4 CPU-seconds, which at 5 ms/frame
is as long as the detector itself. The clip is small (192 x 128) so decoding is cheap.

The workers are started and polling (every 0.2 s) and the database exists before the clock starts, as
deployed workers wait for jobs and a user's database is there; time to result is from submit to the job
imported: upload, claims, detection, settling, joining. The baseline is one worker on a plain job in the
same process; the target is a speed-up of at least 0.8 N. Also printed: the bucket requests and bytes the
segments cost against the plain job (idle workers' queue LISTs counted apart: they depend on the poll).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from _common import FixedCostDetector, OneDetector, machine

POLL_SECONDS = 0.2  # the workers' poll interval (deployed workers use CLOUD_WORKER_POLL_INTERVAL)


class RequestCounter:
    """Counts a boto3 client's S3 requests and bytes sent; the queue's LIST polls are counted apart."""

    def __init__(self):
        self.requests = 0
        self.polls = 0
        self.bytes_sent = 0
        self.lock = threading.Lock()

    def __call__(self, request=None, **_):
        with self.lock:
            if request is not None and request.method == "GET" and "prefix=queue%2F" in request.url:
                self.polls += 1
                return
            self.requests += 1
            length = request.headers.get("Content-Length") if request is not None else None
            if length:
                self.bytes_sent += int(length)


def run(server, clip: Path, db_url: str, workers: int, frame_seconds: float) -> tuple[float, int, int, int]:
    """Submit the clip in `workers` segments to that many polling workers, import; (s, requests, polls, bytes).

    The workers are started and idle before the clock starts, as deployed workers wait for jobs, and the
    database exists, as a user's does: time to result is submit, claims, detection, settling and import.
    """
    from basketball_analyzer.cloud.importer import import_job
    from basketball_analyzer.cloud.manifest import CloudJobStatus
    from basketball_analyzer.cloud.queue import CloudQueue
    from basketball_analyzer.cloud.storage import CloudStorage
    from basketball_analyzer.cloud.submit import submit_job
    from basketball_analyzer.config import load_settings
    from basketball_analyzer.db import transaction
    from basketball_analyzer.detection import DetectionParams
    from basketball_analyzer.worker.cloud import CloudWorker
    from basketball_analyzer.worker.signals import StopFlag

    bucket = server.create_bucket(f"bench-{workers}-{int(time.time() * 1000) % 10**8}")
    env = {k.lower(): v for k, v in server.env().items()}
    env.update(r2_bucket_name=bucket, database_url=db_url, cloud_worker_poll_interval=POLL_SECONDS,
               cloud_worker_max_poll_interval=POLL_SECONDS)
    settings = load_settings(**env)
    counter = RequestCounter()

    def storage(counted: bool = True):
        s = CloudStorage.from_settings(settings)
        if counted:
            s.client.meta.events.register("before-send.s3", counter)
        return s

    with transaction(db_url):
        pass  # the user's database: created and migrated before the clock starts
    stop = StopFlag()
    errors: list[BaseException] = []

    def work(worker):
        try:
            worker.work()
        except BaseException as exc:  # handed to the caller below
            errors.append(exc)

    threads = []
    for i in range(workers):
        worker = CloudWorker(settings, worker_id=f"bench-{i}", stop=stop, storage=storage())
        worker.detectors = OneDetector(FixedCostDetector(frame_seconds))
        threads.append(threading.Thread(target=work, args=(worker,)))
    for t in threads:
        t.start()
    watcher = CloudQueue.from_settings(settings, storage(counted=False))  # the user's `status`, not counted
    time.sleep(1.0)  # every worker has made its first poll and is idle
    try:
        started = time.perf_counter()
        queue = CloudQueue.from_settings(settings, storage())
        job = submit_job(queue, params=DetectionParams(), video_path=clip, database_url=db_url,
                         segments=workers if workers > 1 else None)
        while (status := watcher.get(job.job_id)[0].status) not in (CloudJobStatus.completed,
                                                                    CloudJobStatus.failed):
            if errors:
                raise errors[0]
            time.sleep(0.05)
        assert status is CloudJobStatus.completed, f"job {status.value}"
        outcome = import_job(queue.storage, db_url, job.job_id)
        seconds = time.perf_counter() - started
    finally:
        stop.request()
        for t in threads:
            t.join()
    assert outcome.rows > 0, "nothing imported"
    return seconds, counter.requests, counter.polls, counter.bytes_sent


def main(argv: list[str] | None = None) -> int:
    """Run 1, 2, 4, 8 workers and print time to result, speed-up against 0.8 N, and the bucket's extra cost."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=6000)
    p.add_argument("--frame-ms", type=float, default=20.0, help="the detector's cost per frame")
    p.add_argument("--workers", default="1,2,4,8")
    args = p.parse_args(argv)
    counts = [int(x) for x in args.workers.split(",")]
    counts = [1] + [n for n in counts if n != 1]  # the baseline: one worker, a plain job
    from basketball_analyzer.cloud.server import LocalS3Server
    from basketball_analyzer.sample import make_sample_clip

    with tempfile.TemporaryDirectory(prefix="bball-seg-bench-") as tmp:
        clip = Path(tmp) / "clip.mp4"
        make_sample_clip(clip, frames=args.frames, width=192, height=128, players=1)
        rows = []
        with LocalS3Server(directory=Path(tmp) / "s3") as server:
            for n in counts:
                db_url = f"sqlite:///{Path(tmp) / f'bench-{n}.db'}"
                rows.append((n, *run(server, clip, db_url, n, args.frame_ms / 1000)))
    base = rows[0][1]
    print(f"One {args.frames}-frame game, detector {args.frame_ms:g} ms/frame, in-process workers; {machine()}")
    print(f"{'workers':>7} {'seconds':>8} {'speed-up':>9} {'target':>7} {'requests':>9} {'queue LISTs':>12} "
          f"{'MB sent':>8}")
    met = True
    for n, seconds, requests, polls, sent in rows:
        speedup = base / seconds
        ok = speedup >= 0.8 * n
        met &= ok
        print(f"{n:>7} {seconds:>8.1f} {speedup:>8.2f}x {0.8 * n:>6.1f}x {requests:>9} {polls:>12} "
              f"{sent / 1e6:>8.2f}" + ("" if ok else "  (below target)"))
    extra = np.array([r[2] for r in rows]) - rows[0][2]
    print("extra requests (queue LISTs aside) against one worker: "
          + ", ".join(f"{n}: +{e}" for (n, *_), e in zip(rows, extra)))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
