#!/bin/sh
# Makes sure the Debian packages the build, the tests and the demo need are
# installed: installs the missing ones when run as root, otherwise prints the
# exact command to run and fails.
set -eu
packages="libseccomp-dev libssl-dev openssl pkg-config gcc libc6-dev make proot strace python3 perl git tar gzip coop-computing-tools nginx curl vsftpd python3-pyftpdlib python3-openssl"
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >&2
else
    echo "missing Debian packages; run:" >&2
    echo "  sudo apt-get install -y$missing" >&2
    exit 1
fi
