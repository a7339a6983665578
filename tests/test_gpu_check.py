"""The prepared GPU check (benchmarks/gpu.py) runs as a dry run on the CPU, so it cannot rot
before a GPU is at hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKS = {"predict_parity", "train_throughput", "predict_throughput", "multi_gpu", "resume"}


def test_gpu_check_dry_run(tmp_path):
    out = tmp_path / "gpu"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu.py"), "--dry-run", "--out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    report = json.loads((out / "summary.json").read_text())
    assert report["dry_run"] is True
    statuses = {check["name"]: check["status"] for check in report["checks"]}
    assert set(statuses) == CHECKS
    assert all(status in ("pass", "fail", "skipped") for status in statuses.values())
    # Several GPUs cannot run on the CPU: skipped with a reason; everything else ran.
    assert statuses.pop("multi_gpu") == "skipped"
    assert set(statuses.values()) == {"pass"}, report
    checks = {check["name"]: check for check in report["checks"]}
    assert checks["multi_gpu"]["reason"]
    assert all(goal["enforced"] is False for c in checks.values() for goal in c.get("goals", []))
    resume = checks["resume"]["rows"][0]
    assert resume["bit-identical"] is True and resume["deterministic algorithms"] == "on"
    markdown = (out / "summary.md").read_text()
    assert "# seqcnn GPU check (dry run on the CPU)" in markdown
    assert all(f"## {name}" in markdown for name in CHECKS)
