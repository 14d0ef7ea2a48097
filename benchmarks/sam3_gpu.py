"""SAM 3 over a game: frames/s, time per stage and memory over many frames, pruned against unpruned.

The full-size SAM 3 (`Sam3VideoConfig()`, facebook/sam3's architecture: 859.9M parameters) is built with
random weights (no download; speed and memory do not depend on the weights' values) and run through
`Sam3Detector` on 1280 x 720 frames with two prompts ("basketball player", "referee"). Random weights
detect nothing useful, so a game is steered: every model stage runs for real on every frame (vision
backbone, DETR detector per prompt, tracker propagation per object, memory encoder, hot-start, duplicate
suppression, post-processing), then the detector's and the tracker's outputs are replaced by a script of
12 objects (10 players, 2 referees) that are born one after another, leave the frame and come back: half
the exits are short (the track waits, empty), half long (the track is retired and a new one is born). The
script's masks are the shape the real model would return, so association, hot-start, retirement and
pruning see a game.

    uv run --extra sam3 python benchmarks/sam3_gpu.py [--frames 10000] [--unpruned-frames 1000]

Prints frames/s (after the first `--warmup` frames), ms per processed frame for each stage (synchronised
on CUDA; preprocess runs on its own thread beside the model), peak memory and the session's tensor bytes
per window of `--window` frames (flat when pruning works), and the same run unpruned on fewer frames
(it grows every frame). Needs CUDA; without it, it says so in one line and exits 1. `--smoke` runs the same
code on the CPU with the tiny test architecture at 320 x 180 (the test suite does; its numbers mean
nothing about a GPU).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

STAGES = ("preprocess", "backbone", "detector", "tracker", "postprocess")
PROMPTS = ("basketball player", "referee")
OBJECTS = 12  # the last two are referees


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


class Timer:
    """Accumulates wall time per stage; with `sync`, waits for the device around each timed call."""

    def __init__(self, sync):
        self.sync = sync
        self.total: dict[str, float] = defaultdict(float)

    def wrap(self, stage: str, fn, exclude: str | None = None):
        """`fn` timed as `stage`; time counted under `exclude` during the call is subtracted."""
        def timed(*args, **kwargs):
            self.sync()
            before, start = self.total[exclude] if exclude else 0.0, time.perf_counter()
            out = fn(*args, **kwargs)
            self.sync()
            self.total[stage] += time.perf_counter() - start - ((self.total[exclude] - before) if exclude else 0.0)
            return out
        return timed


class Script:
    """Where each of the 12 objects is on each frame, in low-resolution mask cells, and when it is away.

    Object k enters at frame 2k; each leaves once per `cycle` frames, the even ones for `short` frames
    (shorter than the retirement delay: the track waits), the odd ones for `long` (the track is retired,
    the return is a new track). Boxes sit in separate lanes, so tracks do not overlap.
    """

    def __init__(self, size: int, retire: int, cycle: int):
        self.size, self.retire, self.cycle = size, retire, cycle
        self.short, self.long = max(2, retire // 2), 2 * retire

    def visible(self, k: int, f: int) -> bool:
        if f < 2 * k:
            return False
        phase = (f + k * self.cycle // OBJECTS) % self.cycle
        away = self.short if k % 2 == 0 else self.long
        return not self.cycle // 2 <= phase < self.cycle // 2 + away

    def cells(self, k: int, f: int) -> tuple[int, int, int, int]:
        """(row0, col0, row1, col1), exclusive ends: a box that moves along its lane and back."""
        lanes, n = 4, self.size
        h, w = max(2, n // 8), max(2, n // 10)
        row = (k % lanes) * n // lanes + 1
        span = n - w - 2
        t = (f * max(1, n // 64) + k * 7) % (2 * span)
        col = 1 + (t if t < span else 2 * span - t)
        col = (col + (k // lanes) * (n // 3)) % (n - w - 1)
        return row, col, row + h, col + w

    def mask(self, k: int, f: int, inside: float):
        import torch

        r0, c0, r1, c1 = self.cells(k, f)
        m = torch.full((self.size, self.size), -10.0)
        m[r0:r1, c0:c1] = inside
        return m

    def events(self, frames: int) -> tuple[int, int]:
        """(exits, re-entries) over `frames` frames."""
        exits = entries = 0
        for k in range(OBJECTS):
            seen = [self.visible(k, f) for f in range(frames)]
            exits += sum(a and not b for a, b in zip(seen, seen[1:]))
            entries += sum(b and not a for a, b in zip(seen[2 * k:], seen[2 * k + 1:]))
        return exits, entries


def steer(model, script: Script, frame_of: dict) -> dict:
    """Replace the detector's and the tracker's outputs by the script's after they ran; returns counters."""
    import torch

    size = script.size
    thing_of: dict[int, int] = {}  # track id -> scripted object
    stats = {"born": 0}
    detect, propagate, add_new = model.run_detection, model.run_tracker_propagation, model._tracker_add_new_objects

    def run_detection(inference_session, vision_embeds):
        out = detect(inference_session=inference_session, vision_embeds=vision_embeds)
        f, device = frame_of["frame"], vision_embeds.last_hidden_state.device
        steered = {}
        for pid in out:
            ks = [k for k in range(OBJECTS) if (k >= OBJECTS - 2) == (pid == 1) and script.visible(k, f)]
            boxes = [[c / size for c in (c0, r0, c1, r1)] for r0, c0, r1, c1 in (script.cells(k, f) for k in ks)]
            # The inside logit names the object (5 + k / 16), so a new track can be told which it follows.
            masks = [script.mask(k, f, 5 + k / 16) for k in ks]
            steered[pid] = {"bbox": torch.tensor(boxes, device=device).reshape(-1, 4),
                            "mask": (torch.stack(masks) if masks else torch.zeros(0, size, size)).to(device),
                            "scores": torch.full((len(ks),), 0.95, device=device)}
        return steered

    def _tracker_add_new_objects(inference_session, frame_idx, new_obj_ids, new_obj_masks, reverse=False):
        for obj_id, mask in zip(new_obj_ids, new_obj_masks):
            thing_of[int(obj_id)] = round((float(mask.max()) - 5) * 16)
        stats["born"] += len(new_obj_ids)
        return add_new(inference_session=inference_session, frame_idx=frame_idx, new_obj_ids=new_obj_ids,
                       new_obj_masks=new_obj_masks, reverse=reverse)

    def run_tracker_propagation(inference_session, frame_idx, reverse):
        masks, scores = propagate(inference_session=inference_session, frame_idx=frame_idx, reverse=reverse)
        if masks.shape[0] == 0:
            return masks, scores
        f = frame_of["frame"]
        shown = [script.visible(thing_of[int(o)], f) for o in inference_session.obj_ids]
        steered = torch.stack([script.mask(thing_of[int(o)], f, 10.0) if here else torch.full((size, size), -10.0)
                               for o, here in zip(inference_session.obj_ids, shown)])
        logits = torch.tensor([5.0 if here else -5.0 for here in shown]).reshape(scores.shape)
        return steered.to(masks.device, masks.dtype), logits.to(scores.device, scores.dtype)

    model.run_detection = run_detection
    model._tracker_add_new_objects = _tracker_add_new_objects
    model.run_tracker_propagation = run_tracker_propagation
    return stats


