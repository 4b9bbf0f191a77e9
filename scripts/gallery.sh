#!/usr/bin/env bash
# The gallery's pictures (docs/gallery/*) are made by the `divlab render …` commands that docs/gallery.md
# shows, and by nothing else: this script reads those commands out of docs/gallery.md and runs them.
#
#   scripts/gallery.sh          regenerates every picture and prints each one's time and size
#   scripts/gallery.sh [--check] NAME…   only the pictures whose file name contains one of the NAMEs
#   scripts/gallery.sh --check  renders every picture into a scratch folder and compares it with the
#                               committed one (each frame of an animation): it fails when more than 0.5 % of
#                               a picture's pixels differ by more than 9 % (anti-aliasing and rounding across
#                               machines stay under that; a changed figure does not). CI runs this.
#
# DIVLAB=path/to/divlab uses that binary (CI uses the test build: same pixels, the numerics do not depend on
# the optimization level); otherwise a release build.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
check=0; [ "${1:-}" = "--check" ] && { check=1; shift; }
only=("$@")
if [ -z "${DIVLAB:-}" ]; then
  cargo build --release --quiet
  DIVLAB="$CARGO_TARGET_DIR/release/divlab"
fi
mapfile -t commands < <(grep -o '`divlab render [^`]*`' docs/gallery.md | tr -d '`' | sort -u)
if [ ${#commands[@]} -eq 0 ]; then
  echo "gallery: no \`divlab render\` command in docs/gallery.md" >&2
  exit 1
fi
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
failed=0
# Pixels of `a` and `b` (same size) that differ by more than the fuzz, or "size" if the sizes differ.
differing() {
  local sa sb
  sa=$(identify -format '%wx%h' "$1"); sb=$(identify -format '%wx%h' "$2")
  [ "$sa" = "$sb" ] || { echo size; return; }
  compare -metric AE -fuzz 9% "$1" "$2" null: 2>&1 | awk '{print int($1)}' || true
}
for cmd in "${commands[@]}"; do
  read -r -a argv <<<"$cmd"
  out=""
  for ((i = 0; i < ${#argv[@]}; i++)); do
    case "${argv[$i]}" in --out | --animate) out="${argv[$((i + 1))]}"; slot=$((i + 1)) ;; esac
  done
  [ -n "$out" ] || { echo "gallery: no --out or --animate in: $cmd" >&2; exit 1; }
  if [ ${#only[@]} -gt 0 ]; then
    keep=0
    for name in "${only[@]}"; do [[ "$(basename "$out")" == *"$name"* ]] && keep=1; done
    [ $keep = 1 ] || continue
  fi
  if [ $check = 0 ]; then
    mkdir -p "$(dirname "$out")"
    t0=$(date +%s.%N)
    "$DIVLAB" "${argv[@]:1}" >/dev/null
    printf "%-44s %6.1f s %9d bytes\n" "$out" "$(awk -v a="$t0" -v b="$(date +%s.%N)" "BEGIN{print b-a}")" "$(stat -c %s "$out")"
    continue
  fi
  fresh="$scratch/$(basename "$out")"
  argv[$slot]="$fresh"
  "$DIVLAB" "${argv[@]:1}" >/dev/null
  if [ ! -f "$out" ]; then
    echo "gallery: $out is not committed (docs/gallery.md shows it): run scripts/gallery.sh" >&2
    failed=1; continue
  fi
  # Frames of both (one for a still), then each pair compared.
  rm -rf "$scratch/a" "$scratch/b"; mkdir -p "$scratch/a" "$scratch/b"
  convert "$out" -coalesce "$scratch/a/%04d.png"
  convert "$fresh" -coalesce "$scratch/b/%04d.png"
  na=$(ls "$scratch/a" | wc -l); nb=$(ls "$scratch/b" | wc -l)
  if [ "$na" != "$nb" ]; then
    echo "gallery: $out has $na frames, the code renders $nb: run scripts/gallery.sh" >&2
    failed=1; continue
  fi
  worst=0; worst_frame=""
  for a in "$scratch"/a/*.png; do
    b="$scratch/b/$(basename "$a")"
    n=$(differing "$a" "$b")
    if [ "$n" = size ]; then worst=size; worst_frame=$(basename "$a"); break; fi
    [ "$n" -gt "$worst" ] 2>/dev/null && { worst=$n; worst_frame=$(basename "$a"); }
  done
  total=$(identify -format '%w %h' "$scratch/a/0000.png" | awk '{print $1 * $2}')
  if [ "$worst" = size ] || [ $((worst * 200)) -gt "$total" ]; then
    echo "gallery: $out drifted: $worst of $total pixels differ (frame $worst_frame): run scripts/gallery.sh and look at it" >&2
    failed=1
  else
    printf 'gallery: %-44s ok (%d frame(s), at most %d of %d pixels differ)\n' "$out" "$na" "$worst" "$total"
  fi
done
exit $failed
