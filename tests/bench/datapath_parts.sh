# The parts of tests/bench/datapath.sh (sourced inside its loopback-only namespace, after
# datapath_lib.sh; uses W, RESULTS, RUNS, TTUI, RQBIT, BIG, MIB and its ttui_get and lt_leech).
# Each part starts its own seeders and the caller stops them all afterwards. Every row goes to
# $RESULTS: part key client run wall cpu rss_kib status extra.
# shellcheck shell=bash

# ---- 1: the floor, and the four clients downloading from one libtorrent seeder
# floor_big run: the floor receiver and SHA-1 over the 1 GiB, recorded as floor recv and sha1.
floor_big() {
    local run=$1 tf
    cat "$W/seed/big.bin" >/dev/null # the sender and SHA-1 read from the page cache
    tf=$W/times/floor-recv-$run
    spawn "$W/logs/floor-recv-$run.log" /usr/bin/time -v -o "$tf" "$W/floor" recv 127.0.0.60 7060 "$W/out/floor.bin"
    local pid=$SPAWNED
    wait_for 10 "floor receiver" grep -qs "^listening" "$W/logs/floor-recv-$run.log" || return 1
    timeout 120 "$W/floor" send 127.0.0.60 7060 "$W/seed/big.bin"
    wait_for 30 "floor receiver to finish" grep -qs "^received" "$W/logs/floor-recv-$run.log" || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    stop "$pid"
    read -r wall cpu rss < <(time_fields "$tf")
    local st=ok
    grep -q "^received $BIG\$" "$W/logs/floor-recv-$run.log" || st=short
    record floor floor recv "$run" "$wall" "$cpu" "$rss" "$st"
    mkdir -p "$W/out/floor-big"
    if [[ -f $W/out/floor.bin ]]; then mv "$W/out/floor.bin" "$W/out/floor-big/"; fi
    spend "$W/out/floor-big"
    tf=$W/times/floor-sha1-$run
    /usr/bin/time -f '%e %U %M' -o "$tf" openssl dgst -sha1 "$W/seed/big.bin" >/dev/null
    read -r wall cpu rss <"$tf"
    record floor floor sha1 "$run" "$wall" "$cpu" "$rss" ok
}

