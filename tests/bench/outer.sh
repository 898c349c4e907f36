# What rpc_scale.sh and qbt_api.sh share: the outer phase (checks, the ttui binary, the
# loopback-only namespace the rest of the script runs in) and the inner phase's helpers
# (stopping a pid, CPU as % of a core, ratios). Sourced after the caller defines `note` (its
# own prefix) and sets REPO and TARGET.

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

# The inner phase's helpers.
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
