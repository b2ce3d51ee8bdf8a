#!/usr/bin/env bash
# Benchmarks whenready against what users would otherwise run, on this machine, in one
# run, and prints tables (medians, p90, ratios). Figures to publish, not pass/fail.
#
#   bash bench/run.sh            # all sections (about 15 minutes)
#   bash bench/run.sh oneshot    # one section: floor, oneshot, kinds, fakes, gate, pathgate, pggate, idle,
#                                # cost, charge, scale, size
#
# Checks are measured by address (127.0.0.1) and by name (localhost) where users
# write either. Peers that Debian lacks, measured when given: COMPOSE_WAIT_BIN
# (docker-compose-wait's /wait) or COMPOSE_WAIT_SRC (its checkout, built here), WAIT_ON (npm install wait-on;
# node_modules/.bin/wait-on), WHENREADY_BEFORE (an older whenready build, or
# several as LABEL=PATH,LABEL=PATH), GATE_TRIALS
# (trials per waiter in gate, 40 by default); with
# inotify-tools installed, pathgate measures inotifywait as the floor; with a C compiler
# (cc), cost measures bench/waitfloor.c, the same attempts with nothing on top, as the
# floor of waiting.
#
# Needs: hyperfine, nc (netcat-openbsd), pg_isready/psql, redis-cli, curl, strace,
# /usr/bin/time, PostgreSQL 15 and redis-server (run `bash .ci/run` once, or apt-get);
# for `kinds` also mosquitto and mosquitto-clients, nats-server, rabbitmq-server and
# MariaDB (mariadb-server, mariadb-client); for `fakes` kcat and the Python clients of
# .ci/clients (pymongo).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for tool in hyperfine nc pg_isready psql redis-cli redis-server curl strace python3; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
[ -x /usr/bin/time ] || missing+=(time)
packages="hyperfine netcat-openbsd postgresql-client redis-tools curl strace time"
if [ $# -eq 0 ] || [[ " $* " == *" kinds "* ]]; then
    for tool in mosquitto mosquitto_passwd mosquitto_pub nats-server mariadb-install-db mariadbd mariadb mariadb-admin; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    for tool in rabbitmq-server rabbitmqctl rabbitmq-diagnostics; do
        [ -x "/usr/lib/rabbitmq/bin/$tool" ] || missing+=("$tool")
    done
    packages+=" mosquitto mosquitto-clients nats-server rabbitmq-server mariadb-server mariadb-client"
fi
if [ $# -eq 0 ] || [[ " $* " == *" fakes "* ]]; then
    command -v kcat >/dev/null || missing+=(kcat)
    packages+=" kcat"
    clients=${WHENREADY_CLIENTS_PYTHON:-${XDG_CACHE_HOME:-$HOME/.cache}/whenready-ci/clients-venv/bin/python}
    [ -x "$clients" ] || { echo "missing: the Python clients (bash .ci/clients)" >&2; exit 1; }
fi
if ((${#missing[@]})); then
    echo "missing: ${missing[*]} (apt-get install $packages)" >&2
    exit 1
fi
cargo build --release --locked --quiet --target x86_64-unknown-linux-musl
ulimit -n "$(ulimit -Hn)"
exec python3 bench/bench.py target/x86_64-unknown-linux-musl/release/whenready "$@"
