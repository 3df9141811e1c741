#!/bin/sh
# One command from a fresh Debian 12 machine (as root) to a running
# server: installs the packages, builds, and starts liaisond on its
# embedded default (./liaison-data with SQLite and a development
# certificate, domain localhost, 127.0.0.1:5222 STARTTLS and
# 127.0.0.1:5223 direct TLS) with the demonstration security policy of
# policies/demo.conf.  Arguments go to liaisond and override the file.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
sh scripts/build.sh build >/dev/null
exec build/liaisond -c policies/demo.conf "$@"
