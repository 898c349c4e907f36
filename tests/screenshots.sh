#!/usr/bin/env bash
# Regenerates every PNG in screenshots/ from the real binary: `ttui demo` runs in a private
# tmux server, is driven with send-keys, and each screen is captured with its colours
# (capture-pane -e), turned into HTML by aha and photographed by headless Chromium.
#
#   tests/screenshots.sh                 # builds target/release/ttui first
#   TTUI_BIN=path/to/ttui tests/screenshots.sh
#   SHOTS="port-mapped interface-down" tests/screenshots.sh    # only these (names as below)
#
# Everything runs on 127.0.0.x (the demo's swarm, a loopback session), in a network namespace
# of its own that has only `lo` (the script enters one with unshare). Output:
# screenshots/{main,availability,help,paused,probe,tab-overview,tab-files,tab-trackers,tab-log,
# list,add-dialog,limits-dialog,stream,stats,proxy-down,port-mapped,interface-down,browsers}.png. Takes about 2 minutes
# after the build; SHOTS names the ones to make (a shot of the demo's swarm still runs the demo).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT="$ROOT/screenshots"
COLS=160
ROWS=48
# DejaVu Sans Mono: advance width 1233/2048 em; its box-drawing glyphs span exactly
# ascent+descent (1901+483)/2048 em, so that line-height makes vertical lines join.
FONT_PX=14
CELL_W=$(awk -v p=$FONT_PX 'BEGIN { print p * 1233 / 2048 }')
LINE_H=$(awk -v p=$FONT_PX 'BEGIN { print p * (1901 + 483) / 2048 }')
PAD=10

