# Sourced by scripts/demo.sh and scripts/test.sh: make a fresh Debian machine
# (only Python ≥ 3.11) able to run rtws. Every step is skipped when already done.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf 'rtws-setup: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
  else log "need root (or password-less sudo) for: $*"; return 1
  fi
}

APT_UPDATED=""
# Install Debian packages that are missing (PortAudio for sounddevice, espeak-ng
# for the demo bot's voice). Not Debian: bring them yourself.
ensure_debian_packages() {
  command -v dpkg-query >/dev/null 2>&1 || return 0
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  if [ -z "$APT_UPDATED" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >/dev/null
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=120 "${missing[@]}" </dev/null >/dev/null
}

# uv manages the virtual environment and the locked dependencies.
ensure_uv() {
  export PATH="$HOME/.local/bin:$PATH"
  command -v uv >/dev/null 2>&1 && return 0
  if ! python3 -m pip --version >/dev/null 2>&1; then
    # Debian's python3 comes without pip; its package brings it.
    ensure_debian_packages python3-pip
  fi
  log "installing uv (pip --user)"
  python3 -m pip install --user --quiet uv 2>/dev/null \
    || python3 -m pip install --user --quiet --break-system-packages uv
}

ensure_env() {
  ensure_uv
  uv sync --all-packages --all-extras --locked --quiet
}