def frames_of(width: int, height: int, count: int, frame_of: dict):
    """`count` frames cycling through 30 rendered court frames; records which frame the model is on."""
    from basketball_analyzer.sample import default_players, draw_court, render_frame
    from basketball_analyzer.video import Frame

    players, court = default_players(width, height, 10), draw_court(width, height)
    images = [render_frame(i, width, height, players, court)[0] for i in range(30)]
    for i in range(count):
        yield Frame(i, images[i % len(images)])


def run(frames: int, smoke: bool, dtype: str, prune: bool, window: int, warmup: int) -> dict:
    """One steered run; returns frames/s, ms per processed frame by stage, and memory per window."""
    import torch
    from support.tiny_sam3 import bias_detection_head, make_processor, tiny_config
    from transformers import Sam3VideoConfig, Sam3VideoModel

    from basketball_analyzer.detection.sam3 import Sam3Detector
    from basketball_analyzer.detection.sam3_session import session_bytes

    cuda = not smoke
    device = "cuda" if cuda else "cpu"
    torch.manual_seed(0)
    model = Sam3VideoModel(tiny_config() if smoke else Sam3VideoConfig()).to(getattr(torch, dtype))
    bias_detection_head(model)
    model = model.to(device).eval()
    det = Sam3Detector(model, make_processor(112 if smoke else 1008), prompts=PROMPTS, device=device,
                       dtype=dtype, confidence_threshold=0.5, prune=prune, retire_after_s=0.5 if smoke else 10.0,
                       source="steered random SAM 3")
    retire = det.retire_frames(30.0)
    script = Script(model.low_res_mask_size, retire, cycle=8 * retire)
    frame_of = {"frame": 0}
    stats = steer(model, script, frame_of)
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    timer = Timer(sync)
    model.detector_model.get_vision_features = timer.wrap("backbone", model.detector_model.get_vision_features)
    model.run_detection = timer.wrap("detector", model.run_detection)
    for name in ("run_tracker_propagation", "run_tracker_update_planning_phase", "run_tracker_update_execution_phase"):
        setattr(model, name, timer.wrap("tracker", getattr(model, name)))
    forward = model.forward

    def counting_forward(**kwargs):
        stats["steps"] = stats.get("steps", 0) + 1
        frame_of["frame"] = int(kwargs["frame_idx"])  # one session here: session index = frame number
        return forward(**kwargs)

    model.forward = counting_forward
    det._prepare = timer.wrap("preprocess", det._prepare)
    det._detections = timer.wrap("postprocess", det._detections)

    width, height = (320, 180) if smoke else (1280, 720)
    windows, boxes, ids, started = [], 0, set(), None
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    for index, result in enumerate(det.track(frames_of(width, height, frames, frame_of), fps=30.0)):
        boxes += len(result)
        ids |= result.track_ids()
        if index + 1 == warmup:
            sync()
            started, stages_before, steps_before = time.perf_counter(), dict(timer.total), stats["steps"]
        if (index + 1) % window == 0:
            peak = torch.cuda.max_memory_allocated() / 1e6 if cuda else _rss_mb()
            windows.append((index + 1, peak, session_bytes(det.session) / 1e6, len(det.session.obj_ids)))
            if cuda:
                torch.cuda.reset_peak_memory_stats()
    sync()
    elapsed = time.perf_counter() - started
    steps = stats["steps"] - steps_before
    ms = {s: 1000 * (timer.total[s] - stages_before.get(s, 0.0)) / max(1, steps) for s in STAGES}
    exits, entries = script.events(frames)
    det.close()
    del model
    if cuda:
        torch.cuda.empty_cache()
    return {"fps": (frames - warmup) / elapsed, "ms": ms, "windows": windows, "boxes": boxes / frames,
            "born": stats["born"], "ids": len(ids), "exits": exits, "entries": entries, "retire": retire}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, help="frames in the pruned run (10000; --smoke: 80)")
    parser.add_argument("--unpruned-frames", type=int, help="frames in the unpruned run (1000; --smoke: 80)")
    parser.add_argument("--window", type=int, help="frames per memory reading (1000; --smoke: 20)")
    parser.add_argument("--warmup", type=int, help="frames left out of frames/s and stage times (100; --smoke: 20)")
    parser.add_argument("--dtype", help="bfloat16; --smoke: float32")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny architecture on the CPU at 320x180, to check the script; numbers mean nothing")
    args = parser.parse_args()
    # --smoke changes the defaults only: the test suite asks for fewer frames still.
    defaults = (80, 80, 20, 20, "float32") if args.smoke else (10_000, 1000, 1000, 100, "bfloat16")
    for name, default in zip(("frames", "unpruned_frames", "window", "warmup", "dtype"), defaults):
        if getattr(args, name) is None:
            setattr(args, name, default)
    try:
        import torch
    except ImportError:
        print("sam3_gpu: torch is not installed (install the 'sam3' extra); nothing to measure")
        return 1
    if not args.smoke and not torch.cuda.is_available():
        print("sam3_gpu: no CUDA GPU on this machine; run this benchmark on a CUDA machine")
        return 1
    if args.smoke:
        torch.set_num_threads(1)
    where = "CPU smoke run (tiny model, 320x180)" if args.smoke else \
        f"GPU: {torch.cuda.get_device_name(0)}; full-size SAM 3, random weights, 1280x720"
    memory = "RSS MB" if args.smoke else "peak GPU MB"
    print(f"{where}; {args.dtype}; prompts {', '.join(PROMPTS)}; {OBJECTS} steered objects")
    results = {}
    for prune, frames in ((True, args.frames), (False, args.unpruned_frames)):
        r = results[prune] = run(frames, args.smoke, args.dtype, prune, args.window, args.warmup)
        name = "pruned" if prune else "unpruned"
        print(f"{name}: {frames} frames, {r['fps']:.2f} frames/s after frame {args.warmup}, "
              f"{r['boxes']:.1f} boxes/frame, {r['born']} tracks born, {r['ids']} ids shown, {r['exits']} exits, "
              f"{r['entries']} re-entries, retired after {r['retire']} empty frames")
        print("ms per processed frame: " + ", ".join(f"{s} {r['ms'][s]:.1f}" for s in STAGES))
        print(f"{'frame':>7} {memory:>12} {'session MB':>11} {'tracks':>7}")
        for frame, peak, session, tracks in r["windows"]:
            print(f"{frame:7d} {peak:12.1f} {session:11.2f} {tracks:7d}")
    pruned, unpruned = results[True], results[False]
    first, last = pruned["windows"][1 if len(pruned["windows"]) > 2 else 0], pruned["windows"][-1]
    print(f"pruned memory from frame {first[0]} to {last[0]}: {memory} {first[1]:.1f} -> {last[1]:.1f}, "
          f"session MB {first[2]:.2f} -> {last[2]:.2f}")
    print(f"pruned against unpruned: {pruned['fps'] / unpruned['fps']:.2f}x the frames/s; unpruned session MB "
          f"{unpruned['windows'][0][2]:.2f} -> {unpruned['windows'][-1][2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
