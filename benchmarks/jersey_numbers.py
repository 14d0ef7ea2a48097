"""Jersey numbers: what is read right, how fast, and what a two-hour game costs; sampled against every box.

    uv run python benchmarks/jersey_numbers.py [--frames 360] [--baseline-frames 90] [--real DIR] [--game-hours 2]

1. The sample game with exits (`sample_game.make_game_clip(exits=True)`, 1280 x 720: ten numbered players and
   a referee, four of them leaving the picture and coming back), one track per player from the true boxes,
   read as the product reads it (`read_track_numbers`: a sample of each track's boxes). Every player's number
   must be read and the referee's none.
2. The baseline, same run: every readable box of every track over the first `--baseline-frames` frames; its
   crops per track and seconds against the sample's, and what each costs for `--game-hours` of footage.
3. With `--real DIR` (../shared/real-footage): on LillardShot.mp4 the hand-labelled people
   (benchmarks/data/real_numbers.json: keyframe boxes read by eye, interpolated into tracks) are read the
   product's way and on every frame; then each clip's CPU-detector tracks (`ssd` with ByteTrack, as
   `bball analyze` makes them) are read, each number printed with its track, each labelled box matched to
   the track that covers it (IoU >= 0.5), and the game cost given at the clips' tracks per minute.
Exits 1 when a sample-game number is wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine  # noqa: E402

LABELS = Path(__file__).resolve().parent / "data" / "real_numbers.json"
CLIPS = ("LillardShot.mp4", "Lebron3Shot.mp4", "LebronSlam.mp4")


def track_rows(detections):
    """One analytics.tracks.TrackRows per track id of `detections`, boxes in frame order."""
    from basketball_analyzer.analytics.tracks import TrackRows

    out = []
    for tid in np.unique(detections.tracker_id):
        if tid < 0:
            continue
        rows = np.flatnonzero(detections.tracker_id == tid)
        rows = rows[np.argsort(detections.frame_number[rows], kind="stable")]
        out.append(TrackRows(int(tid), "player", detections.frame_number[rows], detections.xyxy[rows]))
    return out


def every_box(path: Path, tracks, reader) -> tuple[dict, int, float]:
    """The baseline: every readable box of every track read; (votes, crops read, seconds)."""
    from basketball_analyzer.players.numbers import torso_crop, vote
    from basketball_analyzer.video import frames_at

    wanted: dict[int, list] = {}
    for t in tracks:
        for f, box in zip(t.frames, t.xyxy):
            wanted.setdefault(int(f), []).append((t.tracking_id, box))
    reads: dict[int, list] = {t.tracking_id: [] for t in tracks}
    crops = 0
    start = time.perf_counter()
    for frame in frames_at(path, wanted):
        for tid, box in wanted[frame.index]:
            crop = torso_crop(frame.image, box)
            if crop is not None:
                crops += 1
                read = reader.read(crop)
                if read is not None:
                    reads[tid].append(read)
    return {tid: vote(r) for tid, r in reads.items()}, crops, time.perf_counter() - start


def sampled(path: Path, tracks, reader, samples: int | None) -> tuple[dict, int, float]:
    """The product's way: (votes, crops handed to the OCR, seconds); also prints the CPU time per crop."""
    from basketball_analyzer.players.numbers import SAMPLES_PER_TRACK, read_track_numbers

    progress = [(0, 0)]
    start, cpu = time.perf_counter(), time.process_time()
    votes = read_track_numbers(path, tracks, samples_per_track=samples or SAMPLES_PER_TRACK, reader=reader,
                               on_progress=lambda done, total: progress.append((done, total)))
    crops, cpu = progress[-1][1], time.process_time() - cpu
    if crops:
        # CPU seconds (all threads) per crop: what an idle machine pays, whatever else shares this one.
        print(f"  [{crops} crops: {cpu / crops * 1000:.0f} ms of CPU per crop, decoding included = "
              f"{crops / cpu:.1f} crops/s per busy core]")
    return votes, crops, time.perf_counter() - start


