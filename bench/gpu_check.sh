#!/usr/bin/env bash
# The GPU checks (issues 14 and 26), one command on a CUDA machine, one
# here afterwards:
#
#   bench/gpu_check.sh            on the GPU machine (under 9 min):
#     1. trains the report's full plan on the GPU (python -m a2.pipeline
#        train: the runs `make pdf` loads), a line per epoch and per run;
#     2. packs them (checkpoints): dist/a2-checkpoints.tar;
#     3. copies the pack to $OUT when set (the device runner brings that
#        folder back), else says where it is;
#     then issue 14's training-loop check (bench/gpu_check.py: eager and
#     CUDA graphs, no host sync per step, GPU against CPU over seeds) in
#     the time left.
#   bench/gpu_check.sh --build PACK   here, with the pack brought back:
#     4. builds the full PDF from it (CHECKPOINTS=PACK) into build/gpu/,
#        its own empty cache build/gpu/cache: the log must say that every
#        planned run came from the pack and none was trained; then, per
#        run, the GPU's training time and final metrics against the CPU
#        cache's (A2_CPU_CACHE, default .cache: a CPU `make pdf` made
#        them), and the numbers the two PDFs print (bench/compare_books.py
#        --pdfs; the CPU book: A2_CPU_BOOK, default dist/a2-writeup.pdf).
#        A third argument names the profile (smoke, with --tiny's pack).
#   bench/gpu_check.sh --tiny     the smoke profile and tiny runs, on any
#     device, to check this script.
#
# PY: the Python with torch and a2's requirements (default
# .venv/bin/python, else python3); a2 comes from src/. A2_DATA: the data
# (default: the shared horse .npz if found, e.g. copied to data/).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
if [ -z "${A2_DATA:-}" ]; then
  for f in ../shared/data/cifar10-horse.npz shared/data/cifar10-horse.npz \
           data/cifar10-horse.npz; do
    if [ -f "$f" ]; then A2_DATA=$(realpath "$f"); break; fi
  done
fi
export A2_DATA=${A2_DATA:-download}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
PROFILE=full
TINY=()
if [ "${1:-}" = "--tiny" ]; then PROFILE=smoke; TINY=(--tiny); fi

if [ "${1:-}" = "--build" ]; then  # 4., here
  PACK=$(realpath "$2")
  rm -rf build/gpu
  mkdir -p build/gpu
  start=$(date +%s)
  A2_CACHE=$PWD/build/gpu/cache CHECKPOINTS=$PACK \
    "$PY" -m a2.pipeline --profile "${3:-full}" --build build/gpu pdf \
    2>&1 | tee build/gpu/build.log
  echo "built from the pack in $(( $(date +%s) - start )) s"
  if grep -q "training run" build/gpu/build.log; then
    echo "the build trained runs: the pack did not cover the plan"
  fi
  "$PY" bench/gpu_check.py --compare "$PACK" \
    --cpu-cache "${A2_CPU_CACHE:-.cache}"
  cpu_book=${A2_CPU_BOOK:-dist/a2-writeup.pdf}
  if [ -f "$cpu_book" ]; then
    "$PY" bench/compare_books.py --pdfs "$cpu_book" \
      build/gpu/dist/a2-writeup.pdf
  fi
  exit 0
fi

if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
fi
A2_CACHE=$(mktemp -d)  # the plan's runs
refs=$(mktemp -d)  # issue 14's: a run's key leaves the device out
trap 'rm -rf "$A2_CACHE" "$refs"' EXIT
export A2_CACHE
start=$(date +%s)
"$PY" -m a2.pipeline --profile "$PROFILE" --build build/gpu-train train  # 1.
echo "trained the $PROFILE plan in $(( $(date +%s) - start )) s"
"$PY" -m a2.pipeline --profile "$PROFILE" --build build/gpu-train \
  --dist build/gpu-train/dist checkpoints  # 2. (trains nothing more)
pack=build/gpu-train/dist/a2-checkpoints.tar
if [ -n "${OUT:-}" ]; then  # 3.
  cp "$pack" "$OUT/"
  echo "the pack is in \$OUT: run bench/gpu_check.sh --build a2-checkpoints.tar here"
else
  echo "the pack: $pack; bring it back and run bench/gpu_check.sh --build it"
fi
left=$(( 520 - ($(date +%s) - start) ))
if [ "$left" -gt 60 ]; then
  A2_CACHE=$refs timeout "$left" "$PY" bench/gpu_check.py "${TINY[@]}" \
    --budget $(( left - 40 )) || echo "issue 14's check stopped at its time"
fi
