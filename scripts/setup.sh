#!/usr/bin/env bash
# Installs everything divlab's build and tests need on a fresh Debian machine; fast when already installed.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

need_apt=()
for pkg in mesa-vulkan-drivers xvfb chromium imagemagick; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need_apt[@]}"
fi

rustup component add rustfmt clippy >/dev/null 2>&1 || true
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
wb_version=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
if [ -z "$wb_version" ]; then
  echo "setup: could not read the wasm-bindgen version from Cargo.lock" >&2
  exit 1
fi
if ! { command -v wasm-bindgen >/dev/null && [ "$(wasm-bindgen --version | awk '{print $2}')" = "$wb_version" ]; }; then
  echo "setup: cargo install wasm-bindgen-cli $wb_version (a few minutes, once)"
  # Not --locked: its lockfile pins a crate version the registry mirror lacks (see shared/README.md).
  CARGO_TARGET_DIR="$HOME/.cache/divlab/tools-build" cargo install wasm-bindgen-cli --version "$wb_version" --root "$DIVLAB_TOOLS"
fi

# npm: playwright-core (drives Debian's Chromium; never downloads a browser) and binaryen (a current wasm-opt).
if [ ! -d web/node_modules/playwright-core ] || [ ! -x web/node_modules/.bin/wasm-opt ] || [ web/package-lock.json -nt web/node_modules/.stamp ]; then
  (cd web && npm ci --no-audit --no-fund && touch node_modules/.stamp)
fi
echo "setup: ok"
