#!/usr/bin/env bash
# The GPU checks in one call of a lent device machine (../shared/tools/gpu/README.md): install the
# carried wheels, then each check under its own time limit, all inside one overall deadline, each
# JSON under $OUT, the logs one after another in $OUT/steps.log (8 files come back at most). Run from the project root with `.whl` (the wheels) and `.gpu` (the
# README's sitecustomize.py) carried:
#
#     bash benchmarks/on_gpu.sh            # about 8 minutes on one H200
set -u
OUT=${OUT:-/tmp/on_gpu}
DEADLINE=$((SECONDS + ${DEADLINE_S:-550}))
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
    .whl/*.whl || exit 1
export PYTHONPATH="$PWD/.gpu:/tmp/site:$PWD" PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_MEM_FRACTION=0.95

step() {  # step NAME SECONDS COMMAND...: at most SECONDS, and never past the deadline
    local name=$1 limit=$2
    shift 2
    local left=$((DEADLINE - SECONDS))
    ((left < limit)) && limit=$left
    if ((limit < 10)); then echo "== $name: skipped, deadline reached"; return; fi
    echo "== $name ($limit s at most): $*"
    local t0=$SECONDS
    timeout "$limit" "$@" >"/tmp/$name.log" 2>&1
    echo "== $name: exit $? after $((SECONDS - t0)) s"
    { echo "== $name: $*"; cat "/tmp/$name.log"; } >>"$OUT/steps.log"
    tail -n 25 "/tmp/$name.log"
}

B=benchmarks/bench_quantum_train.py
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
step devices 60 python3 -m hybrid.cli devices
# The goal (24 qubits <= 200 ms per step, 26 runs) on the route auto picks, in both precisions.
step speed_f32 120 python3 $B --qubits 20 24 26 --profiles auto --precision float32 \
    --json "$OUT/bench_gpu_f32.json"
step speed_f64 200 python3 $B --qubits 16 20 24 --profiles auto default.qubit \
    --json "$OUT/bench_gpu_f64.json"
step memory 150 python3 $B --memory --qubits 24 26 28 --profiles jax --json "$OUT/bench_gpu_memory.json"
step tests 120 python3 -m pytest -q -x -p no:cacheprovider tests/test_qnn.py
step ripe 60 python3 benchmarks/bench_ripe.py --repeats 5 --out "$OUT/bench_ripe_gpu.json"
step qnn_only 90 python3 $B --qubits 24 --profiles auto --qnn-only --precision float32
