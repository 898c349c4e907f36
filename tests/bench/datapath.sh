#!/usr/bin/env bash
# Issue 22's six data-path ratios in one run, each against a reference measured in the same run:
#   floor  1. CPU per GiB against the floor (a C receiver writing a loopback TCP stream to the
#             page cache, tests/bench/floor.c, plus `openssl dgst -sha1` user time over the
#             same bytes); 1 GiB in one file and 256 MiB in 1,000 files, downloaded by ttui,
#             aria2c, rqbit and python3-libtorrent from one python3-libtorrent seeder; the
#             1,000 files also against the same receiver writing them in the torrent's layout
#             (floor.c recv-many); both floors are measured in each round among the clients,
#             whose order is reversed every other round (what ran just before moves a run)
#   mem    2. peak RSS against aria2c's (from the floor part's downloads), and ttui on a 4 GiB
#             torrent of zeros (sparse seed file) with 16 MiB pieces against 1 GiB by default
#   rc4    3. tests/bench/rc4.sh (ours against OpenSSL), and 1 GiB with RC4 forced both ways:
#             ttui's CPU against python3-libtorrent's
#   utp    4. ttui over uTP against ttui over TCP, same seeder (libtorrent, both transports)
#   seed   5. 1 GiB served to one python3-libtorrent leecher by ttui, libtorrent,
#             transmission-daemon and rqbit: the seeder's CPU during the transfer
#   swarm  6. 1 GiB from 20 seeders (14 libtorrent, 3 transmission, 3 aria2c, each on its own
#             127.0.0.x): ttui, libtorrent and rqbit leeching; ttui's wasted bytes
#
#   bash tests/bench/datapath.sh
#
# Environment:
#   DATAPATH_ONLY="floor seed"  parts to run (default: all six; "mem" needs "floor")
#   DATAPATH_RUNS=3             runs per measurement (medians are reported)
#   DATAPATH_MIB=1024           the big payload (the floor and the 4 GiB torrent scale with it)
#   DATAPATH_TIMEOUT=300        seconds one transfer may take before it is killed, marked failed
#   DATAPATH_KEEP=1             keep the work directory
#   DATAPATH_TTUI_TRANSPORT=tcp ttui's --transport in the downloads of target 1 (tcp, as the others)
#   BENCH_SKIP_RQBIT=1          do not build or run rqbit
#   CARGO_TARGET_DIR            where ttui (and rqbit, under bench-tools/) are built
#
# Needs root (apt-get, unshare -n). Everything after the builds runs in `unshare -n` (only `lo`
# exists) and every client listens on its own 127.0.0.x with DHT, LSD, PEX, UPnP, NAT-PMP off.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
TOOLS=$TARGET/bench-tools
PY=/usr/bin/python3
LT=$REPO/assets/seeders/lt_seed.py
RUNS=${DATAPATH_RUNS:-3}
TIMEOUT=${DATAPATH_TIMEOUT:-300}
MIB=${DATAPATH_MIB:-1024}
read -r -a PARTS <<<"${DATAPATH_ONLY:-floor mem rc4 utp seed swarm}"
# shellcheck source=tests/bench/datapath_lib.sh
source "$HERE/datapath_lib.sh"
want() { [[ " ${PARTS[*]} " == *" $1 "* ]]; }