part_floor() {
    # The 1,000-file torrent, the tracker and one seeder per torrent, as bench.sh has them.
    rm -rf "$W/seed/many"
    $PY - "$W/seed" "$NFILES" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "many", "d%02d" % (i // 50))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%04d.bin" % i), "wb") as f:
        f.write(os.urandom(256 << 10))
EOF
    mktorrent -l 18 -a "$TRACKER" -o "$W/many.torrent" "$W/seed/many" >/dev/null
    # The same-layout floor's list: each file's length and path, in the torrent's order.
    $PY - "$W/many.torrent" >"$W/many.list" <<'EOF'
import sys, libtorrent as lt
fs = lt.torrent_info(sys.argv[1]).files()
for i in range(fs.num_files()):
    if not fs.file_flags(i) & lt.file_storage.flag_pad_file:
        print(fs.file_size(i), fs.file_path(i))
EOF
    mkdir -p "$W/ot"
    local t
    for t in big many; do
        $PY -c 'import sys, libtorrent as lt; print(lt.torrent_info(sys.argv[1]).info_hash())' "$W/$t.torrent"
    done >"$W/ot/whitelist.txt"
    chmod 755 "$W/ot"
    spawn "$W/logs/opentracker.log" opentracker -i 127.0.0.1 -p 6969 -P 6969 -d "$W/ot" -w whitelist.txt -u nobody
    tracker_up() { $PY -c 'import socket; socket.create_connection(("127.0.0.1", 6969), 1).close()' 2>/dev/null; }
    wait_for 10 opentracker tracker_up || return 1
    declare -A seed_ip=([big]=127.0.0.2 [many]=127.0.0.3)
    for t in big many; do
        spawn "$W/logs/lt-seed-$t.log" $PY "$LT" --torrent "$W/$t.torrent" --save "$W/seed" \
            --ip "${seed_ip[$t]}" --port 6881 --seed-mode --max-seconds 7200
        wait_for 30 "libtorrent seeder ($t)" grep -q '^ready' "$W/logs/lt-seed-$t.log" || return 1
    done
    local clients=(ttui aria2c libtorrent) c
    [[ -n $RQBIT ]] && clients=(ttui aria2c rqbit libtorrent)
    # The floors are measured in each round among the clients, and the order is reversed every
    # other round: on this VM what ran just before moves a run's CPU by up to 40 % (the page
    # cache a finished download hands back is faulted in again by the next writer), so no
    # one may always come right after the same one.
    # Round r starts at entry r, forward in odd rounds and backward in even ones (as
    # datapath_ab.sh), so each one follows each of the others about equally often.
    local entries=(floor "${clients[@]}") order n k i
    n=${#entries[@]}
    for ((run = 1; run <= RUNS; run++)); do
        order=()
        for ((k = 0; k < n; k++)); do
            if ((run % 2)); then i=$(((run + k) % n)); else i=$(((run - k + 2 * n) % n)); fi
            order+=("${entries[$i]}")
        done
        for t in big many; do
            for c in "${order[@]}"; do
                if [[ $c != floor ]]; then
                    dl_one "$c" "$t" "$run" "${seed_ip[$t]}:6881"
                elif [[ $t == big ]]; then
                    floor_big "$run" || note "floor run $run failed"
                else
                    floor_many "$run" || note "floor (many) run $run failed"
                fi
            done
        done
    done
}

# floor_many run: the floor receiver writing the 1,000-file payload into the torrent's layout
# (each file created at its first byte), recorded as floor-many: what this machine charges any
# client for those files (on this ext4, creating one scans the inodes freed near it lately).
floor_many() {
    local run=$1 tf=$W/times/floor-many-$1 log=$W/logs/floor-many-$1.log out=$W/out/floor-many
    rm -rf "$out"
    mkdir -p "$out"
    spawn "$log" /usr/bin/time -v -o "$tf" "$W/floor" recv-many 127.0.0.60 7061 "$out" "$W/many.list"
    local pid=$SPAWNED st=ok wall cpu rss
    wait_for 10 "floor receiver (many)" grep -qs "^listening" "$log" || return 1
    timeout 120 "$W/floor" send-many 127.0.0.60 7061 "$W/seed" "$W/many.list" || st=failed
    wait_for 30 "floor receiver (many) to finish" grep -qs "^received" "$log" || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    stop "$pid"
    grep -q "^received $((NFILES << 18))\$" "$log" || st=short
    read -r wall cpu rss < <(time_fields "$tf")
    record floor floor-many recv "$run" "$wall" "$cpu" "$rss" "$st"
    spend "$out"
}

# dl_one client torrent run seeder: one download in the floor part, recorded as dl-TORRENT.
dl_one() {
    local c=$1 t=$2 run=$3 seeder=$4 out=$W/out/$1-$2 tf=$W/times/dl-$1-$2-$3 log=$W/logs/dl-$1-$2-$3.log
    local size=$BIG
    [[ $t == many ]] && size=$((NFILES << 18))
    case $c in
    ttui)
        # TCP only, as the others download here (the libtorrent leecher runs with uTP off,
        # aria2c has none): a default ttui first tries uTP, which this TCP-only seeder never
        # answers, for the 250 ms head start (`DATAPATH_TTUI_TRANSPORT=both` measures that).
        ttui_get "dl-$t-$run" "$W/$t.torrent" --bind 127.0.0.11 --transport "${DATAPATH_TTUI_TRANSPORT:-tcp}"
        record floor "dl-$t" ttui "$run" $GOT "$GOT_OK"
        return
        ;;
    libtorrent)
        LEECH_TORRENT=$W/$t.torrent
        LEECH_SIZE=$size lt_leech "dl-lt-$t-$run" 127.0.0.14 6884 "$seeder"
        LEECH_TORRENT=$W/big.torrent
        record floor "dl-$t" libtorrent "$run" "$LEECH_WALL" "$LEECH_CPU" "$LEECH_RSS" "$LEECH_OK"
        return
        ;;
    esac
    rm -rf "$out"
    mkdir -p "$out"
    local cmd=() st=ok
    if [[ $c == aria2c ]]; then
        # shellcheck disable=SC2046
        cmd=(aria2c --dir="$out" --seed-time=0 $(aria2_args 127.0.0.12 6882) --summary-interval=0 "$W/$t.torrent")
        timeout -k 5 "$TIMEOUT" /usr/bin/time -v -o "$tf" "${cmd[@]}" >"$log" 2>&1 || st=failed
    else
        # shellcheck disable=SC2046
        cmd=("$RQBIT" $(rqbit_args 127.0.0.13 6883 3030) download -o "$out" "$W/$t.torrent" --exit-on-finish)
        timeout -k 5 "$TIMEOUT" /usr/bin/time -v -o "$tf" "${cmd[@]}" >"$log" 2>&1 || st=failed
    fi
    [[ $st == ok && $(out_bytes "$out") -ne $size ]] && st=short
    record floor "dl-$t" "$c" "$run" $(time_fields "$tf") "$st"
    spend "$out"
}

