#!/usr/bin/env bash
# Benchmarks divlab's kernels (`divlab bench`, release build) and, in the same run, what a user would pick
# instead (../shared/bench/anchors.py: POT, OTT-JAX, JAX, NumPy, scikit-learn), then prints the ratios.
# Usage: scripts/bench_compare.sh [PYTHON]   (PYTHON: an interpreter with pot ott-jax jax scikit-learn numpy
#        scipy; without it only divlab's figures are printed). Results: bench-results/*.json
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
py="${1:-}"
out=bench-results
mkdir -p "$out"
cargo build --release --quiet
bin="$CARGO_TARGET_DIR/release/divlab"

run() { # name, args...
  local name=$1; shift
  "$bin" bench "$@" --json > "$out/$name.json"
  python3 -c "import json,sys; d=json.load(open('$out/$name.json')); print(f\"{'$name':<22} {d['seconds_per_iter_median']*1e3:10.3f} ms  ({d['backend']}, n={d['n']})\")"
}
run sinkhorn_4096 sinkhorn --n 4096 --iters 10
run sinkhorn_16384 sinkhorn --n 16384 --iters 3
run sinkhorn_flow_4096 sinkhorn-flow --n 4096 --iters 2
run mmd_2048 mmd --n 2048 --iters 20
run mmd_8192 mmd --n 8192 --iters 5
run em_20000 em --n 20000 --iters 20
run grid_256 grid --n 256 --iters 10
for n in 1000 10000 100000 1000000; do run "sliced_$n" sliced --n "$n" --iters 3; done
if "$bin" bench sinkhorn --n 1024 --iters 1 --backend gpu --json > /dev/null 2>&1; then
  run gpu_sinkhorn_1024 sinkhorn --n 1024 --iters 5 --backend gpu
  run gpu_sinkhorn_4096 sinkhorn --n 4096 --iters 3 --backend gpu
  run gpu_mmd_2048 mmd --n 2048 --iters 5 --backend gpu
  run gpu_em_20000 em --n 20000 --iters 5 --backend gpu
  run gpu_grid_256 grid --n 256 --iters 5 --backend gpu
else
  echo "(no GPU adapter with compute: GPU benches skipped)"
fi

if [ -n "$py" ]; then
  "$py" ../shared/bench/anchors.py --n 4096 --iters 20 --mmd-n 2048 --em-n 20000 --em-k 8 > "$out/anchors.json"
  python3 - "$out" <<'PY'
import json, sys, os
d = sys.argv[1]
j = lambda n: json.load(open(os.path.join(d, n + ".json")))
a = j("anchors")
print(json.dumps(a, indent=1))
s = j("sinkhorn_4096")["seconds_per_iter_median"]
m = j("mmd_2048")["seconds_per_iter_median"]
e = j("em_20000")["seconds_per_iter_median"]
rows = []
if "ott_dense_s_per_iter" in a:
    rows.append(("Sinkhorn iteration 4096² vs OTT-JAX dense", s / a["ott_dense_s_per_iter"], 0.5))
rows.append(("Sinkhorn iteration 4096² vs POT sinkhorn_log", s / a["pot_sinkhorn_log_s_per_iter"], None))
if "jax_mmd_step_s" in a:
    rows.append(("MMD flow step 2048 vs JAX jit", m / a["jax_mmd_step_s"], 0.1))
rows.append(("MMD flow step 2048 vs NumPy", m / a["numpy_mmd_step_s"], None))
rows.append(("EM iteration 20000×8 vs scikit-learn", e / a["sklearn_em_s_per_iter"], 0.5))
for name, r, target in rows:
    t = f"(target ≤ {target})" if target else ""
    print(f"{name:<48} ratio {r:8.4f} {t}")
PY
fi
