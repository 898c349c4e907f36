#!/usr/bin/env bash
# The test command. In order:
#   1. installs the third-party BitTorrent clients the integration tests run against (apt),
#      the Python ones (PyPI, into a venv: python_venv below) and the npm ones (node_packages);
#   2. the runner's self-test (tests/selftest/run.sh): this script, run against a fake `cargo`
#      and fake test binaries, must fail on every failure path listed below (a few seconds);
#   3. cargo fmt --check, cargo clippy --all-targets -D warnings, and .ci/rooms (the engine's
#      imports point down: ARCHITECTURE.md);
#   4. builds everything (network needed) and lists the test binaries it expects to run, from
#      `cargo test --no-run --message-format=json-render-diagnostics`;
#   5. runs each listed binary, one after another, offline, inside a fresh namespace whose only
#      network interface is `lo` (127.0.0.1 and ::1), so no test can send a packet anywhere but
#      loopback; a fresh pid namespace per binary kills whatever a test left running.
#
#   bash tests/run.sh                             # everything
#   bash tests/run.sh --test interop              # arguments before `--` select binaries (cargo)
#   bash tests/run.sh --test interop -- handshake # arguments after `--` go to each binary
#
# Exit status 0 only when every step passed, every expected test binary ran to its end, and
# every test passed. A binary "ran to its end" when it printed libtest's `test result:` line
# and then exited 0 (all passed) or 101 (some failed); a binary killed by a signal, one past
# its time limit, one that exits without that line, and one never started (the suite's time
# ran out first, or the executable is missing) each fail the command, and the summary names
# them (so a `harness = false` test target must print that line too). A test that failed is
# run once more, alone (at most five of them); if it passes then, it is reported as FLAKY and
# counted as passed — that never hides anything else: a crash or timeout elsewhere still
# fails the command.
#
# Skips. `#[ignore]` tests are counted as skipped. A test whose prerequisite (a third-party
# tool, python3-libtorrent, ::1) is missing calls tests/prereq/mod.rs, which panics when
# TTUI_REQUIRE_TOOLS is set to anything but 0 — this command sets it to 1, because it installs
# every tool and its namespace has ::1, so there a missing prerequisite is a failure. With
# TTUI_REQUIRE_TOOLS=0 (or under a plain `cargo test`) the test reports itself skipped instead:
# it writes `SKIPPED: <test>: <reason>` to stderr and appends `<test><TAB><reason>` to the file
# named by TTUI_SKIP_LOG, which this command sets per binary; every such line counts as one
# skipped test, not a passed one. Code outside tests/ follows the same protocol.
#
# Environment:
#   TTUI_SKIP_LINT=1          skip fmt, clippy and .ci/rooms
#   TTUI_REQUIRE_TOOLS=0      let tests skip (counted as skipped) instead of failing
#   TTUI_TEST_TIMEOUT=3600    seconds for the whole test step; binaries not started by then
#                             are reported as not run
#   TTUI_BINARY_TIMEOUT=1800  seconds for one test binary
#   TTUI_RUNNER_SELFTEST=0    skip step 2 (the self-test sets it for the runs it makes)
#   RUST_TEST_THREADS=2       tests run at once within a binary
#   TTUI_NEED_DISK_MIB=10240  warn before building when target/ has less free
#   CI=true                   also turns cargo's incremental caches off (CARGO_INCREMENTAL=0)
#
# The summary ends with one line: `tests: P passed, F failed, S skipped`, followed by
# `; U of N test binaries did not finish` when any did not.
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

