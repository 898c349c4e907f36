#!/usr/bin/env bash
# `ttui create` against the other torrent makers, on the same 4 GiB directory in one run: wall
# time and CPU (user + sys) per tool and format, best of 3.
#
#   v1      ttui --v1, libtorrent (v1_only), mktorrent (-t nproc), transmission-create
#   v2      ttui --v2, libtorrent (v2_only)
#   hybrid  ttui --hybrid, libtorrent (v1 + v2, its default)
#
# The directory holds files of different sizes (2 GiB, 1 GiB, 768 MiB, 192 MiB, 48 MiB and 64
# of 256 KiB under a subdirectory) of pseudo-random bytes (AES-CTR keystream from `openssl
# enc`, seeded by the file's name). Every tool is given the piece size ttui chooses for it on
# its own (a first, untimed `ttui create --v2`, which also reads the data into the page cache)
# and every run reads the data from a warm page cache (it is read again before each run; the
# machine must have the RAM to hold it, which is checked): this measures hashing and the
# tools' reading, not the disk. Each round takes the tools in an order that rotates and
# reverses every other round. libtorrent is python3-libtorrent's create_torrent and
# set_piece_hashes (the Python start and import are in its wall time, about 0.1 s).
# "cores" is CPU over wall: how many cores a tool kept busy; "busy" how many of its threads each
# did a tenth or more of its CPU (sampled from /proc), which still says it when the machine is
# loaded and no tool gets both cores.
#
#   bash tests/bench/create.sh            # 4 GiB, best of 3
#   bash tests/bench/create.sh --quick    # 64 MiB, 1 round: that it all works
#
# Environment: CREATE_RUNS (3), CREATE_MIB (4096), CREATE_TIMEOUT (600 s a run), CREATE_TTUI
# (a ttui binary; default: a release build in CARGO_TARGET_DIR), BENCH_TMP (/work/bench-tmp:
# the work directory goes under it and is removed at the end), CREATE_KEEP=1 keeps it.
#
# Needs root (unshare -n: nothing here uses the network, and inside it nothing can).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
PY=/usr/bin/python3
if [[ ${1:-} == --quick ]]; then
    : "${CREATE_MIB:=64}" "${CREATE_RUNS:=1}"
elif [[ -n ${1:-} ]]; then
    echo "usage: $0 [--quick]" >&2
    exit 2
fi
RUNS=${CREATE_RUNS:-3}
MIB=${CREATE_MIB:-4096}
TIMEOUT=${CREATE_TIMEOUT:-600}
# The namespace's half runs this script again, without --quick: it reads these.
export CREATE_RUNS=$RUNS CREATE_MIB=$MIB CREATE_TIMEOUT=$TIMEOUT
# shellcheck source=tests/bench/datapath_lib.sh
source "$HERE/datapath_lib.sh"

