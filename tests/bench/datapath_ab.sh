#!/usr/bin/env bash
# Issue 22, targets 1 and 2 on 1 GiB, with every contender in the same conditions: the floor
# (tests/bench/floor.c plus `openssl dgst -sha1`'s user time), aria2c and one or more ttui
# binaries take turns downloading 1 GiB (one file, 1 MiB pieces) from one python3-libtorrent
# seeder, the order rotating each round, a pause after each. datapath.sh runs every client
# of a round back to back after the floor's five runs; on this VM the page cache a finished
# download hands back is refaulted by whoever writes next (virtio-balloon free page
# reporting), which moved ttui's CPU per GiB between 1.1 and 1.9 from one run to the next.
# Taking turns spreads that over everyone alike, so ratios and A/B pairs can be trusted.
#
#   bash tests/bench/datapath_ab.sh [TTUI_BINARY...]    (default: target/release/ttui)
#
# Environment: AB_ROUNDS=6 (rounds), AB_MIB=1024 (payload), AB_PAUSE=1 (seconds after each).
# Runs itself in a network namespace with only `lo` (unshare -n); loopback only, every
# process started is stopped by pid, the work directory is removed at the end.
set -euo pipefail
# No DHT routers, no port mapping: a benchmark talks to loopback only.
export TTUI_NO_PUBLIC_ROUTERS=1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
if [[ -z ${AB_IN_NETNS:-} ]]; then
    exec unshare -n env AB_IN_NETNS=1 bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
fi
ROUNDS=${AB_ROUNDS:-6}
MIB=${AB_MIB:-1024}
PAUSE=${AB_PAUSE:-1}
PY=/usr/bin/python3
BINS=("$@")
[[ ${#BINS[@]} -gt 0 ]] || BINS=("$REPO/target/release/ttui")
for b in "${BINS[@]}"; do [[ -x $b ]] || { echo "not an executable: $b" >&2; exit 2; }; done

W=$(mktemp -d /tmp/ttui-datapath-ab.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$W"
}
trap cleanup EXIT
wait_for() { # seconds what command...: bounded wait
    local secs=$1 what=$2 i
    shift 2
    for ((i = 0; i < secs * 10; i++)); do "$@" && return 0; sleep 0.1; done
    echo "timed out waiting for $what" >&2
    return 1
}

mkdir -p "$W/seed" "$W/spent" "$W/ot"
gcc -O2 -o "$W/floor" "$HERE/floor.c"
head -c $((MIB << 20)) /dev/urandom >"$W/seed/big.bin"
mktorrent -l 20 -a http://127.0.0.1:6969/announce -o "$W/big.torrent" "$W/seed/big.bin" >/dev/null
$PY -c 'import sys, libtorrent as lt; print(lt.torrent_info(sys.argv[1]).info_hash())' \
    "$W/big.torrent" >"$W/ot/whitelist.txt"
chmod 755 "$W/ot"
opentracker -i 127.0.0.1 -p 6969 -P 6969 -d "$W/ot" -w whitelist.txt -u nobody >"$W/ot.log" 2>&1 &
PIDS+=($!)
$PY "$REPO/assets/seeders/lt_seed.py" --torrent "$W/big.torrent" --save "$W/seed" \
    --ip 127.0.0.2 --port 6881 --seed-mode --max-seconds 3600 >"$W/seed.log" 2>&1 &
PIDS+=($!)
wait_for 30 "the libtorrent seeder" grep -q '^ready' "$W/seed.log"

# spend DIR: empty a finished download's files and keep them aside until the end (deleting
# them would tax the next file creation on this journal-less ext4; see tests/bench/README.md).
spend() {
    local dst
    dst=$W/spent/$RANDOM$RANDOM
    mv "$1" "$dst"
    find "$dst" -type f -exec truncate -s0 {} +
}

# one NAME: one download (or the floor) into $W/out; prints "NAME wall cpu rss_kib".
one() {
    local name=$1 t=$W/time.txt out=$W/out
    rm -rf "$out"
    mkdir -p "$out"
    case $name in
    floor)
        /usr/bin/time -f '%e %U %S %M' -o "$t" "$W/floor" recv 127.0.0.60 7060 "$out/big.bin" \
            >"$W/floor.log" 2>&1 &
        local fp=$!
        wait_for 10 "the floor receiver" grep -q '^listening' "$W/floor.log"
        timeout 120 "$W/floor" send 127.0.0.60 7060 "$W/seed/big.bin"
        wait "$fp"
        local wall u s rss u2 rest
        read -r wall u s rss <"$t"
        /usr/bin/time -f '%U' -o "$t" openssl dgst -sha1 "$W/seed/big.bin" >/dev/null
        read -r u2 rest <"$t"
        echo "floor $wall $(echo "$u + $s + $u2" | bc) $rss"
        ;;
    aria2c)
        timeout -k 5 300 /usr/bin/time -f '%e %U %S %M' -o "$t" aria2c --dir="$out" --seed-time=0 \
            --enable-dht=false --enable-dht6=false --bt-enable-lpd=false \
            --enable-peer-exchange=false --disable-ipv6=true --interface=127.0.0.12 \
            --bt-external-ip=127.0.0.12 --listen-port=6882 --file-allocation=none \
            --console-log-level=warn --summary-interval=0 "$W/big.torrent" >"$W/aria2.log" 2>&1
        local wall u s rss
        read -r wall u s rss <"$t"
        echo "aria2c $wall $(echo "$u + $s" | bc) $rss"
        ;;
    *)
        # As datapath.sh runs it: through the tracker, TCP only like the others.
        timeout -k 5 300 /usr/bin/time -f '%e %U %S %M' -o "$t" "$name" "$W/big.torrent" --headless \
            -o "$out" --port 0 --no-dht --no-pex --bind 127.0.0.11 --transport tcp >"$W/ttui.log" 2>&1
        cmp -s "$W/seed/big.bin" "$out/big.bin" || { echo "corrupt download by $name" >&2; exit 1; }
        local wall u s rss
        read -r wall u s rss <"$t"
        echo "$name $wall $(echo "$u + $s" | bc) $rss"
        ;;
    esac
    [[ $(stat -c %s "$out/big.bin") -eq $((MIB << 20)) ]] || { echo "short download: $name" >&2; exit 1; }
    spend "$out"
    sleep "$PAUSE"
}

