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
    assert lines[0].startswith("CPU smoke run (tiny model, 320x180); 24 frames")
    row = lines[2].split()
    assert row[0] == "float32" and float(row[1]) > 0  # frames/s measured
    assert float(row[3]) > 0  # the biased tiny model detects something, so the whole path ran
