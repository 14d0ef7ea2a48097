"""SAM 3 on a GPU: frames/s and memory over a long 1080p clip, float32 against bfloat16.

The full-size SAM 3 architecture with random weights (no download), biased so that it detects and tracks,
on a synthetic 1920x1080 court with about 10 drawn players, run through `Sam3Detector` in windows.
Prints frames/s, peak GPU memory, and GPU/host memory at frame 100 against frame 2,000.

    uv run python benchmarks/sam3_gpu.py [--frames 2000] [--window 300] [--overlap 16]

Needs CUDA; on a machine without it, it says so in one line and exits 1. CI never runs it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def run(dtype: str, frames: int, window: int, overlap: int, marks=(100, 2000)) -> dict:
    """One timed run in `dtype`; returns frames/s and memory numbers."""
    import torch
    from support.tiny_sam3 import bias_detection_head, make_processor
    from transformers import Sam3VideoConfig, Sam3VideoModel

    from basketball_analyzer.detection.sam3 import Sam3Detector
    from basketball_analyzer.sample import default_players, draw_court, render_frame
    from basketball_analyzer.video import Frame

    torch.manual_seed(0)
    model = Sam3VideoModel(Sam3VideoConfig()).to(getattr(torch, dtype))
    bias_detection_head(model)
    model = model.to("cuda").eval()
    det = Sam3Detector(model, make_processor(1008), device="cuda", dtype=dtype, window_frames=window,
                       window_overlap=overlap, source="random full-size SAM 3")
    width, height = 1920, 1080
    players, court = default_players(width, height, 10), draw_court(width, height)
    rendered = [render_frame(i, width, height, players, court)[0] for i in range(64)]  # drawing is not timed

    def clip():
        for i in range(frames):
            yield Frame(i, rendered[i % len(rendered)])

    torch.cuda.reset_peak_memory_stats()
    at: dict[int, tuple[float, float]] = {}
    started, boxes = time.perf_counter(), 0
    for result in det.track(clip()):
        boxes += len(result)
        index = int(result.frame_number[0]) if len(result) else None
        if index in marks:
            torch.cuda.synchronize()
            at[index] = (torch.cuda.memory_allocated() / 1e6, _rss_mb())
    torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated() / 1e6
    det.close()
    del model
    torch.cuda.empty_cache()
    return {"dtype": dtype, "fps": frames / seconds, "peak_gpu_mb": peak, "boxes_per_frame": boxes / frames,
            "at": at}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--window", type=int, default=300)
    parser.add_argument("--overlap", type=int, default=16)
    parser.add_argument("--dtypes", default="float32,bfloat16")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("sam3_gpu: torch is not installed (install the 'sam3' extra); nothing to measure")
        return 1
    if not torch.cuda.is_available():
        print("sam3_gpu: no CUDA GPU on this machine; run this benchmark on a CUDA machine")
        return 1
    first, last = 100, min(2000, args.frames - 1)
    print(f"GPU: {torch.cuda.get_device_name(0)}; {args.frames} frames of 1920x1080, ~10 players, "
          f"windows of {args.window} overlapping by {args.overlap}")
    print(f"{'dtype':9} {'frames/s':>9} {'peak GPU MB':>12} {'boxes/frame':>12} "
          f"{'GPU MB @' + str(first):>12} {'GPU MB @' + str(last):>13} {'RSS MB @' + str(first):>12} "
          f"{'RSS MB @' + str(last):>13}")
    for dtype in args.dtypes.split(","):
        r = run(dtype.strip(), args.frames, args.window, args.overlap, marks=(first, last))
        g1, h1 = r["at"].get(first, (float("nan"),) * 2)
        g2, h2 = r["at"].get(last, (float("nan"),) * 2)
        print(f"{r['dtype']:9} {r['fps']:9.2f} {r['peak_gpu_mb']:12.0f} {r['boxes_per_frame']:12.1f} "
              f"{g1:12.0f} {g2:13.0f} {h1:12.0f} {h2:13.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
