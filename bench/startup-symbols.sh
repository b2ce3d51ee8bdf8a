#!/usr/bin/env bash
# Regenerates the start-up layout of the x86_64 link (.cargo/link-x86_64 hands both
# files to rust-lld):
#   .cargo/startup-symbols.txt  the functions whenready runs when it starts, in the
#                               order it first runs them (--symbol-ordering-file);
#   .cargo/startup-data.ld      the read-only and writable data those runs read and
#                               write, in the same order (a linker script that only
#                               orders input sections inside .rodata, .data and .bss,
#                               and puts musl's .init/.fini before .text).
# Laid out together, they fill a few 64 KB windows of the binary instead of faulting
# pages in all over it (README, Performance). Run it after changes to start-up code; a
# stale list costs only page faults (names the binary lacks are skipped), never
# correctness.
#
#   bash bench/startup-symbols.sh           rewrite both files
#   bash bench/startup-symbols.sh --check   CI: fail if the list misses more than a
#                                           tenth of the functions a start-up runs, or
#                                           the data layout more than a quarter of the
#                                           data sections it touches
#
# How: build the release binary as shipped (stripped; the link map beside it names
# the functions and input sections), run it under valgrind's lackey, which prints the
# address of every block of code it runs and of every load and store, for the paths a
# healthcheck and a gate take (--once against an open port, a refused port until a
# 1 s deadline, the gate form that execs a command, a usage error), and map the
# addresses to functions and sections through the link map. Needs valgrind and python3.
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
# run N [--mem] ARGS: lackey's log of run N in $tmp/sb.N; --mem adds every load and
# store (not for the 1 s wait, whose runtime loop would make the log large).
run() {
    local n=$1 mem=no
    shift
    [ "$1" = --mem ] && { mem=yes; shift; }
    valgrind --tool=lackey --trace-superblocks=yes --trace-mem=$mem --vex-guest-chase=no \
        --log-file="$tmp/sb.$n" "$bin" "$@" >/dev/null 2>&1 || true
}
run 1 --mem --once "$open"
run 2 --mem -q --once "$open"
run 3 --mem -t 30 "$open" -- /bin/true
run 4 -t 1s "$refused"
run 5 --mem --once "$refused"
run 6 --mem -t x "$open"
python3 - "$map" "$tmp" <<'PY'
import bisect, glob, re, sys
map_path, tmp = sys.argv[1], sys.argv[2]
# lld's map: "VMA LMA Size Align Out In Symbol". An output section's line names it in
# the fourth column; an input section line ends with "(SECTION)": Rust's functions
# are .text.<mangled name>, C's (musl) plain .text followed by the lines of the
# symbols it defines; data are .rodata.*, .data.*, .bss.* input sections (Rust's
# constants have no symbol, .rodata..Lanon.*, so the data are ordered by section name).
funcs, data = [], []  # (start, end, name)
plain, out = None, None
lines = open(map_path, errors="replace")
out_column = next(lines).index("Out")
for line in lines:
    parts = line.split()
    if len(parts) < 5 or not re.fullmatch(r"[0-9a-f]+", parts[0]):
        continue
    addr, size = int(parts[0], 16), int(parts[2], 16)
    if len(parts) == 5 and line.find(parts[4]) == out_column:
        # An output section (its name in the Out column); .rodata.startup is this
        # script's own, for the read-only data of the last layout.
        out, plain = (".rodata" if parts[4].startswith(".rodata") else parts[4]), None
        continue
    m = re.search(r"\(([^()]*)\)$", line.rstrip())
    if m:
        section = m.group(1)
        plain = None
        if section.startswith(".text.") and size:
            name = section[len(".text."):]
            for prefix in ("unlikely.", "hot.", "startup.", "exit."):
                name = name.removeprefix(prefix)
            funcs.append((addr, addr + size, name))
        elif section == ".text":
            plain = (addr, size)
        elif out in (".rodata", ".data", ".bss") and size and re.fullmatch(r"\.[A-Za-z0-9_.$]+", section):
            data.append((addr, addr + size, (out, section)))
        continue
    if plain and len(parts) == 5 and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", parts[4]):
        funcs.append((addr, plain[0] + plain[1], parts[4]))


def finder(spans):
    spans.sort()
    starts = [s for s, _, _ in spans]

    def find(a):
        i = bisect.bisect_right(starts, a) - 1
        return spans[i][2] if i >= 0 and a < spans[i][1] else None
    return find


