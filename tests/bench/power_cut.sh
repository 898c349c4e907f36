#!/usr/bin/env bash
# Power-cut benchmark: each client (ttui, transmission-daemon 3.00, qbittorrent-nox 4.5) keeps
# its state and its downloads on a file system that forgets every unsynced write at a cut
# (tests/session/crash_session/cutfs.py, FUSE), downloads PC_N torrents from one throttled python3-libtorrent
# seeder found through an opentracker, and loses power PC_CUTS times: SIGKILL, the volatile
# layer dropped (a random prefix of the unsynced writes kept, as a disk may), the file system
# mounted again, the client started again with no manual step. The seeder is paused (SIGSTOP)
# from just before each cut until the restarted client has finished checking, so what the
# client shows then is what it kept, not what it fetched since. Per client:
#   back     torrents listed after each restart, of those added (summed over the cuts)
#   had      MiB the client counted verified just before each cut (summed)
#   kept     MiB it counted verified after its restart and check (summed)
#   lost     had - kept: downloaded again after the cuts
#   check_s  seconds from the restart until it listed every torrent and checked none (summed;
#            a client that lost a torrent waits out PC_TIMEOUT here)
#   intact   torrents byte-identical to the payload at the end (after the last restart the
#            download runs to its end); fewer than PC_N means a torrent lost or a piece
#            trusted that was not on disk; "no-start-after-cut-K" when the client would not
#            start again after cut K (its figures are then those of the cuts before)
#
#   bash tests/bench/power_cut.sh
#
# Environment:
#   PC_N=4  PC_MIB=3            torrents, MiB each (64 KiB pieces)
#   PC_SECS=60                  the seeder's limit makes the whole download take this long
#   PC_CUTS=3                   cuts per client
#   PC_MIN=12 PC_MAX=20         a cut comes this many seconds (uniform) into each run
#   PC_SEED=N                   the cuts' moments and kept prefixes (default: random, printed)
#   PC_CLIENTS="ttui transmission qbittorrent"
#   PC_TTUI=PATH                this ttui binary instead of a release build
#   PC_TIMEOUT=300              seconds any wait may take
#
# Needs root (unshare, FUSE). Everything after the build runs in a network namespace whose
# only interface is `lo`; every client listens on 127.0.0.1 with DHT, LSD, PEX, UPnP and
# NAT-PMP off. Every process is stopped by its pid, every mount unmounted, and the work
# directory removed on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
N=${PC_N:-4}
CUTS=${PC_CUTS:-3}
LIMIT=${PC_TIMEOUT:-300}
CLIENTS=${PC_CLIENTS:-ttui transmission qbittorrent}
TRACKER=127.0.0.1:16970
BATCH=500
PY=/usr/bin/python3

note() { printf '[power-cut %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
    note "error: $*"
    exit 1
}