# ---------------------------------------------------------------- outer phase: build, rc4
if [[ -z ${DATAPATH_INNER:-} ]]; then
    [[ $(id -u) -eq 0 ]] || die "run as root (apt-get and unshare -n need it)"
    missing=()
    command -v opentracker >/dev/null || missing+=(opentracker)
    command -v aria2c >/dev/null || missing+=(aria2)
    command -v mktorrent >/dev/null || missing+=(mktorrent)
    command -v gcc >/dev/null || missing+=(gcc)
    command -v openssl >/dev/null || missing+=(openssl)
    command -v transmission-daemon >/dev/null || missing+=(transmission-daemon)
    command -v transmission-remote >/dev/null || missing+=(transmission-cli)
    [[ -x /usr/bin/time ]] || missing+=(time)
    $PY -c 'import libtorrent' 2>/dev/null || missing+=(python3-libtorrent)
    if ((${#missing[@]})); then
        note "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    fi
    note "building ttui (release) in $TARGET"
    (cd "$REPO" && CARGO_TARGET_DIR=$TARGET cargo build --release --quiet --bin ttui)
    W=${DATAPATH_WORKDIR:-$(mktemp -d /tmp/ttui-datapath.XXXXXX)}
    mkdir -p "$W"/{logs,seed,out,times}
    trap '[[ -n ${DATAPATH_KEEP:-} ]] && note "work directory kept: $W" || rm -rf "$W"' EXIT
    gcc -O2 -Wall -o "$W/floor" "$HERE/floor.c"
    # shellcheck source=rqbit_tool.sh
    source "$HERE/rqbit_tool.sh"
    find_rqbit "$TOOLS"
    if want rc4; then
        # Pure CPU, no network: it runs here, where cargo may build its bench binary.
        note "rc4.sh: ttui's RC4 against OpenSSL's"
        RC4_BENCH_ROUNDS=$RUNS bash "$HERE/rc4.sh" | tee "$W/rc4.txt" || note "rc4.sh failed"
    fi
    export DATAPATH_INNER=1 W TTUI=${BENCH_TTUI:-$TARGET/release/ttui} RQBIT
    rc=0
    # The machine is shared: the load around the run goes into the report.
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >"$W/load.txt"
    unshare -n -- bash "${BASH_SOURCE[0]}" || rc=$?
    echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)" >>"$W/load.txt"
    echo
    echo "== issue 22: the data path against its references ($(date -u +%F), runs: $RUNS, medians)"
    $PY "$HERE/datapath_report.py" "$W" "$MIB" || rc=$?
    exit "$rc"
fi

# ---------------------------------------------------------------- inner phase: loopback only
ip link set lo up
if ip -o link show | grep -qv ': lo:'; then die "namespace has interfaces besides lo"; fi
[[ -x $TTUI ]] || die "no ttui binary at $TTUI"
export TTUI_NO_PUBLIC_ROUTERS=1
RESULTS=$W/results.tsv
: >"$RESULTS"
trap 'stop_all' EXIT
trap 'exit 130' INT TERM

# ---- payloads: random bytes (nothing compresses or dedups them), one big file, 1,000 small
note "writing the payloads in $W/seed"
NFILES=1000
[[ $MIB -lt 1024 ]] && NFILES=100
head -c $((MIB << 20)) /dev/urandom >"$W/seed/big.bin"
TRACKER=http://127.0.0.1:6969/announce
rm -f "$W/big.torrent" "$W/many.torrent" "$W/huge.torrent"
mktorrent -l 20 -a "$TRACKER" -o "$W/big.torrent" "$W/seed/big.bin" >/dev/null
BIG=$((MIB << 20))

# lt_leech NAME IP PORT PEER...: a python3-libtorrent leecher dialing the peers; waits for its
# "done" line (or the timeout), then sets LEECH_WALL and LEECH_CPU and stops it.
lt_leech() {
    local name=$1 ip=$2 port=$3 t0 pid log=$W/logs/$1.log out=$W/out/$1 peers=()
    shift 3
    local p
    for p in "$@"; do peers+=(--peer "$p"); done
    rm -rf "$out"
    mkdir -p "$out"
    t0=$(now)
    spawn "$log" $PY "$LT" --torrent "$LEECH_TORRENT" --save "$out" --ip "$ip" --port "$port" \
        --leech --announce-wait 0 --max-seconds "$TIMEOUT" "${LEECH_ARGS[@]}" "${peers[@]}"
    pid=$SPAWNED
    LEECH_OK=ok
    while ! grep -qs '^done$' "$log"; do
        if ! kill -0 "$pid" 2>/dev/null || exceeds "$(calc "$(now) - $t0")" "$TIMEOUT"; then
            LEECH_OK=timeout
            break
        fi
        sleep 0.02
    done
    LEECH_WALL=$(calc "$(now) - $t0")
    LEECH_CPU=$(proc_cpu "$pid")
    LEECH_RSS=$(proc_hwm "$pid")
    stop "$pid"
    [[ $LEECH_OK == ok && $(out_bytes "$out") -eq ${LEECH_SIZE:-$BIG} ]] || LEECH_OK=${LEECH_OK/ok/short}
    spend "$out"
}
LEECH_ARGS=()
LEECH_TORRENT=$W/big.torrent

# ttui_get NAME TORRENT ARGS...: ttui --headless under /usr/bin/time; sets GOT (wall cpu rss),
# GOT_OK and GOT_WASTED (the final line's wasted bytes).
ttui_get() {
    local name=$1 torrent=$2 out=$W/out/$1 tf=$W/times/$1
    shift 2
    rm -rf "$out"
    mkdir -p "$out"
    GOT_OK=ok
    timeout -k 5 "$TIMEOUT" /usr/bin/time -v -o "$tf" "$TTUI" "$torrent" --headless -o "$out" \
        --port 0 --no-dht --no-pex "$@" >"$W/logs/$name.log" 2>&1 || GOT_OK=failed
    GOT=$(time_fields "$tf")
    GOT_WASTED=$(sed -n 's/.*wasted \([0-9]*\) bytes.*/\1/p' "$W/logs/$name.log" | tail -1)
    # ttui is the client under test: its bytes are compared, not only counted.
    local src=$W/seed/big.bin
    [[ $torrent == *many* ]] && src=$W/seed/many
    [[ $torrent == *huge* ]] && src=$W/seed/huge.bin
    if [[ $GOT_OK == ok ]] && ! diff -rq "$src" "$out/$(basename "$src")" >/dev/null 2>&1; then
        GOT_OK=corrupt
    fi
    spend "$out"
}

# shellcheck source=tests/bench/datapath_parts.sh
source "$HERE/datapath_parts.sh"
for part in floor mem rc4 utp seed swarm; do
    if want "$part"; then
        note "part: $part"
        "part_$part" || note "part $part failed (see $W/logs)"
        stop_all
    fi
done
