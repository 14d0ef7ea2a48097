"""Tracking accuracy of one game run as one job against the same game run in segments and joined.

    uv run python benchmarks/segments_accuracy.py [--frames 1800] [--size 640x360] [--segments 4] [--overlap 2] [--workers 2]

The synthetic court clip (`sample_game.make_game_clip`: two teams of five and a referee, ground truth known)
is submitted to a local SeaweedFS bucket twice, as one job and in N segments, drained by in-process cloud
workers with the real detector (default `ssd`, the CPU default), imported into its own SQLite database, read
back with `load_detections` and scored with Roboflow `trackers.eval` (TrackEval's CLEAR, Identity and HOTA).
An "oracle" detector (the true boxes without their ids, through the product's ByteTrack) runs the same two
ways, so the joining is measured apart from the detector's misses. Target (issue #14): the segmented run has
as many tracks as the one run, and MOTA and IDF1 within 1 point of it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _common import OneDetector, machine

from basketball_analyzer.detection.tracking import FrameDetector


class OracleDetector(FrameDetector):
    """The clip's true boxes for each frame, confidence 1 and no ids; the product's ByteTrack links them."""

    name = "oracle"

    def __init__(self, truth):
        self.confidence_threshold = 0.5
        self._by_frame = {int(f): truth[truth.frame_number == f].xyxy for f in np.unique(truth.frame_number)}
        self._frame = -1

    def track(self, frames, fps: float = 30.0):
        def tap():  # `detect` sees only the image: note which frame it is
            for frame in frames:
                self._frame = frame.index
                yield frame

        return super().track(tap(), fps)

    def detect(self, image):
        xyxy = self._by_frame.get(self._frame, np.zeros((0, 4), np.float32)).astype(np.float32)
        return xyxy, np.ones(len(xyxy), np.float32)


@dataclass
class Score:
    """One run's result: tracks and boxes stored, and TrackEval's metrics (MOTA, IDF1, HOTA in points)."""

    detector: str
    segments: int
    seconds: float
    boxes: int
    tracks: int
    mota: float
    idf1: float
    idsw: int
    hota: float


def run_job(server, clip: Path, db_url: str, detector: str, segments: int, workers: int, overlap: float,
            truth=None) -> tuple[object, float]:
    """Submit the clip (in `segments`), drain it with `workers` cloud workers, import; (detections, seconds)."""
    from basketball_analyzer.cloud.importer import import_job
    from basketball_analyzer.cloud.queue import CloudQueue
    from basketball_analyzer.cloud.storage import CloudStorage
    from basketball_analyzer.cloud.submit import submit_job
    from basketball_analyzer.config import load_settings
    from basketball_analyzer.db import transaction
    from basketball_analyzer.db.detections import load_detections
    from basketball_analyzer.detection import DetectionParams
    from basketball_analyzer.worker.cloud import CloudWorker

    bucket = server.create_bucket(f"acc-{detector}-{segments}-{int(time.time() * 1000) % 10**8}")
    env = {k.lower(): v for k, v in server.env().items()}
    env.update(r2_bucket_name=bucket, database_url=db_url, cloud_worker_poll_interval=0.2)
    settings = load_settings(**env)
    started = time.perf_counter()
    queue = CloudQueue.from_settings(settings, CloudStorage.from_settings(settings))
    params = DetectionParams(detector="ssd" if detector == "oracle" else detector)
    job = submit_job(queue, params=params, video_path=clip, database_url=db_url,
                     segments=segments if segments > 1 else None, overlap_seconds=overlap)
    errors: list[BaseException] = []

    def drain(worker):
        try:
            worker.work(burst=True)
        except BaseException as exc:  # handed to the caller, not lost on the thread
            errors.append(exc)

    threads = []
    for i in range(workers):
        worker = CloudWorker(settings, worker_id=f"acc-{i}", storage=CloudStorage.from_settings(settings))
        if detector == "oracle":
            worker.detectors = OneDetector(OracleDetector(truth))
        threads.append(threading.Thread(target=drain, args=(worker,)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    import_job(queue.storage, db_url, job.job_id)
    seconds = time.perf_counter() - started
    with transaction(db_url) as s:
        found = load_detections(s, job.video_id)
    return found, seconds


def write_mot(det, path: Path, ground_truth: bool = False) -> Path:
    """MOTChallenge rows; ground truth gets consider=1, class=1 (pedestrian), visibility=1."""
    from basketball_analyzer.export import write_mot as export_mot

    with open(path, "w") as out:
        if ground_truth:
            out.writelines(f"{f + 1},{t + 1},{x},{y},{w},{h},1,1,1\n" for f, t, x, y, w, h, _ in det.rows())
        else:
            export_mot(det, out)
    return path


def evaluate(gt_path: Path, found, tmp: Path, iou: float, hota: bool) -> tuple[float, float, int, float]:
    """(MOTA, IDF1, IDSW, HOTA) of `found` against the ground truth, MOTA/IDF1/HOTA in points."""
    from trackers.eval import evaluate_mot_sequence

    pred = write_mot(found, tmp / "pred.txt")
    result = evaluate_mot_sequence(gt_path, pred, metrics=["CLEAR", "Identity"] + (["HOTA"] if hota else []),
                                   threshold=iou)
    return (100 * result.CLEAR.MOTA, 100 * result.Identity.IDF1, int(result.CLEAR.IDSW),
            100 * result.HOTA.HOTA if hota else float("nan"))


def new_ids(found, frame: int, window: int) -> int:
    """Ids seen in the `window` frames from `frame` on that no earlier frame has."""
    after = set(found[(found.frame_number >= frame) & (found.frame_number < frame + window)].tracker_id.tolist())
    return len(after - set(found[found.frame_number < frame].tracker_id.tolist()))


def compare(one, split, bounds: list[int], window: int) -> list[str]:
    """How the split run differs from the one run: the same boxes? one id for one id? and, per boundary, the
    ids that start there (a player the joining failed to carry over gets a new id at the boundary)."""
    key = np.column_stack([one.frame_number, np.round(one.xyxy, 1)])
    key_split = np.column_stack([split.frame_number, np.round(split.xyxy, 1)])
    a, b = np.lexsort(key.T[::-1]), np.lexsort(key_split.T[::-1])
    same_boxes = len(one) == len(split) and np.array_equal(key[a], key_split[b])
    lines = [f"    boxes identical to the one run: {'yes' if same_boxes else 'no'} ({len(one):,} vs {len(split):,})"]
    if same_boxes:
        pairs = set(zip(one.tracker_id[a].tolist(), split.tracker_id[b].tolist()))
        one_to_one = len(pairs) == len({p for p, _ in pairs}) == len({q for _, q in pairs})
        lines.append(f"    ids one-to-one with the one run's: {'yes' if one_to_one else 'no'} ({len(pairs)} id pairs)")
    for frame in bounds:
        lines.append(f"    boundary at frame {frame}: ids new in the {window} frames after it: "
                     f"one run {new_ids(one, frame, window)}, split run {new_ids(split, frame, window)}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the game as one job and in segments with each detector; print the table and whether the target is met."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=1800, help="clip length at 30 fps (default 1800: one minute)")
    p.add_argument("--size", default="640x360", help="clip size WIDTHxHEIGHT (default 640x360)")
    p.add_argument("--segments", type=int, default=4, help="segments of the split run (default 4)")
    p.add_argument("--overlap", type=float, default=None,
                   help="seconds each segment decodes of the previous one (default: the product's, 2)")
    p.add_argument("--workers", type=int, default=2, help="in-process cloud workers, one thread each (default 2)")
    p.add_argument("--detector", default="ssd", choices=["ssd", "hog"], help="the real detector (default ssd)")
    p.add_argument("--no-oracle", action="store_true", help="skip the runs on the true boxes")
    p.add_argument("--no-hota", action="store_true", help="skip HOTA (the slowest metric)")
    p.add_argument("--iou", type=float, default=0.5, help="IoU threshold for CLEAR and Identity (default 0.5)")
    args = p.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    from basketball_analyzer.cloud.segments import plan_segments
    from basketball_analyzer.cloud.server import LocalS3Server
    from basketball_analyzer.db.engine import dispose_all
    from basketball_analyzer.sample_game import make_game_clip

    detectors = [args.detector] + ([] if args.no_oracle else ["oracle"])
    scores: list[Score] = []
    notes: list[str] = []
    from basketball_analyzer.cloud.segments import OVERLAP_SECONDS

    overlap = OVERLAP_SECONDS if args.overlap is None else args.overlap
    plan = plan_segments(args.frames, 30.0, segments=args.segments, overlap_seconds=overlap)
    with tempfile.TemporaryDirectory(prefix="bball-acc-bench-") as tmp:
        tmp = Path(tmp)
        clip = tmp / "court.mp4"
        truth = make_game_clip(clip, frames=args.frames, width=width, height=height).boxes
        gt_path = write_mot(truth, tmp / "gt.txt", ground_truth=True)
        with LocalS3Server(directory=tmp / "s3") as server:
            for detector in detectors:
                runs = {}
                for n in (1, args.segments):
                    db_url = f"sqlite:///{tmp / f'{detector}-{n}.db'}"
                    runs[n], seconds = run_job(server, clip, db_url, detector, n, args.workers, overlap, truth)
                    dispose_all()
                    found = runs[n]
                    mota, idf1, idsw, hota = evaluate(gt_path, found, tmp, args.iou, not args.no_hota)
                    scores.append(Score(detector, n, seconds, len(found), len(found.track_ids()), mota, idf1,
                                        idsw, hota))
                notes.append(f"  {detector}, {args.segments} segments against one run:")
                notes += compare(runs[1], runs[args.segments], [start for start, _ in plan.bounds[1:]],
                                 plan.overlap_frames)

    print(f"One {args.frames}-frame game ({args.frames / 30:.0f} s at 30 fps, {width}x{height}, 11 figures, "
          f"{len(truth):,} true boxes), {args.segments} segments of ~{args.frames // args.segments} frames with a "
          f"{plan.overlap_frames}-frame overlap, {args.workers} in-process workers, IoU {args.iou:g}; {machine()}")
    print(f"{'detector':<8} {'segments':>8} {'seconds':>8} {'boxes':>7} {'tracks':>6} {'MOTA':>6} {'IDF1':>6} "
          f"{'IDSW':>5} {'HOTA':>6}  {'dMOTA':>6} {'dIDF1':>6}  target")
    met = True
    for score in scores:
        base = next(s for s in scores if s.detector == score.detector and s.segments == 1)
        d_mota, d_idf1 = score.mota - base.mota, score.idf1 - base.idf1
        if score is base:
            verdict, delta = "(baseline)", f"{'':>6} {'':>6}"
        else:
            ok = score.tracks == base.tracks and abs(d_mota) <= 1 and abs(d_idf1) <= 1
            if score.detector != "oracle":
                met &= ok
            verdict = "met" if ok else "NOT met" + ("" if score.tracks == base.tracks else
                                                    f" ({score.tracks - base.tracks:+d} tracks)")
            delta = f"{d_mota:>+6.2f} {d_idf1:>+6.2f}"
        hota = "-" if np.isnan(score.hota) else f"{score.hota:.2f}"
        print(f"{score.detector:<8} {score.segments:>8} {score.seconds:>8.1f} {score.boxes:>7,} {score.tracks:>6} "
              f"{score.mota:>6.2f} {score.idf1:>6.2f} {score.idsw:>5} {hota:>6}  {delta}  {verdict}")
    print("Target: as many tracks as one run, |dMOTA| <= 1 and |dIDF1| <= 1 point "
          f"({args.detector}: {'met' if met else 'NOT met'}; the oracle rows isolate the joining)")
    print("\n".join(notes))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
