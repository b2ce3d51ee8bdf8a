#!/usr/bin/env bash
# Benchmarks whenready against what users would otherwise run, on this machine, in one
# run, and prints tables (medians, p90, ratios). Figures to publish, not pass/fail.
#
#   bash bench/run.sh            # all sections (about 10 minutes)
#   bash bench/run.sh oneshot    # one section: oneshot, gate, pggate, idle, scale, size
#
# Needs: hyperfine, nc (netcat-openbsd), pg_isready/psql, redis-cli, curl, strace,
# /usr/bin/time, PostgreSQL 15 and redis-server (run `bash .ci/run` once, or apt-get).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for tool in hyperfine nc pg_isready psql redis-cli redis-server curl strace python3; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
[ -x /usr/bin/time ] || missing+=(time)
if ((${#missing[@]})); then
    echo "missing: ${missing[*]} (apt-get install hyperfine netcat-openbsd postgresql-client redis-tools curl strace time)" >&2
    exit 1
fi
cargo build --release --locked --quiet --target x86_64-unknown-linux-musl
ulimit -n "$(ulimit -Hn)"
exec python3 bench/bench.py target/x86_64-unknown-linux-musl/release/whenready "$@"
