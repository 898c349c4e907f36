#!/usr/bin/env bash
# The test command. In order:
#   1. installs the third-party BitTorrent clients the integration tests run against (apt),
#      the Python ones (PyPI, into a venv: python_venv below) and the npm ones (node_packages);
#   2. the runner's self-test (tests/selftest/run.sh): this script, run against a fake `cargo`
#      and fake test binaries, must fail on every failure path listed below (a few seconds);
#   3. cargo fmt --check and .ci/rooms (the engine's imports point down: ARCHITECTURE.md);
#   4. builds everything once, with clippy: `cargo test --no-run` with clippy-driver as the
#      workspace's rustc wrapper and `-D warnings`, so the lint is the build (the same lints as
#      `cargo clippy --all-targets -- -D warnings`, without compiling the crate twice); its JSON
#      lists the test binaries: the library's, the binary's and one per area (tests/AREA/main.rs);
#   5. lists each binary's tests (`--list`) and splits them into units: the library and the
#      binary are a unit each, an area binary one unit per module (tests/net/dht.rs). Units run
#      side by side (TTUI_JOBS at once), offline, each inside a fresh namespace whose only
#      network interface is `lo` (127.0.0.1 and ::1), so no test can send a packet anywhere
#      but loopback, and a fresh pid namespace kills whatever a unit left running. A module
#      whose line in its area's main.rs ends in `// alone` measures against the clock: such
#      units run last, one at a time, with nothing beside them; one marked `// slow` (a minute
#      or more) starts before the others, so the longest do not start last.
#
#   bash tests/run.sh                              # everything
#   bash tests/run.sh --test net                   # arguments before `--` select binaries (cargo)
#   bash tests/run.sh --test net -- dht::          # arguments after `--` go to each binary: its
#                                                  # filters pick the tests, its flags hold for each
#   TTUI_JOBS=1 bash tests/run.sh                  # one unit at a time
#
# Exit status 0 only when every step passed, every unit ran to its end, and every test passed.
# A unit "ran to its end" when it printed libtest's `test result:` line and then exited 0 (all
# passed) or 101 (some failed); a unit killed by a signal, one past its time limit, one that
# exits without that line, one never started (the suite's time ran out first, the executable is
# missing, or its tests could not be listed) each fail the command, and the summary names them
# (so a `harness = false` test target must print that line too). A test that failed is run
# once more, alone (at most five of them); if it passes then, it is reported as FLAKY and
# counted as passed — that never hides anything else: a crash or timeout elsewhere still fails
# the command.
#
# Skips. `#[ignore]` tests are counted as skipped. A test whose prerequisite (a third-party
# tool, python3-libtorrent, ::1) is missing calls tests/support/prereq.rs, which panics when
# TTUI_REQUIRE_TOOLS is set to anything but 0 — this command sets it to 1, because it installs
# every tool and its namespace has ::1, so there a missing prerequisite is a failure. With
# TTUI_REQUIRE_TOOLS=0 (or under a plain `cargo test`) the test reports itself skipped instead:
# it writes `SKIPPED: <test>: <reason>` to stderr and appends `<test><TAB><reason>` to the file
# named by TTUI_SKIP_LOG, which this command sets per unit; every such line counts as one
# skipped test, not a passed one. Code outside tests/ follows the same protocol.
#
# Environment:
#   TTUI_SKIP_LINT=1          skip fmt, clippy and .ci/rooms (the build runs without clippy)
#   TTUI_REQUIRE_TOOLS=0      let tests skip (counted as skipped) instead of failing
#   TTUI_JOBS=8               units run at once (those marked `// alone` always run alone)
#   TTUI_SWARM_SLOTS=2        swarms (tests that take tests/support's swarm_lock) at once
#   TTUI_TEST_TIMEOUT=3600    seconds for the whole test step; units not started by then
#                             are reported as not run
#   TTUI_BINARY_TIMEOUT=1800  seconds for one unit
#   TTUI_RUNNER_SELFTEST=0    skip step 2 (the self-test sets it for the runs it makes)
#   RUST_TEST_THREADS=2       tests run at once within a unit
#   TTUI_NEED_DISK_MIB=10240  warn before building when target/ has less free
#   CI=true                   also turns cargo's incremental caches off (CARGO_INCREMENTAL=0)
#
# The summary gives each step's time, the 20 slowest units and the 20 slowest tests, and ends
# with one line: `tests: P passed, F failed, S skipped`, followed by
# `; U of N test units did not finish` when any did not.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
log_dir=$(mktemp -d -t ttui-run.XXXXXX)
test_log="$log_dir/test.log"
# The logs (and the tests' XDG dirs inside) go when the run passes with nothing flaky, and stay
# for reading otherwise (or with TTUI_KEEP_LOGS=1): a clean run leaves nothing in the temp dir.
end_run() {
    local rc=$?
    if ((rc == 0 && ${#flaky[@]} == 0)) && [[ ${TTUI_KEEP_LOGS:-0} != 1 ]]; then
        rm -rf "$log_dir"
    else
        echo "logs kept in $log_dir"
    fi
    exit "$rc"
}
trap end_run EXIT
started=$SECONDS
declare -a steps=()
tests_state="not run"

# One entry per test binary cargo built (label: its source file), and one per unit: a set of
# tests run by one process in one namespace (same index in every unit_ array).
declare -a bin_label=() bin_exe=() bin_src=()
declare -a unit_label=() unit_exe=() unit_names=() unit_alone=() unit_state=() unit_note=()
declare -a unit_pass=() unit_fail=() unit_ign=() unit_skip=() unit_secs=() unit_slow=()
declare -a flaky=() still_failing=() failed_first=() self_skips=()

# Selection arguments (for cargo, before `--`) and arguments for each test binary (after).
declare -a select_args=() test_args=()
split_args() {
    local seen_dashes=0 a
    for a in "$@"; do
        if ((seen_dashes)); then
            test_args+=("$a")
        elif [[ $a == -- ]]; then
            seen_dashes=1
        else
            select_args+=("$a")
        fi
    done
    if ((${#select_args[@]} == 0)); then
        # Libraries, binaries and integration tests; the benchmarks are built (and linted) but
        # not run (tests/bench/bench.sh runs them). The crate has no doctests; add them here
        # when it does.
        select_args=(--lib --bins --tests --benches)
    fi
}

# Runs one named step and records its time. Step functions chain their commands with
# `|| return`: bash ignores `set -e` inside a function called as an `if` condition.
step() {
    local name=$1
    shift
    local t0=$SECONDS
    echo
    echo "==> $name"
    if "$@"; then
        steps+=("ok    $(printf '%4ss' $((SECONDS - t0)))  $name")
    else
        local rc=$?
        steps+=("FAIL  $(printf '%4ss' $((SECONDS - t0)))  $name (exit $rc)")
        summary
        exit "$rc"
    fi
}

skipped_step() {
    steps+=("skip        $1 ($2)")
}

summary() {
    echo
    echo "================ ttui test summary ================"
    local s i
    for s in "${steps[@]}"; do
        echo "  $s"
    done
    if [[ $tests_state == "not run" ]]; then
        echo "  total time: $((SECONDS - started))s"
        echo "==================================================="
        echo "tests: not run (a step before them failed)"
        return
    fi
    local n=${#unit_label[@]} finished=0 p=0 f=0 sk=0
    local -a unfinished=()
    for ((i = 0; i < n; i++)); do
        p=$((p + unit_pass[i]))
        f=$((f + unit_fail[i]))
        sk=$((sk + unit_ign[i] + unit_skip[i]))
        if [[ ${unit_state[i]} == finished ]]; then
            finished=$((finished + 1))
        else
            unfinished+=("${unit_label[i]}: ${unit_note[i]}")
        fi
    done
    p=$((p + ${#flaky[@]}))
    f=$((f - ${#flaky[@]}))
    slowest
    echo "  test units: $n expected (${#bin_label[@]} binaries), $finished ran to their end"
    if ((${#unfinished[@]} > 0)); then
        echo "  DID NOT FINISH:"
        for s in "${unfinished[@]}"; do
            echo "    $s"
        done
    fi
    if ((${#failed_first[@]} > 0)); then
        echo "  failed tests (first run):"
        for s in "${failed_first[@]}"; do
            echo "    $s"
        done
    fi
    if ((${#flaky[@]} > 0)); then
        echo "  FLAKY (failed, then passed when run again alone):"
        for s in "${flaky[@]}"; do
            echo "    $s"
        done
    fi
    if ((${#still_failing[@]} > 0)); then
        echo "  FAILED:"
        for s in "${still_failing[@]}"; do
            echo "    $s"
        done
    fi
    if ((${#self_skips[@]} > 0)); then
        echo "  skipped by the test itself (prerequisite missing, TTUI_REQUIRE_TOOLS=0):"
        for s in "${self_skips[@]}"; do
            echo "    $s"
        done
    fi
    echo "  full test log: $test_log (removed when the run passes, unless TTUI_KEEP_LOGS=1)"
    echo "  total time: $((SECONDS - started))s"
    echo "==================================================="
    local tail=""
    if ((${#unfinished[@]} > 0)); then
        tail="; ${#unfinished[@]} of $n test units did not finish"
    fi
    echo "tests: $p passed, $f failed, $sk skipped$tail"
}

# Where the test step's time went: the 20 slowest units (wall time, `alone` marked) and the 20
# slowest tests (libtest's own times, `--report-time`, when the binaries take that flag).
slowest() {
    local i
    if ((${#unit_label[@]} > 0)); then
        echo "  slowest units (wall time):"
        for ((i = 0; i < ${#unit_label[@]}; i++)); do
            [[ ${unit_secs[i]} == - ]] && continue
            printf '%s\t%s%s\n' "${unit_secs[i]}" "${unit_label[i]}" \
                "$( ((unit_alone[i])) && echo ' (alone)')"
        done | sort -t $'\t' -k1,1 -rn | awk -F'\t' 'NR <= 20 { printf "    %6ss  %s\n", $1, $2 }'
    fi
    if [[ -s $log_dir/times.tsv ]]; then
        echo "  slowest tests:"
        # awk reads to the end: no early exit for `sort` to be killed by (SIGPIPE, pipefail).
        sort -t $'\t' -k1,1 -rg "$log_dir/times.tsv" |
            awk -F'\t' 'NR <= 20 { printf "    %8.3fs  %s\n", $1, $2 }'
    fi
}

as_root() {
    if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

install_packages() {
    # python3 parses cargo's JSON here; python3-libtorrent needs it anyway.
    local pkgs=(opentracker transmission-daemon transmission-cli mktorrent aria2
        python3-libtorrent python3 python3-venv tmux aha iproute2 util-linux openssh-server
        openssh-client desktop-file-utils chromium dante-server e2fsprogs miniupnpc nftables
        fuse3 python3-fusepy ffmpeg nodejs qbittorrent-nox coturn faketime curl)
    local missing=() p
    for p in "${pkgs[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$p")
        fi
    done
    if ((${#missing[@]} == 0)); then
        echo "all packages already installed"
        return 0
    fi
    echo "installing: ${missing[*]}"
    as_root apt-get update || return
    # No package may start a service here (dante-server's would start a system danted):
    # tests run their own instances. A policy-rc.d of our own, removed after, unless one is
    # already in place.
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null &&
            as_root chmod +x "$policy" && own_policy=1
    fi
    local rc=0
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing[@]}" || rc=$?
    if ((own_policy)); then as_root rm -f "$policy"; fi
    return "$rc"
}

# The Python clients the tests drive (PyPI), in a venv of their own outside the repo, made
# with Debian's python3 (python3-venv); TTUI_PY_VENV names it for the tests (tests/faces/rpc.rs).
python_venv() {
    local venv=${TTUI_PY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/ttui/test-venv}
    local want="transmission-rpc==7.0.12 websocket-client==1.8.0 qbittorrent-api==2024.12.71 aioqbt==1.1.0"
    if [[ ! -x $venv/bin/python ]]; then
        /usr/bin/python3 -m venv "$venv" || return
    fi
    if ! "$venv/bin/python" -c 'import transmission_rpc, websocket, qbittorrentapi, aioqbt' 2>/dev/null; then
        # shellcheck disable=SC2086 # several requirements, split on purpose
        "$venv/bin/python" -m pip install --quiet $want || return
    fi
    export TTUI_PY_VENV=$venv
    echo "python venv: $venv ($want)"
    # qbit_manage pins a qbittorrent-api of its own (2026.10.0): a venv of its own beside,
    # named by TTUI_QBM_VENV (tests/faces/qbt_tools.rs).
    local qbm=${TTUI_QBM_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/ttui/test-venv-qbm}
    local qbm_want="qbit-manage==4.14.0"
    if [[ ! -x $qbm/bin/python ]]; then
        /usr/bin/python3 -m venv "$qbm" || return
    fi
    if ! "$qbm/bin/python" -c 'import qbit_manage' 2>/dev/null; then
        "$qbm/bin/python" -m pip install --quiet "$qbm_want" || return
    fi
    export TTUI_QBM_VENV=$qbm
    echo "qbit_manage venv: $qbm ($qbm_want)"
}

# The npm packages the tests drive (@ctrl/qbittorrent, Flood, bittorrent-tracker's WebSocket
# server, WebTorrent: tests/faces/qbt_tools/node/, their versions pinned by its
# package-lock.json and picked to run on Node 20), installed with `npm ci` into a directory of
# their own beside the venv, again whenever the lock file changes; TTUI_NODE_MODULES names it
# for the tests (tests/faces/qbt_tools.rs, tests/net/ws_tracker.rs, tests/net/webtorrent/).
# `--ignore-scripts`: WebTorrent's WebRTC comes from node-datachannel (through webrtc-polyfill
# and @thaunknown/simple-peer), whose install script downloads its prebuilt binary from GitHub
# or builds it with cmake, fetching libdatachannel from GitHub too: our machines reach package
# registries only, so that binary cannot be had. The tests' WebTorrent peers
# (tests/net/webtorrent/peer.mjs) map `webrtc-polyfill` onto @roamhq/wrtc instead, whose
# binary (libwebrtc) ships inside the npm package @roamhq/wrtc-linux-x64, an optional
# dependency that `npm ci` installs without any script; node-datachannel stays installed,
# binary-less and never loaded. npm drops an optional dependency it could not install without
# a word, so the binary is loaded here on every run (a tenth of a second).
# webtorrent 3.0.21 declares node >= 22 but runs on Node 20 (npm only warns).
node_packages() {
    local dir=${TTUI_NODE_MODULES:-${XDG_CACHE_HOME:-$HOME/.cache}/ttui/test-node}
    local src=$root/tests/faces/qbt_tools/node
    if ! command -v npm >/dev/null; then
        # Debian's nodejs comes without npm (NodeSource's has it, and conflicts with this).
        as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y --no-install-recommends npm || return
    fi
    local major
    major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
    if ((major < 20)); then
        # Debian 12's own nodejs is 18: @ctrl/qbittorrent 9.14 needs 20 (NodeSource's).
        echo "node $(node --version 2>/dev/null || echo missing) is older than 20" >&2
        return 1
    fi
    mkdir -p "$dir" || return
    if ! cmp -s "$src/package-lock.json" "$dir/package-lock.json" ||
        [[ ! -d $dir/node_modules ]]; then
        cp "$src/package.json" "$src/package-lock.json" "$dir/" || return
        (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) || return
    fi
    if ! (cd "$dir" && node -e 'require("@roamhq/wrtc").RTCPeerConnection' 2>/dev/null); then
        echo "node packages: $dir: @roamhq/wrtc's binary does not load" >&2
        (cd "$dir" && node -e 'require("@roamhq/wrtc")') >&2
        return 1
    fi
    export TTUI_NODE_MODULES=$dir
    echo "node packages: $dir (node $(node --version))"
}

rust_components() {
    # A bare toolchain may lack them; rustup (when present) can add them.
    if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
        rustup component add rustfmt clippy
    fi
}

# Fills bin_label/bin_exe from cargo's JSON: every test-profile artifact with an executable,
# the library first, then binaries, then integration tests by name.
read_binary_list() {
    local json=$1 label exe src
    local list
    list=$(python3 - "$json" "$root" <<'PY'
import json, os, sys
found = {}
with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
    for line in f:
        if not line.startswith("{"):
            continue
        try:
            m = json.loads(line)
        except ValueError:
            continue
        if m.get("reason") != "compiler-artifact" or not m.get("executable"):
            continue
        if not (m.get("profile") or {}).get("test"):
            continue
        t = m.get("target") or {}
        kind = (t.get("kind") or ["?"])[0]
        if kind == "bench":
            # Built (and linted) with the rest; tests/bench/ runs them.
            continue
        path = t.get("src_path", "?")
        src = os.path.relpath(path, sys.argv[2])
        if src.startswith(".."):
            # Outside the tree (the runner's self-test): named from its tests/ folder on.
            i = path.rfind("/tests/")
            src = path[i + 1:] if i >= 0 else path
        order = {"lib": 0, "bin": 1, "test": 2}.get(kind, 3)
        found[m["executable"]] = (order, src, m["executable"], path)
for order, src, exe, path in sorted(found.values()):
    print(f"{src}\t{exe}\t{path}")
PY
    ) || return
    while IFS=$'\t' read -r -u 3 label exe src; do
        [[ -n $exe ]] || continue
        bin_label+=("$label")
        bin_exe+=("$exe")
        bin_src+=("$src")
    done 3<<<"$list"
    if ((${#bin_label[@]} == 0)); then
        echo "cargo listed no test binaries (see $json)" >&2
        return 1
    fi
    echo "test binaries to run (${#bin_label[@]}):"
    printf '  %s\n' "${bin_label[@]}"
}

# A cold build of every test binary takes about 7.5 GiB in
# target/ (CI on a clean clone, line tables only: Cargo.toml's [profile.dev]); a disk that
# fills mid-build makes rustc panic, which reads like a compiler bug. Say so first, in one line.
need_disk_mib=${TTUI_NEED_DISK_MIB:-10240}
check_disk() {
    mkdir -p target
    local free
    free=$(df -Pm target | awk 'NR == 2 { print $4 }')
    if [[ $free =~ ^[0-9]+$ ]] && ((free < need_disk_mib)); then
        echo "ttui-tests: only ${free} MiB free for target/ ($(df -P target | awk 'NR == 2 { print $6 }')); a cold build needs about ${need_disk_mib} MiB" >&2
    fi
    return 0
}

# The build is the lint: clippy-driver compiles the workspace's crates as rustc would and lints
# them on the way (what `cargo clippy` does, in check mode), so everything is compiled once.
# `-D warnings` as `cargo clippy -- -D warnings` passes it (CLIPPY_ARGS).
lint_env() {
    if [[ ${TTUI_SKIP_LINT:-0} == 1 ]]; then
        return 0
    fi
    local driver
    driver=$(command -v clippy-driver || rustup which clippy-driver 2>/dev/null) || {
        echo "clippy-driver not found (rustup component add clippy)" >&2
        return 1
    }
    export RUSTC_WORKSPACE_WRAPPER=$driver CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
}

build() {
    check_disk
    lint_env || return
    cargo fetch || return
    # Exactly what the test step runs, so the offline run compiles nothing. The JSON names
    # every test binary: the list of what must run to its end.
    cargo test "${select_args[@]}" --no-run --message-format=json-render-diagnostics \
        >"$log_dir/build.json" || return
    # The binary itself (CARGO_BIN_EXE_ttui), when the selection did not already build it.
    cargo build --bins || return
    read_binary_list "$log_dir/build.json"
}

# Runs inside the namespaces: a new network namespace (only `lo`, brought up here with
# 127.0.0.1 and ::1), a new pid namespace (when this shell, its pid 1, exits, the kernel kills
# anything a test left behind) and a mount namespace with fresh /proc and /sys views of that
# network namespace. Arguments: time limit in seconds, then the command.
# shellcheck disable=SC2016  # expanded by the inner bash
inner='
set -u
limit=$1
shift
ulimit -c 0
mount -t sysfs sysfs /sys 2>/dev/null || true
# A new namespace takes disable_ipv6 from the defaults; with it off, `lo` gets ::1 when up.
if [[ -w /proc/sys/net/ipv6/conf/lo/disable_ipv6 ]]; then
    echo 0 >/proc/sys/net/ipv6/conf/lo/disable_ipv6
fi
# Named network namespaces (`ip netns add`, tests/support/netlab.rs) live in /run/netns: a
# tmpfs of its own there, so units side by side cannot see or reuse each others names.
mkdir -p /run/netns && mount -t tmpfs -o size=1m,mode=0755 ttui-netns /run/netns ||
    { echo "ttui-tests: cannot mount a private /run/netns" >&2; exit 125; }
ip link set lo up || { echo "ttui-tests: cannot bring lo up" >&2; exit 125; }
if ! ip -6 addr show dev lo 2>/dev/null | grep -q "inet6 ::1/"; then
    ip -6 addr add ::1/128 dev lo 2>/dev/null ||
        echo "ttui-tests: no ::1 on lo in the test namespace; the IPv6 tests will fail" >&2
fi
cd "$TTUI_ROOT" || exit 125
t0=$SECONDS
timeout --foreground --kill-after=10 "$limit" "$@"
rc=$?
if ((rc == 124 || (rc == 137 && SECONDS - t0 >= limit))); then
    echo "ttui-tests: timed out after ${limit}s" >&2
    exit 124
fi
exit $rc
'

declare -a ns=()

namespace_ok() {
    ns=(unshare --net --pid --fork --kill-child --mount --mount-proc)
    if [[ $EUID -ne 0 ]]; then
        # Without root, a user namespace maps us to root inside it.
        ns=(unshare --map-root-user --net --pid --fork --kill-child --mount --mount-proc)
    fi
    if ! "${ns[@]}" -- true; then
        echo "cannot create the test namespaces with: ${ns[*]}" >&2
        echo "(needs root, or unprivileged user namespaces; in a container, CAP_SYS_ADMIN)" >&2
        return 1
    fi
}

# in_namespace LIMIT LOG SKIP_LOG COMMAND...: runs COMMAND in a fresh namespace with no stdin,
# its output to LOG; returns its exit status (124: timed out).
in_namespace() {
    local limit=$1 log=$2 skip_log=$3
    shift 3
    local rc=0
    # The outer bound is a last resort if the inner one cannot end the namespace: unshare
    # ignores SIGTERM while it waits, so this sends SIGKILL, and --kill-child passes it on.
    # Both timeouts run in the foreground (no process group of their own), so Ctrl-C, or a CI
    # runner signalling this script's process group, reaches the test binary itself.
    TTUI_ROOT=$root TTUI_SKIP_LOG=$skip_log \
        timeout --foreground -s KILL $((limit + 60)) \
        "${ns[@]}" -- bash -c "$inner" ttui-tests "$limit" "$@" \
        </dev/null 3<&- >"$log" 2>&1 || rc=$?
    return "$rc"
}

describe_exit() {
    local rc=$1
    if ((rc == 124)); then
        echo "timed out"
    elif ((rc > 128 && rc < 160)); then
        echo "killed by SIG$(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128))) (exit $rc)"
    elif ((rc >= 125 && rc <= 127)); then
        echo "could not be started (exit $rc)"
    else
        echo "exit $rc"
    fi
}

# Counts in a `test result:` line: sets r_pass r_fail r_ign; fails if it is not one.
parse_result() {
    local re='^test result: (ok|FAILED)\. ([0-9]+) passed; ([0-9]+) failed; ([0-9]+) ignored;'
    [[ $1 =~ $re ]] || return 1
    r_pass=${BASH_REMATCH[2]}
    r_fail=${BASH_REMATCH[3]}
    r_ign=${BASH_REMATCH[4]}
}

# Names of the tests that libtest marked FAILED in a log.
failed_names() {
    sed -n -e 's/^test \(.*\) \.\.\. FAILED\( <[0-9.]*s>\)\{0,1\}$/\1/p' "$1" |
        sed -e 's/ - should panic$//'
}

# The flags among the arguments for the test binaries, which hold for every unit and retry
# (the filters among them have already chosen the units' tests).
unit_flags() {
    local a
    for a in "${test_args[@]}"; do
        case $a in
        --include-ignored | --ignored | --nocapture | --show-output | --test-threads=*) echo "$a" ;;
        esac
    done
}

# Adds a unit: label, executable, file of test names ("" for none), alone (0|1).
add_unit() {
    unit_label+=("$1")
    unit_exe+=("$2")
    unit_names+=("$3")
    unit_alone+=("$4")
    unit_state+=("not run")
    unit_note+=("never started")
    unit_pass+=(0)
    unit_fail+=(0)
    unit_ign+=(0)
    unit_skip+=(0)
    unit_secs+=(-)
    unit_slow+=(0)
}

# Splits each test binary into units from its own `--list` (the arguments for the binaries
# filter it): an area binary (tests/AREA/main.rs) one unit per top-level module, labelled
# tests/AREA/MODULE.rs; any other binary one unit. A module declared `mod NAME; // alone` in
# main.rs runs alone.
list_units() {
    local i exe label names dir m rc
    local -A alone=() slow=()
    for ((i = 0; i < ${#bin_label[@]}; i++)); do
        exe=${bin_exe[i]}
        label=${bin_label[i]}
        if [[ ! -x $exe ]]; then
            add_unit "$label" "$exe" "" 0
            unit_state[-1]="missing"
            unit_note[-1]="executable $exe missing"
            continue
        fi
        names="$log_dir/list-$i.txt"
        rc=0
        timeout 120 "$exe" --list --format terse "${test_args[@]}" </dev/null \
            >"$log_dir/list-$i.out" 2>&1 || rc=$?
        sed -n -e 's/: test$//p' "$log_dir/list-$i.out" >"$names"
        if ((rc != 0)); then
            add_unit "$label" "$exe" "" 0
            unit_state[-1]="crashed"
            unit_note[-1]="could not list its tests ($(describe_exit "$rc"))"
            cat "$log_dir/list-$i.out" >>"$test_log"
            continue
        fi
        [[ -s $names ]] || continue
        if [[ $label != tests/*/main.rs ]]; then
            add_unit "$label" "$exe" "$names" 0
            continue
        fi
        dir=${label%/main.rs}
        alone=() slow=()
        while read -r m; do
            alone[$m]=1
        done < <(sed -n -e 's,^mod \([a-z0-9_]*\); *// *alone\b.*,\1,p' "${bin_src[i]}")
        while read -r m; do
            slow[$m]=1
        done < <(sed -n -e 's,^mod \([a-z0-9_]*\); *// *slow\b.*,\1,p' "${bin_src[i]}")
        for m in $(sed -n -e 's/^\([a-zA-Z0-9_]*\)::.*/\1/p' "$names" | sort -u); do
            grep -E "^$m::" "$names" >"$log_dir/list-$i-$m.txt"
            add_unit "$dir/$m.rs" "$exe" "$log_dir/list-$i-$m.txt" "${alone[$m]:-0}"
            unit_slow[-1]=${slow[$m]:-0}
        done
        if grep -qv '::' "$names"; then
            grep -v '::' "$names" >"$log_dir/list-$i-main.txt"
            add_unit "$label" "$exe" "$log_dir/list-$i-main.txt" 0
        fi
    done
}

# Starts unit I in the background (its namespace, its log, its exit status in a file); sets
# started_pid.
start_unit() {
    local i=$1 limit=$2
    local log="$log_dir/unit-$i.log" skip_log="$log_dir/skips-$i.log"
    local -a names=() flags=() timing=()
    : >"$skip_log"
    mapfile -t names <"${unit_names[i]}"
    mapfile -t flags < <(unit_flags)
    ((report_time)) && timing=(-Z unstable-options --report-time)
    unit_t0[i]=$SECONDS
    (
        rc=0
        ((report_time)) && export RUSTC_BOOTSTRAP=1
        # A ttui a test starts without --state-dir or --config keeps its session, its control
        # socket and its config in the unit's own directory, never in the user's or another
        # unit's.
        local x="$log_dir/xdg-$i"
        export XDG_DATA_HOME="$x/data" XDG_CONFIG_HOME="$x/config" XDG_RUNTIME_DIR="$x/run" \
            XDG_STATE_HOME="$x/state"
        mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_STATE_HOME"
        mkdir -p -m 0700 "$XDG_RUNTIME_DIR"
        in_namespace "$limit" "$log" "$skip_log" \
            "${unit_exe[i]}" "${timing[@]}" "${flags[@]}" --exact "${names[@]}" || rc=$?
        echo "$rc" >"$log_dir/unit-$i.rc"
    ) &
    started_pid=$!
}

# Reads what unit I left (exit status, log, skip log) into the unit_ arrays and prints a line.
collect_unit() {
    local i=$1 limit=$2
    local log="$log_dir/unit-$i.log" skip_log="$log_dir/skips-$i.log"
    local label=${unit_label[i]} rc
    rc=$(cat "$log_dir/unit-$i.rc" 2>/dev/null || echo 125)
    unit_secs[i]=$((SECONDS - unit_t0[i]))
    {
        echo "     Running $label (${unit_exe[i]#"$root"/})"
        cat "$log"
    } >>"$test_log"
    local result r_pass=0 r_fail=0 r_ign=0
    result=$(grep -E '^test result: ' "$log" | tail -n 1 || true)
    if ((rc == 124)); then
        unit_state[i]="timeout"
        local running
        running=$(sed -n -e 's/^test \(.*\) has been running for over [0-9]* seconds$/\1/p' "$log" |
            while read -r t; do grep -qF "test $t ... " "$log" || echo "$t"; done | tr '\n' ' ')
        unit_note[i]="timed out after ${limit}s${running:+ (still running: ${running% })}"
    elif [[ -z $result ]] || ! parse_result "$result"; then
        unit_state[i]="crashed"
        unit_note[i]="$(describe_exit "$rc") without a test result line"
    elif [[ $rc -ne 0 && $rc -ne 101 ]] || [[ $rc -eq 0 && $result != "test result: ok."* ]] ||
        [[ $rc -eq 101 && $result != "test result: FAILED."* ]]; then
        unit_state[i]="crashed"
        unit_note[i]="$(describe_exit "$rc") after its test result line"
    else
        unit_state[i]="finished"
    fi
    if [[ ${unit_state[i]} == finished ]]; then
        unit_pass[i]=$r_pass
        unit_fail[i]=$r_fail
        unit_ign[i]=$r_ign
    else
        # What it got through before it stopped still counts.
        local done_re='^test .* \.\.\. '
        unit_pass[i]=$(grep -cE "${done_re}ok( <[0-9.]+s>)?$" "$log" || true)
        unit_fail[i]=$(grep -cE "${done_re}FAILED( <[0-9.]+s>)?$" "$log" || true)
        unit_ign[i]=$(grep -cE "${done_re}ignored(, .*)?$" "$log" || true)
    fi
    local t reason
    while IFS=$'\t' read -r -u 3 t reason; do
        self_skips+=("$label: $t: $reason")
        unit_skip[i]=$((unit_skip[i] + 1))
    done 3< <(sort -u -t $'\t' -k 1,1 "$skip_log")
    if ((unit_skip[i] > unit_pass[i])); then
        unit_state[i]="crashed"
        unit_note[i]="recorded ${unit_skip[i]} skips but only ${unit_pass[i]} tests passed"
        unit_skip[i]=${unit_pass[i]}
    fi
    unit_pass[i]=$((unit_pass[i] - unit_skip[i]))
    while read -r t; do
        [[ -n $t ]] && failed_first+=("$label: $t")
    done < <(failed_names "$log")
    sed -n -E "s|^test (.*) \.\.\. [a-zA-Z]+ <([0-9.]+)s>\$|\2\t$label: \1|p" "$log" \
        >>"$log_dir/times.tsv"
    local word=ok
    if [[ ${unit_state[i]} != finished ]]; then
        word="DID NOT FINISH: ${unit_note[i]}"
    elif ((unit_fail[i] > 0)); then
        word="${unit_fail[i]} FAILED"
    fi
    printf '  %5ss  %-40s %4s passed  %s\n' "${unit_secs[i]}" "$label$( ((unit_alone[i])) && echo ' (alone)')" \
        "${unit_pass[i]}" "$word"
    if [[ " ${test_args[*]} " == *" --nocapture "* || " ${test_args[*]} " == *" --show-output "* ]]; then
        # Asked for: the unit's whole output, as the binary wrote it.
        cat "$log"
    elif [[ $word != ok ]]; then
        # The story of a unit that did not pass, where CI shows it.
        echo "  ---- $label: the last 300 lines of its output ----"
        tail -n 300 "$log" | sed 's/^/  | /'
    fi
}

# Runs the units: up to TTUI_JOBS at once, then the `alone` ones one at a time. A unit gets
# the time left of the step's budget, at most TTUI_BINARY_TIMEOUT.
run_tests() {
    export RUST_TEST_THREADS=${RUST_TEST_THREADS:-2}
    export TTUI_REQUIRE_TOOLS=${TTUI_REQUIRE_TOOLS:-1}
    # A ttui that a test starts without --dht-bootstrap must not reach for public routers.
    export TTUI_NO_PUBLIC_ROUTERS=1
    # Each unit and each retry gets XDG dirs of its own (start_unit, retry_failed).
    namespace_ok || return
    tests_state="ran"
    list_units
    local n=${#unit_label[@]}
    if ((n == 0)); then
        echo "the test binaries listed no tests (see $test_log)" >&2
        return 1
    fi
    # libtest's own time per test (an unstable flag; RUSTC_BOOTSTRAP=1 lets a stable test
    # binary take it), when the first binary takes it.
    report_time=0
    if RUSTC_BOOTSTRAP=1 timeout 60 "${bin_exe[0]}" -Z unstable-options --report-time \
        --list </dev/null >/dev/null 2>&1; then
        report_time=1
    fi
    local jobs=${TTUI_JOBS:-8} total=${TTUI_TEST_TIMEOUT:-3600} per_bin=${TTUI_BINARY_TIMEOUT:-1800}
    ((jobs >= 1)) || jobs=1
    local deadline=$((SECONDS + total)) i limit pid
    local -a queue=() rest=() later=()
    local -A running=()
    declare -ga unit_t0=() unit_limit=()
    # The slow ones (`// slow` in main.rs) first, so the longest do not start last.
    for ((i = 0; i < n; i++)); do
        [[ ${unit_state[i]} == "not run" ]] || continue
        if ((unit_alone[i])); then
            later+=("$i")
        elif ((unit_slow[i])); then
            queue+=("$i")
        else
            rest+=("$i")
        fi
    done
    queue+=("${rest[@]}")
    echo "units: ${#queue[@]} side by side ($jobs at once), ${#later[@]} alone after them"
    # One list, then the alone ones: a slot frees, the next unit starts; an alone unit starts
    # only when nothing else runs, and nothing starts beside it.
    queue+=(-1 "${later[@]}")
    local k=0 cap=$jobs
    while ((k < ${#queue[@]} || ${#running[@]} > 0)); do
        while ((k < ${#queue[@]} && ${#running[@]} < cap)); do
            i=${queue[k]}
            if ((i == -1)); then
                # The side-by-side units must all end first.
                ((${#running[@]} == 0)) || break
                cap=1
                k=$((k + 1))
                continue
            fi
            limit=$((deadline - SECONDS))
            if ((limit <= 0)); then
                unit_note[i]="never started: the test step's ${total}s (TTUI_TEST_TIMEOUT) ran out"
                k=$((k + 1))
                continue
            fi
            ((limit > per_bin)) && limit=$per_bin
            unit_limit[i]=$limit
            start_unit "$i" "$limit"
            running[$started_pid]=$i
            k=$((k + 1))
        done
        ((${#running[@]} > 0)) || continue
        pid=""
        wait -n -p pid "${!running[@]}" || true
        if [[ -z $pid || -z ${running[$pid]:-} ]]; then
            continue
        fi
        i=${running[$pid]}
        unset "running[$pid]"
        collect_unit "$i" "${unit_limit[i]}"
    done
    retry_failed
    local ok=1
    for ((i = 0; i < n; i++)); do
        [[ ${unit_state[i]} == finished ]] || ok=0
    done
    ((${#still_failing[@]} == 0)) || ok=0
    ((ok))
}

# The interop tests drive real clients whose timing varies run to run. A test that failed is
# run once more, alone; one that passes then is FLAKY (reported, counted as passed), one that
# fails again fails the run. More than five failures is not flakiness: nothing is retried.
retry_failed() {
    local list="$log_dir/retry.list" i t
    : >"$list"
    for ((i = 0; i < ${#unit_label[@]}; i++)); do
        [[ ${unit_state[i]} == finished ]] || continue
        local names
        names=$(failed_names "$log_dir/unit-$i.log")
        local count=0
        [[ -n $names ]] && count=$(grep -c . <<<"$names")
        if ((count != unit_fail[i])); then
            # The FAILED lines do not match the counts: nothing is retried for this unit.
            while read -r t; do
                [[ -n $t ]] && still_failing+=("${unit_label[i]}: $t")
            done <<<"$names"
            if ((count < unit_fail[i])); then
                still_failing+=("${unit_label[i]}: $((unit_fail[i] - count)) failed test(s) not named in its log")
            fi
            continue
        fi
        while read -r t; do
            [[ -n $t ]] && printf '%s\t%s\n' "$i" "$t" >>"$list"
        done <<<"$names"
    done
    local n
    n=$(grep -c . "$list" || true)
    ((n > 0)) || return 0
    if ((n > 5)); then
        while IFS=$'\t' read -r -u 3 i t; do
            still_failing+=("${unit_label[i]}: $t")
        done 3<"$list"
        return 0
    fi
    echo
    echo "==> running the $n failed test(s) once more, alone"
    local k=0 rc log skip_log r_pass r_fail r_ign result
    # The flags given for the test binaries (not their filters) hold for the retry too: an
    # ignored test run with --include-ignored is retried with it.
    local -a flags=()
    mapfile -t flags < <(unit_flags)
    # The list comes in on its own descriptor (3), closed for the commands: a test that reads
    # stdin cannot eat the rest of the list.
    while IFS=$'\t' read -r -u 3 i t; do
        k=$((k + 1))
        log="$log_dir/retry-$k.log"
        skip_log="$log_dir/retry-skips-$k.log"
        : >"$skip_log"
        echo "     Retrying ${unit_label[i]}: $t"
        rc=0
        (
            x="$log_dir/xdg-retry-$k"
            export XDG_DATA_HOME="$x/data" XDG_CONFIG_HOME="$x/config" XDG_RUNTIME_DIR="$x/run" \
                XDG_STATE_HOME="$x/state"
            mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_STATE_HOME"
            mkdir -p -m 0700 "$XDG_RUNTIME_DIR"
            in_namespace 900 "$log" "$skip_log" "${unit_exe[i]}" "${flags[@]}" --exact "$t"
        ) || rc=$?
        sed 's/^/  | /' "$log"
        cat "$log" >>"$test_log"
        result=$(grep -E '^test result: ' "$log" | tail -n 1 || true)
        r_pass=0 r_fail=0 r_ign=0
        if ((rc == 0)) && parse_result "$result" && ((r_pass == 1 && r_fail == 0)) &&
            [[ ! -s $skip_log ]]; then
            flaky+=("${unit_label[i]}: $t")
        else
            still_failing+=("${unit_label[i]}: $t (again: $(describe_exit "$rc"))")
        fi
    done 3<"$list"
}

runner_selftest() {
    bash "$root/tests/selftest/run.sh"
}

split_args "$@"
# A fresh clone has nothing to reuse: incremental caches would only fill the disk (about as
# much again as the build itself).
if [[ ${CI:-} == true ]]; then
    export CARGO_INCREMENTAL=0
fi
step "install third-party clients (apt)" install_packages
step "python clients (venv, PyPI)" python_venv
step "node clients (npm ci)" node_packages
if [[ ${TTUI_RUNNER_SELFTEST:-1} != 0 ]]; then
    step "runner self-test (tests/selftest)" runner_selftest
else
    skipped_step "runner self-test" "TTUI_RUNNER_SELFTEST=0"
fi
step "rust components" rust_components
if [[ ${TTUI_SKIP_LINT:-0} != 1 ]]; then
    step "cargo fmt --check" cargo fmt --all -- --check
    step "the layering check finds what is planted (.ci/rooms --selftest)" python3 .ci/rooms --selftest
    step "engine imports point down (.ci/rooms)" python3 .ci/rooms src
else
    skipped_step "cargo fmt, clippy, .ci/rooms" "TTUI_SKIP_LINT=1"
fi
if [[ ${TTUI_SKIP_LINT:-0} != 1 ]]; then
    step "cargo build with clippy -D warnings (lib, bins, tests, benches)" build
else
    step "cargo build (lib, bins, tests, benches)" build
fi
step "tests (offline, loopback-only namespace, $root)" run_tests
summary
