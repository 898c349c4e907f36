#!/usr/bin/env bash
# Stop and restart of a large library: N small seeding torrents (as session_scale.sh makes
# them) are added once to `ttui daemon`, then the daemon is stopped (SIGTERM) and started
# again RUNS times, each time until `ttui list --json` lists every torrent seeding. Per run:
#   first    seconds from the start until the first list answers
#   restart  seconds until every torrent is listed seeding (each poll is a list of N and a
#            grep count, as in session_scale.sh: at 100,000 a poll takes about 1 s)
#   load     seconds from "session running" to the first torrent restored, or (past 1,000
#            torrents, which the log names together) to all of them (the log's own stamps:
#            the store read and parsed)
#   stop     seconds from SIGTERM to exit
# With SR_COLD=1 the page cache is dropped before each start (`echo 3 > drop_caches`, as
# after a reboot). With SR_ATTACH=1, after the last run, `ttui attach` (in a tmux server of
# its own) watches the session: the session's CPU (% of a core) over SR_REST seconds (20)
# without it and then with it, attach's own CPU and its RSS.
#
#   SR_N=100000 SR_RUNS=3 bash tests/bench/session_restart.sh
#   SR_N=100000 SR_RUNS=3 SR_COLD=1 SR_KEEP=/var/tmp/lib100k bash tests/bench/session_restart.sh
#
# Environment: SR_N (1000), SR_RUNS (3), SR_COLD, SR_TTUI (a ttui binary; else the release
# build is made), SR_KEEP=DIR keeps the library there and reuses it when it is there (the add
# of 100,000 takes about 8 minutes); without it the work directory is removed at exit.
# Needs root (unshare -n): everything runs in a network namespace whose only interface is
# `lo`, with opentracker on 127.0.0.1; every process is stopped by its pid.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
N=${SR_N:-1000}
RUNS=${SR_RUNS:-3}
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
note() { printf '[restart %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
# shellcheck source=tests/bench/outer.sh
source "$HERE/outer.sh"

if [[ -z ${SR_INNER:-} ]]; then
    need opentracker jq python3
    ttui_binary "${SR_TTUI:-}"
    library_outer "$N" "${SR_KEEP:-}" restart
    export SR_INNER=1 WORK TBIN=$BIN
    in_loopback "${BASH_SOURCE[0]}"
    exit $?
fi

library_inner

wait_all_seeding() {
    local c=0
    for _ in $(seq 3600); do
        c=$(ttui_seeding 2>/dev/null || echo 0)
        [[ $c -ge $N ]] && return 0
        kill -0 "$PID" 2>/dev/null || die "ttui exited (see $TDIR/ttui.log)"
        sleep 0.5
    done
    die "only $c of $N seeding"
}
# Seconds between the log's last "session running" and the first torrent restored after it
# (in the log set aside at 32 MiB as ttui.log.1 too: a restart of 100,000 logs more).
load_secs() {
    awk '/session running on/ { t0 = $1; t1 = "" } /from (the|their) saved resume data/ && t0 != "" && t1 == "" { t1 = $1 }
        END { gsub(/[-:TZ]/, " ", t0); gsub(/[-:TZ]/, " ", t1); split(t0, a, " "); split(t1, b, " ");
              printf "%.2f", (b[4] * 3600 + b[5] * 60 + b[6]) - (a[4] * 3600 + a[5] * 60 + a[6]) }' \
        $(ls "$TDIR/ttui.log.1" 2>/dev/null) "$TDIR/ttui.log"
}

library_up wait_all_seeding
printf '%-4s %8s %9s %7s %7s %9s\n' run first_s restart_s load_s stop_s rss_MiB
for run in $(seq "$RUNS"); do
    t1=$(now)
    kill -TERM "$PID"
    wait "$PID" || true
    stop=$(since "$t1")
    [[ -n ${SR_COLD:-} ]] && sync && echo 3 >/proc/sys/vm/drop_caches
    t1=$(now)
    ttui_start
    wait_ready ttui
    first=$(since "$t1")
    wait_all_seeding
    restart=$(since "$t1")
    printf '%-4s %8s %9s %7s %7s %9s\n' "$run" "$first" "$restart" "$(load_secs)" "$stop" \
        "$(mib "$(status_kib "$PID" VmRSS)")"
done
if [[ -n ${SR_ATTACH:-} ]]; then
    command -v tmux >/dev/null || die "tmux is missing"
    REST=${SR_REST:-20}
    cpu_over() { # pid...: % of a core each over REST seconds
        local a=() b=() i=0 p
        for p in "$@"; do a+=("$(ticks "$p")"); done
        sleep "$REST"
        for p in "$@"; do b+=("$(ticks "$p")"); done
        for p in "$@"; do
            awk -v x="${a[$i]}" -v y="${b[$i]}" -v t="$REST" -v hz="$(getconf CLK_TCK)" \
                'BEGIN { printf "%.1f ", (y - x) * 100 / hz / t }'
            i=$((i + 1))
        done
        echo
    }
    alone=$(cpu_over "$PID")
    TMUX_SOCK=$WORK/attach.tmux
    trap 'tmux -S "$TMUX_SOCK" kill-server 2>/dev/null || true; for p in $PID $TPID; do kill -KILL "$p" 2>/dev/null || true; done' EXIT
    tmux -S "$TMUX_SOCK" new-session -d -x 160 -y 48 \
        "exec '$TBIN' attach --no-config --state-dir '$TDIR/state' 2>'$WORK/attach.err'"
    APID=$(tmux -S "$TMUX_SOCK" list-panes -F '#{pane_pid}')
    for _ in $(seq 600); do
        tmux -S "$TMUX_SOCK" capture-pane -p | grep -q "^ *$N torrents" && break
        kill -0 "$APID" 2>/dev/null || die "attach exited (see $WORK/attach.err)"
        sleep 0.1
    done
    tmux -S "$TMUX_SOCK" capture-pane -p | grep -q "^ *$N torrents" || die "attach never showed $N torrents"
    read -r with att < <(cpu_over "$PID" "$APID")
    printf '%-26s %12s %12s %12s %14s\n' attached session_alone% session_with% attach% attach_rss_MiB
    printf '%-26s %12s %12s %12s %14s\n' "$N torrents" "$alone" "$with" "$att" \
        "$(mib "$(status_kib "$APID" VmRSS)")"
    tmux -S "$TMUX_SOCK" kill-server 2>/dev/null || true
fi
kill -TERM "$PID"
wait "$PID" || true
PID=""
tracker_stop
