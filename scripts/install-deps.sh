#!/bin/sh
# Installs every Debian package Liaison needs to build, run and test.
# Safe to run again: apt-get skips what is already there.  Package
# post-install scripts are kept from starting system services (Prosody,
# ejabberd) so that nothing but our own tests binds the XMPP ports.
set -eu

PKGS="build-essential meson ninja-build pkg-config clang llvm libclang-rt-14-dev
libssl-dev openssl libexpat1-dev libxml2-dev libxml2-utils libxmlsec1-dev
libsqlite3-dev sqlite3 libidn-dev libconfig-dev libcmocka-dev
python3-slixmpp python3-pytest prosody lua-bitop go-sendxmpp procps"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing; run as root" >&2
	exit 1
fi

# Keep maintainer scripts from starting services during the install.
had_policy=0
[ -e /usr/sbin/policy-rc.d ] && had_policy=1
if [ $had_policy = 0 ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing
[ $had_policy = 0 ] && rm -f /usr/sbin/policy-rc.d
# A Prosody started by an init system anyway would hold 5222: stop it.
if command -v service >/dev/null 2>&1; then
	service prosody stop >/dev/null 2>&1 || true
fi
pkill -x prosody 2>/dev/null || true
exit 0