in_func, in_data = finder(funcs), finder(data)
seen, order = set(), []
touched = {".rodata": [], ".data": [], ".bss": []}
for path in sorted(glob.glob(f"{tmp}/sb.*")):
    for line in open(path, errors="replace"):
        if line.startswith("SB "):
            name = in_func(int(line.split()[1], 16))
            if name and name not in seen:
                seen.add(name)
                order.append(name)
        elif line[:2] in (" L", " S", " M"):
            hit = in_data(int(line[3:].split(",")[0], 16))
            if hit and hit not in seen:
                seen.add(hit)
                touched[hit[0]].append(hit[1])
if len(order) < 100 or len(touched[".rodata"]) < 10:
    sys.exit(f"startup-symbols: only {len(order)} functions and {len(touched['.rodata'])} "
             "read-only data sections found: is the map readable?")
# musl's clock_gettime looks its vDSO function up by name on first use (__vdsosym
# compares names with strcmp); valgrind gives its guest no vDSO, so that part never
# runs under lackey: strcmp goes next to __vdsosym (the names it looks for are with
# the other strings, below).
if "strcmp" not in seen:
    order.insert(order.index("__vdsosym") + 1 if "__vdsosym" in seen else 0, "strcmp")
with open(f"{tmp}/list", "w") as f:
    f.write("\n".join(order) + "\n")
# The read-only data go into an output section of their own ahead of .rodata, which
# ring's 4 KB-aligned tables would otherwise start on a page of its own: right after
# the ELF headers that musl reads at start, in the same 64 KB window. The writable
# data go first in .data and .bss.
where = {".rodata": (".rodata.startup", "BEFORE .rodata"), ".data": (".data", "AFTER .got.plt"),
         ".bss": (".bss", "AFTER .data")}
# C strings (SHF_MERGE) are merged into one section per pattern, which the map names
# after its first input: where the start-up touched one, all of them go there as one
# block (56 KB, the most of it Rust's .rodata.str1.1; C puts a function's strings in
# .rodata.FUNCTION.str1.1, the vDSO's names too). Whatever outgrows the first window
# is what was touched last.
rodata, strings = [], False
for name in touched[".rodata"]:
    if re.search(r"\.str1\.1$", name):
        if not strings:
            rodata += [".rodata.*.str1.1", ".rodata.str1.1"]
        strings = True
    else:
        rodata.append(name)
touched[".rodata"] = rodata
with open(f"{tmp}/ld", "w") as f:
    f.write("/* Generated by bench/startup-symbols.sh: the data a start-up touches, in the\n"
            "   order first touched. INSERT keeps lld's own layout for everything else. */\n")
    for out, sections in touched.items():
        name, insert = where[out]
        f.write(f"SECTIONS {{\n  {name} : {{\n")
        f.writelines(f"    *({s})\n" for s in sections)
        f.write("  }\n")
        if name == ".rodata.startup":  # otherwise lld would put it between the headers and these
            f.write("  .gcc_except_table : { *(.gcc_except_table .gcc_except_table.*) }\n")
        f.write(f"}} INSERT {insert};\n")
    f.write("/* musl's _init and _fini run at every start and exit: next to the start-up code. */\n"
            "SECTIONS {\n  .init : { KEEP(*(.init)) }\n  .fini : { KEEP(*(.fini)) }\n} INSERT BEFORE .text;\n")
PY
# The input sections a layout file orders (one per line).
sections() { sed -n 's/^    \*(\(.*\))$/\1/p' "$1" | sort; }
if $check; then
    total=$(wc -l <"$tmp/list")
    missing=$(sort "$tmp/list" | comm -23 - <(sort .cargo/startup-symbols.txt) | wc -l)
    echo "startup-symbols: $((total - missing)) of the $total functions a start-up runs are in .cargo/startup-symbols.txt"
    dtotal=$(sections "$tmp/ld" | wc -l)
    dmissing=$(comm -23 <(sections "$tmp/ld") <(sections .cargo/startup-data.ld 2>/dev/null) | wc -l)
    echo "startup-symbols: $((dtotal - dmissing)) of the $dtotal data sections a start-up touches are in .cargo/startup-data.ld"
    if ((missing * 10 > total || dmissing * 4 > dtotal)); then
        echo "startup-symbols: $missing functions and $dmissing data sections are missing: run bash bench/startup-symbols.sh and commit both files" >&2
        exit 1
    fi
else
    cp "$tmp/list" .cargo/startup-symbols.txt
    cp "$tmp/ld" .cargo/startup-data.ld
    echo "startup-symbols: $(wc -l <.cargo/startup-symbols.txt) functions in .cargo/startup-symbols.txt, $(sections .cargo/startup-data.ld | wc -l) data sections in .cargo/startup-data.ld; rebuild to use them" >&2
fi
