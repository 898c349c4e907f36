#!/usr/bin/env bash
# The TUI at scale: `ttui` (the full screen, the session in its own process) with a library of
# N paused torrents (gen_torrents.py --no-data, added over its own --rpc as rpc_scale.sh adds
# them) and TUI_ACTIVE seeding ones that a python3-libtorrent leecher downloads from it at
# TUI_LEECH_KIB KiB/s each, starting over when done: their rates move every tick, so the
# session publishes a new list every 0.5 s, as a library in use does. In tmux at TUI_SIZE, each
# key is timed from `tmux send-keys` until the pane shows its effect (tui_keys.py, as
# rpc_scale.sh's `key` column): j/k, page down/up, End/Home, typing a search a character at a
# time, erasing it, clearing it with Esc, `s` through every sort column, and j/k while sorted by
# Up (the moving column). Per phase: median and p99 (nearest rank) in ms, and the TUI process's
# CPU as % of one core; see tui_scale.py for the phases.
#
#   TUI_TTUI=target/debug/ttui bash tests/bench/tui_scale.sh            # N = 10,000
#   TUI_N=100000 TUI_TTUI=target/debug/ttui bash tests/bench/tui_scale.sh
#
# Environment:
#   TUI_N=10000          the library's paused torrents
#   TUI_ACTIVE=4         seeding torrents of TUI_ACTIVE_MIB MiB (64) the leecher keeps moving
#   TUI_LEECH_KIB=256    the leecher's download limit a torrent, KiB/s
#   TUI_SAMPLES=40       keys a phase
#   TUI_SIZE=200x60      the tmux window
#   TUI_TIMEOUT=3600     seconds any wait may take (the adds, the start)
#   TUI_LIBRARY=DIR      keep the torrents, their data and the state directory in DIR and use
#                        them again next run (the adds of 100,000 take a while); never removed
#   TUI_TTUI=PATH        run this ttui binary instead of building one (release)
#   CARGO_TARGET_DIR     where the release ttui is built
#
# Needs root (unshare -n), python3, /usr/bin/python3 with libtorrent, tmux. Everything after the
# build runs in a network namespace whose only interface is `lo`: ttui listens on 127.0.0.1
# with DHT off, the leecher on 127.0.0.2 with DHT, LSD, UPnP and NAT-PMP off, and the torrents
# name no tracker. Every process is stopped by its pid and the work directory removed on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
N=${TUI_N:-10000}
ACTIVE=${TUI_ACTIVE:-4}
ACTIVE_MIB=${TUI_ACTIVE_MIB:-64}
LEECH_KIB=${TUI_LEECH_KIB:-256}
SAMPLES=${TUI_SAMPLES:-40}
SIZE=${TUI_SIZE:-200x60}
LIMIT=${TUI_TIMEOUT:-3600}
PY=$HERE/tui_scale.py

