#!/usr/bin/env bash
# The learned-inpainting runs of docs/inpainting.md, "Beating the classical fills": one training
# of a registry inpainting spec with overrides, at one thread, under a CPU-time budget, with a
# cosine schedule over STEPS and five evaluations on the held-out tiles (the learning curve).
#
# usage: benchmarks/inpaint_recipe.sh SPEC OUT CPU_SECONDS STEPS [--set key=value ...]
# e.g.:  benchmarks/inpaint_recipe.sh registry/pconv-fill-faces.yaml runs/fill64 3600 12000
set -euo pipefail
spec=$1; out=$2; secs=$3; steps=$4; shift 4
OMP_NUM_THREADS=1 python -m ganzoo train "$spec" --out "$out" \
  --set train.steps="$steps" --set train.max_seconds="$secs" --set train.budget_clock=cpu \
  --set train.device=cpu --set train.log_every=100 --set train.sample_every=100000 --set train.checkpoint_every=1000 \
  --set 'optim.generator.schedule={type: cosine, min_factor: 0.01}' \
  --set eval.every=$(( steps / 5 )) "$@"
grep '"kind": "eval"' "$out/metrics.jsonl"
