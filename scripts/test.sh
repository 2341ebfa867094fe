#!/usr/bin/env bash
# Run the whole test suite: system packages, Python deps, virtual sound devices, pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh -k interruption -x).
source "$(dirname "$0")/_setup.sh"
ensure_debian_packages libportaudio2 espeak-ng sox
ensure_env
# Device tests need sound devices; a headless machine gets virtual ones.
if ! uv run --no-sync python -m rtws.sandbox check >/dev/null 2>&1; then
  scripts/audio-sandbox up >/dev/null || log "could not start virtual audio devices"
fi
# In CI a missing device fails the device tests instead of skipping them.
if [ -n "${CI:-}" ]; then export RTWS_REQUIRE_DEVICES=1; fi
exec uv run --no-sync pytest "$@"
