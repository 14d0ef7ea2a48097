"""SAM 3 on a GPU: frames/s, per-stage time, peak GPU memory and session size at 1, 5, 12 and 20 objects.

The full-size SAM 3 architecture with random weights (no download) runs through `Sam3Detector` on a
1920x1080 synthetic court clip decoded from an mp4. Random weights do not give a controlled number of
objects, so the detector stage is scripted: the real DETR detector still runs on every frame (its time
counts), but the detections handed to the tracker are exactly N (so N tracks are born on frame 0 and kept);
the tracker, memory encoder, duplicate suppression and post-processing all run for real.

    uv run python benchmarks/sam3_gpu.py [--frames 2000] [--objects 1,5,12,20] [--dtype bfloat16]

Prints per object count: frames/s over the whole run, peak CUDA memory, the session's tensor bytes near
the start and at the end (flat when pruning works), and a per-stage breakdown in ms/frame measured with
CUDA synchronisation on the first `--profile-frames` frames (decode, preprocess, vision backbone, detector
head, tracker, post-process). Needs CUDA; without it, it says so in one line and exits 1. `--smoke` runs
the same code on the CPU with the tiny test architecture, so the test suite keeps this script working
(its numbers mean nothing).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

STAGES = ("decode", "preprocess", "backbone", "detector", "tracker", "postprocess")


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


class Timer:
    """Accumulates wall time per stage; with `sync`, waits for the GPU around each timed call."""

    def __init__(self, sync):
        self.sync, self.on = sync, False
        self.total: dict[str, float] = defaultdict(float)

    def wrap(self, stage: str, fn, exclude: str | None = None):
        """`fn` timed as `stage`; time already counted under `exclude` during the call is subtracted."""
        def timed(*args, **kwargs):
            if not self.on:
                return fn(*args, **kwargs)
            self.sync()
            before, start = self.total[exclude] if exclude else 0.0, time.perf_counter()
            out = fn(*args, **kwargs)
            self.sync()
            inner = (self.total[exclude] - before) if exclude else 0.0
            self.total[stage] += time.perf_counter() - start - inner
            return out
        return timed


def force_objects(model, count: int) -> None:
    """Make the tracker hold exactly `count` objects: the real detector runs, then `count` detections are
    handed on (whole-frame masks, score 0.95), matching the biased tracker's whole-frame masks so each
    frame confirms the tracks instead of starting new ones; duplicate removal is turned off for them."""
    import torch

    real = model.run_detection
    size = model.low_res_mask_size

    def run_detection(inference_session, vision_embeds):
        out = real(inference_session=inference_session, vision_embeds=vision_embeds)
        device = vision_embeds.last_hidden_state.device
        return {pid: {"bbox": torch.tensor([[0.0, 0.0, 1.0, 1.0]] * count, device=device),
                      "mask": torch.full((count, size, size), 10.0, device=device),
                      "scores": torch.full((count,), 0.95, device=device)} for pid in out}

    model.run_detection = run_detection
    model.hotstart_dup_thresh = 10**9  # identical forced objects are not duplicates to remove
    model.suppress_overlapping_based_on_recent_occlusion_threshold = 0.0


def clip_frames(path: Path, frames: int, timer: Timer):
    """`frames` frames decoded from the clip at `path`, looping it, re-numbered; decode time is timed."""
    from basketball_analyzer.video import Frame, iter_frames

    index = 0
    while index < frames:
        source = iter_frames(path)
        while index < frames:
            start = time.perf_counter()
            frame = next(source, None)
            if timer.on:
                timer.total["decode"] += time.perf_counter() - start
            if frame is None:
                break
            yield Frame(index, frame.image)
            index += 1


def run(objects: int, dtype: str, frames: int, clip: Path, profile_frames: int, smoke: bool) -> dict:
    """One timed run with `objects` forced objects; returns frames/s, memory and ms/frame per stage."""
    import torch
    from support.tiny_sam3 import IMAGE_SIZE, bias_detection_head, make_processor, tiny_config
    from transformers import Sam3VideoConfig, Sam3VideoModel

    from basketball_analyzer.detection.sam3 import Sam3Detector
    from basketball_analyzer.detection.sam3_session import session_bytes

    device = "cpu" if smoke else "cuda"
    cuda = device == "cuda"
    torch.manual_seed(0)
    model = Sam3VideoModel(tiny_config() if smoke else Sam3VideoConfig()).to(getattr(torch, dtype))
    bias_detection_head(model)
    model = model.to(device).eval()
    force_objects(model, objects)
    det = Sam3Detector(model, make_processor(IMAGE_SIZE if smoke else 1008), device=device, dtype=dtype,
                       confidence_threshold=0.0, source="tiny SAM 3 (smoke)" if smoke else "random full-size SAM 3")
    timer = Timer(torch.cuda.synchronize if cuda else (lambda: None))
    model.detector_model.get_vision_features = timer.wrap("backbone", model.detector_model.get_vision_features)
    model.run_detection = timer.wrap("detector", model.run_detection)
    for name in ("run_tracker_propagation", "run_tracker_update_planning_phase", "run_tracker_update_execution_phase"):
        setattr(model, name, timer.wrap("tracker", getattr(model, name)))
    det._prepare = timer.wrap("preprocess", det._prepare)
    det._detections = timer.wrap("postprocess", det._detections)
    det.prefetch = 1  # preprocessing on its thread still overlaps; the breakdown says so

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    first_mark = min(100, frames // 4)
    at: dict[int, tuple[float, float]] = {}
    boxes, started, profiled_until = 0, time.perf_counter(), None
    timer.on = profile_frames > 0
    for index, result in enumerate(det.track(clip_frames(clip, frames, timer))):
        boxes += len(result)
        if index + 1 == profile_frames:
            timer.on, profiled_until = False, time.perf_counter()
            started_rest = profiled_until
        if index in (first_mark, frames - 1):
            at[index] = (session_bytes(det.session) / 1e6, _rss_mb())
    if cuda:
        torch.cuda.synchronize()
    end = time.perf_counter()
    # frames/s from the unprofiled part (synchronised timing slows the profiled frames down)
    rest = frames - profile_frames
    fps = rest / (end - started_rest) if profiled_until and rest > 0 else frames / (end - started)
    peak = torch.cuda.max_memory_allocated() / 1e6 if cuda else float("nan")
    det.close()
    del model
    if cuda:
        torch.cuda.empty_cache()
    per_frame = {s: 1000 * timer.total[s] / max(1, min(profile_frames, frames)) for s in STAGES}
    return {"objects": objects, "fps": fps, "peak_gpu_mb": peak, "boxes_per_frame": boxes / frames,
            "at": at, "first": first_mark, "ms": per_frame}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--objects", default="1,5,12,20")
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--profile-frames", type=int, default=100)
    parser.add_argument("--smoke", action="store_true",
                        help="tiny architecture on the CPU, to check the script itself; numbers mean nothing")
    args = parser.parse_args()
    if args.smoke:
        args.frames, args.objects, args.dtype = min(args.frames, 24), "1,3", "float32"
        args.profile_frames = min(args.profile_frames, 8)
    try:
        import torch
    except ImportError:
        print("sam3_gpu: torch is not installed (install the 'sam3' extra); nothing to measure")
        return 1
    if not args.smoke and not torch.cuda.is_available():
        print("sam3_gpu: no CUDA GPU on this machine; run this benchmark on a CUDA machine")
        return 1
    from basketball_analyzer.sample import make_sample_clip

    width, height = (320, 180) if args.smoke else (1920, 1080)
    where = f"CPU smoke run (tiny model, {width}x{height})" if args.smoke else \
        f"GPU: {torch.cuda.get_device_name(0)}; {width}x{height}"
    print(f"{where}; {args.frames} frames, {args.dtype}, forced objects {args.objects}")
    print(f"{'objects':>7} {'frames/s':>9} {'peak GPU MB':>12} {'boxes/frame':>12} {'session MB early':>17} "
          f"{'session MB end':>15} {'RSS MB early':>13} {'RSS MB end':>11}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        make_sample_clip(clip, frames=min(args.frames, 120), width=width, height=height)
        for count in (int(c) for c in args.objects.split(",")):
            r = run(count, args.dtype, args.frames, clip, args.profile_frames, args.smoke)
            results.append(r)
            s1, h1 = r["at"].get(r["first"], (float("nan"),) * 2)
            s2, h2 = r["at"].get(args.frames - 1, (float("nan"),) * 2)
            print(f"{count:7d} {r['fps']:9.2f} {r['peak_gpu_mb']:12.0f} {r['boxes_per_frame']:12.1f} {s1:17.1f} "
                  f"{s2:15.1f} {h1:13.0f} {h2:11.0f}", flush=True)
    print(f"stage breakdown, ms/frame over the first {args.profile_frames} frames (synchronised; preprocess "
          "runs on a thread beside the model):")
    print(f"{'objects':>7} " + " ".join(f"{s:>11}" for s in STAGES))
    for r in results:
        print(f"{r['objects']:7d} " + " ".join(f"{r['ms'][s]:11.1f}" for s in STAGES))
    base = results[0]
    for r in results[1:]:
        print(f"{r['objects']} objects against {base['objects']} (the baseline): "
              f"{r['fps'] / base['fps']:.2f}x the frames/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
