# Helpers for tests/bench/datapath.sh (sourced, not run): processes started in their own
# process group and stopped by pid, bounded waits, CPU seconds read from /proc, and the
# command line of every client as bench.sh runs it (DHT, LSD, PEX, UPnP, NAT-PMP off; each on
# its own 127.0.0.x).
# shellcheck shell=bash

calc() { awk "BEGIN { print $* }"; }
# Comparisons never go through calc: inside awk's `print`, `a > b` redirects into a file named b.
exceeds() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }
note() { printf '[datapath %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
    note "error: $*"
    exit 1
}
now() { date +%s.%N; }

PIDS=() # process-group leaders we started (each via setsid), stopped on exit

stop_group() { # pid: TERM its process group, wait up to 5 s, then KILL
    local p=$1 i
    kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || return 0
    for i in $(seq 50); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}

forget() { # pid: drop it from PIDS once it is reaped
    local keep=() p
    for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

stop() { # pid...: stop and forget
    local p
    for p in "$@"; do
        stop_group "$p"
        forget "$p"
    done
}

stop_all() {
    local p
    for p in "${PIDS[@]}"; do stop_group "$p"; done
    PIDS=()
}

spawn() { # logfile cmd...: start cmd in its own process group (setsid execs it, so $SPAWNED
    # is the client's own pid and /proc/$SPAWNED/stat is its CPU)
    local log=$1
    shift
    setsid "$@" >"$log" 2>&1 </dev/null &
    SPAWNED=$!
    PIDS+=("$SPAWNED")
}

wait_for() { # seconds description command...: poll every 0.2 s until command succeeds
    local secs=$1 what=$2 i
    shift 2
    for ((i = 0; i < secs * 5; i++)); do
        if "$@" 2>/dev/null; then return 0; fi
        sleep 0.2
    done
    note "timed out after ${secs}s waiting for $what"
    return 1
}

# User + system CPU seconds of a live process and its reaped children (all threads).
proc_cpu() {
    awk -v t="$(getconf CLK_TCK)" '{ print ($14 + $15 + $16 + $17) / t }' "/proc/$1/stat" 2>/dev/null || echo nan
}

# Peak RSS in KiB of a live process (VmHWM).
proc_hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# /usr/bin/time -v output: "wall cpu rss_kib"
time_fields() {
    awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, a, ":"); s = 0;
        for (i = 1; i <= n; i++) s = s * 60 + a[i]; w = s}
        /User time/ {u = $2} /System time/ {y = $2} /Maximum resident/ {m = $2}
        END {printf "%s %s %s\n", w + 0, u + y, m + 0}' "$1"
}

# spend DIR: a finished download's files emptied and set aside in $W/spent (it goes with $W),
# not deleted. This machine's ext4 has no journal, and without one creating a file scans past
# every inode freed in its block group in the last 1 to 6 minutes (fs/ext4/ialloc.c,
# recently_deleted): deleting a client's 1,000 files made the next client's 1,000 creations
# cost 0.3-0.5 s more CPU, growing with every run, a tax one run's cleanup laid on the next.
# Then a pause (DATAPATH_SETTLE seconds, 3 by default): the GiB of page cache a truncate frees
# is reported to the hypervisor 2 s later (virtio-balloon free page reporting, order 9 here),
# and a client writing while that runs paid for it: ttui's 1 GiB took 1.12-1.16 CPU-s right
# after a 1,000-file download and 1.40-1.79 right after another client's 1 GiB, in one run.
spend() {
    [[ -d $1 ]] || return 0
    find "$1" -type f -exec truncate -s 0 {} +
    mkdir -p "$W/spent"
    mv "$1" "$(mktemp -d "$W/spent/XXXXXX")/"
    sleep "${DATAPATH_SETTLE:-3}"
}

out_bytes() { find "$1" -type f -printf '%s\n' 2>/dev/null | awk '{s += $1} END {print s + 0}'; }

