#!/usr/bin/env bash
# Creates the PostgreSQL database FerretDB's postgresql handler writes to,
# when it does not exist yet. Argument: postgres://user@host:port/database
set -euo pipefail
url=$1
database=${url##*/}
database=${database%%\?*}
admin_url=${url%/*}/postgres
if ! command -v psql >/dev/null; then
  echo "pg-database: psql is needed for the postgresql handler" >&2
  exit 1
fi
if ! psql "$admin_url" -tAc "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1; then
  psql "$admin_url" -qc "CREATE DATABASE \"$database\""
  echo "pg-database: created $database"
fi