log() { printf '[shots %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- tools -------------------------------------------------------------------------------
missing=()
command -v tmux >/dev/null || missing+=(tmux)
command -v aha >/dev/null || missing+=(aha)
command -v chromium >/dev/null || missing+=(chromium)
fc-list 2>/dev/null | grep -qi 'DejaVu Sans Mono' || missing+=(fonts-dejavu-core)
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [[ -n "${TTUI_BIN:-}" ]]; then
    BIN=$(realpath "$TTUI_BIN")
else
    log "cargo build --release --bin ttui"
    (cd "$ROOT" && cargo build --release --bin ttui)
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/ttui"
fi
[[ -x "$BIN" ]] || die "no executable at $BIN"

# --- a network namespace with only loopback ----------------------------------------------------
# Nothing here may reach a real network: not the demo's swarm, not port mapping (the test IGD is
# on 127.0.0.8, and SSDP or NAT-PMP must never go to a real router). Run again inside a new
# network (and pid) namespace, unless already in one that has only `lo`; everything started in it
# dies with it.
only_lo() { [[ $(awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' /proc/net/dev) == lo ]]; }
if ! only_lo; then
    [[ -z "${TTUI_SHOTS_NS:-}" ]] || die "still not in a loopback-only namespace"
    ns=(unshare --net --pid --fork --kill-child --mount-proc)
    ((EUID == 0)) || ns=(unshare --map-root-user --net --pid --fork --kill-child --mount-proc)
    "${ns[@]}" -- true 2>/dev/null ||
        die "cannot create a network namespace with: ${ns[*]} (needs root or user namespaces)"
    log "entering a loopback-only network namespace"
    exec env TTUI_SHOTS_NS=1 TTUI_BIN="$BIN" "${ns[@]}" -- bash "${BASH_SOURCE[0]}" "$@"
fi
# A new namespace has `lo` down.
ip link set lo up 2>/dev/null || true

# SHOTS: the screenshots to make (space or comma separated); all when unset.
ALL_SHOTS=(main availability tab-overview tab-files tab-trackers tab-log help paused probe list
    add-dialog limits-dialog stream stats proxy-down port-mapped interface-down browsers)
IFS=' ,' read -r -a SHOTS_WANTED <<<"${SHOTS:-}"
# want NAME...: whether any of them is to be made.
want() {
    local n w
    ((${#SHOTS_WANTED[@]})) || return 0
    for n in "$@"; do
        for w in "${SHOTS_WANTED[@]}"; do [[ $n == "$w" ]] && return 0; done
    done
    return 1
}
for w in "${SHOTS_WANTED[@]}"; do
    [[ " ${ALL_SHOTS[*]} " == *" $w "* ]] || die "no screenshot named $w; there are: ${ALL_SHOTS[*]}"
done

# --- private tmux server, cleaned up on every exit ------------------------------------------
WORK=$(mktemp -d /tmp/ttui-shots.XXXXXX)
# The server's socket in $WORK (not /tmp/tmux-UID), removed after kill-server.
SOCK="$WORK/tmux.sock"
tm() { tmux -S "$SOCK" -f /dev/null "$@"; }
CHROME_PID=
SESSION_PID=
SEED_PID=
IGD_PID=
BROWSER_PIDS=
cleanup() {
    local rc=$?
    if [[ -n "$CHROME_PID" ]]; then kill "$CHROME_PID" 2>/dev/null || true; fi
    for pid in $SEED_PID $IGD_PID $BROWSER_PIDS; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n "$SESSION_PID" ]]; then
        # q saves the session's state and exits; the pid is killed if it did not.
        tm send-keys -t shots:session q 2>/dev/null || true
        for _ in $(seq 1 40); do
            kill -0 "$SESSION_PID" 2>/dev/null || break
            sleep 0.25
        done
        kill "$SESSION_PID" 2>/dev/null || true
    fi
    if tm has-session -t shots 2>/dev/null; then
        # q lets the demo stop its seeders and remove its directory; the server goes after.
        tm send-keys -t shots:0 q 2>/dev/null || true
        for _ in $(seq 1 40); do
            tm list-panes -t shots:0 -F '#{pane_dead}' 2>/dev/null | grep -q 1 && break
            sleep 0.25
        done
    fi
    tm kill-server 2>/dev/null || true
    rm -f "$SOCK"
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# `ttui` on PATH, so the probe screenshot shows a plain command line.
mkdir -p "$WORK/bin"
ln -s "$BIN" "$WORK/bin/ttui"

# --- capture helpers -------------------------------------------------------------------------
plain() { tm capture-pane -p -t "$1"; }

# Waits (bounded) until `$2` — a bash condition over $screen — holds for pane $1.
wait_for() {
    local pane=$1 cond=$2 limit=$3 what=$4 i
    for ((i = 0; i < limit * 4; i++)); do
        screen=$(plain "$pane")
        if eval "$cond"; then return 0; fi
        if tm list-panes -t "$pane" -F '#{pane_dead}' | grep -q 1; then
            plain "$pane" >&2
            die "the program in $pane exited while waiting for $what"
        fi
        sleep 0.25
    done
    plain "$pane" >&2
    die "timed out after ${limit}s waiting for $what"
}

# shot PANE NAME TITLE: pane contents (colours kept) → HTML → screenshots/NAME.png, with the
# window sized to the text (trailing blank lines and columns dropped).
shot() {
    local pane=$1 name=$2 title=$3
    want "$name" || return 0
    local ansi="$WORK/$name.ansi" html="$WORK/$name.html"
    tm capture-pane -e -p -t "$pane" >"$ansi"
    # Size from the uncoloured text: last non-blank row, widest row (display width).
    local text rows cols
    text=$(plain "$pane")
    rows=$(printf '%s\n' "$text" | awk 'NF { last = NR } END { print last + 0 }')
    cols=$(printf '%s\n' "$text" | sed 's/[[:space:]]*$//' | LC_ALL=C.UTF-8 wc -L)
    ((rows > 0)) || die "$name: empty screen"
    head -n "$rows" "$ansi" >"$ansi.trim"
    {
        cat <<EOF
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>$title</title>
<style>
  html, body { margin: 0; background: #101010; }
  pre { margin: 0; padding: ${PAD}px; color: #d0d0d0; background: #101010;
        font-family: 'DejaVu Sans Mono', monospace; font-size: ${FONT_PX}px;
        line-height: ${LINE_H}px; font-variant-ligatures: none; white-space: pre; }
</style></head><body><pre>
EOF
        # aha's named colours are the harsh CSS ones; map them to a softer xterm-like palette.
        aha --no-header <"$ansi.trim" | sed \
            -e 's/color:black;/color:#101010;/g' \
            -e 's/color:red;/color:#e05561;/g' \
            -e 's/color:green;/color:#73c936;/g' \
            -e 's/color:olive;/color:#d7b84a;/g' \
            -e 's/color:blue;/color:#4f8fe6;/g' \
            -e 's/color:purple;/color:#c678dd;/g' \
            -e 's/color:teal;/color:#3fb8c4;/g' \
            -e 's/color:gray;/color:#c0c0c0;/g' \
            -e 's/color:dimgray;/color:#7a7a7a;/g' \
            -e 's/filter: contrast(70%) brightness(190%);//g' \
            -e 's/color:white;/color:#e8e8e8;/g'
        echo '</pre></body></html>'
    } >"$html"
    local w h
    w=$(awk -v c="$cols" -v cw="$CELL_W" -v p=$PAD 'BEGIN { printf "%d", c * cw + 2 * p + 2 }')
    h=$(awk -v r="$rows" -v lh="$LINE_H" -v p=$PAD 'BEGIN { printf "%d", r * lh + 2 * p + 1 }')
    local profile="$WORK/chrome-$name"
    mkdir -p "$profile"
    # Background + wait so the trap can kill it if it hangs; timeout bounds it anyway.
    timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
        --force-device-scale-factor=1 --user-data-dir="$profile" \
        --screenshot="$OUT/$name.png" --window-size="$w,$h" "file://$html" \
        >"$WORK/chrome-$name.log" 2>&1 &
    CHROME_PID=$!
    wait "$CHROME_PID" || { cat "$WORK/chrome-$name.log" >&2; die "chromium failed for $name"; }
    CHROME_PID=
    [[ -s "$OUT/$name.png" ]] || die "no $OUT/$name.png"
    MADE+=("$name.png")
    log "$name.png (${cols}x${rows} cells, ${w}x${h} px)"
}

# The first percentage on the screen is the overall progress (header gauge).
progress() { grep -oE '[0-9]+(\.[0-9])?%' <<<"$screen" | head -n1 | cut -d. -f1 | tr -d '%'; }

mkdir -p "$OUT"
START=$(date +%s)
MADE=()

# --- 1–4: the TUI --------------------------------------------------------------------------
# The shots of the demo's swarm (the demo runs for any of them).
DEMO_SHOTS=(main availability tab-overview tab-files tab-trackers tab-log help paused probe list
    add-dialog limits-dialog stream stats proxy-down)
if want "${DEMO_SHOTS[@]}"; then
    log "starting ttui demo in tmux -S $SOCK"
    tm new-session -d -x "$COLS" -y "$ROWS" -s shots -n demo \
        "cd '$WORK' && exec env -u COLORTERM TERM=xterm-256color '$BIN' demo --size-mib 64 --seconds 90 2>'$WORK/demo.err'"
    tm set-option -t shots remain-on-exit on
    D=shots:0
    # The detail view opens on its Overview; the peer table is the Peers tab (2).
    wait_for "$D" 'grep -q "1 Overview" <<<"$screen"' 60 "the detail view's tabs"
    tm send-keys -t "$D" 2
fi

if want main availability tab-overview tab-files tab-trackers tab-log help paused; then
    # Mid-download, with the hostile peers already failed and the good ones connected.
    wait_for "$D" '
        p=$(progress); p=${p:-0}
        failed=$(grep -c "failed:" <<<"$screen" || true)
        conn=$(grep -c " connected " <<<"$screen" || true)
        ((p >= 35 && failed >= 3 && conn >= 4))' 240 "35% progress and failed peers"
    p=$(progress)
    ((p <= 60)) || log "warning: progress already ${p}% when captured"
    shot "$D" main "ttui demo"

    tm send-keys -t "$D" 3 v
    wait_for "$D" 'grep -q "avail (v)" <<<"$screen"' 10 "the availability view"
    sleep 0.5
    shot "$D" availability "ttui demo: piece availability"
    tm send-keys -t "$D" v

    # The other tabs: the explainer, the file tree, the trackers and the log.
    for tab in "1 overview Why" "4 files Priority" "5 trackers Other.sources" "6 log Events"; do
        read -r key name word <<<"$tab"
        tm send-keys -t "$D" "$key"
        wait_for "$D" "grep -q '${word//./ }' <<<\"\$screen\"" 10 "the $name tab"
        sleep 0.5
        shot "$D" "tab-$name" "ttui demo: the $name tab"
    done
    tm send-keys -t "$D" 2

    tm send-keys -t "$D" '?'
    wait_for "$D" 'grep -q "ttui help" <<<"$screen"' 10 "the help overlay"
    sleep 0.5
    shot "$D" help "ttui demo: help"
    tm send-keys -t "$D" '?'
    wait_for "$D" '! grep -q "ttui help" <<<"$screen"' 10 "the help overlay to close"

    tm send-keys -t "$D" p
    paused_at=$(date +%s)
    # Paused: the header says so and the download rate has decayed to zero.
    wait_for "$D" 'grep -q "paused" <<<"$screen" && sed -n 3p <<<"$screen" | grep -q "↓ 0 B/s"' 30 "the rate to reach 0 after pause"
    log "the header rate read 0 B/s $(($(date +%s) - paused_at))s after p"
    shot "$D" paused "ttui demo: paused"
fi

# The tracker knows the demo's fake seeders; the peers the demo hands the downloader directly
# (the other clients, the broken ones, the closed port, the ttui seeder) are given with --peer.
# Their addresses come from the demo's stderr.
if want probe list add-dialog limits-dialog stream stats proxy-down; then
    demo_dir=$(sed -n 's/^demo dir: //p' "$WORK/demo.err" | head -n1)
    [[ -n "$demo_dir" && -f "$demo_dir/ttui-demo.torrent" ]] || die "no demo torrent (see $WORK/demo.err)"
    extra=()
    while read -r addr; do extra+=(--peer "$addr"); done < <(
        grep -E '(wrong info hash|garbage|silent) peer on|(libtorrent|aria2|Transmission|closed port|ttui seeder) on' "$WORK/demo.err" |
            grep -oE '127\.0\.0\.[0-9]+:[0-9]+'
    )
    ((${#extra[@]} >= 6)) || die "expected peers in the demo's output (see $WORK/demo.err)"
fi

# --- 5: ttui probe against the same swarm ---------------------------------------------------
if want probe; then
    tm new-window -t shots -n probe \
        "cd '$demo_dir' && exec env -u COLORTERM TERM=xterm-256color PATH='$WORK/bin:$PATH' PS1='\$ ' PS2='  ' bash --norc --noprofile -i"
    P=shots:probe
    wait_for "$P" '[[ $screen == "\$"* ]]' 10 "the shell prompt"
    # Typed as continuation lines, three peers each, so the terminal never wraps mid-address.
    cmd_lines=("ttui probe ttui-demo.torrent")
    for ((i = 0; i < ${#extra[@]}; i += 6)); do cmd_lines+=("${extra[*]:i:6}"); done
    for ((i = 0; i < ${#cmd_lines[@]}; i++)); do
        line=${cmd_lines[i]}
        ((i + 1 < ${#cmd_lines[@]})) && line+=' \'
        tm send-keys -t "$P" -l -- "$line"
        tm send-keys -t "$P" Enter
    done
    wait_for "$P" 'grep -q "peers answered the handshake" <<<"$screen"' 60 "ttui probe"
    # Wait for the next prompt so the picture ends like a terminal does.
    wait_for "$P" '[[ $(grep -cE "^[$]( |$)" <<<"$screen") -ge 2 ]]' 10 "the prompt after probe"
    shot "$P" probe "ttui probe"
fi

# --- 6–9: a session's list, the add dialog, the rate limits dialog, a file streamed -------
if want list add-dialog limits-dialog stream stats; then
    # A real session (loopback only, no DHT) with three torrents in different states: a folder
    # already complete in its save directory (it seeds), the demo's torrent (fetching from the demo's
    # swarm, or waiting for peers once the demo has stopped) and one added paused.
    # Payloads: folders of a few files (NAME:KiB) made from /dev/urandom.
    payload() {
        local dir=$1 f
        shift
        mkdir -p "$dir"
        for f in "$@"; do head -c "${f#*:}K" /dev/urandom >"$dir/${f%:*}"; done
    }
    cd "$WORK"
    mkdir -p state Downloads src
    payload "Downloads/Holiday photos 2026" beach.jpg:412 harbour.jpg:388 market.jpg:455 sunset.jpg:301
    mktorrent -l 16 -o holiday.torrent "Downloads/Holiday photos 2026" >/dev/null
    payload "src/Field recordings" rain.flac:640 birds.flac:512 train.flac:720 notes.txt:3
    mktorrent -l 16 -o recordings.torrent "src/Field recordings" >/dev/null
    head -c 3M /dev/urandom >"src/concert-2025.mkv"
    mktorrent -l 16 -o concert.torrent "src/concert-2025.mkv" >/dev/null
    cd "$ROOT"

    # The media player `P` starts: reads the stream at 64 KiB/s for a minute, as a player of a
    # small video does.
    cat >"$WORK/player" <<'PLAYER'
#!/bin/sh
exec timeout 60 python3 -c 'import sys, time, urllib.request
r = urllib.request.urlopen(sys.argv[1], timeout=30)
while r.read(16384):
    time.sleep(0.25)' "$1" >/dev/null 2>&1
PLAYER
    chmod +x "$WORK/player"
    SENV=(env -u XDG_RUNTIME_DIR -u NO_COLOR -u COLORTERM TTUI_NO_PUBLIC_ROUTERS=1 TERM=xterm-256color
        XDG_STATE_HOME="$WORK" XDG_DATA_HOME="$WORK" XDG_CONFIG_HOME="$WORK" TTUI_PLAYER="$WORK/player")
    # A verb against the session; bounded, and its output kept for the error message.
    verb() {
        timeout 20 "${SENV[@]}" "$BIN" "$@" --state-dir "$WORK/state" >>"$WORK/verbs.out" 2>&1 ||
            { cat "$WORK/verbs.out" >&2; die "ttui $* failed"; }
    }
    tm new-window -t shots -n session \
        "cd '$WORK' && exec ${SENV[*]} '$BIN' --state-dir '$WORK/state' -o '$WORK/Downloads' --no-dht --port 0 --bind 127.0.0.1 --transport tcp 2>'$WORK/session.err'"
    S=shots:session
    # Smaller than the demo's window: a short list would leave most of 160x48 empty.
    tm resize-window -t "$S" -x 140 -y 30
    SESSION_PID=$(tm list-panes -t "$S" -F '#{pane_pid}')
    wait_for "$S" 'grep -q "a add" <<<"$screen"' 30 "the session's empty list"
    verb add "$WORK/holiday.torrent"
    verb add "$demo_dir/ttui-demo.torrent"
    verb add --paused "$WORK/concert.torrent"
    verb limit --down 2M
    wait_for "$S" 'grep -q "Holiday photos 2026.*seeding" <<<"$screen" &&
        grep -q "concert-2025.mkv.*paused" <<<"$screen" && grep -q "ttui-demo" <<<"$screen"' 30 "three torrents in the list"
    # The downloading row selected, so the status line under the list describes it.
    tm send-keys -t "$S" Down
    sleep 3
    shot "$S" list "ttui: the session's list"

    # The add dialog: a relative path (the session runs in $WORK), Tab completes it and shows the
    # tree, then rain.flac unchecked (Source, Save to, Start paused, the folder, birds, notes, rain).
    tm send-keys -t "$S" a
    wait_for "$S" 'grep -q "Add a torrent" <<<"$screen"' 10 "the add dialog"
    tm send-keys -t "$S" C-u
    tm send-keys -t "$S" -l -- "recor"
    tm send-keys -t "$S" Tab
    wait_for "$S" 'grep -q "recordings.torrent" <<<"$screen" && grep -q "4 checked" <<<"$screen"' 10 "the add dialog's tree"
    tm send-keys -t "$S" Down Down Down Down Down Down Space
    wait_for "$S" 'grep -q "3 checked" <<<"$screen"' 10 "one file unchecked"
    sleep 0.5
    shot "$S" add-dialog "ttui: the add dialog"
    tm send-keys -t "$S" Escape
    wait_for "$S" '! grep -q "Add a torrent" <<<"$screen"' 10 "the add dialog to close"

    tm send-keys -t "$S" L
    wait_for "$S" 'grep -q "Rate limits" <<<"$screen"' 10 "the rate limits dialog"
    sleep 0.5
    shot "$S" limits-dialog "ttui: the rate limits dialog"
    tm send-keys -t "$S" Escape

    # `P` on the demo torrent's Files tab: the player streams video/part2.mkv while it
    # downloads, and the file's row says where it reads and how far ahead ttui fetches.
    tm send-keys -t "$S" Enter
    wait_for "$S" 'grep -q "Files" <<<"$screen"' 10 "the demo torrent's detail view"
    tm send-keys -t "$S" 4
    wait_for "$S" 'grep -q "Priority" <<<"$screen"' 10 "the Files tab"
    for _ in $(seq 20); do
        sel=$(plain "$S" | grep '^▸' || true)
        grep -q 'part2\.mkv' <<<"$sel" && break
        tm send-keys -t "$S" j
        sleep 0.3
    done
    tm send-keys -t "$S" P
    wait_for "$S" 'grep -q "part2.mkv.*% read" <<<"$screen"' 20 "the player reading part2.mkv"
    sleep 8
    shot "$S" stream "ttui: a file streamed to a player while it downloads"

    # The statistics view (`i` on the list): what each tracker was told today, by the bytes
    # the session has moved so far (the demo's tracker; the seeded folder has none).
    tm send-keys -t "$S" Escape
    wait_for "$S" 'grep -q "a add" <<<"$screen"' 10 "the list again"
    tm send-keys -t "$S" i
    wait_for "$S" 'grep -q "statistics by tracker" <<<"$screen" && grep -q "tallest day" <<<"$screen"' 20 "the statistics view"
    sleep 2.5
    shot "$S" stats "ttui: bytes up and down per tracker"
    tm send-keys -t "$S" i
fi

if want proxy-down; then
    # A download through a proxy that is down (`--proxy-only`: nothing goes around it): the
    # explainer's line under the header says so, and the peer's row says why it is not reached.
    # Its own runtime, state and config directories: no session to hand the torrent over to.
    mkdir -p "$WORK/proxy/run" && chmod 700 "$WORK/proxy/run"
    tm new-window -t shots -n proxy \
        "cd '$WORK' && exec env -u NO_COLOR -u COLORTERM TTUI_NO_PUBLIC_ROUTERS=1 TERM=xterm-256color \
         XDG_RUNTIME_DIR='$WORK/proxy/run' XDG_STATE_HOME='$WORK/proxy' XDG_DATA_HOME='$WORK/proxy' \
         XDG_CONFIG_HOME='$WORK/proxy' '$BIN' '$demo_dir/ttui-demo.torrent' -o '$WORK/proxy/out' \
         --port 0 --no-dht --no-trackers --no-port-mapping \
         --proxy socks5://127.0.0.9:1 --proxy-only --peer '${extra[1]}' 2>'$WORK/proxy.err'"
    X=shots:proxy
    wait_for "$X" 'grep -q "why slow: the proxy .* is down" <<<"$screen"' 60 "the explainer on the proxy"
    sleep 1
    shot "$X" proxy-down "ttui: the proxy is down"
    tm send-keys -t "$X" q
fi

# --- 9–10: the header's networking line: a port the router mapped, an interface that is down ----
# One small swarm of our own: a ttui seeder on 127.0.0.20 (its upload limited, so the download
# is caught midway) and a one-torrent ttui in a window; its list view (Esc) has the session's
# header, whose second line is the networking one.
if want port-mapped interface-down; then
    N="$WORK/net"
    mkdir -p "$N/src" "$N/seeder/run" "$N/Downloads"
    chmod 700 "$N/seeder/run"
    head -c 64M /dev/urandom >"$N/src/conference-talk.mkv"
    mktorrent -l 18 -o "$N/talk.torrent" "$N/src/conference-talk.mkv" >/dev/null
    # Its own runtime, state and config directories, like each ttui below.
    NENV="env -u NO_COLOR -u COLORTERM TTUI_NO_PUBLIC_ROUTERS=1 TERM=xterm-256color"
    xdg() {
        echo "XDG_RUNTIME_DIR='$1/run' XDG_STATE_HOME='$1' XDG_DATA_HOME='$1' XDG_CONFIG_HOME='$1'"
    }
    env -u NO_COLOR -u COLORTERM TTUI_NO_PUBLIC_ROUTERS=1 XDG_RUNTIME_DIR="$N/seeder/run" \
        XDG_STATE_HOME="$N/seeder" XDG_DATA_HOME="$N/seeder" XDG_CONFIG_HOME="$N/seeder" \
        "$BIN" seed "$N/talk.torrent" -o "$N/src" --headless --port 40100 --bind 127.0.0.20 \
        --no-dht --no-trackers --no-port-mapping --up-limit 3M >"$N/seeder.log" 2>&1 &
    SEED_PID=$!
    # A one-torrent ttui in tmux window NAME (ARGS appended), in a 140x9 window.
    net_window() {
        local name=$1 dir="$N/$1"
        shift
        mkdir -p "$dir/run" && chmod 700 "$dir/run"
        local cmd="cd '$N' && exec $NENV $(xdg "$dir") '$BIN' '$N/talk.torrent' -o '$N/Downloads' \
            --no-dht --no-trackers --peer 127.0.0.20:40100 $* 2>'$dir/err'"
        if tm has-session -t shots 2>/dev/null; then
            tm new-window -t shots -n "$name" "$cmd"
        else
            tm new-session -d -x "$COLS" -y "$ROWS" -s shots -n "$name" "$cmd"
            tm set-option -t shots remain-on-exit on
        fi
        tm resize-window -t "shots:$name" -x 140 -y 9
        wait_for "shots:$name" 'grep -q "1 Overview" <<<"$screen"' 30 "the $name download"
        tm send-keys -t "shots:$name" Escape
        wait_for "shots:$name" 'grep -q "Enter open" <<<"$screen"' 10 "the $name list"
    }
    # Quits window NAME's ttui and waits (bounded) for it to exit.
    net_quit() {
        local i dead
        tm send-keys -t "shots:$1" q
        for ((i = 0; i < 60; i++)); do
            # A window whose program exited is gone, or dead when it was the session's first.
            dead=$(tm list-panes -t "shots:$1" -F '#{pane_dead}' 2>/dev/null) || return 0
            [[ $dead == 1 ]] && return 0
            sleep 0.25
        done
        log "warning: the $1 download had not exited 15 s after q"
    }
fi

if want port-mapped; then
    # The test UPnP IGD (v2) on 127.0.0.8, whose external address is 127.0.0.9; ttui is named
    # its description, so it sends no SSDP search, and TTUI_NO_PUBLIC_ROUTERS keeps PCP and
    # NAT-PMP from asking any gateway but a loopback one (there is no default route here).
    python3 "$ROOT/tests/net/port_mapping/igd_server.py" --addr 127.0.0.8 --external 127.0.0.9 \
        --state "$N/igd.json" >"$N/igd.log" 2>&1 &
    IGD_PID=$!
    net_window mapped --port 40001 --port-mapping-igd http://127.0.0.8:5000/rootDesc.xml
    wait_for shots:mapped 'grep -q "mapped to 127.0.0.9:40001 by UPnP IGD2" <<<"$screen" &&
        p=$(progress) && ((${p:-0} >= 20))' 60 "the mapped port and 20% progress"
    shot shots:mapped port-mapped "ttui: the port the router mapped"
    net_quit mapped
    kill "$IGD_PID" && wait "$IGD_PID" 2>/dev/null || true
    IGD_PID=
fi

if want interface-down; then
    # `--interface wg0` as with a VPN, in a namespace that has no wg0: the VPN is down (a
    # WireGuard interface is deleted when it goes down). ttui waits for it and sends nothing;
    # what it has of the download (from the shot above) stays. TCP only: while wg0 is missing
    # the session's UDP socket is bound to `lo`, which reaches no real peer but would reach
    # this loopback seeder.
    [[ ! -e /sys/class/net/wg0 ]] || die "this namespace has a wg0"
    net_window vpn --port 40001 --no-port-mapping --interface wg0 --transport tcp
    wait_for shots:vpn 'grep -q "interface wg0 is down: nothing is sent" <<<"$screen"' 30 \
        "the interface line"
    sleep 1
    shot shots:vpn interface-down "ttui: the VPN interface is down"
    net_quit vpn
fi

# --- 11: browser peers beside TCP and uTP ones ---------------------------------------------------
# A torrent whose tracker is a WebSocket one (bittorrent-tracker's server in Node): two
# WebTorrent seeders in Node (tests/net/webtorrent/peer.mjs, WebRTC only), a ttui seeder over
# TCP on 127.0.0.21 and one over uTP on 127.0.0.22. The one-torrent ttui in the window takes
# from all of them (its download limited, so the shot catches it midway).
if want browsers; then
    NM=${TTUI_NODE_MODULES:-$HOME/.cache/ttui/test-node}
    [[ -d $NM/node_modules/webtorrent ]] ||
        die "browsers: no WebTorrent in $NM (run the test suite once: tests/run.sh installs it)"
    B="$WORK/browsers"
    mkdir -p "$B/src" "$B/Downloads" "$B/tcp/run" "$B/utp/run" "$B/tui/run"
    chmod 700 "$B/tcp/run" "$B/utp/run" "$B/tui/run"
    head -c 96M /dev/urandom >"$B/src/open-movie.webm"
    mkfifo "$B/tracker.in"
    node "$ROOT/tests/net/ws_tracker/server.mjs" "$NM/node_modules" <"$B/tracker.in" \
        >"$B/tracker.out" 2>&1 &
    BROWSER_PIDS="$BROWSER_PIDS $!"
    exec {TRACKER_IN}>"$B/tracker.in"
    for _ in $(seq 1 80); do grep -q '^listening' "$B/tracker.out" && break; sleep 0.25; done
    WS_PORT=$(sed -n 's/^listening //p' "$B/tracker.out")
    [[ -n $WS_PORT ]] || die "browsers: the WebSocket tracker did not start"
    "$BIN" create --no-config --v1 --piece-size 256K --no-date \
        --tracker "ws://127.0.0.1:$WS_PORT/announce" -o "$B/movie.torrent" \
        "$B/src/open-movie.webm" >/dev/null
    for i in 1 2; do
        TTUI_NODE_MODULES=$NM node "$ROOT/tests/net/webtorrent/peer.mjs" seed-torrent \
            "$B/movie.torrent" "$B/src" <"$B/tracker.in" >"$B/node-$i.log" 2>&1 &
        BROWSER_PIDS="$BROWSER_PIDS $!"
    done
    for t in tcp:21 utp:22; do
        kind=${t%%:*} host=127.0.0.${t##*:}
        env -u NO_COLOR -u COLORTERM TTUI_NO_PUBLIC_ROUTERS=1 XDG_RUNTIME_DIR="$B/$kind/run" \
            XDG_STATE_HOME="$B/$kind" XDG_DATA_HOME="$B/$kind" XDG_CONFIG_HOME="$B/$kind" \
            "$BIN" seed "$B/movie.torrent" -o "$B/src" --headless --port 40110 --bind "$host" \
            --transport "$kind" --no-dht --no-trackers --no-webtorrent --no-port-mapping \
            --up-limit 1M >"$B/$kind.log" 2>&1 &
        BROWSER_PIDS="$BROWSER_PIDS $!"
    done
    cmd="cd '$B' && exec env -u NO_COLOR -u COLORTERM TTUI_NO_PUBLIC_ROUTERS=1 TERM=xterm-256color \
        XDG_RUNTIME_DIR='$B/tui/run' XDG_STATE_HOME='$B/tui' XDG_DATA_HOME='$B/tui' \
        XDG_CONFIG_HOME='$B/tui' '$BIN' '$B/movie.torrent' -o '$B/Downloads' --no-dht \
        --no-port-mapping --bind 127.0.0.1 --port 40111 --down-limit 6M \
        --peer 127.0.0.21:40110 --peer 127.0.0.22:40110 2>'$B/tui.err'"
    if tm has-session -t shots 2>/dev/null; then
        tm new-window -t shots -n browsers "$cmd"
    else
        tm new-session -d -x "$COLS" -y "$ROWS" -s shots -n browsers "$cmd"
        tm set-option -t shots remain-on-exit on
    fi
    tm resize-window -t shots:browsers -x "$COLS" -y 24
    wait_for shots:browsers 'grep -q "WebRTC" <<<"$screen" && grep -q "uTP" <<<"$screen" &&
        grep -q "TCP" <<<"$screen"' 60 "WebRTC, uTP and TCP peers"
    sleep 3
    shot shots:browsers browsers "ttui: browser peers (WebRTC) beside TCP and uTP ones"
    tm send-keys -t shots:browsers q
    exec {TRACKER_IN}>&-
fi

log "done in $(($(date +%s) - START))s: ${MADE[*]}"
