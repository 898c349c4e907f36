#!/usr/bin/env bash
# The disk, part "seed" of tests/bench/disk.sh: how many bytes a seeder reads from the device for
# each byte it sends, when its memory (page cache included) is far smaller than what it seeds.
#
# Each seeder in turn (ttui `ttui seed --headless`, transmission-daemon 3.00, python3-libtorrent
# 2.0.8 in seed mode) runs alone in a cgroup v1 memory group limited to DISK_SEED_LIMIT_MIB
# (128) MiB, page cache included (`memory.limit_in_bytes`). Once it seeds, the page cache is
# dropped (`echo 3 > /proc/sys/vm/drop_caches`, which also empties the group's cache), its
# `read_bytes` (/proc/PID/io: bytes its threads had read from the device) is taken, and 3
# python3-libtorrent leechers (one process, each session on its own 127.0.0.x, writing to
# /dev/shm so their writes do not touch the seeder's disk) take the whole payload at once. When
# they have all of it, `read_bytes` again: read over sent = (read after - read before) / (3 x
# payload). 1.0 reads every byte once per leecher; 0.33 once in all.
#
# "roomy": the same with no memory limit (the group without a limit), the page cache still
# dropped first: what the cache gives when it has room.
#
# Payload: DISK_SEED_MIB (1024) MiB in three files (1/2, 1/4, 1/4), AES-CTR keystream keyed by
# each file's name, its v1 torrent from `ttui create --v1` (the piece size it picks).
#
#   bash tests/bench/disk.sh seed
#   DISK_SEED_MIB=256 DISK_RUNS=1 bash tests/bench/disk.sh seed      # a quicker run
#
# Environment: DISK_SEED_MIB, DISK_SEED_LIMIT_MIB, DISK_RUNS (3 here), DISK_SEED_TOOLS ("ttui
# transmission libtorrent"), DISK_SEED_MODES ("tight roomy"), DISK_TIMEOUT (600 s a transfer),
# DISK_TTUI, BENCH_TMP (/work/bench-tmp), DISK_KEEP=1 keeps the work directory.
#
# Needs root (cgroups, unshare -n, drop_caches) and cgroup v1's memory controller. Nothing here
# uses a network: after the build everything runs in a network namespace with only `lo`.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
PY=/usr/bin/python3
MIB=${DISK_SEED_MIB:-1024}
LIMIT=${DISK_SEED_LIMIT_MIB:-128}
RUNS=${DISK_RUNS:-3}
TIMEOUT=${DISK_TIMEOUT:-600}
read -r -a TOOLS <<<"${DISK_SEED_TOOLS:-ttui transmission libtorrent}"
read -r -a MODES <<<"${DISK_SEED_MODES:-tight roomy}"
CGROOT=/sys/fs/cgroup/memory
export DISK_SEED_MIB=$MIB DISK_SEED_LIMIT_MIB=$LIMIT DISK_RUNS=$RUNS DISK_TIMEOUT=$TIMEOUT
export DISK_SEED_TOOLS="${TOOLS[*]}" DISK_SEED_MODES="${MODES[*]}"
# shellcheck source=tests/bench/datapath_lib.sh
source "$HERE/datapath_lib.sh"
[[ $MIB =~ ^[1-9][0-9]*$ && $LIMIT =~ ^[1-9][0-9]*$ ]] ||
    die "DISK_SEED_MIB and DISK_SEED_LIMIT_MIB must be positive whole numbers"

