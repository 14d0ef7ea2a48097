"""Count the S3 requests of an idle worker poll and of one job's whole life (botocore event hooks).

Runs against a local SeaweedFS server it starts (auth on), so it needs no cloud account:
    uv run python benchmarks/cloud_requests.py [--frames 60]
R2 bills LIST like a write (class A) and GET/HEAD as reads (class B); the table says which is which.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections import Counter
from pathlib import Path

CLASS_A = {"ListObjectsV2", "PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload",
           "CopyObject"}
FREE = {"DeleteObject", "DeleteObjects", "AbortMultipartUpload"}


class RequestCounter:
    """Counts every HTTP request a boto3 client sends (retries included), by operation."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def attach(self, client) -> None:
        """Start counting `client`'s requests."""
        client.meta.events.register("before-send.s3", self._on_send)

    def _on_send(self, event_name: str, **_) -> None:
        self.counts[event_name.rsplit(".", 1)[-1]] += 1

    def take(self) -> Counter[str]:
        """The counts so far, then reset."""
        out, self.counts = self.counts, Counter()
        return out


def billing_class(op: str) -> str:
    """R2 operation class of an S3 operation."""
    return "A (write)" if op in CLASS_A else "free" if op in FREE else "B (read)"


def show(title: str, counts: Counter[str]) -> None:
    """Print one phase's requests as a small table."""
    print(f"\n{title}: {sum(counts.values())} requests")
    for op, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {op:<26} {n:>4}   class {billing_class(op)}")


def main() -> int:
    """Start a server, submit one job, count an idle poll, a busy poll, and the job's whole life."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60, help="frames in the synthetic clip (default 60)")
    parser.add_argument("--history", type=int, default=100,
                        help="finished jobs left in the bucket for the idle-poll comparison (default 100)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from basketball_analyzer.cloud.queue import CloudQueue
    from basketball_analyzer.cloud.server import LocalS3Server
    from basketball_analyzer.cloud.storage import CloudStorage
    from basketball_analyzer.cloud.submit import submit_job
    from basketball_analyzer.config import Settings
    from basketball_analyzer.detection import DetectionParams
    from basketball_analyzer.sample import make_sample_clip
    from basketball_analyzer.worker.cloud import CloudWorker

    with tempfile.TemporaryDirectory() as tmp, LocalS3Server(Path(tmp) / "s3") as server:
        env = server.env()
        settings = Settings(r2_endpoint_url=env["R2_ENDPOINT_URL"], r2_access_key_id=env["R2_ACCESS_KEY_ID"],
                            r2_secret_access_key=env["R2_SECRET_ACCESS_KEY"], r2_bucket_name=server.bucket,
                            cloud_lease_seconds=120)
        counter = RequestCounter()
        storage = CloudStorage.from_settings(settings)
        counter.attach(storage.client)
        queue = CloudQueue.from_settings(settings, storage)
        worker = CloudWorker(settings, worker_id="bench", storage=storage)
        clip = Path(tmp) / "clip.mp4"
        make_sample_clip(clip, frames=args.frames, width=320, height=180, players=2)

        worker.process_next()
        show("Idle poll (empty queue)", counter.take())

        job = submit_job(queue, video_id=1, video_path=clip, params=DetectionParams(detector="hog"))
        show("Submit (upload video, manifest, pending marker)", counter.take())

        other = CloudQueue.from_settings(settings, storage)
        claim = other.claim("someone-else")
        counter.take()
        worker.process_next()
        show("Idle poll while another worker holds a job", counter.take())
        other.release(claim)
        counter.take()

        worker.process_next()
        life = counter.take()
        show(f"Worker: one job of {args.frames} frames (claim, download, progress, heartbeats, results, "
             "complete)", life)
        manifest, _ = queue.get(job.job_id)
        print(f"\njob {manifest.job_id}: {manifest.status.value}, {manifest.frames_processed} frames, "
              f"{manifest.results_rows} boxes")

        # Baseline: the naive queue finds pending work by reading every manifest ever submitted.
        for _ in range(args.history):
            queue.cancel(submit_job(queue, video_id=1, video_path=clip, params=DetectionParams()).job_id)
        counter.take()
        worker.process_next()
        ours = counter.take()
        for job_id in storage.list_job_ids():
            storage.get_manifest(job_id)
        naive = counter.take()
        show(f"Idle poll with {args.history + 1} finished jobs in the bucket: this queue", ours)
        show("Idle poll, naive baseline (list jobs, GET every manifest)", naive)
        ratio = sum(naive.values()) / max(1, sum(ours.values()))
        print(f"\nidle poll: {sum(ours.values())} request(s) against {sum(naive.values())} for the naive "
              f"baseline: {ratio:.0f}x fewer")
        return 0 if manifest.status.value == "completed" and sum(ours.values()) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