# ---- 2: ttui's peak RSS on 4 × the payload with 16 MiB pieces (zeros: a sparse seed file)
part_mem() {
    truncate -s $((4 * BIG)) "$W/seed/huge.bin"
    mktorrent -l 24 -a "$TRACKER" -o "$W/huge.torrent" "$W/seed/huge.bin" >/dev/null
    spawn "$W/logs/lt-seed-huge.log" $PY "$LT" --torrent "$W/huge.torrent" --save "$W/seed" \
        --ip 127.0.0.7 --port 6881 --seed-mode --announce-wait 0 --max-seconds 7200
    wait_for 30 "libtorrent seeder (huge)" grep -q '^ready' "$W/logs/lt-seed-huge.log" || return 1
    local run
    for ((run = 1; run <= RUNS; run++)); do
        ttui_get "mem-huge-$run" "$W/huge.torrent" --bind 127.0.0.11 --no-trackers --peer 127.0.0.7:6881
        record mem huge ttui "$run" $GOT "$GOT_OK"
    done
    rm -f "$W/seed/huge.bin"
}

# ---- 3: 1 GiB with RC4 forced both ways, ttui against libtorrent
part_rc4() {
    spawn "$W/logs/lt-seed-rc4.log" $PY "$LT" --torrent "$W/big.torrent" --save "$W/seed" \
        --ip 127.0.0.8 --port 6881 --seed-mode --announce-wait 0 --max-seconds 7200 --encryption forced
    wait_for 30 "libtorrent seeder (rc4)" grep -q '^ready' "$W/logs/lt-seed-rc4.log" || return 1
    local run
    for ((run = 1; run <= RUNS; run++)); do
        ttui_get "rc4-$run" "$W/big.torrent" --bind 127.0.0.11 --no-trackers --peer 127.0.0.8:6881 \
            --encryption require
        record rc4 enc ttui "$run" $GOT "$GOT_OK"
        LEECH_ARGS=(--encryption forced)
        lt_leech "rc4-lt-$run" "127.0.0.$((40 + run))" 6881 127.0.0.8:6881
        LEECH_ARGS=()
        record rc4 enc libtorrent "$run" "$LEECH_WALL" "$LEECH_CPU" "$LEECH_RSS" "$LEECH_OK"
    done
}

