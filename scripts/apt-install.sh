#!/usr/bin/env bash
# Installs Debian packages the tests use (nginx-light, chromium): `scripts/apt-install.sh PKG...`.
# Two test runs on one machine (two checkouts) may want them at once; apt holds one lock, so the
# installs take turns through flock, and apt waits for a lock held by anything else (an
# unattended upgrade) instead of failing. The package lists are refreshed only when the install
# from the current lists fails.
set -euo pipefail
[ "$#" -gt 0 ] || { echo "usage: scripts/apt-install.sh PACKAGE..." >&2; exit 2; }
lock="${TMPDIR:-/tmp}/driftless-apt.lock"
apt_get() { apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 "$@"; }
exec 9>"$lock"
flock -w 900 9 || { echo "waited 15 minutes for $lock" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt_get install -y -q "$@" || { apt_get update -q && apt_get install -y -q "$@"; }
