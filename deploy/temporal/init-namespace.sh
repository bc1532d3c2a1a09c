#!/bin/sh
# One-shot, after the server is healthy: creates the namespace if it is missing and registers the
# search attributes driftless workflows publish (src/common/names.ts SEARCH_ATTRIBUTES). It is
# idempotent (an attribute that exists with the same type is kept) and fails loudly otherwise: an
# attribute with another type, or a create that fails, stops the stack before any worker starts.
set -eu

ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${TEMPORAL_NAMESPACE_RETENTION:-72h}"
ATTEMPTS="${TEMPORAL_INIT_ATTEMPTS:-60}"
# NAME:Type, one per attribute; the test in test/deploy checks this list against the source.
ATTRIBUTES='DriftlessPhase:Keyword DriftlessProvider:Keyword DriftlessRegion:Keyword DriftlessGpuType:Keyword DriftlessPricePerHour:Double DriftlessCost:Double'

attempt=1
until temporal operator cluster health --address "$ADDRESS" >/dev/null 2>&1; do
  if [ "$attempt" -ge "$ATTEMPTS" ]; then
    echo "init: Temporal at $ADDRESS is not healthy after $ATTEMPTS attempts" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 2
done

if temporal operator namespace describe --address "$ADDRESS" --namespace "$NAMESPACE" >/dev/null 2>&1; then
  echo "init: namespace $NAMESPACE exists"
else
  temporal operator namespace create --address "$ADDRESS" --namespace "$NAMESPACE" --retention "$RETENTION"
  echo "init: namespace $NAMESPACE created"
fi

# A new namespace takes a moment to reach the frontend's cache: wait until its attributes list.
attempt=1
until temporal operator search-attribute list --address "$ADDRESS" --namespace "$NAMESPACE" >/dev/null 2>&1; do
  if [ "$attempt" -ge "$ATTEMPTS" ]; then
    echo "init: cannot list the search attributes of $NAMESPACE after $ATTEMPTS attempts" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 2
done

# Type of a registered attribute ("" when absent), from the CLI's table: NAME TYPE per line.
# A failed list fails the script (set -e), never reads as "absent".
registered_type() {
  list="$(temporal operator search-attribute list --address "$ADDRESS" --namespace "$NAMESPACE")"
  printf '%s\n' "$list" | awk -v n="$1" '$1 == n { print $2 }'
}

for a in $ATTRIBUTES; do
  name="${a%%:*}"
  type="${a##*:}"
  have="$(registered_type "$name")"
  if [ "$have" = "$type" ]; then
    echo "init: search attribute $name ($type) exists"
  elif [ -n "$have" ]; then
    echo "init: search attribute $name exists as $have, driftless needs $type" >&2
    exit 1
  else
    temporal operator search-attribute create --address "$ADDRESS" --namespace "$NAMESPACE" \
      --name "$name" --type "$type"
    have="$(registered_type "$name")"
    if [ "$have" != "$type" ]; then
      echo "init: search attribute $name was not registered as $type (list says '${have}')" >&2
      exit 1
    fi
    echo "init: search attribute $name ($type) registered"
  fi
done
echo 'init: done'