# ---- 4: ttui over uTP and over TCP from the same libtorrent seeder (both transports)
part_utp() {
    spawn "$W/logs/lt-seed-utp.log" $PY "$LT" --torrent "$W/big.torrent" --save "$W/seed" \
        --ip 127.0.0.9 --port 6881 --seed-mode --announce-wait 0 --max-seconds 7200 --transport both
    # ttui's own sender beside it (GSO sends over uTP): python3-libtorrent's uTP sender is
    # the limit of the first pair (tests/bench/README.md, "uTP"), so each transport is also measured from it.
    mkdir -p "$W/tt-utp-state"
    spawn "$W/logs/tt-seed-utp.log" env XDG_STATE_HOME="$W/tt-utp-state" "$TTUI" seed \
        "$W/big.torrent" --headless --no-trackers --no-dht --no-pex --bind 127.0.0.10 \
        --port 6882 -o "$W/seed"
    wait_for 30 "libtorrent seeder (utp)" grep -q '^ready' "$W/logs/lt-seed-utp.log" || return 1
    wait_for 120 "ttui seeder (utp)" grep -qi 'seeding' "$W/logs/tt-seed-utp.log" || return 1
    local run tr order from
    for ((run = 1; run <= RUNS; run++)); do
        order="utp tcp"
        ((run % 2 == 0)) && order="tcp utp"
        for tr in $order; do
            ttui_get "utp-$tr-$run" "$W/big.torrent" --bind 127.0.0.11 --no-trackers \
                --peer 127.0.0.9:6881 --transport "$tr"
            record utp "$tr" ttui "$run" $GOT "$GOT_OK"
        done
        for tr in $order; do
            ttui_get "utp-$tr-tt-$run" "$W/big.torrent" --bind 127.0.0.12 --no-trackers \
                --peer 127.0.0.10:6882 --transport "$tr"
            record utp "$tr-tt" ttui "$run" $GOT "$GOT_OK"
        done
    done
}

# ---- 5: seeding 1 GiB to one libtorrent leecher; the seeder's CPU during the transfer
part_seed() {
    declare -A pid addr
    spawn "$W/logs/seed-ttui.log" "$TTUI" seed "$W/big.torrent" -o "$W/seed" --headless \
        --bind 127.0.0.21 --port 7001 --no-trackers --no-dht --no-pex
    pid[ttui]=$SPAWNED addr[ttui]=127.0.0.21:7001
    spawn "$W/logs/seed-lt.log" $PY "$LT" --torrent "$W/big.torrent" --save "$W/seed" \
        --ip 127.0.0.22 --port 7002 --seed-mode --announce-wait 0 --max-seconds 7200
    pid[libtorrent]=$SPAWNED addr[libtorrent]=127.0.0.22:7002
    tr_start seed 127.0.0.23 7003 || return 1
    tr_add 127.0.0.23 "$W/big.torrent" || return 1
    tr_verified seed 127.0.0.23 || return 1
    pid[transmission]=${TR_PID[seed]} addr[transmission]=127.0.0.23:7003
    local seeders=(ttui libtorrent transmission)
    if [[ -n $RQBIT ]]; then
        # shellcheck disable=SC2046
        spawn "$W/logs/seed-rqbit.log" "$RQBIT" $(rqbit_args 127.0.0.24 7004 3031) download \
            -o "$W/seed" --overwrite "$W/big.torrent"
        pid[rqbit]=$SPAWNED addr[rqbit]=127.0.0.24:7004
        wait_for 300 "rqbit to check the data" rqbit_finished 127.0.0.24:3031 && seeders+=(rqbit)
    fi
    wait_for 120 "ttui seed to check the data" grep -q 'seeding' "$W/logs/seed-ttui.log" || return 1
    wait_for 30 "libtorrent seeder" grep -q '^ready' "$W/logs/seed-lt.log" || return 1
    local run s k=0 c0 c1
    for ((run = 1; run <= RUNS; run++)); do
        for s in "${seeders[@]}"; do
            k=$((k + 1))
            c0=$(proc_cpu "${pid[$s]}")
            # A new leecher address each time: Transmission refuses an address it saw complete.
            lt_leech "seed-$s-$run" "127.0.0.$((60 + k))" 7100 "${addr[$s]}"
            c1=$(proc_cpu "${pid[$s]}")
            record seed seed "$s" "$run" "$LEECH_WALL" "$(calc "$c1 - $c0")" "$(proc_hwm "${pid[$s]}")" "$LEECH_OK"
        done
    done
}

