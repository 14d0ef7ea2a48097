"""The two CPU detectors on real footage: recall and precision against hand labels, and frames/s, same run.

The footage is OpenCV's `vtest.avi` (a street scene, 768 x 576, 795 frames at 10 fps), which Debian ships
in the opencv-doc package; the labels are ours (benchmarks/data/vtest_people.json: 41 people on 7 frames).
Each detector tracks the whole video as `bball analyze` does; we score the stored tracks (boxes with a track
id) on the labelled frames, and the raw detections of the same frames. HOG is the baseline:
    uv run python benchmarks/cpu_detectors.py [--confidence 0.5] [--frames N] [--video PATH]
Exits 1 when the SSD detector is not faster than HOG or finds fewer of the labelled people.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine  # noqa: E402

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
LABELS = Path(__file__).resolve().parent / "data" / "vtest_people.json"
MATCH_IOUS = (0.5, 0.3)  # PASCAL's 0.5, and 0.3: a few pixels of label error on a 60 px person cost 0.1-0.2 IoU


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of xyxy boxes a (N, 4) and b (M, 4)."""
    a, b = np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    area = lambda z: (z[:, 2] - z[:, 0]) * (z[:, 3] - z[:, 1])  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


@dataclass
class Score:
    """True positives, false positives and people missed, summed over the labelled frames."""

    match_iou: float = 0.5
    tp: int = 0
    fp: int = 0
    fn: int = 0
    missed: list[str] = field(default_factory=list)

    def add(self, frame: str, found: np.ndarray, people: np.ndarray, ignore: np.ndarray) -> None:
        """Match `found` boxes to labelled `people` one to one (greedy by IoU >= `match_iou`); a found box
        left over that lies mostly inside an ignore box counts neither way."""
        ious = iou_matrix(found, people)
        used_f, used_p = set(), set()
        for flat in np.argsort(-ious, axis=None):
            i, j = np.unravel_index(flat, ious.shape)
            if ious[i, j] < self.match_iou:
                break
            if i not in used_f and j not in used_p:
                used_f.add(i)
                used_p.add(j)
        for i, box in enumerate(np.asarray(found, float).reshape(-1, 4)):
            if i in used_f:
                continue
            if len(ignore) and _inside(box, ignore):
                continue
            self.fp += 1
        self.tp += len(used_p)
        self.fn += len(people) - len(used_p)
        self.missed += [f"{frame}:{j}" for j in range(len(people)) if j not in used_p]

    @property
    def recall(self) -> float:
        """Share of labelled people found."""
        return self.tp / max(self.tp + self.fn, 1)

    @property
    def precision(self) -> float:
        """Share of boxes that are a labelled person."""
        return self.tp / max(self.tp + self.fp, 1)


def _inside(box: np.ndarray, regions: np.ndarray) -> bool:
    """Whether at least half of `box` lies inside one of `regions`."""
    r = np.asarray(regions, float).reshape(-1, 4)
    w = (np.minimum(box[2], r[:, 2]) - np.maximum(box[0], r[:, 0])).clip(0)
    h = (np.minimum(box[3], r[:, 3]) - np.maximum(box[1], r[:, 1])).clip(0)
    area = max((box[2] - box[0]) * (box[3] - box[1]), 1e-6)
    return bool(((w * h) / area >= 0.5).any())


@dataclass
class Result:
    """One detector's run: frames/s over the video and the scores on the labelled frames."""

    name: str
    frames: int
    seconds: float
    tracks: int
    stored: dict[float, Score]
    raw: dict[float, Score]

    @property
    def fps(self) -> float:
        """Frames per second, decoding and tracking included."""
        return self.frames / self.seconds