# One entry per expected test binary, same index in every array.
declare -a bin_label=() bin_exe=() bin_state=() bin_note=()
declare -a bin_pass=() bin_fail=() bin_ign=() bin_skip=()
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
        # Libraries, binaries and integration tests (the render benchmark belongs to
        # tests/bench/bench.sh). The crate has no doctests; add them here when it does.
        select_args=(--lib --bins --tests)
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
    local n=${#bin_label[@]} finished=0 p=0 f=0 sk=0
    local -a unfinished=()
    for ((i = 0; i < n; i++)); do
        p=$((p + bin_pass[i]))
        f=$((f + bin_fail[i]))
        sk=$((sk + bin_ign[i] + bin_skip[i]))
        if [[ ${bin_state[i]} == finished ]]; then
            finished=$((finished + 1))
        else
            unfinished+=("${bin_label[i]}: ${bin_note[i]}")
        fi
    done
    p=$((p + ${#flaky[@]}))
    f=$((f - ${#flaky[@]}))
    echo "  test binaries: $n expected, $finished ran to their end"
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
        tail="; ${#unfinished[@]} of $n test binaries did not finish"
    fi
    echo "tests: $p passed, $f failed, $sk skipped$tail"
}

as_root() {
    if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

install_packages() {
    # python3 parses cargo's JSON here; python3-libtorrent needs it anyway.
    local pkgs=(opentracker transmission-daemon transmission-cli mktorrent aria2
        python3-libtorrent python3 python3-venv tmux aha iproute2 util-linux openssh-server
        openssh-client desktop-file-utils chromium dante-server e2fsprogs miniupnpc nftables
        fuse3 python3-fusepy ffmpeg nodejs)
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
# with Debian's python3 (python3-venv); TTUI_PY_VENV names it for the tests (tests/rpc.rs).
python_venv() {
    local venv=${TTUI_PY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/ttui/test-venv}
    local want="transmission-rpc==7.0.12 websocket-client==1.8.0 qbittorrent-api==2024.12.71"
    if [[ ! -x $venv/bin/python ]]; then
        /usr/bin/python3 -m venv "$venv" || return
    fi
    if ! "$venv/bin/python" -c 'import transmission_rpc, websocket, qbittorrentapi' 2>/dev/null; then
        # shellcheck disable=SC2086 # two requirements, split on purpose
        "$venv/bin/python" -m pip install --quiet $want || return
    fi
    export TTUI_PY_VENV=$venv
    echo "python venv: $venv ($want)"
    # qbit_manage pins a qbittorrent-api of its own (2026.10.0): a venv of its own beside,
    # named by TTUI_QBM_VENV (tests/qbt_tools.rs).
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

# The npm packages the tests drive (@ctrl/qbittorrent, Flood: tests/qbt_tools/node/, their
# versions pinned by its package-lock.json and picked to run on Node 20), installed with
# `npm ci` into a directory of their own beside the venv, again whenever the lock file
# changes; TTUI_NODE_MODULES names it for the tests (tests/qbt_tools.rs).
node_packages() {
    local dir=${TTUI_NODE_MODULES:-${XDG_CACHE_HOME:-$HOME/.cache}/ttui/test-node}
    local src=$root/tests/qbt_tools/node
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
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || return
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
    local json=$1 label exe
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
        src = os.path.relpath(t.get("src_path", "?"), sys.argv[2])
        order = {"lib": 0, "bin": 1, "test": 2}.get(kind, 3)
        found[m["executable"]] = (order, src, m["executable"])
for order, src, exe in sorted(found.values()):
    print(f"{src}\t{exe}")
PY
    ) || return
    while IFS=$'\t' read -r -u 3 label exe; do
        [[ -n $exe ]] || continue
        bin_label+=("$label")
        bin_exe+=("$exe")
        bin_state+=("not run")
        bin_note+=("never started")
        bin_pass+=(0)
        bin_fail+=(0)
        bin_ign+=(0)
        bin_skip+=(0)
    done 3<<<"$list"
    if ((${#bin_label[@]} == 0)); then
        echo "cargo listed no test binaries (see $json)" >&2
        return 1
    fi
    echo "test binaries to run (${#bin_label[@]}):"
    printf '  %s\n' "${bin_label[@]}"
}

# A cold build of every test binary, with clippy's metadata beside it, takes about 7.5 GiB in
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

build() {
    check_disk
    cargo fetch || return
    cargo build --bins || return
    # Exactly what the test step runs, so the offline run compiles nothing. The JSON names
    # every test binary: the list of what must run to its end.
    cargo test "${select_args[@]}" --no-run --message-format=json-render-diagnostics \
        >"$log_dir/build.json" || return
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
# output to the terminal and LOG; returns its exit status (124: timed out).
in_namespace() {
    local limit=$1 log=$2 skip_log=$3
    shift 3
    local -a st
    # The outer bound is a last resort if the inner one cannot end the namespace: unshare
    # ignores SIGTERM while it waits, so this sends SIGKILL, and --kill-child passes it on.
    # Both timeouts run in the foreground (no process group of their own), so Ctrl-C, or a CI
    # runner signalling this script's process group, reaches the test binary itself.
    set +e
    TTUI_ROOT=$root TTUI_SKIP_LOG=$skip_log \
        timeout --foreground -s KILL $((limit + 60)) \
        "${ns[@]}" -- bash -c "$inner" ttui-tests "$limit" "$@" \
        </dev/null 3<&- 2>&1 | tee "$log"
    st=("${PIPESTATUS[@]}")
    set -e
    cat "$log" >>"$test_log"
    return "${st[0]}"
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
    sed -n -e 's/^test \(.*\) \.\.\. FAILED$/\1/p' "$1" | sed -e 's/ - should panic$//'
}

run_binary() {
    local i=$1 limit=$2
    local exe=${bin_exe[i]} label=${bin_label[i]}
    local log="$log_dir/bin-$i.log" skip_log="$log_dir/skips-$i.log"
    : >"$skip_log"
    echo "     Running $label (${exe#"$root"/})" | tee -a "$test_log"
    if [[ ! -x $exe ]]; then
        bin_state[i]="missing"
        bin_note[i]="executable $exe missing"
        echo "missing executable: $exe" | tee -a "$test_log"
        return
    fi
    local rc=0
    in_namespace "$limit" "$log" "$skip_log" "$exe" "${test_args[@]}" || rc=$?
    local result r_pass=0 r_fail=0 r_ign=0
    result=$(grep -E '^test result: ' "$log" | tail -n 1 || true)
    if ((rc == 124)); then
        bin_state[i]="timeout"
        local running
        running=$(sed -n -e 's/^test \(.*\) has been running for over [0-9]* seconds$/\1/p' "$log" |
            while read -r t; do grep -qF "test $t ... " "$log" || echo "$t"; done | tr '\n' ' ')
        bin_note[i]="timed out after ${limit}s${running:+ (still running: ${running% })}"
    elif [[ -z $result ]] || ! parse_result "$result"; then
        bin_state[i]="crashed"
        bin_note[i]="$(describe_exit "$rc") without a test result line"
    elif [[ $rc -ne 0 && $rc -ne 101 ]] || [[ $rc -eq 0 && $result != "test result: ok."* ]] ||
        [[ $rc -eq 101 && $result != "test result: FAILED."* ]]; then
        bin_state[i]="crashed"
        bin_note[i]="$(describe_exit "$rc") after its test result line"
    else
        bin_state[i]="finished"
    fi
    if [[ ${bin_state[i]} == finished ]]; then
        bin_pass[i]=$r_pass
        bin_fail[i]=$r_fail
        bin_ign[i]=$r_ign
    else
        # What it got through before it stopped still counts.
        bin_pass[i]=$(grep -cE '^test .* \.\.\. ok$' "$log" || true)
        bin_fail[i]=$(grep -cE '^test .* \.\.\. FAILED$' "$log" || true)
        bin_ign[i]=$(grep -cE '^test .* \.\.\. ignored(, .*)?$' "$log" || true)
    fi
    local t reason
    while IFS=$'\t' read -r -u 3 t reason; do
        self_skips+=("$label: $t: $reason")
        bin_skip[i]=$((bin_skip[i] + 1))
    done 3< <(sort -u -t $'\t' -k 1,1 "$skip_log")
    if ((bin_skip[i] > bin_pass[i])); then
        bin_state[i]="crashed"
        bin_note[i]="recorded ${bin_skip[i]} skips but only ${bin_pass[i]} tests passed"
        bin_skip[i]=${bin_pass[i]}
    fi
    bin_pass[i]=$((bin_pass[i] - bin_skip[i]))
    while read -r t; do
        [[ -n $t ]] && failed_first+=("$label: $t")
    done < <(failed_names "$log")
}

run_tests() {
    export RUST_TEST_THREADS=${RUST_TEST_THREADS:-2}
    export TTUI_REQUIRE_TOOLS=${TTUI_REQUIRE_TOOLS:-1}
    # A ttui that a test starts without --dht-bootstrap must not reach for public routers.
    export TTUI_NO_PUBLIC_ROUTERS=1
    # A ttui a test starts without --state-dir or --config keeps its session, its control
    # socket and its config in the run's own directory, never in the user's.
    export XDG_DATA_HOME="$log_dir/xdg/data" XDG_CONFIG_HOME="$log_dir/xdg/config" \
        XDG_RUNTIME_DIR="$log_dir/xdg/run" XDG_STATE_HOME="$log_dir/xdg/state"
    mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_STATE_HOME"
    mkdir -p -m 0700 "$XDG_RUNTIME_DIR"
    namespace_ok || return
    tests_state="ran"
    local total=${TTUI_TEST_TIMEOUT:-3600} per_bin=${TTUI_BINARY_TIMEOUT:-1800}
    local deadline=$((SECONDS + total)) i n=${#bin_label[@]} limit
    for ((i = 0; i < n; i++)); do
        limit=$((deadline - SECONDS))
        if ((limit <= 0)); then
            bin_note[i]="never started: the test step's ${total}s (TTUI_TEST_TIMEOUT) ran out"
            continue
        fi
        ((limit > per_bin)) && limit=$per_bin
        run_binary "$i" "$limit"
    done
    retry_failed
    local ok=1
    for ((i = 0; i < n; i++)); do
        [[ ${bin_state[i]} == finished ]] || ok=0
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
    for ((i = 0; i < ${#bin_label[@]}; i++)); do
        [[ ${bin_state[i]} == finished ]] || continue
        local names
        names=$(failed_names "$log_dir/bin-$i.log")
        local count=0
        [[ -n $names ]] && count=$(grep -c . <<<"$names")
        if ((count != bin_fail[i])); then
            # The FAILED lines do not match the counts: nothing is retried for this binary.
            while read -r t; do
                [[ -n $t ]] && still_failing+=("${bin_label[i]}: $t")
            done <<<"$names"
            if ((count < bin_fail[i])); then
                still_failing+=("${bin_label[i]}: $((bin_fail[i] - count)) failed test(s) not named in its log")
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
            still_failing+=("${bin_label[i]}: $t")
        done 3<"$list"
        return 0
    fi
    echo
    echo "==> running the $n failed test(s) once more, alone"
    local k=0 rc log skip_log r_pass r_fail r_ign result a
    # The flags given for the test binaries (not their filters) hold for the retry too: an
    # ignored test run with --include-ignored is retried with it.
    local -a flags=()
    for a in "${test_args[@]}"; do
        case $a in
        --include-ignored | --ignored | --nocapture | --show-output | --test-threads=*) flags+=("$a") ;;
        esac
    done
    # The list comes in on its own descriptor (3), closed for the commands: a test that reads
    # stdin cannot eat the rest of the list.
    while IFS=$'\t' read -r -u 3 i t; do
        k=$((k + 1))
        log="$log_dir/retry-$k.log"
        skip_log="$log_dir/retry-skips-$k.log"
        : >"$skip_log"
        echo "     Retrying ${bin_label[i]}: $t"
        rc=0
        in_namespace 900 "$log" "$skip_log" "${bin_exe[i]}" "${flags[@]}" --exact "$t" || rc=$?
        result=$(grep -E '^test result: ' "$log" | tail -n 1 || true)
        r_pass=0 r_fail=0 r_ign=0
        if ((rc == 0)) && parse_result "$result" && ((r_pass == 1 && r_fail == 0)) &&
            [[ ! -s $skip_log ]]; then
            flaky+=("${bin_label[i]}: $t")
        else
            still_failing+=("${bin_label[i]}: $t (again: $(describe_exit "$rc"))")
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
    step "cargo clippy --all-targets -D warnings" cargo clippy --all-targets -- -D warnings
    step "the layering check finds what is planted (.ci/rooms --selftest)" python3 .ci/rooms --selftest
    step "engine imports point down (.ci/rooms)" python3 .ci/rooms src
else
    skipped_step "cargo fmt, cargo clippy, .ci/rooms" "TTUI_SKIP_LINT=1"
fi
step "cargo build (bins, tests)" build
step "tests (offline, loopback-only namespace, $root)" run_tests
summary
