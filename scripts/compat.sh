#!/usr/bin/env bash
# Run rtws against other releases of its dependencies than the locked ones, each in a
# fresh virtual environment under /tmp: a real session against the OpenAI fake (the
# session tests, the websocket tests and `rtws demo` on files), not just an import.
#
#   scripts/compat.sh lowest    every direct dependency at the lowest version declared
#   scripts/compat.sh ws15      websockets 15.x (16.x: ws16, 17.x: ws17), the rest newest
#   scripts/compat.sh all       each of the above in turn (what .ci/run does)
#
# Why: pyproject.toml's floors must be true (`pip install rtws` beside a project that
# pins an older websockets, e.g. openai-agents' websockets<17, must work), and
# rtws/websocket.py takes its fast paths only on verified websockets releases:
# RTWS_EXPECT_FAST_PATHS tells tests/test_websocket.py which path each job must take.
source "$(dirname "$0")/_setup.sh"
ensure_uv

# The tests of this subset import pytest and the openai SDK's event types, nothing else.
TEST_TOOLS=(pytest pytest-asyncio pytest-timeout "openai>=1.107")
TESTS=(tests/test_websocket.py providers/openai/tests/test_openai_session.py)

run_job() {
  local job="$1" venv="${TMPDIR:-/tmp}/rtws-compat-$1" fast
  log "compat $job: building $venv"
  rm -rf "$venv"
  uv venv --quiet --python python3 "$venv"
  export VIRTUAL_ENV="$venv"
  case "$job" in
    lowest)
      # uv's lowest-direct: each dependency pyproject.toml names at its floor.
      uv pip compile --quiet --resolution lowest-direct --extra openai --extra cli \
        pyproject.toml providers/openai/pyproject.toml -o "$venv/runtime.txt"
      uv pip install --quiet -r "$venv/runtime.txt"
      fast=0  # the websockets floor (15) has no fast paths
      ;;
    ws15 | ws16 | ws17)
      local minor="${job#ws}"
      uv pip install --quiet -e ".[cli]" -e providers/openai "websockets==$minor.*"
      if [ "$minor" = 15 ]; then fast=0; else fast=1; fi
      ;;
    *) log "unknown job: $job (lowest, ws15, ws16, ws17, all)"; return 2 ;;
  esac
  # The test tools must not move a runtime dependency off the version under test.
  uv pip freeze --quiet --exclude-editable >"$venv/pinned.txt"
  uv pip install --quiet --constraint "$venv/pinned.txt" "${TEST_TOOLS[@]}"
  log "compat $job: $("$venv/bin/python" -c 'import websockets, numpy, pydantic; print("websockets", websockets.__version__, "numpy", numpy.__version__, "pydantic", pydantic.VERSION)')"
  RTWS_EXPECT_FAST_PATHS="$fast" "$venv/bin/python" -m pytest -q -p no:cacheprovider "${TESTS[@]}"
  # The command line too, with its floor of rich: the demo bot on files is a whole session.
  local out="$venv/demo-reply.wav"
  "$venv/bin/rtws" demo --input examples/data/speech_16k.wav --output "$out" >"$venv/demo.log"
  [ -s "$out" ] || { log "compat $job: rtws demo wrote no reply"; return 1; }
  unset VIRTUAL_ENV
  rm -rf "$venv"
  log "compat $job: ok"
}

if [ "${1:-all}" = all ]; then
  for job in lowest ws15 ws16 ws17; do run_job "$job"; done
else
  run_job "$1"
fi