def run(detector, video: Path, labels: dict, max_frames: int | None) -> Result:
    """Track the whole video (timed), scoring the labelled frames' stored boxes, then their raw detections."""
    from basketball_analyzer.video import iter_frames

    labelled = labels["frames"]
    stored = {m: Score(m) for m in MATCH_IOUS}
    raw = {m: Score(m) for m in MATCH_IOUS}
    images: dict[str, np.ndarray] = {}
    order: list[int] = []
    ids: set[int] = set()

    def frames_seen():
        for frame in iter_frames(video, max_frames=max_frames):
            order.append(frame.index)
            if str(frame.index) in labelled:
                images[str(frame.index)] = frame.image
            yield frame

    start = time.perf_counter()
    # `track` yields one Detections per input frame, in order, so the n-th result is frame order[n] even
    # when it holds no box.
    for n, det in enumerate(detector.track(frames_seen(), fps=float(labels.get("fps", 30)))):
        ids.update(int(t) for t in det.tracker_id)
        key = str(order[n])
        if key in labelled:
            truth = labelled[key]
            for score in stored.values():
                score.add(key, det.xyxy, np.array(truth["people"], float), np.array(truth["ignore"], float))
    seconds = time.perf_counter() - start
    for key, image in images.items():  # raw detections of the same pixels, outside the timing
        truth = labelled[key]
        xyxy, _ = detector.detect(image)
        for score in raw.values():
            score.add(key, xyxy, np.array(truth["people"], float), np.array(truth["ignore"], float))
    return Result(detector.name, len(order), seconds, len(ids), stored, raw)


def main(argv: list[str] | None = None) -> int:
    """Run both detectors on the same video and print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--video", type=Path, default=VTEST, help=f"the street scene (default {VTEST})")
    p.add_argument("--labels", type=Path, default=LABELS, help="hand labels (default benchmarks/data/vtest_people.json)")
    p.add_argument("--confidence", type=float, default=0.5, help="both detectors' threshold (default 0.5, the product's)")
    p.add_argument("--frames", type=int, default=None, help="stop after N frames (default: the whole video)")
    args = p.parse_args(argv)
    if not args.video.is_file():
        print(f"{args.video} not found: install Debian's opencv-doc package (`sudo apt-get install opencv-doc`), "
              "or pass --video PATH to OpenCV's samples/data/vtest.avi", file=sys.stderr)
        return 2
    labels = json.loads(args.labels.read_text())

    from basketball_analyzer.detection.hog import HogDetector
    from basketball_analyzer.detection.ssd import SsdDetector

    results = [run(SsdDetector(confidence_threshold=args.confidence), args.video, labels, args.frames),
               run(HogDetector(confidence_threshold=args.confidence), args.video, labels, args.frames)]
    seen = [f for k, f in labels["frames"].items() if args.frames is None or int(k) < args.frames]
    people = sum(len(f["people"]) for f in seen)
    print(f"CPU detectors on {args.video.name} ({people} hand-labelled people on {len(seen)} frames, "
          f"confidence >= {args.confidence:g})")
    print(f"  machine: {machine()}")
    print("  | detector | frames/s | match IoU | stored tracks: recall | precision | raw detections: recall | "
          "precision |")
    print("  |---|---|---|---|---|---|---|")
    for r in results:
        for m in MATCH_IOUS:
            st, rw = r.stored[m], r.raw[m]
            print(f"  | {r.name} | {r.fps:.1f} | {m:g} | {st.recall:.2f} ({st.tp}/{st.tp + st.fn}) | "
                  f"{st.precision:.2f} ({st.tp}/{st.tp + st.fp}) | {rw.recall:.2f} | {rw.precision:.2f} |")
    ssd, hog = results
    faster = ssd.fps / hog.fps
    better = all(ssd.stored[m].recall > hog.stored[m].recall for m in MATCH_IOUS)
    print(f"  {ssd.frames} frames each: ssd {ssd.seconds:.1f} s, hog {hog.seconds:.1f} s; ssd has {faster:.1f}x "
          f"HOG's frames/s and {'more' if better else 'NOT more'} recall ({'met' if faster > 1 and better else 'NOT met'})")
    for r in results:
        print(f"  {r.name}: {r.tracks} track ids; missed at IoU {MATCH_IOUS[0]:g} (frame:person): "
              f"{' '.join(r.stored[MATCH_IOUS[0]].missed) or 'none'}")
    return 0 if faster > 1 and better else 1

if __name__ == "__main__":
    sys.exit(main())