def cost_line(label: str, crops_per_video_second: float, crops_per_second: float, hours: float) -> str:
    """Crops for `hours` of footage that needs `crops_per_video_second`, and minutes at `crops_per_second`.
    An upper bound: a track is read at most SAMPLES_PER_TRACK times, so long tracks cost less per second."""
    crops = crops_per_video_second * hours * 3600
    return (f"    {label}: {crops_per_video_second:,.1f} crops per second of video x {hours:g} h = {crops:,.0f} "
            f"crops = {crops / crops_per_second / 60:,.1f} min at {crops_per_second:.1f} crops/s")


def sample_game(args, reader) -> tuple[bool, float]:
    """Parts 1-2; returns (every number right, crops/s of the sampled run)."""
    from basketball_analyzer.detections import Detections
    from basketball_analyzer.sample_game import make_game_clip

    with tempfile.TemporaryDirectory(prefix="bball-numbers-") as tmp:
        path = Path(tmp) / "game.mp4"
        truth = make_game_clip(path, frames=args.frames, exits=True)
        tracks = track_rows(truth.boxes)
        votes, crops, seconds = sampled(path, tracks, reader, args.samples)
        b = truth.boxes
        early = b.frame_number < args.baseline_frames
        head = Detections(b.xyxy[early], b.confidence[early], b.tracker_id[early], b.frame_number[early])
        all_votes, all_crops, all_seconds = every_box(path, track_rows(head), reader)
    right = sum(votes[i].number == n for i, n in enumerate(truth.numbers))
    all_right = sum(all_votes.get(i) is not None and all_votes[i].number == n for i, n in enumerate(truth.numbers))
    print(f"Sample game with exits: {args.frames} frames at 1280x720, {len(tracks)} tracks (true boxes)")
    for i, n in enumerate(truth.numbers):
        v = votes[i]
        print(f"  track {i:2d} ({truth.teams[i]:5s}) shirt {n or '-':>2s}: read {v.number or '-':>2s} "
              f"(share {v.confidence:.2f} of {v.reads} reads)")
    rate, all_rate = crops / seconds, all_crops / all_seconds
    print(f"  sampled : {right}/{len(tracks)} right; {crops} crops ({crops / len(tracks):.1f}/track) in "
          f"{seconds:.1f} s = {rate:.1f} crops/s, decoding included")
    print(f"  baseline: every readable box of the first {args.baseline_frames} frames: {all_right}/{len(tracks)} "
          f"right; {all_crops} crops ({all_crops / len(tracks):.1f}/track) in {all_seconds:.1f} s = "
          f"{all_rate:.1f} crops/s")
    video_seconds, baseline_seconds = args.frames / 30, args.baseline_frames / 30
    print(f"  cost of {args.game_hours:g} h of this game:")
    print(cost_line("sampled ", crops / video_seconds, rate, args.game_hours))
    print(cost_line("baseline", all_crops / baseline_seconds, all_rate, args.game_hours))
    print(f"  ratio: sampling reads {(all_crops / baseline_seconds) / (crops / video_seconds):.0f}x fewer crops")
    return right == len(truth.numbers), rate


def iou(a, b) -> float:
    """IoU of two xyxy boxes."""
    x1, y1, x2, y2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def labelled_tracks(people: list[dict]):
    """The hand labels as TrackRows (tracking id = label index), boxes interpolated between keyframes."""
    from basketball_analyzer.analytics.tracks import TrackRows

    out = []
    for i, person in enumerate(people):
        keys = {int(f): b for f, b in person["keyframes"].items()}
        frames = np.arange(min(keys), max(keys) + 1)
        xyxy = np.stack([np.interp(frames, sorted(keys), [keys[f][j] for f in sorted(keys)]) for j in range(4)], 1)
        out.append(TrackRows(i, "player", frames, xyxy))
    return out


