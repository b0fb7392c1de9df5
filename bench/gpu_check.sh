#!/usr/bin/env bash
# The GPU check of issue 14, one command on a CUDA machine (under 8 min):
#   bench/gpu_check.sh            # 25 epochs per network, eager + graphs,
#                                 # CPU references, one table
#   bench/gpu_check.sh --tiny     # seconds: checks the script (CPU too)
# PY: the Python with torch and a2 (default .venv/bin/python, else
# python3). A2_DATA: the data (default: the shared horse .npz if found).
# A2_CACHE: where the CPU reference runs go (default: a scratch folder,
# removed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
if [ -z "${A2_DATA:-}" ]; then
  for f in ../shared/data/cifar10-horse.npz shared/data/cifar10-horse.npz; do
    if [ -f "$f" ]; then A2_DATA=$(realpath "$f"); break; fi
  done
fi
export A2_DATA=${A2_DATA:-download}
if [ -z "${A2_CACHE:-}" ]; then
  A2_CACHE=$(mktemp -d)
  trap 'rm -rf "$A2_CACHE"' EXIT
fi
export A2_CACHE
# src/ on the path too, in case a2 is not installed in that Python.
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
fi
timeout 470 "$PY" bench/gpu_check.py "$@"
