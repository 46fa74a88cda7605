#!/usr/bin/env bash
# Packed GPU pass over a payload (python -m transfer_laws payload GRID .payload), on a CUDA machine
# with its own PyTorch and Lightning (no network, no pins). Runs several sweeps at once (shards of
# the payload's plan) to keep the GPU busy and stops itself inside the budget.
#   bash scripts/gpu_pass.sh OUT_DIR   (env: GPU_PASS_PROCS=8, GPU_PASS_THREADS=2 per process,
#                                       GPU_PASS_SECONDS=420, GPU_PASS_BENCH_SIZES=n28k,n336k or "" for none)
# Writes OUT_DIR/bench_cuda.csv, throughput.csv, results.tar.gz (the new run records), log.txt.
set -uo pipefail
out=${1:?usage: gpu_pass.sh OUT_DIR}
procs=${GPU_PASS_PROCS:-8}
device=${GPU_PASS_DEVICE:-cuda}   # cpu: the end-to-end test of this script on a machine without a GPU
bench_sizes=${GPU_PASS_BENCH_SIZES-n28k,n336k}
threads=${GPU_PASS_THREADS:-2}
budget=${GPU_PASS_SECONDS:-420}
t0=$SECONDS
mkdir -p "$out"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD/src
else
  export PYTHONPATH=$PWD/src
fi
export PYTHONUNBUFFERED=1 TRANSFER_LAWS_PREPARED=$PWD/.payload
# the records name the commit the payload was built at (no git checkout travels with it)
TRANSFER_LAWS_GIT_COMMIT=$(python3 -c "import json; print(json.load(open('.payload/prepare.json'))['payload'].get('git_commit', 'unknown'))")
export TRANSFER_LAWS_GIT_COMMIT
res=$PWD/.gpu_results
rm -rf "$res" && mkdir -p "$res" && cp -r .payload/results/. "$res/" && ls "$res/runs" | sed "s/.json$//" > "$res/payload_runs.txt"
before=$(ls "$res/runs" | sort)
{
  nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null || echo "no nvidia-smi (device $device)"
  if [ -n "$bench_sizes" ]; then
    timeout 90 python3 -m transfer_laws bench --device "$device" --sizes "$bench_sizes" --steps 20 --out "$out/bench_cuda.csv"
  fi
  left=$(( budget - (SECONDS - t0) - 25 ))
  echo "packed sweep: $procs processes, ${left}s"
  start=$SECONDS
  for i in $(seq 1 "$procs"); do
    OMP_NUM_THREADS=$threads timeout --signal=KILL "$left" python3 -m transfer_laws sweep .payload/plan.jsonl \
      --shard "$i/$procs" --device "$device" --results "$res" --max-minutes 1000 > "$res/shard$i.log" 2>&1 &
  done
  wait
  wall=$(( SECONDS - start ))
  tail -n 3 "$res"/shard*.log
  python3 -m transfer_laws gpu-pass "$res" "$wall" "$out/bench_cuda.csv" "$out/throughput.csv" \
    || echo "no throughput table (no bench or no finished run)"
} 2>&1 | tee "$out/log.txt"
after=$(ls "$res/runs" | sort)
new=$(comm -13 <(echo "$before") <(echo "$after"))
echo "$(echo "$new" | grep -c json) new run records"
(cd "$res/runs" && tar -czf "$out/results.tar.gz" $new)