def real_clips(args, reader) -> None:
    """Part 3."""
    from basketball_analyzer.detection.base import DetectionParams
    from basketball_analyzer.detections import Detections
    from basketball_analyzer.pipeline import run_detection
    from basketball_analyzer.video import probe

    labels = json.loads(LABELS.read_text())["clips"]
    video_seconds = n_tracks = n_crops = seconds_total = 0.0
    for name in CLIPS:
        path = Path(args.real) / name
        if not path.is_file():
            print(f"{name}: not in {args.real}, skipped")
            continue
        people = labels.get(name, [])
        if people:
            hand = labelled_tracks(people)
            votes, crops, seconds = sampled(path, hand, reader, args.samples)
            every, all_crops, _ = every_box(path, hand, reader)
            print(f"{name}: hand-labelled people, read the product's way ({crops} crops) and on every frame "
                  f"({all_crops} crops):")
            for t, person in zip(hand, people):
                v, e = votes[t.tracking_id], every[t.tracking_id]
                print(f"  #{person['number']} {person['who']} (frames {t.frames[0]}-{t.frames[-1]}): sampled "
                      f"#{v.number or '-'} ({v.reads} reads {_weights(v)}); every frame #{e.number or '-'} "
                      f"({e.reads} reads {_weights(e)})")
        detections = Detections.merge(list(run_detection(path, DetectionParams(detector="ssd"))))
        tracks = track_rows(detections)
        votes, crops, seconds = sampled(path, tracks, reader, args.samples)
        info = probe(path)
        video_seconds += info.frame_count / (info.fps or 30)
        n_tracks, n_crops, seconds_total = n_tracks + len(tracks), n_crops + crops, seconds_total + seconds
        named = {tid: v for tid, v in votes.items() if v.number is not None}
        some = {tid: v for tid, v in votes.items() if v.reads and v.number is None}
        print(f"{name}: {len(tracks)} ssd tracks, {crops} sampled crops read in {seconds:.1f} s; a number on "
              f"{len(named)} track(s), reads without a clear vote on {len(some)}")
        by_id = {t.tracking_id: t for t in tracks}
        for tid, v in sorted({**named, **some}.items()):
            t = by_id[tid]
            box = np.round(t.xyxy[len(t.frames) // 2]).astype(int).tolist()
            print(f"  track {tid}: #{v.number or '-'} {_weights(v)} frames {t.frames[0]}-{t.frames[-1]}, "
                  f"box mid-track {box}")
        for person in people:
            for frame, box in person["keyframes"].items():
                cover = [t.tracking_id for t in tracks
                         if any(iou(b, box) >= 0.5 for b in t.xyxy[t.frames == int(frame)])]
                got = [votes[c].number for c in cover]
                print(f"  label #{person['number']} frame {frame}: ssd track {cover or 'none'} "
                      f"{'read ' + str(got) if cover else '(the detector missed him)'}")
    if n_tracks:
        print(f"Cost of {args.game_hours:g} h of broadcast shaped like the real clips ({n_tracks / video_seconds:.1f} "
              "ssd tracks per second of video, the crowd's included):")
        print(cost_line("sampled ", n_crops / video_seconds, n_crops / seconds_total, args.game_hours))


def _weights(v) -> str:
    return "{" + ", ".join(f"{k}: {w:.2f}" for k, w in sorted(v.weights.items(), key=lambda kv: -kv[1])) + "}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=360, help="sample game length (default 360: 12 s, every exit)")
    p.add_argument("--baseline-frames", type=int, default=90,
                   help="frames of the sample game read box by box for the baseline (default 90)")
    p.add_argument("--samples", type=int, default=None, help="boxes read per track (default: the product's)")
    p.add_argument("--real", default=None, help="folder with the real clips (../shared/real-footage)")
    p.add_argument("--game-hours", type=float, default=2.0, help="length of the game costed (default 2)")
    args = p.parse_args()
    from basketball_analyzer.players.numbers import NumberReader

    print(f"machine: {machine()}")
    reader = NumberReader()
    _ = reader.engine  # loaded before any timing
    ok, _ = sample_game(args, reader)
    if args.real:
        real_clips(args, reader)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
