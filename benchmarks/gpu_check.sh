#!/usr/bin/env bash
# One prepared GPU check for a session that is lent a CUDA machine (see the device tool):
# the CUDA tests, a torchrun launch on CUDA (nccl DDP with 2 GPUs), every engine benchmark on the GPU, then the
# whole suite with CUDA visible (where device: auto picks the GPU).
# Usage (repository root, on the GPU machine): bash benchmarks/gpu_check.sh OUTDIR
#   GANZOO_WHEELS=DIR   install ganzoo and its missing dependencies from wheels in DIR
#                       (an offline machine; build them with `pip wheel . --no-deps` and `pip download`)
#   GPU_CHECK_SECONDS=N stop starting steps after N seconds (default 540); each step is cut at what is left
set -uo pipefail
out=${1:-gpu-results}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
budget=${GPU_CHECK_SECONDS:-540}
start=$SECONDS

step() {  # step NAME LIMIT CMD...: run CMD under min(LIMIT, time left), log to $out/NAME.txt
    local name=$1 limit=$2
    shift 2
    local left=$((budget - (SECONDS - start)))
    if ((left < 20)); then echo "== $name skipped: ${left}s left" | tee "$out/$name.txt"; return; fi
    ((limit > left)) && limit=$left
    echo "== $name (limit ${limit}s, at $((SECONDS - start))s)"
    timeout --signal=INT --kill-after=15 "$limit" "$@" > "$out/$name.txt" 2>&1
    local rc=$?
    tail -n 25 "$out/$name.txt"
    echo "== $name rc=$rc after $((SECONDS - start))s"
}

if [[ -n "${GANZOO_WHEELS:-}" ]]; then
    python -m pip install -q --no-index --no-deps --no-compile "$GANZOO_WHEELS"/*.whl || exit 1
else
    python -m pip install -q -e ".[test]" 2>&1 | tail -1
fi
nvidia-smi > "$out/nvidia-smi.txt" 2>&1
python -c "import torch, sys; print(sys.version.split()[0], 'torch', torch.__version__, torch.cuda.get_device_name())" | tee "$out/versions.txt"

step test_cuda 240 python -m pytest tests/test_cuda.py tests/plugins/test_regularizer_phases.py -q -n 8 -k "cuda or fp16" -rs
# nccl DDP needs 2 GPUs; on one, torchrun still launches the CUDA run (world size 1 makes no process group)
ngpu=$(python -c "import torch; print(min(2, torch.cuda.device_count()))")
step ddp 90 torchrun --nproc_per_node="$ngpu" -m ganzoo train registry/dcgan-digits.yaml --set train.steps=50 --set train.device=cuda \
    --set train.progress=false --out "$out/torchrun-cuda"
step bench_engine 200 python benchmarks/bench_engine.py all --device cuda --steps 50 --rounds 3 --size 64
step bench_frechet 45 python benchmarks/bench_frechet.py
step bench_extractors 45 python benchmarks/bench_extractors.py --batches 10
step suite 240 python -m pytest -q -n 12 -p no:randomly -rfE
