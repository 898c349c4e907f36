# What the scale benchmarks share: the outer phase (checks, the ttui binary, the
# loopback-only namespace the rest of the script runs in) and the inner phase's helpers
# (a generated library's paths, stopping a pid, CPU as % of a core, ratios). Sourced after the
# caller defines `note` (its own prefix) and sets REPO, TARGET and HERE.

die() {
    note "error: $*"
    exit 1
}

# Dies unless run as root (unshare needs it) with every command named on the PATH.
need() {
    [[ $(id -u) -eq 0 ]] || die "run as root (unshare -n needs it)"
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null || die "$c is missing"
    done
}

# Sets BIN: $1 when given (a ttui binary to run), else a release build in TARGET.
ttui_binary() {
    BIN=${1:-$TARGET/release/ttui}
    if [[ -z ${1:-} ]]; then
        note "building ttui (release) in $TARGET"
        (cd "$REPO" && CARGO_TARGET_DIR=$TARGET cargo build --release --quiet --offline --bin ttui)
    fi
}

# Runs script $1 again in new network, pid and mount namespaces whose only interface is `lo`
# (up); the caller's exported variables (and any given before the call) come along. The
# namespace ends with its last process.
in_loopback() {
    TTUI_NO_PUBLIC_ROUTERS=1 \
        unshare --net --pid --fork --mount --mount-proc bash -c 'ip link set lo up; exec bash "$0"' "$1"
}

# Sets WORK to a library of $1 small seeding torrents for opentracker on 127.0.0.1:16969
# (gen_torrents.py), in the directory $2 when given (kept, and reused when it holds one), else
# in a new one named after $3 that is removed at exit.
library_outer() {
    if [[ -n ${2:-} ]]; then
        WORK=$2
        mkdir -p "$WORK"
    else
        WORK=$(mktemp -d "/tmp/ttui-$3-bench.XXXXXX")
        trap 'rm -rf "$WORK"' EXIT
    fi
    trap 'exit 143' TERM INT
    if [[ ! -f $WORK/hashes.txt ]]; then
        note "generating $1 torrents in $WORK"
        python3 "$HERE/gen_torrents.py" "$1" "$WORK/torrents" "$WORK/data" \
            --announce "http://127.0.0.1:16969/announce" --hashes "$WORK/hashes.txt" >/dev/null
    fi
}

# The inner phase's helpers.
# The inner phase of a script over a library generated in WORK (gen_torrents.py): checks the
# namespace, sets the paths clients.sh uses (DATA, TORRENTS, TRACKER, BATCH, TDIR), stops the
# one client and the one opentracker (PID, TPID) by pid at exit, and sources clients.sh.
library_inner() {
    [[ $(ip -o link show | wc -l) -eq 1 ]] || die "not in a loopback-only namespace"
    DATA=$WORK/data
    TORRENTS=$WORK/torrents
    TRACKER=127.0.0.1:16969
    BATCH=500
    TDIR=$WORK/ttui
    TTUI_ARGS=""
    PID=""
    TPID=""
    trap 'for p in $PID $TPID; do kill -KILL "$p" 2>/dev/null || true; done' EXIT
    trap 'exit 143' TERM INT
    # shellcheck source=tests/bench/clients.sh
    source "$HERE/clients.sh"
}
# Starts opentracker and `ttui daemon` on the library, and adds it the first time (a file in
# TDIR marks it added, for a kept library); then waits with the function named $1.
library_up() {
    mkdir -p "$TDIR"
    tracker_start ttui
    ttui_start
    wait_ready ttui
    if [[ ! -f $TDIR/added ]]; then
        note "adding $N torrents"
        local t0
        t0=$(now)
        ttui_add
        "$1"
        note "all $N in after $(since "$t0") s, RSS $(mib "$(status_kib "$PID" VmRSS)") MiB"
        touch "$TDIR/added"
    fi
    "$1"
}
# Stops pid $1 with SIGTERM, SIGKILL after $2 seconds.
stop_pid() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq $(($2 * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
# CPU ticks $1 over $2 seconds as % of one core (HZ: the clock's ticks a second).
pct_core() { awk -v d="$1" -v hz="$HZ" -v s="$2" 'BEGIN { printf "%.2f", d / hz / s * 100 }'; }
# $1 / $2 to two places ("inf" when $2 is 0).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }'; }
