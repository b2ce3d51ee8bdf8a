#!/usr/bin/env bash
# Regenerates .cargo/startup-symbols.txt: the functions whenready runs when it starts,
# in the order it first runs them, for the x86_64 link (.cargo/link-x86_64 hands the
# list to rust-lld as --symbol-ordering-file). Laid out together, they fill a few
# 64 KB windows of the binary instead of faulting pages in all over it (README,
# Performance). Run it after changes to start-up code; a stale list costs only page
# faults (symbols it names that the binary lacks are skipped), never correctness.
#
#   bash bench/startup-symbols.sh           rewrite the list
#   bash bench/startup-symbols.sh --check   CI: fail if the list misses more than a
#                                           tenth of the functions a start-up runs
#
# How: build the release binary as shipped (stripped; the link map beside it names
# the functions), run it under valgrind's lackey, which prints the address of every
# block of code it runs, for the paths a healthcheck and a gate take (--once against
# an open port, a refused port until a 1 s deadline, the gate form that execs a
# command, a usage error), and map the addresses to functions through the link map.
# Needs valgrind and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-musl
check=false
[ "${1:-}" = --check ] && check=true
for tool in valgrind python3; do
    command -v "$tool" >/dev/null || { echo "startup-symbols: $tool is missing (apt-get install $tool)" >&2; exit 1; }
done
touch src/main.rs # relink, so that the map is this build's
cargo build --release --locked --target "$target" --bin whenready
dir=${CARGO_TARGET_DIR:-target}/$target/release
bin=$dir/whenready
map=$(ls -t "$dir"/deps/whenready-*.map 2>/dev/null | head -n1)
[ -n "$map" ] || { echo "startup-symbols: no link map in $dir/deps: is rust-lld there (see .cargo/link-x86_64)?" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'kill "$listener" 2>/dev/null || true; rm -rf "$tmp"' EXIT
# An open port (accepts and closes) and a refused one.
python3 - "$tmp/port" <<'PY' &
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
while True:
    s.accept()[0].close()
PY
listener=$!
while [ ! -s "$tmp/port" ]; do sleep 0.05; done
open=127.0.0.1:$(cat "$tmp/port")
refused=127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
run() { valgrind --tool=lackey --trace-superblocks=yes --vex-guest-chase=no --log-file="$tmp/sb.$1" "$bin" "${@:2}" >/dev/null 2>&1 || true; }
run 1 --once "$open"
run 2 -q --once "$open"
run 3 -t 30 "$open" -- /bin/true
run 4 -t 1s "$refused"
run 5 --once "$refused"
run 6 -t x "$open"
python3 - "$map" "$tmp" >"$tmp/list" <<'PY'
import bisect, glob, re, sys
map_path, tmp = sys.argv[1], sys.argv[2]
# lld's map: "VMA LMA Size Align Out In Symbol"; an input section line ends with
# "(SECTION)"; Rust's are .text.<mangled name>, C's (musl) plain .text followed by
# the lines of the symbols it defines.
starts, ends, names = [], [], []
plain = None
for line in open(map_path, errors="replace"):
    parts = line.split()
    if len(parts) < 5 or not re.fullmatch(r"[0-9a-f]+", parts[0]):
        continue
    addr, size = int(parts[0], 16), int(parts[2], 16)
    m = re.search(r"\((\.text[^)]*)\)$", line.rstrip())
    if m:
        section = m.group(1)
        plain = None
        if section.startswith(".text.") and size:
            name = section[len(".text."):]
            for prefix in ("unlikely.", "hot.", "startup.", "exit."):
                name = name.removeprefix(prefix)
            starts.append(addr); ends.append(addr + size); names.append(name)
        elif section == ".text":
            plain = (addr, size)
        continue
    if plain and len(parts) == 5 and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", parts[4]):
        starts.append(addr); ends.append(plain[0] + plain[1]); names.append(parts[4])
order = sorted(range(len(starts)), key=starts.__getitem__)
starts = [starts[i] for i in order]; ends = [ends[i] for i in order]; names = [names[i] for i in order]
seen, out = set(), []
for path in sorted(glob.glob(f"{tmp}/sb.*")):
    for line in open(path, errors="replace"):
        if not line.startswith("SB "):
            continue
        a = int(line.split()[1], 16)
        i = bisect.bisect_right(starts, a) - 1
        if i >= 0 and a < ends[i] and names[i] not in seen:
            seen.add(names[i]); out.append(names[i])
if len(out) < 100:
    sys.exit(f"startup-symbols: only {len(out)} functions found: is the map readable?")
print("\n".join(out))
PY
if $check; then
    total=$(wc -l <"$tmp/list")
    missing=$(sort "$tmp/list" | comm -23 - <(sort .cargo/startup-symbols.txt) | wc -l)
    echo "startup-symbols: $((total - missing)) of the $total functions a start-up runs are in .cargo/startup-symbols.txt"
    if ((missing * 10 > total)); then
        echo "startup-symbols: $missing are missing: run bash bench/startup-symbols.sh and commit the list" >&2
        exit 1
    fi
else
    cp "$tmp/list" .cargo/startup-symbols.txt
    echo "startup-symbols: $(wc -l <.cargo/startup-symbols.txt) functions in .cargo/startup-symbols.txt; rebuild to use them" >&2
fi