# ---- 6: 1 GiB from 20 seeders of three kinds, each on its own address
part_swarm() {
    local peers=() i ip
    spawn "$W/logs/swarm-lt.log" $PY "$HERE/lt_swarm.py" --torrent "$W/big.torrent" --save "$W/seed" \
        --port 6881 -n 14 --ip-base 127.0.0.100 --max-seconds 7200
    wait_for 60 "14 libtorrent seeders" grep -q '^ready' "$W/logs/swarm-lt.log" || return 1
    for i in $(seq 0 13); do peers+=("127.0.0.$((100 + i)):6881"); done
    for i in 0 1 2; do
        ip=127.0.0.$((130 + i))
        # shellcheck disable=SC2046
        spawn "$W/logs/swarm-aria2-$i.log" aria2c --dir="$W/seed" --check-integrity=true \
            --seed-ratio=0.0 $(aria2_args "$ip" 6881) --summary-interval=1 "$W/big.torrent"
        peers+=("$ip:6881")
    done
    for i in 0 1 2; do
        ip=127.0.0.$((120 + i))
        tr_start "sw$i" "$ip" 6881 || return 1
        tr_add "$ip" "$W/big.torrent" || return 1
        peers+=("$ip:6881")
    done
    for i in 0 1 2; do
        tr_verified "sw$i" "127.0.0.$((120 + i))" || return 1
        aria2_seeding() { grep -q 'SEED(' "$W/logs/swarm-aria2-$1.log"; }
        wait_for 300 "aria2c seeder $i to check the data" aria2_seeding "$i" || return 1
    done
    local peer_args=() p run
    for p in "${peers[@]}"; do peer_args+=(--peer "$p"); done
    for ((run = 1; run <= RUNS; run++)); do
        if ((run > 1)); then
            # Transmission refuses an address that completed from it: a fresh daemon a round
            # (its resume file spares it the check).
            for i in 0 1 2; do
                tr_stop "sw$i"
                tr_start "sw$i" "127.0.0.$((120 + i))" 6881 || return 1
            done
            sleep 2
        fi
        ttui_get "swarm-ttui-$run" "$W/big.torrent" --bind 127.0.0.51 --no-trackers "${peer_args[@]}"
        record swarm swarm ttui "$run" $GOT "$GOT_OK" "${GOT_WASTED:-nan}"
        lt_leech "swarm-lt-$run" "127.0.0.$((52 + 10 * run))" 6881 "${peers[@]}"
        record swarm swarm libtorrent "$run" "$LEECH_WALL" "$LEECH_CPU" "$LEECH_RSS" "$LEECH_OK"
        if [[ -n $RQBIT ]]; then swarm_rqbit "$run" "${peers[@]}"; fi
    done
}

swarm_rqbit() { # run peer...: rqbit given the 20 seeders as its initial peers
    local run=$1 out=$W/out/swarm-rqbit tf=$W/times/swarm-rqbit-$1 st=ok list
    shift
    list=$(IFS=,; echo "$*")
    rm -rf "$out"
    mkdir -p "$out"
    # shellcheck disable=SC2046
    timeout -k 5 "$TIMEOUT" /usr/bin/time -v -o "$tf" "$RQBIT" $(rqbit_args 127.0.0.$((53 + 10 * run)) 6883 3032) \
        download -o "$out" --initial-peers "$list" --exit-on-finish "$W/big.torrent" \
        >"$W/logs/swarm-rqbit-$run.log" 2>&1 || st=failed
    [[ $st == ok && $(out_bytes "$out") -ne $BIG ]] && st=short
    record swarm swarm rqbit "$run" $(time_fields "$tf") "$st"
    spend "$out"
}
