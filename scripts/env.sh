# Shared settings for divlab's scripts (sourced, not run).
# Builds go outside the clone so that CI in a fresh clone on the same machine reuses them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/divlab/target}"
export DIVLAB_TOOLS="${DIVLAB_TOOLS:-$HOME/.cache/divlab/tools}"
export PATH="$DIVLAB_TOOLS/bin:$HOME/.cargo/bin:$PATH"
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
  export XDG_RUNTIME_DIR="/tmp/divlab-xdg-$(id -u)"
  mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
