"""Camera following on a real broadcast: calibrate the first frame by hand, follow the pan and zoom, and measure
where the followed mapping puts hand-clicked landmarks at the end (benchmarks/data/real_court_labels.json),
against frame 0's homography kept for the whole clip. Optionally draws the court lines back over frames.

    python benchmarks/camera_real.py [--footage ../shared/real-footage] [--picture out.png]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from _common import machine
from basketball_analyzer.analytics.camera import follow_camera
from basketball_analyzer.analytics.court import apply_homography, court_lines, court_spec, fit_calibration
from basketball_analyzer.video import frames_at, probe

LABELS = Path(__file__).parent / "data" / "real_court_labels.json"


def draw(video: Path, path, court, frames: list[int], out: Path) -> None:
    """The court's lines through each frame's mapping, frames side by side (half size)."""
    import cv2

    tiles = []
    for f in frames_at(video, frames):
        img = f.image.copy()
        m = path.at(f.index)
        if m is not None:
            for line in court_lines(court):
                pts = apply_homography(np.linalg.inv(m), line)
                pts = pts[np.isfinite(pts).all(axis=1)].astype(np.int32)
                cv2.polylines(img, [pts], False, (0, 255, 255), 3, cv2.LINE_AA)
        cv2.putText(img, f"frame {f.index}", (24, 48), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (0, 255, 255), 3)
        tiles.append(cv2.resize(img, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA))
    rows = [np.hstack(tiles[i:i + 2]) for i in range(0, len(tiles) - 1, 2)]
    cv2.imwrite(str(out), np.vstack(rows), [cv2.IMWRITE_PNG_COMPRESSION, 9])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--footage", default=str(Path(__file__).resolve().parents[2] / "shared" / "real-footage"))
    p.add_argument("--picture", default=None, help="write the court lines drawn back over four frames here")
    args = p.parse_args()
    labels = json.loads(LABELS.read_text())["clips"]
    for name, clip in labels.items():
        video = Path(args.footage) / name
        info = probe(video, exact=True)
        court = court_spec(clip["court"])
        key = clip["keyframe"]
        names = list(key["points"])
        cal = fit_calibration([key["points"][n] for n in names], [court.landmarks[n] for n in names], court,
                              (info.width, info.height))
        started = time.perf_counter()
        path = follow_camera(video, {key["frame"]: cal.matrix}, court, info.frame_count, info.width, info.height)
        seconds = time.perf_counter() - started
        check = clip["check"]
        img = np.array([check["points"][n] for n in check["points"]], float)
        want = np.array([court.landmarks[n] for n in check["points"]], float)
        followed = np.linalg.norm(apply_homography(path.at(check["frame"]), img) - want, axis=1)
        fixed = np.linalg.norm(apply_homography(cal.matrix, img) - want, axis=1)
        print(f"{name}: keyframe {key['frame']} fit {cal.rms_error:.2f} {court.unit} RMS; "
              f"mapped {int((path.source > 0).sum())}/{path.frames} frames in {seconds:.1f} s "
              f"({path.frames / seconds:.0f} frames/s)")
        for n, a, b in zip(check["points"], followed, fixed):
            print(f"  frame {check['frame']} {n:<26} followed {a:5.2f} {court.unit}   one homography {b:6.2f} "
                  f"{court.unit}   ratio {b / max(a, 1e-9):5.1f}x")
        if args.picture:
            n = path.frames
            draw(video, path, court, [0, n // 3, 2 * n // 3, n - 1], Path(args.picture))
            print(f"  wrote {args.picture}")
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
