#!/bin/sh
# Creates Temporal's two databases if missing and migrates them to the schema of the server version, with the
# server's own sql tool and schema files. Idempotent: run before every start. Used by `npm run cluster`, the
# failover test (scripts/lib/temporal-cluster.ts) and docker-compose.yml's temporal-schema one-shot alike.
#
#   SQL_TOOL     temporal-sql-tool binary (go.temporal.io/server/cmd/tools/sql)
#   SCHEMA_DIR   .../schema/postgresql/v12 of the same server version
#   TEMPORAL_DB_HOST, TEMPORAL_DB_PORT, TEMPORAL_DB_USER, TEMPORAL_DB_PASSWORD, TEMPORAL_DB, TEMPORAL_VISIBILITY_DB
set -eu

sql() {
  "$SQL_TOOL" --plugin postgres12 --ep "${TEMPORAL_DB_HOST:-127.0.0.1}" -p "${TEMPORAL_DB_PORT:-5432}" \
    -u "${TEMPORAL_DB_USER:-postgres}" --pw "${TEMPORAL_DB_PASSWORD:-}" "$@"
}

migrate() {
  db=$1
  schema=$2
  if ! out=$(sql --db "$db" create-database 2>&1); then
    case "$out" in
      *"already exists"*) ;;
      *) echo "$out" >&2; exit 1 ;;
    esac
  fi
  sql --db "$db" setup-schema -v 0.0
  sql --db "$db" update-schema -d "$SCHEMA_DIR/$schema/versioned"
}

migrate "${TEMPORAL_DB:-temporal}" temporal
migrate "${TEMPORAL_VISIBILITY_DB:-temporal_visibility}" visibility
