#!/usr/bin/env bash
# One prepared GPU check for a session that is lent a CUDA machine (see the device tool):
# the CUDA tests, a 1-process nccl DDP run, and every engine benchmark on the GPU.
# Usage (repository root, on the GPU machine): bash benchmarks/gpu_check.sh OUTDIR
set -uo pipefail
out=${1:-gpu-results}
mkdir -p "$out"
python -m pip install -q -e ".[test]" 2>&1 | tail -1
nvidia-smi | tee "$out/nvidia-smi.txt"
python -m pytest tests/test_cuda.py tests/plugins/test_regularizer_phases.py -q -k "cuda or fp16" 2>&1 | tee "$out/test_cuda.txt"
torchrun --nproc_per_node=1 -m ganzoo train registry/dcgan-digits.yaml --set train.steps=50 --set train.device=cuda \
    --out "$out/ddp-nccl" 2>&1 | tail -3 | tee "$out/ddp.txt"
python benchmarks/bench_engine.py all --device cuda --steps 50 --rounds 3 --size 64 2>&1 | tee "$out/bench_engine.txt"
python benchmarks/bench_frechet.py 2>&1 | tee "$out/bench_frechet.txt"
python benchmarks/bench_extractors.py --batches 10 2>&1 | tee "$out/bench_extractors.txt"
