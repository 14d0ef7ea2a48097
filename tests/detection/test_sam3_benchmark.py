"""benchmarks/sam3_gpu.py runs only where there is a GPU; its --smoke mode keeps the script itself working."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_benchmark_script_runs_in_smoke_mode():
    # 66 frames a run, not the smoke default's 80: the first new track for a retired one's re-entry is born on
    # frame 64, after the tiny model's 15-frame hot-start delay and 16 empty frames.
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "sam3_gpu.py"), "--smoke", "--frames", "66",
                          "--unpruned-frames", "66", "--window", "11", "--warmup", "11"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0] == ("CPU smoke run (tiny model, 320x180); float32; prompts basketball player, referee; "
                        "12 steered objects")
    for name in ("pruned", "unpruned"):
        at = lines.index(next(line for line in lines if line.startswith(f"{name}: 66 frames")))
        summary = lines[at]
        fps, boxes, born = (float(v) for v in re.search(
            r"([\d.]+) frames/s .*?, ([\d.]+) boxes/frame, (\d+) tracks born", summary).groups())
        assert fps > 0 and 6 <= boxes <= 12 and born > 12  # a re-entry after retirement is a new track
        assert re.search(r"[1-9]\d* exits, [1-9]\d* re-entries", summary)
        stages = dict(item.split() for item in lines[at + 1].removeprefix("ms per processed frame: ").split(", "))
        assert set(stages) == {"preprocess", "backbone", "detector", "tracker", "postprocess"}
        assert all(float(v) > 0 for v in stages.values())
        rows = [line.split() for line in lines[at + 3:at + 9]]
        assert [int(r[0]) for r in rows] == [11, 22, 33, 44, 55, 66] and all(float(r[2]) > 0 for r in rows)
    grown = re.search(r"unpruned session MB ([\d.]+) -> ([\d.]+)", lines[-1])
    assert lines[-1].startswith("pruned against unpruned: ") and float(grown[2]) > 2 * float(grown[1])
