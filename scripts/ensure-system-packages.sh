#!/bin/sh
# Installs the Debian packages named on the command line that are not installed yet, for tests that
# run real servers (dnsmasq for the DNS SRV discovery tests). Idempotent and quick: when every
# package is already installed it only asks dpkg and exits, without touching the network.
#
# Usage: scripts/ensure-system-packages.sh dnsmasq [more packages...]
# Runs as root (as here and in CI), or with sudo when it is available.
set -eu

if [ "$#" -eq 0 ]; then
  echo "usage: $0 <debian package>..." >&2
  exit 2
fi

# A package counts as installed only when dpkg says "install ok installed"; a removed package
# whose configuration files remain ("deinstall ok config-files") is installed again.
missing=""
for package in "$@"; do
  status="$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)"
  if [ "$status" != "install ok installed" ]; then
    missing="$missing $package"
  fi
done

if [ -z "$missing" ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-system-packages: no apt-get here; install these yourself:$missing" >&2
  exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=""
elif command -v sudo >/dev/null 2>&1; then
  as_root="sudo -n"
else
  echo "ensure-system-packages: run as root (or install sudo) to install:$missing" >&2
  exit 1
fi

echo "ensure-system-packages: installing$missing" >&2
# The package lists are read once per run; a fresh machine has none, so update before installing.
# Only one apt may run at a time: a lock held by another install makes apt-get wait for it (up to
# two minutes) instead of failing at once.
# shellcheck disable=SC2086
$as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 update -qq >&2
# shellcheck disable=SC2086
$as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -qq \
  --no-install-recommends $missing >&2
