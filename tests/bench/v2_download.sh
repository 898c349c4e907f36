#!/usr/bin/env bash
# CPU per GiB of a BitTorrent v2 download against its floor and against libtorrent, all in one
# run. One python3-libtorrent seeder serves a v2-only torrent of 1 GiB of random bytes (made by
# `ttui create --v2`, its automatic piece size) and another the v1 torrent of the same file
# (same piece size); ttui (release build, TCP) and python3-libtorrent download each in turn.
#
# The floor of a v2 download is what any v2 client must do with these bytes, nothing more:
#   recv         floor.c's receiver: the loopback TCP stream read(2) and write(2) to the page
#                cache (user + sys), as datapath.sh measures it (its floor_big, reused)
#   sha256-tree  floor.c v2-hash (built with -DFLOOR_SHA256 -lcrypto): OpenSSL's SHA-256 over
#                every 16 KiB leaf and the merkle tree above them up to the file's root (user
#                time), its root checked against the torrent's `pieces root`
# and `openssl dgst -sha256` over the same GiB is shown beside it as a cross-check. The v1
# download is measured against datapath.sh's v1 floor (recv + `openssl dgst -sha1`), so that
# what v2 costs over v1 shows in the same run. Each round's entries take turns in an order
# that rotates and reverses every other round, each download followed by datapath_lib.sh's
# pause (`spend`), as datapath.sh does.
#
#   bash tests/bench/v2_download.sh            # 1 GiB, 5 rounds, medians
#   bash tests/bench/v2_download.sh --quick    # 64 MiB, 1 round: that it all works
#
# Environment: V2DL_RUNS (5), V2DL_MIB (1024), V2DL_TIMEOUT (300 s a transfer), V2DL_TTUI (a
# ttui binary; default: a release build in CARGO_TARGET_DIR), BENCH_TMP (/work/bench-tmp: the
# work directory goes under it and is removed at the end), V2DL_KEEP=1 keeps it.
#
# Needs root (unshare -n). Everything after the build runs in a network namespace with only
# `lo`; every peer listens on its own 127.0.0.x with DHT, LSD, PEX, UPnP and NAT-PMP off.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
PY=/usr/bin/python3
LT=$REPO/assets/seeders/lt_seed.py
if [[ ${1:-} == --quick ]]; then
    : "${V2DL_MIB:=64}" "${V2DL_RUNS:=1}"
elif [[ -n ${1:-} ]]; then
    echo "usage: $0 [--quick]" >&2
    exit 2
fi
RUNS=${V2DL_RUNS:-5}
MIB=${V2DL_MIB:-1024}
TIMEOUT=${V2DL_TIMEOUT:-300}
# The namespace's half runs this script again, without --quick: it reads these.
export V2DL_RUNS=$RUNS V2DL_MIB=$MIB V2DL_TIMEOUT=$TIMEOUT
# shellcheck source=tests/bench/datapath_lib.sh
source "$HERE/datapath_lib.sh"