# record part key client run wall cpu rss_kib status [extra]
record() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "${9:-}" >>"$RESULTS"
    note "$(printf '%-6s %-10s %-14s run %s: wall %6.2f s  cpu %6.2f s  rss %6d KiB  %s %s' \
        "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "${9:-}")"
}

aria2_args() { # ip port: a loopback-only aria2c
    echo --enable-dht=false --enable-dht6=false --bt-enable-lpd=false --enable-peer-exchange=false \
        --disable-ipv6=true --interface="$1" --bt-external-ip="$1" --listen-port="$2" \
        --file-allocation=none --console-log-level=warn --bt-max-open-files=1100
}

rqbit_args() { # ip port api_port
    echo --disable-dht --disable-lsd --disable-upnp-port-forward --ipv4-only \
        --listen-ip "$1" --listen-port "$2" --http-api-listen-addr "$1:$3"
}

# rqbit has no exit-on-completion in every version; this asks its HTTP API instead.
rqbit_finished() { # ip:api_port
    $PY - "$1" <<'EOF' 2>/dev/null
import json, sys, urllib.request
with urllib.request.urlopen("http://%s/torrents/0/stats/v1" % sys.argv[1], timeout=1) as r:
    s = json.load(r)
sys.exit(0 if s.get("finished") else 1)
EOF
}

# A transmission-daemon seeding from $W/seed: tr_start NAME IP PORT (RPC on IP:9091).
tr_start() {
    local name=$1 ip=$2 port=$3 cfg=$W/tr-$1
    mkdir -p "$cfg"
    [[ -f $cfg/settings.json ]] || cat >"$cfg/settings.json" <<EOF
{
  "dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
  "port-forwarding-enabled": false, "bind-address-ipv4": "$ip", "bind-address-ipv6": "::1",
  "peer-port": $port, "peer-port-random-on-start": false,
  "rpc-enabled": true, "rpc-bind-address": "$ip", "rpc-port": 9091,
  "rpc-authentication-required": false, "rpc-whitelist-enabled": false, "rpc-host-whitelist-enabled": false,
  "download-dir": "$W/seed", "incomplete-dir-enabled": false, "speed-limit-up-enabled": false,
  "ratio-limit-enabled": false, "idle-seeding-limit-enabled": false, "message-level": 1
}
EOF
    spawn "$W/logs/tr-$name.log" transmission-daemon -f -g "$cfg"
    TR_PID[$name]=$SPAWNED
    wait_for 30 "transmission rpc ($name)" transmission-remote "$ip:9091" -l >/dev/null 2>&1
}

tr_add() { # ip torrent
    transmission-remote "$1:9091" -a "$2" -w "$W/seed" >/dev/null
}

tr_verified() { # name ip: wait until its torrent is checked and complete
    tr_done() { transmission-remote "$1:9091" -l 2>/dev/null | grep -q ' 100% '; }
    wait_for 300 "transmission ($1) to verify" tr_done "$2"
}

tr_stop() { # name
    local p=${TR_PID[$1]:-}
    [[ -n $p ]] || return 0
    # Its RPC lock, /tmp/tr_session_id_<id>, outlives a killed daemon: the one it holds open goes.
    local locks
    locks=$(find "/proc/$p/fd" -lname '/tmp/tr_session_id_*' -printf '%l\n' 2>/dev/null || true)
    stop "$p"
    [[ -z $locks ]] || rm -f $locks
    TR_PID[$1]=""
}
declare -A TR_PID=()

keystream() { # file KiB: an AES-CTR keystream keyed by the file's name, so every run makes the
    # same bytes (the disk benchmarks' payloads)
    local key
    key=$(printf '%s' "$(basename "$1")" | sha256sum | cut -c1-32)
    openssl enc -aes-128-ctr -K "$key" -iv 00000000000000000000000000000000 -in /dev/zero 2>/dev/null |
        head -c $(($2 << 10)) >"$1" || true
    [[ $(stat -c %s "$1") -eq $(($2 << 10)) ]] || die "could not write $1 (disk full?)"
}
