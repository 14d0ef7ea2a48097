"""SAM 3 on a GPU: frames/s and memory over a long 1080p clip, float32 against bfloat16.

The full-size SAM 3 architecture with random weights (no download), biased so that it detects and tracks,
on a synthetic 1920x1080 court with about 10 drawn players, run through `Sam3Detector` in windows.
Prints frames/s, peak GPU memory, and GPU/host memory at frame 100 against frame 2,000.

    uv run python benchmarks/sam3_gpu.py [--frames 2000] [--window 300] [--overlap 16]

Needs CUDA; on a machine without it, it says so in one line and exits 1. `--smoke` runs the same code on
the CPU with the tiny test architecture and a small clip, so the test suite keeps this script working
(its numbers mean nothing).
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


def run(dtype: str, frames: int, window: int, overlap: int, marks=(100, 2000), smoke: bool = False) -> dict:
    """One timed run in `dtype`; returns frames/s and memory numbers."""
    import torch
    from support.tiny_sam3 import IMAGE_SIZE, bias_detection_head, make_processor, tiny_config
    from transformers import Sam3VideoConfig, Sam3VideoModel

    from basketball_analyzer.detection.sam3 import Sam3Detector
    from basketball_analyzer.sample import default_players, draw_court, render_frame
    from basketball_analyzer.video import Frame

    device = "cpu" if smoke else "cuda"
    cuda = device == "cuda"
    torch.manual_seed(0)
    model = Sam3VideoModel(tiny_config() if smoke else Sam3VideoConfig()).to(getattr(torch, dtype))
    bias_detection_head(model)
    model = model.to(device).eval()
    det = Sam3Detector(model, make_processor(IMAGE_SIZE if smoke else 1008), device=device, dtype=dtype,
                       window_frames=window, window_overlap=overlap,
                       source="tiny SAM 3 (smoke run)" if smoke else "random full-size SAM 3")
    width, height = (320, 180) if smoke else (1920, 1080)
    players, court = default_players(width, height, 10), draw_court(width, height)
    rendered = [render_frame(i, width, height, players, court)[0] for i in range(64)]  # drawing is not timed

    def clip():
        for i in range(frames):
            yield Frame(i, rendered[i % len(rendered)])

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    at: dict[int, tuple[float, float]] = {}
    started, boxes = time.perf_counter(), 0
    for index, result in enumerate(det.track(clip())):  # one result per frame, in order
        boxes += len(result)
        if index in marks:
            if cuda:
                torch.cuda.synchronize()
            at[index] = (torch.cuda.memory_allocated() / 1e6 if cuda else float("nan"), _rss_mb())
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated() / 1e6 if cuda else float("nan")
    det.close()
    del model
    if cuda:
        torch.cuda.empty_cache()
    return {"dtype": dtype, "fps": frames / seconds, "peak_gpu_mb": peak, "boxes_per_frame": boxes / frames,
            "at": at}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--window", type=int, default=300)
    parser.add_argument("--overlap", type=int, default=16)
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny architecture on the CPU, to check the script itself; numbers mean nothing")
    args = parser.parse_args()
    if args.smoke:
        args.frames, args.window, args.overlap, args.dtypes = min(args.frames, 24), 8, 2, "float32"
    try:
        import torch
    except ImportError:
        print("sam3_gpu: torch is not installed (install the 'sam3' extra); nothing to measure")
        return 1
    if not args.smoke and not torch.cuda.is_available():
        print("sam3_gpu: no CUDA GPU on this machine; run this benchmark on a CUDA machine")
        return 1
    first, last = min(100, args.frames // 4), min(2000, args.frames - 1)
    where = "CPU smoke run (tiny model, 320x180)" if args.smoke else \
        f"GPU: {torch.cuda.get_device_name(0)}; 1920x1080"
    print(f"{where}; {args.frames} frames, ~10 players, windows of {args.window} overlapping by {args.overlap}")
    print(f"{'dtype':9} {'frames/s':>9} {'peak GPU MB':>12} {'boxes/frame':>12} "
          f"{'GPU MB @' + str(first):>12} {'GPU MB @' + str(last):>13} {'RSS MB @' + str(first):>12} "
          f"{'RSS MB @' + str(last):>13}")
    fps = {}
    for dtype in args.dtypes.split(","):
        r = run(dtype.strip(), args.frames, args.window, args.overlap, marks=(first, last), smoke=args.smoke)
        fps[r["dtype"]] = r["fps"]
        g1, h1 = r["at"].get(first, (float("nan"),) * 2)
        g2, h2 = r["at"].get(last, (float("nan"),) * 2)
        print(f"{r['dtype']:9} {r['fps']:9.2f} {r['peak_gpu_mb']:12.0f} {r['boxes_per_frame']:12.1f} "
              f"{g1:12.0f} {g2:13.0f} {h1:12.0f} {h2:13.0f}")
    if "float32" in fps and "bfloat16" in fps:
        print(f"bfloat16 against float32 (the baseline): {fps['bfloat16'] / fps['float32']:.2f}x the frames/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
