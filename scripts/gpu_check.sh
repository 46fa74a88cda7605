#!/usr/bin/env bash
# CUDA check on a lent GPU machine (its own Python 3.12, PyTorch and Lightning; no network).
# Here:   python -m transfer_laws payload .payload && pip download platformdirs wheel into .whl
# There:  bash scripts/gpu_check.sh OUT_DIR    (carry .payload and .whl)
# Writes: OUT_DIR/bench_cuda.csv, OUT_DIR/results.tar (run records + throughput), OUT_DIR/log.txt
set -uo pipefail
out=${1:?usage: gpu_check.sh OUT_DIR}
mkdir -p "$out"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:src
else
  export PYTHONPATH=src
fi
export PYTHONUNBUFFERED=1 TRANSFER_LAWS_PREPARED=$PWD/.payload TRANSFER_LAWS_RESULTS=$PWD/.gpu_results
mkdir -p "$TRANSFER_LAWS_RESULTS"
deadline=$((SECONDS + ${GPU_CHECK_SECONDS:-420}))
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import torch, lightning; print('torch', torch.__version__, 'lightning', lightning.__version__, torch.cuda.get_device_name(0))"
  timeout 150 python3 -m transfer_laws bench --device cuda --sizes n28k,n336k,n3m --steps 30 --out "$out/bench_cuda.csv"
  left=$((deadline - SECONDS))
  echo "sweep with ${left}s left"
  timeout "$left" python3 -m transfer_laws sweep grids/gpu_check.toml --device cuda --results "$TRANSFER_LAWS_RESULTS"
  python3 -m transfer_laws results table --results "$TRANSFER_LAWS_RESULTS"
} 2>&1 | tee "$out/log.txt"
tar -C "$TRANSFER_LAWS_RESULTS" -cf "$out/results.tar" .