note() { printf '[tui %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
# shellcheck source=tests/bench/outer.sh
source "$HERE/outer.sh"

if [[ -z ${TUI_INNER:-} ]]; then
    need python3 tmux
    /usr/bin/python3 -c 'import libtorrent' 2>/dev/null || die "python3-libtorrent is missing"
    ttui_binary "${TUI_TTUI:-}"
    WORK=$(mktemp -d /tmp/ttui-tui-bench.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
    trap 'exit 143' TERM INT
    LIB=${TUI_LIBRARY:-$WORK/lib}
    mkdir -p "$LIB"
    if [[ ! -e $LIB/torrents.done ]]; then
        note "generating $N torrents (no data) and $ACTIVE of $ACTIVE_MIB MiB in $LIB"
        rm -rf "$LIB/torrents" "$LIB/active"
        python3 "$HERE/gen_torrents.py" "$N" "$LIB/torrents" "$LIB/data" --no-data >/dev/null
        python3 "$HERE/gen_torrents.py" "$ACTIVE" "$LIB/active/torrents" "$LIB/active/data" \
            --prefix a --min-kib $((ACTIVE_MIB * 1024)) --max-kib $((ACTIVE_MIB * 1024)) \
            --piece-kib 256 >/dev/null
        touch "$LIB/torrents.done"
    fi
    TUI_INNER=1 WORK=$WORK LIB=$LIB TTUI=$(realpath "$BIN") in_loopback "${BASH_SOURCE[0]}"
    exit $?
fi

# ---------------------------------------------------------------- inner phase: loopback only
[[ $(ip -o link show | wc -l) -eq 1 ]] || die "not in a loopback-only namespace"
RURL=http://127.0.0.1:19190/transmission/rpc
PORT=16881
SOCK=$WORK/tmux.sock
UPID=""
LPID=""
cleanup() {
    [[ -S $SOCK ]] && { tmux -S "$SOCK" kill-server 2>/dev/null || true; }
    for p in $LPID $UPID; do kill -KILL "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 143' TERM INT

mkdir -p "$LIB/data" "$WORK/leech"
cols=${SIZE%x*}
rows=${SIZE#*x}
printf -v tui_cmd '%q ' "$TTUI" --no-config --state-dir "$LIB/state" --no-dht \
    --bind 127.0.0.1 --port "$PORT" -o "$LIB/data" --rpc 127.0.0.1:19190 --log-file "$WORK/tui.log"
t0=$(date +%s.%N)
LC_ALL=C.UTF-8 tmux -S "$SOCK" -f /dev/null new-session -d -s bench -x "$cols" -y "$rows" \
    "TERM=xterm-256color exec $tui_cmd 2>>$WORK/tui.err"
UPID=$(tmux -S "$SOCK" display-message -p -t bench '#{pane_pid}')
wait_answer() {
    for _ in $(seq 600); do
        python3 "$HERE/rpc_scale.py" wait "$RURL" 0 1 >/dev/null 2>&1 && return 0
        kill -0 "$UPID" 2>/dev/null || die "ttui exited at start: $(tail -5 "$WORK/tui.err")"
        sleep 0.1
    done
    die "ttui's RPC did not answer in 60 s"
}
wait_answer
if [[ ! -e $LIB/state.done ]]; then
    note "adding $N torrents (paused) and $ACTIVE over ttui's RPC"
    timeout "$LIMIT" python3 "$HERE/rpc_scale.py" add "$RURL" "$LIB/torrents" "$LIB/data" 32 >/dev/null
    timeout "$LIMIT" python3 "$HERE/rpc_scale.py" add "$RURL" "$LIB/active/torrents" \
        "$LIB/active/data" 4 >/dev/null
    touch "$LIB/state.done"
fi
s=$(timeout "$((LIMIT + 10))" python3 "$HERE/rpc_scale.py" wait "$RURL" "$((N + ACTIVE))" "$LIMIT")
load=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
note "ttui lists all $((N + ACTIVE)) ${load} s after its start (${s} s after its RPC answered)"
started=$(timeout "$((LIMIT + 10))" python3 "$PY" start "$RURL" a "$LIMIT")
note "$started torrents seeding; the leecher downloads them at $LEECH_KIB KiB/s each"
/usr/bin/python3 "$PY" leech "$PORT" "$LIB/active/torrents" "$WORK/leech" "$LEECH_KIB" \
    >"$WORK/leech.out" 2>&1 &
LPID=$!
up=$(timeout 130 python3 "$PY" uploading "$RURL" 120)
note "uploading after $up s; settling 10 s"
sleep 10
rss=$(awk '$1 == "VmRSS:" { printf "%.1f", $2 / 1024 }' "/proc/$UPID/status")
note "keys: $SAMPLES a phase"
timeout 3000 python3 "$PY" keys "$SOCK" bench "$UPID" "$N" "$SAMPLES" >"$WORK/keys.txt"
kill -0 "$LPID" 2>/dev/null || note "warning: the leecher had stopped: $(tail -3 "$WORK/leech.out")"
stop_pid "$LPID" 10
LPID=""
tmux -S "$SOCK" send-keys -t bench q
for _ in $(seq 600); do kill -0 "$UPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$UPID" 2>/dev/null && note "warning: ttui still running 60 s after q"
UPID=""

# ---------------------------------------------------------------- the table
echo
echo "TUI at scale: $N paused torrents and $ACTIVE seeding to a leecher, ttui in tmux $SIZE"
echo "  $(basename "$TTUI") $TTUI; start until all listed ${load} s; RSS ${rss} MiB"
echo "  key to screen ms (median, p99 nearest rank), CPU % of one core over the phase"
printf '  %-14s %9s %9s %7s %8s %7s\n' phase median p99 cpu_% samples misses
while read -r name med p99 cpu n miss; do
    printf '  %-14s %9s %9s %7s %8s %7s\n' "$name" "$med" "$p99" "$cpu" "$n" "$miss"
done <"$WORK/keys.txt"
