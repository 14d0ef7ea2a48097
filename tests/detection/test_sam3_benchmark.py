"""benchmarks/sam3_gpu.py runs only where there is a GPU; its --smoke mode keeps the script itself working."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_benchmark_script_runs_in_smoke_mode():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "sam3_gpu.py"), "--smoke"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0] == "CPU smoke run (tiny model, 320x180); 24 frames, float32, forced objects 1,3"
    for line, objects in zip(lines[2:4], (1, 3)):
        row = line.split()
        assert int(row[0]) == objects and float(row[1]) > 0  # frames/s measured
        assert float(row[3]) == objects  # exactly the forced number of objects tracked and shown
        assert float(row[4]) > 0 and float(row[5]) > 0  # session size measured
    assert lines[5].split() == ["objects", "decode", "preprocess", "backbone", "detector", "tracker", "postprocess"]
    assert all(float(v) > 0 for v in lines[6].split()[1:])
    assert lines[-1].startswith("3 objects against 1 (the baseline):")
