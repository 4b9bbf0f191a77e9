#!/usr/bin/env bash
# Runs every divlab check, the way CI does: setup, core purity, fmt, clippy (native + wasm32), cargo test
# (including GPU kernels and offscreen UI rendering on Mesa's lavapipe), the web build, and real-browser tests.
# Prints a timing summary per stage. Usage: scripts/check.sh [--skip-web]
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
skip_web=0; [ "${1:-}" = "--skip-web" ] && skip_web=1

declare -a SUMMARY=()
stage() {
  local name="$1"; shift
  local t0=$SECONDS
  echo "::: stage $name"
  if "$@"; then
    SUMMARY+=("$(printf '%-14s %5ds  ok' "$name" $((SECONDS - t0)))")
  else
    local rc=$?
    SUMMARY+=("$(printf '%-14s %5ds  FAILED (exit %d)' "$name" $((SECONDS - t0)) "$rc")")
    print_summary
    exit "$rc"
  fi
}
print_summary() {
  echo "::: timing summary"
  printf '%s\n' "${SUMMARY[@]}"
}

core_purity() {
  # src/core is pure numerics: no UI, no GPU, no I/O.
  if grep -rnE '\b(egui|eframe|wgpu|winit)\b|std::fs|std::net|std::process|println!|eprintln!|print!' src/core --include=*.rs \
      | grep -vE '^\S+:[0-9]+:\s*//' | grep -v '#\[cfg(test)\]' | grep -vE 'tests?\.rs:' | grep -vE 'mod tests' > /tmp/divlab-purity.txt; then
    # Allow test modules: drop hits that sit inside a #[cfg(test)] module.
    local bad=0
    while IFS=: read -r file line _; do
      local test_start
      test_start=$(grep -n '#\[cfg(test)\]' "$file" | head -1 | cut -d: -f1)
      if [ -z "$test_start" ] || [ "$line" -lt "$test_start" ]; then
        echo "core purity: $file:$line uses UI/GPU/I/O" >&2
        bad=1
      fi
    done < /tmp/divlab-purity.txt
    return $bad
  fi
}

stage setup bash scripts/setup.sh
stage core-purity core_purity
stage fmt cargo fmt --all -- --check
stage clippy cargo clippy --all-targets --locked -- -D warnings
stage clippy-wasm cargo clippy --lib --bins --target wasm32-unknown-unknown --locked -- -D warnings
stage test cargo test --locked
# tests/fast_paths.rs and tests/scenarios.rs again with each fast path forced (core::paths): the baseline build,
# dense Sinkhorn rows and f32::exp, then AVX2 where the CPU has it (the default run above takes AVX2, block-sparse
# rows and the fast exp).
forced_paths() {
  DIVLAB_PATHS=scalar,dense,std_exp cargo test --locked --test fast_paths --test scenarios
  if grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
    DIVLAB_PATHS=avx2 cargo test --locked --test fast_paths --test scenarios
  else
    echo "forced-paths: this CPU has no AVX2: the AVX2 path is NOT checked here"
  fi
}
stage forced-paths forced_paths
# The gallery's pictures against what the code renders now, with the binary the tests just built.
stage gallery env DIVLAB="$CARGO_TARGET_DIR/debug/divlab" bash scripts/gallery.sh --check
if [ "$skip_web" = 0 ]; then
  stage web-build bash scripts/build_web.sh
  stage browser-test node --test --test-concurrency=1 web/e2e.test.mjs
fi
print_summary
