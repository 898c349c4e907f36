#!/usr/bin/env bash
# Verbs against a large library: N small seeding torrents (as session_scale.sh makes them)
# are added to `ttui daemon`, then each verb below is timed RUNS times, from its start to its
# answer (the verb's process exits when the session has answered):
#   pause_all    `ttui pause all` (every torrent named in one request)
#   resume_all   `ttui resume all`
#   remove_one   `ttui remove ID` of one torrent (it waits, bounded, until the list shows it
#                gone), then the same torrent added back (not timed)
#   show_one     `ttui show ID --json` of one torrent
#   list         `ttui list --json` of all N, the reference measured in the same run: it
#                costs what the library is, where the verbs above should not
# Each cell is the median of the runs, in seconds.
#
#   VS_N=100000 VS_RUNS=5 VS_KEEP=/var/tmp/lib100k bash tests/bench/verbs_scale.sh
#
# Environment: VS_N (1000), VS_RUNS (5), VS_TTUI (a ttui binary; else the release build is
# made in CARGO_TARGET_DIR), VS_KEEP=DIR keeps the library there and reuses it when it is there (the add of
# 100,000 takes about 8 minutes); without it the work directory is removed at exit. Needs
# root (unshare -n): everything runs in a network namespace whose only interface is `lo`,
# with opentracker on 127.0.0.1; every process is stopped by its pid.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
N=${VS_N:-1000}
RUNS=${VS_RUNS:-5}
note() { printf '[verbs %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
# shellcheck source=tests/bench/outer.sh
source "$HERE/outer.sh"

if [[ -z ${VS_INNER:-} ]]; then
    need opentracker python3
    ttui_binary "${VS_TTUI:-}"
    library_outer "$N" "${VS_KEEP:-}" verbs
    export VS_INNER=1 WORK TBIN=$BIN
    in_loopback "${BASH_SOURCE[0]}"
    exit $?
fi

library_inner

verb() { "$TBIN" "$@" --no-config --state-dir "$TDIR/state"; }
# Seconds the verb takes to answer; its output goes to $WORK/verb.out.
timed() {
    local t0
    t0=$(now)
    verb "$@" >"$WORK/verb.out" 2>&1 || die "ttui $* failed: $(head -c 300 "$WORK/verb.out")"
    since "$t0"
}

# A list that fails is tried again; its error is kept in list.err (counted at the end).
: >"$WORK/list.err"
listed_count() {
    local n
    n=$(ttui_list 2>>"$WORK/list.err" | grep -c '^    "id": ') || true
    echo "${n:-0}"
}
wait_all_listed() {
    for _ in $(seq 3600); do
        [[ $(listed_count) -ge $N ]] && return 0
        kill -0 "$PID" 2>/dev/null || die "ttui exited (see $TDIR/ttui.log)"
        sleep 0.5
    done
    die "not all $N listed"
}
library_up wait_all_listed
# The torrent removed and added back: the last in the library, its .torrent kept aside.
HASH=$(tail -n 1 "$WORK/hashes.txt")
TORRENT=$WORK/again.torrent
cp "$TDIR/state/torrents/$HASH.torrent" "$TORRENT" 2>/dev/null || [[ -f $TORRENT ]] ||
    die "no .torrent of $HASH in the state directory"
declare -A cells
for verb_name in pause_all resume_all remove_one show_one list; do cells[$verb_name]=""; done
for run in $(seq "$RUNS"); do
    cells[pause_all]+=" $(timed pause all)"
    cells[resume_all]+=" $(timed resume all)"
    id=$(verb list --json | awk -v h="$HASH" '/"id": / { gsub(/[^0-9]/, ""); id = $0 } $0 ~ h { print id }')
    [[ -n $id ]] || die "the torrent $HASH is not listed"
    cells[show_one]+=" $(timed show "$id" --json)"
    cells[remove_one]+=" $(timed remove "$id")"
    verb add "$TORRENT" -o "$DATA" >/dev/null
    cells[list]+=" $(timed list --json)"
    note "run $run of $RUNS"
done
printf '%-10s %12s %12s %12s %12s %12s\n' torrents pause_all_s resume_all_s remove_one_s show_one_s list_s
printf '%-10s %12s %12s %12s %12s %12s\n' "$N" \
    "$(echo "${cells[pause_all]}" | median)" "$(echo "${cells[resume_all]}" | median)" \
    "$(echo "${cells[remove_one]}" | median)" "$(echo "${cells[show_one]}" | median)" \
    "$(echo "${cells[list]}" | median)"
note "session RSS $(mib "$(status_kib "$PID" VmRSS)") MiB; lists that failed while waiting: $(grep -c . "$WORK/list.err") ($(sort -u "$WORK/list.err" | head -3 | tr '\n' ' '))"
kill -TERM "$PID"
wait "$PID" || true
PID=""
tracker_stop
