#!/usr/bin/env bash
# The GPU check (benchmarks/gpu.py) in one shot, for a session lent a device machine: it
# runs in the repository root there, and what it leaves in $OUT comes back.  The call:
#
#   run(command="bash benchmarks/gpu_run.sh", carry=[".whl"], timeout_s=600)
#
# That machine reaches no package registry.  Its python3 has CUDA torch, numpy, pandas,
# click, safetensors, tqdm, pyyaml and matplotlib but not biopython (which reads FASTA), so
# carry its wheel, made beforehand on the session's machine, in the repository root:
#
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux_2_17_x86_64 -d .whl biopython==1.88
#
# Anywhere else (a GPU machine with internet access) it makes a venv with the pinned torch
# (PyPI's Linux x86-64 wheel is a CUDA build) when python3 has no torch.  Results: $OUT/gpu/
# summary.json, summary.md (also printed at the end) and log.txt; exit status that of gpu.py.
set -uo pipefail
OUT=${OUT:-gpu-out}
mkdir -p "$OUT/gpu"
PY=python3
if ! python3 -c 'import torch' 2>/dev/null; then
    VENV=${GPU_VENV:-.venv-gpu}
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" || exit 1
    PY=$VENV/bin/python
    "$PY" -m pip install -q "${TORCH:-torch==2.13.0}" && "$PY" -m pip install -q -e . || exit 1
fi
if [ -d .whl ]; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --target /tmp/seqcnn-site \
        .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/seqcnn-site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
# gpu.py starts no check after --time-limit (330 s); timeout is the backstop.
timeout "${GPU_TIMEOUT:-560}" "$PY" benchmarks/gpu.py --out "$OUT/gpu" "$@" 2>&1 |
    tee "$OUT/gpu/log.txt"
status=${PIPESTATUS[0]}
echo "gpu.py exit status: $status (0 passed, 1 a check failed, 2 no CUDA or setup, 124 timeout)"
exit "$status"
