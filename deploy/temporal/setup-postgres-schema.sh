#!/bin/sh
# One-shot: creates (or brings up to date) Temporal's PostgreSQL databases with temporal-sql-tool,
# run by the temporal-schema service of docker-compose.yml before the server starts. Every step
# is idempotent: an existing database is kept, setup-schema skips a versioned schema and
# update-schema applies only the missing versions. Any failure stops the stack.
set -eu

: "${POSTGRES_SEEDS:?POSTGRES_SEEDS is required}"
: "${POSTGRES_USER:?POSTGRES_USER is required}"
: "${SQL_PASSWORD:?SQL_PASSWORD is required}"
PORT="${DB_PORT:-5432}"
SCHEMA_ROOT="${SCHEMA_ROOT:-/etc/temporal/schema/postgresql/v12}"

sql() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$PORT" -u "$POSTGRES_USER" "$@"
}

for db in "${DBNAME:-temporal}:temporal" "${VISIBILITY_DBNAME:-temporal_visibility}:visibility"; do
  name="${db%%:*}"
  schema="${db##*:}"
  echo "schema: database $name ($schema)"
  sql --db "$name" create
  sql --db "$name" setup-schema -v 0.0
  sql --db "$name" update-schema -d "$SCHEMA_ROOT/$schema/versioned"
done
echo 'schema: up to date'