# Round r starts at entry r and goes forward in even rounds, backward in odd ones, so no
# entry always follows the same one (what ran before sets the page cache the next one finds).
ENTRIES=(floor aria2c "${BINS[@]}")
N=${#ENTRIES[@]}
for ((r = 0; r < ROUNDS; r++)); do
    for ((k = 0; k < N; k++)); do
        if ((r % 2)); then i=$(((r - k + 2 * N) % N)); else i=$(((r + k) % N)); fi
        one "${ENTRIES[$i]}"
    done
done | tee "$W/results.txt" >&2

echo "== $MIB MiB, $ROUNDS rounds taking turns, medians (load: $(cut -d' ' -f1-3 /proc/loadavg))"
$PY - "$W/results.txt" "$MIB" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, wall, cpu, rss = line.split()
    rows.setdefault(name, []).append((float(wall), float(cpu), int(rss) / 1024))
gib = int(sys.argv[2]) / 1024
med = {n: [statistics.median(c) for c in zip(*v)] for n, v in rows.items()}
floor, aria = med["floor"][1] / gib, med["aria2c"][2]
print(f"{'what':<40} {'wall s':>7} {'CPU-s/GiB':>10} {'RSS MiB':>8} {'CPU/floor':>10} {'RSS/aria2c':>11}")
for n, (wall, cpu, rss) in med.items():
    print(f"{n:<40} {wall:7.2f} {cpu / gib:10.3f} {rss:8.1f} {cpu / gib / floor:10.3f} {rss / aria:11.3f}")
EOF
