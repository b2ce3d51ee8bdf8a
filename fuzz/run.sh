#!/usr/bin/env bash
# Fuzzes every parser of user input for a bounded time (default 120 s), starting from
# the corpus kept in the repository (fuzz/corpus/parse), then merges what was found
# back into it, minimized (-set_cover_merge=1: the fewest inputs that keep every feature):
#   bash fuzz/run.sh [SECONDS]
# The target (fuzz_targets/parse.rs) covers targets, durations, status lists,
# whenready's command line and the drop-in personalities: wait-for-it's and
# wait-for's command lines and docker-compose-wait's WAIT_* variables.
# Needs a nightly toolchain (cargo-fuzz uses -Z sanitizer); installs cargo-fuzz if
# missing. Not part of CI: tests/parsers.rs runs property tests over the same entry
# points on every build. Commit fuzz/corpus/parse when it changed.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-120}
rustup toolchain list | grep -q '^nightly' || { echo "needs a nightly toolchain: rustup toolchain install nightly" >&2; exit 1; }
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
kept=corpus/parse
work=target/corpus-work
rm -rf "$work" "$kept.merged"
mkdir -p "$kept" "$work" "$kept.merged"
# New inputs go to the scratch directory; the kept corpus is read as seeds.
cargo +nightly fuzz run parse "$work" "$kept" -- -max_total_time="$seconds" -max_len=256
cargo +nightly fuzz run parse "$kept.merged" "$kept" "$work" -- -set_cover_merge=1 -max_len=256
rm -rf "$kept" && mv "$kept.merged" "$kept"
echo "corpus: $(ls "$kept" | wc -l) inputs, $(du -sh "$kept" | cut -f1)" >&2