# ---------------------------------------------------------------- outer phase: build, report
if [[ -z ${DISK_SEED_INNER:-} ]]; then
    [[ $(id -u) -eq 0 ]] || die "run as root (cgroups, unshare -n and drop_caches need it)"
    [[ -w $CGROOT/cgroup.procs ]] || die "no cgroup v1 memory controller at $CGROOT"
    for tool in transmission-daemon transmission-remote unshare; do
        command -v $tool >/dev/null || die "$tool is missing (tests/run.sh installs the clients)"
    done
    $PY -c 'import libtorrent' 2>/dev/null || die "python3-libtorrent is missing"
    TMPROOT=${BENCH_TMP:-/work/bench-tmp}
    mkdir -p "$TMPROOT"
    free=$(df -Pm "$TMPROOT" | awk 'NR == 2 { print $4 }')
    ((free > MIB + 512)) || die "$TMPROOT has $free MiB free: the payload needs $((MIB + 512))"
    shm=$(df -Pm /dev/shm | awk 'NR == 2 { print $4 }')
    ((shm > 3 * MIB + 256)) || die "/dev/shm has $shm MiB free: 3 leechers need $((3 * MIB + 256))"
    TTUI=${DISK_TTUI:-$TARGET/release/ttui}
    if [[ -z ${DISK_TTUI:-} ]]; then
        note "building ttui (release) in $TARGET"
        (cd "$REPO" && CARGO_TARGET_DIR=$TARGET cargo build --release --quiet --bin ttui)
    fi
    [[ -x $TTUI ]] || die "no ttui binary at $TTUI"
    W=$(mktemp -d "$TMPROOT/seed.XXXXXX")
    LEECH=$(mktemp -d /dev/shm/ttui-seed-bench.XXXXXX)
    # shellcheck disable=SC2317 # run by the EXIT trap
    cleanup() {
        rm -rf "$LEECH"
        if [[ -n ${DISK_KEEP:-} ]]; then
            note "work directory kept: $W"
        else
            rm -rf "$W"
            rmdir "$TMPROOT" 2>/dev/null || true
        fi
    }
    trap cleanup EXIT
    mkdir -p "$W"/{logs,data,state}
    export DISK_SEED_INNER=1 W LEECH TTUI TTUI_NO_PUBLIC_ROUTERS=1
    rc=0
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >"$W/load.txt"
    timeout -k 10 $((600 + RUNS * ${#TOOLS[@]} * ${#MODES[@]} * (TIMEOUT + 120))) \
        unshare -n -- bash "${BASH_SOURCE[0]}" || rc=$?
    echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)" >>"$W/load.txt"
    if [[ -s $W/results.tsv ]]; then
        echo
        echo "== disk seed: $MIB MiB in 3 files, v1, piece size $(cat "$W/plen.txt"), to 3 leechers" \
            "at once ($(date -u +%F), medians of $RUNS)"
        echo "   command: DISK_SEED_MIB=$MIB DISK_RUNS=$RUNS bash tests/bench/disk.sh seed"
        echo "   tight: the seeder in a cgroup v1 memory group of $LIMIT MiB, page cache included;" \
            "roomy: no limit; page cache dropped before each"
        echo "   $(nproc) CPUs; $(df -P "$W" | awk 'NR == 2 { print $1 }') ($(findmnt -no FSTYPE -T "$W"))"
        $PY "$HERE/disk_tools.py" seed-report "$W/results.tsv" || rc=$?
        echo "(read/sent: bytes the seeder read from the device (/proc/PID/io read_bytes) over bytes"
        echo " its 3 leechers got; MB/s: what they got over wall time; peak: the group's"
        echo " memory.max_usage_in_bytes, page cache included; RSS: the seeder's peak; MB = 10^6 bytes)"
        tr '\n' ';' <"$W/load.txt" | sed 's/;$/ (1, 5, 15 min)\n/; s/;/; /'
    else
        rc=1
    fi
    exit "$rc"
fi

# ---------------------------------------------------------------- inner phase: no network
ip link set lo up
RESULTS=$W/results.tsv
: >"$RESULTS"
CG=""
inner_exit() {
    stop_all
    if [[ -n $CG && -d $CG ]]; then rmdir "$CG" 2>/dev/null || true; fi
    rm -rf "${LEECH:?}"/* 2>/dev/null || true
}
trap inner_exit EXIT
trap 'exit 130' INT TERM

D=$W/data/set
mkdir -p "$D"
note "writing $MIB MiB in $D"
k=$((MIB << 10))
keystream "$D/a.bin" $((k / 2))
keystream "$D/b.bin" $((k / 4))
keystream "$D/c.bin" $((k / 4))
BYTES=$(find "$D" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f\n", s }')
sync
TORRENT=$W/seed.torrent
"$TTUI" create --v1 --no-date --json -o "$TORRENT" "$D" >"$W/create.json" || die "ttui create failed"
PLEN=$($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["piece_length"])' "$W/create.json")
echo "$((PLEN >> 10)) KiB" >"$W/plen.txt"

read_bytes() { awk '/^read_bytes:/ { print $2 }' "/proc/$1/io" 2>/dev/null || echo 0; }
in_group() { # cgroup cmd...: the command, started in the group (it is the pid spawn gives)
    # shellcheck disable=SC2016 # expanded by the inner bash
    spawn "$LOG" bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$@"
}
got() { # leech log: the payload the leechers have, in bytes
    awk '/^total / { t = $2 } END { print t + 0 }' "$1"
}
done_leeching() { exceeds "$(got "$1")" "$((3 * BYTES - 1))"; }

one() { # mode tool run
    local mode=$1 tool=$2 run=$3 tag=$1-$2-$3 pid st=ok r0 r1 t0 t1 lpid addr
    CG=$CGROOT/ttui-seed-bench-$$-$tag
    mkdir "$CG"
    if [[ $mode == tight ]]; then echo $((LIMIT << 20)) >"$CG/memory.limit_in_bytes"; fi
    LOG=$W/logs/$tag.log
    addr=127.0.0.21:7001
    case $tool in
    ttui)
        in_group "$CG" "$TTUI" seed "$TORRENT" -o "$W/data" --headless --no-config \
            --state-dir "$W/state/$tag" --log-file "$W/logs/$tag.engine.log" --bind 127.0.0.21 \
            --port 7001 --no-trackers --no-dht --no-pex --no-lsd --no-port-mapping
        pid=$SPAWNED
        ready() { grep -q 'seeding' "$LOG"; }
        ;;
    libtorrent)
        in_group "$CG" "$PY" "$REPO/assets/seeders/lt_seed.py" --torrent "$TORRENT" --save "$W/data" \
            --ip 127.0.0.21 --port 7001 --seed-mode --announce-wait 0 --max-seconds $((TIMEOUT + 600))
        pid=$SPAWNED
        ready() { grep -q '^ready' "$LOG"; }
        ;;
    transmission)
        local cfg=$W/tr-$tag
        mkdir -p "$cfg"
        cat >"$cfg/settings.json" <<EOF
{
  "dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
  "port-forwarding-enabled": false, "bind-address-ipv4": "127.0.0.21", "bind-address-ipv6": "::1",
  "peer-port": 7001, "peer-port-random-on-start": false,
  "rpc-enabled": true, "rpc-bind-address": "127.0.0.21", "rpc-port": 9091,
  "rpc-authentication-required": false, "rpc-whitelist-enabled": false, "rpc-host-whitelist-enabled": false,
  "download-dir": "$W/data", "incomplete-dir-enabled": false, "speed-limit-up-enabled": false,
  "ratio-limit-enabled": false, "idle-seeding-limit-enabled": false, "message-level": 1,
  "peer-limit-per-torrent": 50
}
EOF
        in_group "$CG" transmission-daemon -f -g "$cfg"
        pid=$SPAWNED
        wait_for 30 "transmission's RPC" transmission-remote 127.0.0.21:9091 -l >/dev/null || st=no-rpc
        [[ $st != ok ]] || transmission-remote 127.0.0.21:9091 -a "$TORRENT" -w "$W/data" >/dev/null || st=no-add
        ready() { transmission-remote 127.0.0.21:9091 -l 2>/dev/null | grep -q ' 100% '; }
        ;;
    esac
    [[ $st != ok ]] || wait_for 600 "$tool to seed" ready || st=not-seeding
    if [[ $st == ok ]]; then
        sync
        echo 3 >/proc/sys/vm/drop_caches
        sleep 1
        echo 0 >"$CG/memory.max_usage_in_bytes" 2>/dev/null || true
        r0=$(read_bytes "$pid")
        t0=$(now)
        spawn "$W/logs/$tag.leech.log" "$PY" "$HERE/lt_swarm.py" --torrent "$TORRENT" --save "$LEECH/$tag" \
            --port 7100 -n 3 --leech --peer "$addr" --ip-base 127.0.0.70 --max-seconds "$TIMEOUT"
        lpid=$SPAWNED
        wait_for "$TIMEOUT" "3 leechers to get the payload from $tool" done_leeching "$W/logs/$tag.leech.log" ||
            st="got $(got "$W/logs/$tag.leech.log") of $((3 * BYTES))"
        t1=$(now)
        r1=$(read_bytes "$pid")
        stop "$lpid"
    fi
    local peak hwm
    peak=$(cat "$CG/memory.max_usage_in_bytes" 2>/dev/null || echo 0)
    hwm=$(proc_hwm "$pid")
    stop "$pid"
    rm -rf "${LEECH:?}/$tag"
    rmdir "$CG" 2>/dev/null || true
    CG=""
    if [[ $st == ok ]]; then
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$tool" "$run" "$((r1 - r0))" \
            "$((3 * BYTES))" "$(calc "$t1 - $t0")" "$peak" "$hwm" ok >>"$RESULTS"
        note "$(printf '%-5s %-12s run %s: read %6.0f MB for %6.0f MB sent: %.2f; %5.1f s; peak %4.0f MiB' \
            "$mode" "$tool" "$run" "$(calc "($r1 - $r0) / 1e6")" "$(calc "3 * $BYTES / 1e6")" \
            "$(calc "($r1 - $r0) / (3 * $BYTES)")" "$(calc "$t1 - $t0")" "$(calc "$peak / 1048576")")"
    else
        printf '%s\t%s\t%s\t0\t0\t0\t0\t0\t%s\n' "$mode" "$tool" "$run" "$st" >>"$RESULTS"
        note "$mode $tool run $run: $st"
    fi
}

n=${#TOOLS[@]}
for ((run = 1; run <= RUNS; run++)); do
    for mode in "${MODES[@]}"; do
        for ((j = 0; j < n; j++)); do
            if ((run % 2)); then i=$(((run + j) % n)); else i=$(((run - j + 2 * n) % n)); fi
            one "$mode" "${TOOLS[$i]}" "$run"
        done
    done
done
