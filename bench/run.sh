#!/usr/bin/env bash
# Runs the benchmark suite on SQLite and on a private PostgreSQL, writes bench/results.md.
#   bench/run.sh                 (BENCH_SECONDS=10, BENCH_CONNECTIONS=16)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin gatehouse -p gatehouse -p gatehouse-bench
. .ci/postgres.sh
trap stop_postgres EXIT
start_postgres
./target/release/gatehouse-bench --bin target/release/gatehouse --postgres "$PG_ADMIN_URL" \
  --seconds "${BENCH_SECONDS:-10}" --connections "${BENCH_CONNECTIONS:-16}" --report bench/results.md
