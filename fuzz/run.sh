#!/usr/bin/env bash
# Fuzzes every parser of user input for a bounded time (default 120 s):
#   bash fuzz/run.sh [SECONDS]
# Needs a nightly toolchain (cargo-fuzz uses -Z sanitizer); installs cargo-fuzz if
# missing. Not part of CI: tests/parsers.rs runs property tests over the same entry
# points on every build.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-120}
rustup toolchain list | grep -q '^nightly' || { echo "needs a nightly toolchain: rustup toolchain install nightly" >&2; exit 1; }
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
mkdir -p corpus/parse
for seed in 'db:5432' '[::1]:6379' 'postgres://app:pw@db:5432/app?sslmode=verify-full&sslrootcert=/ca.pem' \
            'redis://:pw@cache:6379/0' 'rediss://u:p@h' 'https://u:p@h/x?y=1' 'unix:///run/a.sock' 'file:///tmp/x' \
            '2m30s' '200,204,300-399' "-t${IFS:0:0}"; do
    printf '%s' "$seed" > "corpus/parse/$(printf '%s' "$seed" | md5sum | cut -c1-16)"
done
cargo +nightly fuzz run parse corpus/parse -- -max_total_time="$seconds" -max_len=256
