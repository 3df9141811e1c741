#!/bin/sh
# A few seconds' smoke of the benchmark tools, for scripts/test.sh and CI:
# the bench starts, logs in, exchanges messages with Liaison (when built),
# Prosody (when installed) and the relay, and every message arrives.  No
# timing is asserted.  LIAISON_BUILD names the build folder (default build/).
cd "$(dirname "$0")/.." || exit 1
build="${LIAISON_BUILD:-$(pwd)/build}"
exec bash bench/compare.sh --smoke --build "$build" --servers liaison,prosody,relay