# ---------------------------------------------------------------- outer phase: build, report
if [[ -z ${V2DL_INNER:-} ]]; then
    [[ $(id -u) -eq 0 ]] || die "run as root (unshare -n needs it)"
    for tool in gcc openssl unshare; do command -v $tool >/dev/null || die "$tool is missing"; done
    [[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (apt-get install time)"
    [[ -f /usr/include/openssl/sha.h ]] || die "OpenSSL's headers are missing (apt-get install libssl-dev)"
    $PY -c 'import libtorrent' 2>/dev/null || die "python3-libtorrent is missing"
    TTUI=${V2DL_TTUI:-$TARGET/release/ttui}
    if [[ -z ${V2DL_TTUI:-} ]]; then
        note "building ttui (release) in $TARGET"
        (cd "$REPO" && CARGO_TARGET_DIR=$TARGET cargo build --release --quiet --bin ttui)
    fi
    [[ -x $TTUI ]] || die "no ttui binary at $TTUI"
    TMPROOT=${BENCH_TMP:-/work/bench-tmp}
    mkdir -p "$TMPROOT"
    W=$(mktemp -d "$TMPROOT/v2dl.XXXXXX")
    cleanup() {
        if [[ -n ${V2DL_KEEP:-} ]]; then
            note "work directory kept: $W"
        else
            rm -rf "$W"
            rmdir "$TMPROOT" 2>/dev/null || true
        fi
    }
    trap cleanup EXIT
    mkdir -p "$W"/{logs,seed,out,times}
    gcc -O2 -Wall -DFLOOR_SHA256 -o "$W/floor" "$HERE/floor.c" -lcrypto
    export V2DL_INNER=1 W TTUI
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >"$W/load.txt"
    rc=0
    # The namespace's own bound: every wait inside has one, this is the net under them all.
    timeout -k 10 $((600 + RUNS * 8 * TIMEOUT)) unshare -n -- bash "${BASH_SOURCE[0]}" || rc=$?
    echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)" >>"$W/load.txt"
    echo
    echo "== v2 download: CPU per GiB against the floor and libtorrent ($(date -u +%F), $MIB MiB, runs: $RUNS, medians)"
    echo "   $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
        "SHA-NI: $(grep -qw sha_ni /proc/cpuinfo && echo yes || echo no), $(openssl version | cut -d' ' -f1-2)"
    $PY - "$W" "$MIB" <<'EOF' || rc=$?
import os, statistics, sys
work, mib = sys.argv[1], int(sys.argv[2])
gib = mib / 1024
rows = {}
runs = {}
for line in open(os.path.join(work, "results.tsv")):
    part, key, client, run, wall, cpu, rss, status = line.rstrip("\n").split("\t")[:8]
    runs[(key, client)] = runs.get((key, client), 0) + 1
    if status == "ok":
        rows.setdefault((key, client), []).append((float(wall), float(cpu), float(rss)))
def med(key, client, i):
    v = rows.get((key, client))
    return statistics.median(x[i] for x in v) if v else float("nan")
def per_gib(key, client):
    return med(key, client, 1) / gib
floor_v2 = per_gib("floor", "recv") + per_gib("floor", "sha256-tree")
floor_v2_dgst = per_gib("floor", "recv") + per_gib("floor", "sha256")
floor_v1 = per_gib("floor", "recv") + per_gib("floor", "sha1")
tt2, lt2 = per_gib("dl-v2", "ttui"), per_gib("dl-v2", "libtorrent")
tt1, lt1 = per_gib("dl-v1", "ttui"), per_gib("dl-v1", "libtorrent")
print("%-34s %-26s %6s %6s %6s" % ("measure", "reference", "ref", "ttui", "ratio"))
def line(what, ref_name, ref, ours, aim=None):
    r = ours / ref if ref else float("nan")
    verdict = "" if aim is None else ("pass" if r <= aim else "FAIL") + " (<= %g)" % aim
    print("%-34s %-26s %6.2f %6.2f %6.3f  %s" % (what, ref_name, ref, ours, r, verdict))
line("v2 CPU-s/GiB", "floor (recv + tree)", floor_v2, tt2, 1.1)
line("v2 CPU-s/GiB", "floor (recv + dgst)", floor_v2_dgst, tt2)
line("v2 CPU-s/GiB", "libtorrent", lt2, tt2, 1.0)
line("v2 wall s", "libtorrent", med("dl-v2", "libtorrent", 0), med("dl-v2", "ttui", 0), 1.0)
line("v1 CPU-s/GiB", "floor (recv + sha1)", floor_v1, tt1)
line("v1 CPU-s/GiB", "libtorrent", lt1, tt1)
line("CPU-s/GiB v2 over v1", "ttui v1", tt1, tt2)
print("%-34s %-26s %6.2f %6.2f %6.3f" % ("libtorrent: v2 over its floor", "floor (recv + tree)",
                                         floor_v2, lt2, lt2 / floor_v2 if floor_v2 else float("nan")))
print("\n%-8s %-12s %5s %8s %8s %7s %8s %8s" % ("what", "who", "ok", "wall s", "MB/s", "CPU s",
                                             "CPU/GiB", "RSS MiB"))
order = ["floor", "dl-v2", "dl-v1"]
for (k, c) in sorted(runs, key=lambda x: (order.index(x[0]) if x[0] in order else 9, x[1])):
    n = len(rows.get((k, c), []))
    if n == 0:
        print("%-8s %-12s %2d/%-2d   all runs failed" % (k, c, n, runs[(k, c)]))
        continue
    w = med(k, c, 0)
    mbs = mib * 1048576 / 1e6 / w if k != "floor" and w else float("nan")
    print("%-8s %-12s %2d/%-2d %8.2f %8.1f %7.2f %8.2f %8.1f" % (
        k, c, n, runs[(k, c)], w, mbs, med(k, c, 1), per_gib(k, c), med(k, c, 2) / 1024))
bad = [k for k in runs if len(rows.get(k, [])) < runs[k]]
print(open(os.path.join(work, "load.txt")).read().rstrip().replace("\n", "; "), "(1, 5, 15 min)")
if bad:
    print("runs that failed: %s (see the logs with V2DL_KEEP=1)" % ", ".join("%s/%s" % k for k in bad))
    sys.exit(1)
EOF
    exit "$rc"
fi

# ---------------------------------------------------------------- inner phase: loopback only
ip link set lo up
if ip -o link show | grep -qv ': lo:'; then die "namespace has interfaces besides lo"; fi
export TTUI_NO_PUBLIC_ROUTERS=1
RESULTS=$W/results.tsv
: >"$RESULTS"
trap 'stop_all' EXIT
trap 'exit 130' INT TERM
BIG=$((MIB << 20))

note "writing $MIB MiB of random bytes and the v2 and v1 torrents"
head -c "$BIG" /dev/urandom >"$W/seed/big.bin"
PLEN=$("$TTUI" create --v2 --no-date --json -o "$W/v2.torrent" "$W/seed/big.bin" |
    $PY -c 'import json, sys; print(json.load(sys.stdin)["piece_length"])')
"$TTUI" create --v1 --no-date --piece-size "$PLEN" -o "$W/v1.torrent" "$W/seed/big.bin" >/dev/null
note "piece size: $PLEN (ttui create's choice for $MIB MiB)"

# The floor hashes what the torrent says: its root must be the torrent's pieces root.
want_root=$($PY -c 'import sys, libtorrent as lt; print(lt.torrent_info(sys.argv[1]).files().root(0))' "$W/v2.torrent")
got_root=$("$W/floor" v2-hash "$W/seed/big.bin" "$PLEN")
[[ $got_root == "$want_root" ]] || die "floor v2-hash root $got_root is not the torrent's $want_root"

declare -A SEEDER=([v2]=127.0.0.2:6881 [v1]=127.0.0.3:6881)
for t in v2 v1; do
    spawn "$W/logs/lt-seed-$t.log" $PY "$LT" --torrent "$W/$t.torrent" --save "$W/seed" \
        --ip "${SEEDER[$t]%:*}" --port 6881 --seed-mode --announce-wait 0 --max-seconds 7200
    wait_for 30 "libtorrent seeder ($t)" grep -q '^ready' "$W/logs/lt-seed-$t.log" || exit 1
done

# floor_big (datapath_parts.sh): the receiver (floor recv) and SHA-1 (floor sha1) over big.bin.
# shellcheck source=tests/bench/datapath_parts.sh
source "$HERE/datapath_parts.sh"

# floor_v2 run: floor_big, then the v2 hashing (floor sha256-tree) and `openssl dgst -sha256`
# (floor sha256) over the same bytes, from the page cache, user time.
floor_v2() {
    local run=$1 tf wall cpu rss
    floor_big "$run" || note "floor run $run failed"
    tf=$W/times/floor-tree-$run
    /usr/bin/time -f '%e %U %M' -o "$tf" "$W/floor" v2-hash "$W/seed/big.bin" "$PLEN" >/dev/null
    read -r wall cpu rss <"$tf"
    record floor floor sha256-tree "$run" "$wall" "$cpu" "$rss" ok
    tf=$W/times/floor-sha256-$run
    /usr/bin/time -f '%e %U %M' -o "$tf" openssl dgst -sha256 "$W/seed/big.bin" >/dev/null
    read -r wall cpu rss <"$tf"
    record floor floor sha256 "$run" "$wall" "$cpu" "$rss" ok
}

# tt_dl t run: ttui downloads torrent t from its seeder alone, under /usr/bin/time (so its CPU
# is the whole process's, start to exit); its bytes are compared with the seed's.
tt_dl() {
    local t=$1 run=$2 out=$W/out/ttui-$1 tf=$W/times/ttui-$1-$2 st=ok
    rm -rf "$out"
    mkdir -p "$out"
    timeout -k 5 "$TIMEOUT" /usr/bin/time -v -o "$tf" "$TTUI" "$W/$t.torrent" --headless -o "$out" \
        --port 0 --bind 127.0.0.11 --transport tcp --no-dht --no-pex --no-trackers \
        --peer "${SEEDER[$t]}" >"$W/logs/ttui-$t-$run.log" 2>&1 || st=failed
    [[ $st == ok ]] && ! cmp -s "$W/seed/big.bin" "$out/big.bin" && st=corrupt
    record "dl-$t" "dl-$t" ttui "$run" $(time_fields "$tf") "$st"
    spend "$out"
}

# lt_dl t run: a python3-libtorrent leecher (TCP, as ttui here) dialing t's seeder; its CPU is
# read from /proc at its "done" line, when every piece is verified.
lt_dl() {
    local t=$1 run=$2 out=$W/out/lt-$1 log=$W/logs/lt-$1-$2.log t0 pid st=ok
    rm -rf "$out"
    mkdir -p "$out"
    t0=$(now)
    spawn "$log" $PY "$LT" --torrent "$W/$t.torrent" --save "$out" --ip 127.0.0.14 --port 6884 \
        --leech --announce-wait 0 --max-seconds "$TIMEOUT" --peer "${SEEDER[$t]}"
    pid=$SPAWNED
    while ! grep -qs '^done$' "$log"; do
        if ! kill -0 "$pid" 2>/dev/null || exceeds "$(calc "$(now) - $t0")" "$TIMEOUT"; then
            st=timeout
            break
        fi
        sleep 0.02
    done
    local wall cpu rss
    wall=$(calc "$(now) - $t0")
    cpu=$(proc_cpu "$pid")
    rss=$(proc_hwm "$pid")
    stop "$pid"
    [[ $st == ok && $(out_bytes "$out") -ne $BIG ]] && st=short
    record "dl-$t" "dl-$t" libtorrent "$run" "$wall" "$cpu" "$rss" "$st"
    spend "$out"
}

entries=(floor tt-v2 lt-v2 tt-v1 lt-v1)
n=${#entries[@]}
for ((run = 1; run <= RUNS; run++)); do
    # Round r starts at entry r, forward in odd rounds and backward in even ones (as
    # datapath.sh): what ran just before moves a run's CPU on this VM.
    for ((k = 0; k < n; k++)); do
        if ((run % 2)); then i=$(((run + k) % n)); else i=$(((run - k + 2 * n) % n)); fi
        case ${entries[$i]} in
        floor) floor_v2 "$run" ;;
        tt-*) tt_dl "${entries[$i]#tt-}" "$run" ;;
        lt-*) lt_dl "${entries[$i]#lt-}" "$run" ;;
        esac
    done
done
