#!/usr/bin/env bash
# Regenerates docs/gallery/*.png: one figure per bundled preset after the scenario's own `steps`, at 960×600,
# with `divlab render` (the exact commands docs/gallery.md shows). DIVLAB=path/to/divlab uses that binary;
# otherwise a release build. Prints each picture's render time and size.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
if [ -z "${DIVLAB:-}" ]; then
  cargo build --release --quiet
  DIVLAB="$CARGO_TARGET_DIR/release/divlab"
fi
mkdir -p docs/gallery
PRESETS="two_modes_reverse_kl two_modes_forward_kl two_modes_jensen_shannon mixture_em mixture_mmd_flow
ring8_mmd_flow moons_sinkhorn_flow spiral_sliced_riesz banana_svgd funnel_langevin"
for p in $PRESETS; do
  "$DIVLAB" render "$p" --out "docs/gallery/$p.png" --width 960 --height 600
done
