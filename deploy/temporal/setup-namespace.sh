#!/bin/sh
# Creates the namespace if missing and registers the custom search attributes it lacks, with the Temporal CLI:
#   setup-namespace.sh OrderStatus=Keyword OrderTotal=Int ...
# Waits for the frontend first; idempotent. Used by `npm run cluster`, the failover test and docker-compose.yml's
# temporal-setup one-shot alike (scripts/lib/temporal-cluster.ts passes src/workflows/search-attributes.ts).
#
#   TEMPORAL_CLI (default: temporal on PATH), TEMPORAL_ADDRESS (127.0.0.1:7233), TEMPORAL_NAMESPACE (default)
set -eu

cli=${TEMPORAL_CLI:-temporal}
at="--address ${TEMPORAL_ADDRESS:-127.0.0.1:7233}"
ns=${TEMPORAL_NAMESPACE:-default}

# Retries a command for up to two minutes: the frontend, then the namespace, become available with a delay.
retry() {
  i=0
  until out=$("$@" 2>&1); do
    i=$((i + 1))
    if [ "$i" -ge 120 ]; then
      echo "gave up after 2 minutes: $* -> $out" >&2
      exit 1
    fi
    sleep 1
  done
}

retry $cli operator cluster health $at
if ! $cli operator namespace describe $at --namespace "$ns" >/dev/null 2>&1; then
  retry $cli operator namespace create $at --namespace "$ns" --retention 72h
fi
retry $cli operator search-attribute list $at --namespace "$ns"
registered=$out
for pair in "$@"; do
  name=${pair%%=*}
  if printf '%s\n' "$registered" | grep -qw -- "$name"; then continue; fi
  retry $cli operator search-attribute create $at --namespace "$ns" --name "$name" --type "${pair#*=}"
done
echo "namespace $ns ready with search attributes: $*"
