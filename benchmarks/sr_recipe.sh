#!/usr/bin/env bash
# The runs of docs/super-resolution.md, "A CPU recipe": one training of registry/srresnet-x4.yaml
# with overrides, at one thread, under a CPU-time budget, evaluated on the held-out photos at
# four points of its cosine schedule (the learning curve).
#
# usage: benchmarks/sr_recipe.sh OUT CPU_SECONDS STEPS [--set key=value ...]
# e.g.:  benchmarks/sr_recipe.sh runs/row3 1800 11000 --set generator.type=edsr-lite \
#          --set 'generator.params={scale: 4, num_feat: 64, num_block: 8}'
set -euo pipefail
out=$1; secs=$2; steps=$3; shift 3
OMP_NUM_THREADS=1 python -m ganzoo train registry/srresnet-x4.yaml --out "$out" \
  --set data.params.size=64 --set train.steps="$steps" --set train.max_seconds="$secs" --set train.budget_clock=cpu \
  --set train.device=cpu --set train.log_every=100 --set train.sample_every=100000 --set train.checkpoint_every=1000 \
  --set eval.every=$(( steps / 4 )) "$@"
grep '"kind": "eval"' "$out/metrics.jsonl"