# ---------------------------------------------------------------- outer phase: build, report
if [[ -z ${CREATE_INNER:-} ]]; then
    [[ $(id -u) -eq 0 ]] || die "run as root (unshare -n needs it)"
    for tool in openssl mktorrent transmission-create unshare; do
        command -v $tool >/dev/null || die "$tool is missing"
    done
    [[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (apt-get install time)"
    $PY -c 'import libtorrent' 2>/dev/null || die "python3-libtorrent is missing"
    avail=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
    ((avail > MIB + 2048)) || die "$avail MiB available: too little to keep $MIB MiB in the page cache"
    TTUI=${CREATE_TTUI:-$TARGET/release/ttui}
    if [[ -z ${CREATE_TTUI:-} ]]; then
        note "building ttui (release) in $TARGET"
        (cd "$REPO" && CARGO_TARGET_DIR=$TARGET cargo build --release --quiet --bin ttui)
    fi
    [[ -x $TTUI ]] || die "no ttui binary at $TTUI"
    TMPROOT=${BENCH_TMP:-/work/bench-tmp}
    mkdir -p "$TMPROOT"
    W=$(mktemp -d "$TMPROOT/create.XXXXXX")
    cleanup() {
        if [[ -n ${CREATE_KEEP:-} ]]; then
            note "work directory kept: $W"
        else
            rm -rf "$W"
            rmdir "$TMPROOT" 2>/dev/null || true
        fi
    }
    trap cleanup EXIT
    mkdir -p "$W"/{logs,out,times}
    export CREATE_INNER=1 W TTUI
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >"$W/load.txt"
    rc=0
    timeout -k 10 $((900 + RUNS * 9 * TIMEOUT)) unshare -n -- bash "${BASH_SOURCE[0]}" || rc=$?
    echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)" >>"$W/load.txt"
    [[ -s $W/results.tsv ]] || exit 1
    echo
    echo "== create: $MIB MiB in $(cat "$W/files.txt") files, piece size $(cat "$W/plen.txt")," \
        "warm page cache ($(date -u +%F), best of $RUNS)"
    echo "   $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
        "SHA-NI: $(grep -qw sha_ni /proc/cpuinfo && echo yes || echo no)"
    $PY - "$W" "$MIB" <<'EOF' || rc=$?
import os, sys
work, mib = sys.argv[1], int(sys.argv[2])
rows, runs, hashes, threads = {}, {}, {}, {}
for line in open(os.path.join(work, "results.tsv")):
    mode, tool, run, wall, cpu, status, ih, busy = line.rstrip("\n").split("\t")
    runs[(mode, tool)] = runs.get((mode, tool), 0) + 1
    if status == "ok":
        rows.setdefault((mode, tool), []).append((float(wall), float(cpu)))
        threads.setdefault((mode, tool), set()).add(busy)
        hashes[(mode, tool)] = ih
print("%-7s %-20s %5s %8s %8s %7s %6s %6s  %s" % ("mode", "tool", "ok", "wall s", "MB/s",
                                                "CPU s", "cores", "busy", "wall / ttui's"))
bad = []
for mode in ("v1", "v2", "hybrid"):
    tools = [t for (m, t) in runs if m == mode]
    tt = min((w for w, _ in rows.get((mode, "ttui"), [])), default=float("nan"))
    for tool in sorted(tools, key=lambda t: (t != "ttui", t)):
        v = rows.get((mode, tool), [])
        if len(v) < runs[(mode, tool)]:
            bad.append("%s/%s" % (mode, tool))
        if not v:
            print("%-7s %-20s  0/%-2d   all runs failed" % (mode, tool, runs[(mode, tool)]))
            continue
        wall = min(w for w, _ in v)
        cpu = min(c for _, c in v)
        print("%-7s %-20s %2d/%-2d %8.2f %8.1f %7.2f %6.2f %6s  %.2f" % (
            mode, tool, len(v), runs[(mode, tool)], wall, mib * 1048576 / 1e6 / wall, cpu,
            cpu / wall, "/".join(sorted(threads[(mode, tool)])), wall / tt))
    others = [rows[(mode, t)] for t in tools if t != "ttui" and rows.get((mode, t))]
    if rows.get((mode, "ttui")) and others:
        best = min(min(w for w, _ in v) for v in others)
        print("%-7s ttui's wall over the fastest other's: %.2f (%s)" % (
            mode, tt / best, "fastest" if tt <= best else "NOT the fastest"))
    same = [t for t in tools if t != "ttui" and hashes.get((mode, t)) and
            hashes.get((mode, t)) == hashes.get((mode, "ttui"))]
    if same:
        print("%-7s the same info hash as ttui's: %s" % (mode, ", ".join(same)))
print("(best wall and best CPU of the runs, each on its own; cores: CPU over wall; busy: threads")
print(" that each did a tenth or more of the tool's CPU, in each run; MB = 10^6 bytes)")
print(open(os.path.join(work, "load.txt")).read().rstrip().replace("\n", "; "), "(1, 5, 15 min)")
if bad:
    print("runs that failed: %s (CREATE_KEEP=1 keeps the logs)" % ", ".join(bad))
    sys.exit(1)
EOF
    exit "$rc"
fi

# ---------------------------------------------------------------- inner phase: no network
ip link set lo up
RESULTS=$W/results.tsv
: >"$RESULTS"
trap 'stop_all' EXIT
trap 'exit 130' INT TERM

# ---- the data: sizes in KiB, scaled to MIB (4096 MiB by default)
D=$W/data/set
mkdir -p "$D/small"
gen() { # file KiB: a keystream seeded by the file's name, so every run makes the same bytes
    local key
    key=$(printf '%s' "$1" | sha256sum | cut -c1-32)
    openssl enc -aes-128-ctr -K "$key" -iv 00000000000000000000000000000000 -in /dev/zero 2>/dev/null |
        head -c $(($2 << 10)) >"$1" || true
    [[ $(stat -c %s "$1") -eq $(($2 << 10)) ]] || die "could not write $1"
}
note "writing $MIB MiB in $D"
k=$((MIB << 10)) # the whole, in KiB
gen "$D/a.bin" $((k / 2))
gen "$D/b.bin" $((k / 4))
gen "$D/c.bin" $((k * 3 / 16))
gen "$D/d.bin" $((k * 3 / 64))
gen "$D/e.bin" $((k * 3 / 256))
for ((i = 0; i < 64; i++)); do gen "$D/small/s$i.bin" $((k / 256 / 64)); done
find "$D" -type f | wc -l >"$W/files.txt"

warm() { find "$D" -type f -exec cat {} + >/dev/null; }
warm
# The piece size ttui picks by itself, then given to every tool.
PLEN=$(timeout -k 5 "$TIMEOUT" "$TTUI" create --v2 --no-date --json -o "$W/out/auto.torrent" "$D" |
    $PY -c 'import json, sys; print(json.load(sys.stdin)["piece_length"])')
echo "$PLEN" >"$W/plen.txt"
LOG2=$(awk -v n="$PLEN" 'BEGIN { l = 0; while (n > 1) { n /= 2; l++ } print l }')
note "piece size $PLEN (2^$LOG2), ttui create's own choice for $MIB MiB"

cat >"$W/lt_create.py" <<'EOF'
import os, sys
import libtorrent as lt
path, plen, mode, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
fs = lt.file_storage()
lt.add_files(fs, path)
flags = {"v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only, "hybrid": 0}[mode]
ct = lt.create_torrent(fs, plen, flags=flags)
lt.set_piece_hashes(ct, os.path.dirname(path))
with open(out, "wb") as f:
    f.write(lt.bencode(ct.generate()))
EOF

# busy.py PID SECONDS: how many threads of PID's descendants (the tool under timeout and time)
# each did at least a tenth of their CPU, sampled every 50 ms until PID ends: whether a tool
# hashes on every core, which its CPU over wall cannot say when the machine is loaded.
cat >"$W/busy.py" <<'EOF'
import os, sys, time
root, limit = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
ticks = {}
def state(pid):
    try:
        return open("/proc/%d/stat" % pid).read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return "X"
def tree(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            todo += [int(c) for c in open("/proc/%d/task/%d/children" % (p, p)).read().split()]
        except OSError:
            pass
    return out
while state(root) not in ("Z", "X") and time.monotonic() < limit:
    for pid in tree(root)[1:]:
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for tid in tids:
            try:
                f = open("/proc/%d/task/%s/stat" % (pid, tid)).read().rpartition(")")[2].split()
                ticks[(pid, tid)] = int(f[11]) + int(f[12])
            except (OSError, IndexError, ValueError):
                pass
    time.sleep(0.05)
total = sum(ticks.values())
print(sum(1 for t in ticks.values() if total and t >= total / 10))
EOF

# One torrent's info hash (v2's, truncated, for a v2-only torrent) and whether it is whole:
# libtorrent loads it and finds every byte of the data, in pieces of PLEN.
check() { # torrent
    $PY - "$1" "$PLEN" "$((MIB << 20))" <<'EOF'
import sys, libtorrent as lt
ti = lt.torrent_info(sys.argv[1])
fs = ti.files()
data = sum(fs.file_size(i) for i in range(fs.num_files())
           if not fs.file_flags(i) & lt.file_storage.flag_pad_file)
assert ti.piece_length() == int(sys.argv[2]), ti.piece_length()
assert data == int(sys.argv[3]), data
ih = ti.info_hashes()
print(ih.v1 if ih.has_v1() else ih.v2)
EOF
}

# one mode tool run: a timed run from a warm page cache, recorded with its info hash.
one() {
    local mode=$1 tool=$2 run=$3 out=$W/out/$1-$2.torrent tf=$W/times/$1-$2-$3 cmd
    rm -f "$out"
    case $tool in
    ttui) cmd=("$TTUI" create "--$mode" --no-date --piece-size "$PLEN" -o "$out" "$D") ;;
    libtorrent) cmd=("$PY" "$W/lt_create.py" "$D" "$PLEN" "$mode" "$out") ;;
    mktorrent) cmd=(mktorrent -d -l "$LOG2" -t "$(nproc)" -a http://127.0.0.1:6969/announce -o "$out" "$D") ;;
    transmission-create) cmd=(transmission-create -s $((PLEN >> 10)) -o "$out" "$D") ;;
    esac
    warm
    local st=ok wall cpu ih="" pid busy
    spawn "$W/logs/$mode-$tool-$run.log" timeout -k 5 "$TIMEOUT" /usr/bin/time -f '%e %U %S' -o "$tf" "${cmd[@]}"
    pid=$SPAWNED
    busy=$($PY "$W/busy.py" "$pid" "$((TIMEOUT + 10))")
    wait "$pid" || st=failed
    forget "$pid"
    read -r wall u s < <(tail -1 "$tf")
    cpu=$(calc "$u + $s")
    if [[ $st == ok ]]; then ih=$(check "$out" 2>>"$W/logs/$mode-$tool-$run.log") || st=bad-torrent; fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$tool" "$run" "$wall" "$cpu" "$st" "$ih" "$busy" >>"$RESULTS"
    note "$(printf '%-6s %-20s run %s: wall %7.2f s  cpu %7.2f s  busy threads %s  %s' "$mode" "$tool" "$run" "$wall" "$cpu" "$busy" "$st")"
}

entries=(v1:ttui v1:libtorrent v1:mktorrent v1:transmission-create v2:ttui v2:libtorrent
    hybrid:ttui hybrid:libtorrent)
n=${#entries[@]}
for ((run = 1; run <= RUNS; run++)); do
    # Round r starts at entry r, forward in odd rounds and backward in even ones: no tool
    # always follows the same one.
    for ((k = 0; k < n; k++)); do
        if ((run % 2)); then i=$(((run + k) % n)); else i=$(((run - k + 2 * n) % n)); fi
        one "${entries[$i]%%:*}" "${entries[$i]#*:}" "$run"
    done
done
