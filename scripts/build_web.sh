#!/usr/bin/env bash
# Builds the static web site into dist/: release wasm → wasm-bindgen → wasm-opt (npm binaryen) → dist/.
# Usage: scripts/build_web.sh [--fast]   (--fast skips wasm-opt)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
fast=0; [ "${1:-}" = "--fast" ] && fast=1

cargo rustc --lib --release --target wasm32-unknown-unknown --crate-type cdylib
rm -rf dist && mkdir -p dist/pkg dist/web
wasm-bindgen --target web --no-typescript --out-dir dist/pkg \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/divlab.wasm"
if [ "$fast" = 0 ]; then
  web/node_modules/.bin/wasm-opt -O2 --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
    dist/pkg/divlab_bg.wasm -o dist/pkg/divlab_bg.opt.wasm
  mv dist/pkg/divlab_bg.opt.wasm dist/pkg/divlab_bg.wasm
fi
cp index.html dist/
cp web/main.js web/support.js web/style.css dist/web/
raw=$(stat -c %s dist/pkg/divlab_bg.wasm)
gz=$(gzip -9 -c dist/pkg/divlab_bg.wasm | wc -c)
echo "build_web: dist/pkg/divlab_bg.wasm $raw bytes raw, $gz bytes gzip"
