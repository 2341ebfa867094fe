#!/usr/bin/env bash
# Talk to the embedded no-key demo bot: your mic and speaker when there are any,
# otherwise a bundled speech file in and a reply WAV out. Arguments go to `rtws demo`.
source "$(dirname "$0")/_setup.sh"
ensure_debian_packages libportaudio2 espeak-ng
ensure_env
exec uv run --no-sync rtws demo "$@"
