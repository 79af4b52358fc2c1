#!/bin/sh
# Installs etcd for `npm run bench:cluster`, which compares juno with a 3-member etcd cluster when
# `etcd` is on the PATH. Only the benchmark uses etcd; the tests never need it.
#
# Idempotent: does nothing when etcd is already on the PATH. On Debian and Ubuntu it installs the
# distribution's etcd-server package (run as root, or with sudo available).
set -eu

if command -v etcd >/dev/null 2>&1; then
  echo "etcd is already installed: $(command -v etcd) ($(etcd --version 2>/dev/null | head -n 1))"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-etcd: no apt-get here; install etcd 3.4 or later from" >&2
  echo "  https://github.com/etcd-io/etcd/releases and put the etcd binary on the PATH" >&2
  exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=""
elif command -v sudo >/dev/null 2>&1; then
  as_root="sudo"
else
  echo "install-etcd: run as root (or install sudo): apt-get install -y etcd-server" >&2
  exit 1
fi

$as_root apt-get update
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server

echo "installed: $(command -v etcd) ($(etcd --version 2>/dev/null | head -n 1))"
echo "note: the package may also enable a system etcd service on 127.0.0.1:2379; the benchmark"
echo "starts its own members on free ports and does not use it (stop it with:"
echo "  ${as_root:+$as_root }systemctl disable --now etcd)"
