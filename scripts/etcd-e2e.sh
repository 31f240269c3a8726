#!/bin/sh
# Runs etcd 3.4.23's own e2e suite (scripts/etcd-e2e.mjs) with this project's binaries.
# The suite uses fixed ports from 20000 up and fixed /tmp paths, so when we are root it runs
# in a private network namespace (its own loopback) with a private /tmp: several runs, and
# our other tests, can then go on at the same time without seeing each other.
#   scripts/etcd-e2e.sh [--etcd PATH] [--etcdctl PATH] [--run REGEX] [--tests A,B] [--out DIR] ...
# Results go to --out (default: e2e-out/<time> in the repository, kept outside the private /tmp).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
runner="$root/scripts/etcd-e2e.mjs"
out=
for a in "$@"; do case "$a" in --out|--out=*) out=given;; esac; done
extra=
if [ -z "$out" ]; then
  dir="$root/e2e-out/$(date +%Y%m%d-%H%M%S)-$$"
  mkdir -p "$dir"
  extra="--out $dir"
fi
cd "$root"
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null 2>&1 && command -v ip >/dev/null 2>&1; then
  exec unshare --net --mount sh -c 'ip link set lo up && mount -t tmpfs tmpfs /tmp && exec node "$@"' sh \
    "$runner" $extra "$@"
fi
exec node "$runner" $extra "$@"