if [[ -z ${PC_INNER:-} ]]; then
    [[ $(id -u) -eq 0 ]] || die "run as root (unshare and FUSE need it)"
    missing=()
    for c in jq curl opentracker mktorrent transmission-daemon transmission-remote qbittorrent-nox; do
        command -v "$c" >/dev/null || missing+=("$c")
    done
    $PY -c 'import fusepy, libtorrent' 2>/dev/null || missing+=(python3-fusepy python3-libtorrent)
    if ((${#missing[@]})); then
        note "installing what is missing: ${missing[*]}"
        apt-get update -qq
        pkgs=("${missing[@]/transmission-remote/transmission-cli}")
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${pkgs[@]}" fuse3 >/dev/null
    fi
    BIN=${PC_TTUI:-$TARGET/release/ttui}
    if [[ -z ${PC_TTUI:-} ]]; then
        note "building ttui (release) in $TARGET"
        (cd "$REPO" && CARGO_TARGET_DIR=$TARGET cargo build --release --quiet --offline --bin ttui)
    fi
    SEED=${PC_SEED:-$RANDOM$RANDOM}
    note "seed $SEED (replay with PC_SEED=$SEED)"
    BW=$(mktemp -d /tmp/ttui-power-cut-bench.XXXXXX)
    trap 'rm -rf "$BW"' EXIT
    trap 'exit 143' TERM INT
    PC_INNER=1 BW=$BW TTUI=$BIN SEED=$SEED CLIENTS=$CLIENTS TTUI_NO_PUBLIC_ROUTERS=1 \
        unshare --net --pid --fork --mount --mount-proc bash -c 'ip link set lo up; exec bash "$0"' \
        "${BASH_SOURCE[0]}"
    exit $?
fi

# ---------------------------------------------------------------- inner phase: loopback only
[[ $(ip -o link show | wc -l) -eq 1 ]] || die "not in a loopback-only namespace"
TORRENTS=$BW/torrents
PAYLOAD=$BW/payload
PID="" TPID="" SPID="" FPID="" MNT=""
cleanup() {
    for p in $PID $SPID; do kill -KILL "$p" 2>/dev/null || true; done
    [[ -n $MNT ]] && umount -l "$MNT" 2>/dev/null || true
    for p in $FPID $TPID; do kill -KILL "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# shellcheck source=tests/bench/clients.sh
source "$HERE/clients.sh"
RANDOM=$((SEED % 32768))

note "making $N torrents of ${PC_MIB:-3} MiB"
mkdir -p "$TORRENTS" "$PAYLOAD"
: >"$BW/hashes.txt"
for i in $(seq "$N"); do
    $PY -c 'import random, sys; r = random.Random(int(sys.argv[1])); sys.stdout.buffer.write(r.randbytes(int(sys.argv[2]) << 20))' \
        "$i" "${PC_MIB:-3}" >"$PAYLOAD/p$i.bin"
    mktorrent -l 16 -a "http://$TRACKER/announce" -o "$TORRENTS/p$i.torrent" "$PAYLOAD/p$i.bin" >/dev/null
    $PY -c 'import hashlib, sys, libtorrent as lt
info = lt.torrent_info(sys.argv[1]); print(str(info.info_hash()))' "$TORRENTS/p$i.torrent" >>"$BW/hashes.txt"
done
TOTAL=$((N * ${PC_MIB:-3} << 20))
mkdir -p "$BW/tracker"
WORK=$BW tracker_start tracker

seeder_start() {
    local args=()
    for t in "$TORRENTS"/*.torrent; do args+=(--torrent "$t"); done
    $PY "$REPO/assets/seeders/lt_multi_seed.py" --save "$PAYLOAD" --ip 127.0.0.2 --port 17001 \
        --upload-limit $((TOTAL / ${PC_SECS:-60})) --seed-mode --max-seconds 36000 "${args[@]}" \
        >"$BW/seeder.out" 2>&1 &
    SPID=$!
}

# ---------------------------------------------------------------- the forgetful disk
fs_mount() {
    mkdir -p "$CB" "$MNT" "$CTL"
    $PY "$REPO/tests/session/crash_session/cutfs.py" "$CB" "$MNT" "$CTL" >>"$BW/$C/cutfs.out" 2>&1 &
    FPID=$!
    for _ in $(seq 100); do
        grep -q " $MNT fuse" /proc/self/mounts && return 0
        sleep 0.1
    done
    die "cutfs did not mount $MNT"
}
fs_cut() {
    rm -f "$CTL/cut.done"
    echo "$((RANDOM * 32768 + RANDOM + 1))" >"$CTL/cut.tmp"
    mv "$CTL/cut.tmp" "$CTL/cut"
    for _ in $(seq 300); do
        [[ -f $CTL/cut.done ]] && break
        sleep 0.05
    done
    [[ -f $CTL/cut.done ]] || die "cutfs did not cut"
    note "$C: cut: $(cat "$CTL/cut.done")"
    umount "$MNT"
    wait "$FPID" 2>/dev/null || true
    fs_mount
}

# ---------------------------------------------------------------- what each client shows
TRPC=127.0.0.1:19091
QURL=http://127.0.0.1:19092/api/v2
trpc() {
    local sid
    sid=$(curl -s --max-time 5 "http://$TRPC/transmission/rpc" -D - -o /dev/null |
        awk -F': ' 'tolower($1) == "x-transmission-session-id" { print $2 }' | tr -d '\r')
    curl -sf --max-time 10 -H "X-Transmission-Session-Id: $sid" -d "$1" "http://$TRPC/transmission/rpc"
}
# "LISTED CHECKING VERIFIED_BYTES COMPLETE" for the client running now.
ttui_state() {
    ttui_list | jq -r '[length, ([.[] | select(.state == "checking")] | length),
        ([.[].verified_bytes] | add // 0), ([.[] | select(.state == "seeding")] | length)] | @tsv'
}
transmission_state() {
    trpc '{"method":"torrent-get","arguments":{"fields":["status","haveValid","percentDone"]}}' |
        jq -r '.arguments.torrents | [length, ([.[] | select(.status == 1 or .status == 2)] | length),
            ([.[].haveValid] | add // 0), ([.[] | select(.percentDone == 1)] | length)] | @tsv'
}
qbittorrent_state() {
    curl -sf --max-time 10 "$QURL/torrents/info" |
        jq -r '[length, ([.[] | select(.state | startswith("checking"))] | length),
            ([.[].completed] | add // 0), ([.[] | select(.progress == 1)] | length)] | @tsv'
}
state() { "${C}_state" 2>/dev/null || echo "0 0 0 0"; }

# Waits until the client lists every torrent and checks none; prints the seconds from $1.
wait_checked() {
    local start=$1 listed checking
    for _ in $(seq $((LIMIT * 4))); do
        read -r listed checking _ _ <<<"$(state)"
        if [[ ${listed:-0} -ge $N && ${checking:-1} -eq 0 ]]; then
            sleep 1 # a check may start a moment after the listing
            read -r listed checking _ _ <<<"$(state)"
            [[ $checking -eq 0 ]] && break
        fi
        kill -0 "$PID" 2>/dev/null || die "$C exited (see $BW/$C)"
        sleep 0.25
    done
    since "$start"
}

# Like wait_ready, but a client that exits or never answers is an answer, not an error.
started() {
    for _ in $(seq 300); do
        "${C}_list" >/dev/null 2>&1 && return 0
        kill -0 "$PID" 2>/dev/null || return 1
        sleep 0.2
    done
    return 1
}

# ---------------------------------------------------------------- one client, every cut
declare -A R
run_client() {
    C=$1
    mkdir -p "$BW/$C"
    CB=$BW/$C/backing MNT=$BW/$C/mnt CTL=$BW/$C/control
    fs_mount
    # The client's home and downloads on the forgetful disk.
    WORK=$MNT DATA=$MNT/data TBIN=$TTUI TDIR=$MNT/ttui QB_SKIP_CHECKING=false TTUI_ARGS="--no-lsd"
    mkdir -p "$DATA" "$WORK/$C"
    "${C}_start"
    wait_ready "$C"
    "${C}_add"
    # The seeder starts after the adds, so its first announce finds the client: Transmission
    # never dials a loopback peer, it waits to be dialed.
    sleep 2
    seeder_start
    local back=0 had=0 kept=0 check=0 cut listed verified moment t0
    for cut in $(seq "$CUTS"); do
        moment=$(((${PC_MIN:-12} * 10 + RANDOM % ((${PC_MAX:-20} - ${PC_MIN:-12}) * 10 + 1))))
        sleep "$((moment / 10)).$((moment % 10))"
        read -r _ _ verified _ <<<"$(state)"
        kill -STOP "$SPID"
        kill -KILL "$PID"
        wait "$PID" 2>/dev/null || true
        fs_cut
        t0=$(now)
        "${C}_start"
        if ! started; then
            # What a user would meet after the power came back: a client that will not start.
            note "$C: does not start after cut $cut: $(tail -n 2 "$WORK/$C/out" 2>/dev/null | tr '\n' ' ')"
            R[$C]="$back/$((N * CUTS)) $(mib_of "$had") $(mib_of "$kept") - - no-start-after-cut-$cut"
            kill -KILL "$PID" "$SPID" 2>/dev/null || true
            wait "$PID" "$SPID" 2>/dev/null || true
            umount "$MNT"
            wait "$FPID" 2>/dev/null || true
            PID="" SPID="" FPID="" MNT=""
            return 0
        fi
        check=$(awk -v a="$check" -v b="$(wait_checked "$t0")" 'BEGIN { print a + b }')
        read -r listed _ v2 _ <<<"$(state)"
        note "$C: cut $cut after ${moment}ds: had $verified, back $listed of $N, kept $v2"
        back=$((back + listed)) had=$((had + verified)) kept=$((kept + v2))
        kill -CONT "$SPID"
    done
    local complete=0
    for _ in $(seq $((LIMIT * 2))); do
        read -r _ _ _ complete <<<"$(state)"
        [[ $complete -ge $N ]] && break
        sleep 0.5
    done
    local intact=0 i
    for i in $(seq "$N"); do
        cmp -s "$PAYLOAD/p$i.bin" "$DATA/p$i.bin" && intact=$((intact + 1))
    done
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    kill -KILL "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
    umount "$MNT"
    wait "$FPID" 2>/dev/null || true
    PID="" SPID="" FPID="" MNT=""
    R[$C]="$back/$((N * CUTS)) $(mib_of "$had") $(mib_of "$kept") $(mib_of $((had - kept))) $check $intact/$N"
    note "$C: ${R[$C]}"
}
mib_of() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

for c in $CLIENTS; do run_client "$c"; done

echo
echo "| client | back | had MiB | kept MiB | lost MiB | check s | intact |"
echo "|---|---|---|---|---|---|---|"
for c in $CLIENTS; do
    read -r back had kept lost check intact <<<"${R[$c]}"
    echo "| $c | $back | $had | $kept | $lost | $check | $intact |"
done
echo
echo "($N torrents of ${PC_MIB:-3} MiB, $CUTS cuts each, seed $SEED)"
