#!/bin/sh
# One command from a fresh Debian 12 machine (as root) to a running
# server: installs the packages, builds, and starts liaisond on its
# embedded default (./liaison-data, domain localhost, 127.0.0.1:5222
# STARTTLS and 127.0.0.1:5223 direct TLS).  Arguments go to liaisond.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
sh scripts/build.sh build >/dev/null
exec build/liaisond "$@"
