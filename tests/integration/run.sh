#!/bin/sh
# Run the integration suite: every scenario against each target in
# LIAISON_TARGETS (default "prosody,liaison").  Debian's pytest and slixmpp
# are only seen by /usr/bin/python3.  Bounded: the whole run is killed after
# LIAISON_IT_TIMEOUT seconds (default 600).
#
#   tests/integration/run.sh                      # both targets
#   LIAISON_TARGETS=prosody tests/integration/run.sh
#   LIAISON_BUILD=/path/to/build tests/integration/run.sh -k hostile
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export LIAISON_TARGETS="${LIAISON_TARGETS:-prosody,liaison}"
export LIAISON_BUILD="${LIAISON_BUILD:-$repo/build}"
export PYTHONDONTWRITEBYTECODE=1
cd "$repo"
exec timeout -k 10 "${LIAISON_IT_TIMEOUT:-600}" \
    /usr/bin/python3 -m pytest -q -p no:cacheprovider "$@" tests/integration
