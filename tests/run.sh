#!/usr/bin/env bash
# The test command: installs the third-party BitTorrent clients the integration tests
# run against, checks formatting and lints, builds everything (network needed), then runs
# the whole suite offline inside a fresh network namespace whose only interface is `lo`,
# so no test can send a packet anywhere but loopback.
#
#   bash tests/run.sh                 # everything
#   bash tests/run.sh --test interop  # extra arguments go to `cargo test`
#
# Environment: TTUI_SKIP_LINT=1 skips fmt/clippy; TTUI_TEST_TIMEOUT (seconds, default 3600)
# bounds the test step; RUST_TEST_THREADS (default 2) is honoured.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
log_dir=$(mktemp -d -t ttui-run.XXXXXX)
test_log="$log_dir/test.log"
retry_log="$log_dir/retry.log"
declare -a flaky=()
started=$SECONDS
declare -a steps=()

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

summary() {
    echo
    echo "================ ttui test summary ================"
    local s
    for s in "${steps[@]}"; do
        echo "  $s"
    done
    if [[ -s $test_log ]]; then
        # Sum the per-binary "test result:" lines cargo prints.
        awk '/^test result:/ {
                for (i = 1; i <= NF; i++) {
                    if ($(i+1) ~ /^passed/)  p += $i
                    if ($(i+1) ~ /^failed/)  f += $i
                    if ($(i+1) ~ /^ignored/) g += $i
                }
                n++
            }
            END { if (n) printf "tests: %d passed, %d failed, %d skipped\n  (%d test binaries; skipped = #[ignore])\n", p + r, f - r, g, n }' \
            r="${#flaky[@]}" "$test_log"
        if ((${#flaky[@]} > 0)); then
            echo "  FLAKY (failed, then passed when run again alone): ${flaky[*]}"
            echo "  retry log: $retry_log"
        fi
        if grep -q -- '^---- .* stdout ----$' "$test_log"; then
            echo "  failed tests (first run):"
            grep -- '^---- .* stdout ----$' "$test_log" | sed -e 's/^---- /    /' -e 's/ stdout ----$//'
        fi
        if grep -q -E '^error(\[E[0-9]+\])?: ' "$test_log"; then
            echo "  errors (first 5):"
            grep -E '^error(\[E[0-9]+\])?: ' "$test_log" | head -n 5 | sed 's/^/    /'
        fi
        echo "  full test log: $test_log"
    fi
    echo "  total time: $((SECONDS - started))s"
    echo "==================================================="
}

as_root() {
    if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

install_packages() {
    local pkgs=(opentracker transmission-daemon transmission-cli mktorrent aria2
        python3-libtorrent tmux aha iproute2 util-linux)
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
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing[@]}"
}

rust_components() {
    # A bare toolchain may lack them; rustup (when present) can add them.
    if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
        rustup component add rustfmt clippy
    fi
}

build() {
    cargo fetch || return
    cargo build --bins || return
    # Exactly what `cargo test --lib --bins --tests` will run, so the offline run compiles nothing
    # that needs the network.
    cargo test --lib --bins --tests --no-run
}

# Runs inside the namespaces: a new network namespace (only `lo`, brought up here), a new
# pid namespace (when this shell exits, the kernel kills anything a test left behind) and
# a mount namespace with fresh /proc and /sys views of that network namespace.
# shellcheck disable=SC2016  # expanded by the inner bash
inner='
set -uo pipefail
mount -t sysfs sysfs /sys 2>/dev/null || true
ip link set lo up
rc=0
if [[ $# -eq 0 ]]; then
    # Libraries, binaries and integration tests (the render benchmark belongs to
    # tests/bench/bench.sh, not here). The crate has no doctests; add --doc when it does.
    cargo test --offline --no-fail-fast --lib --bins --tests || rc=$?
else
    # Extra arguments may select targets themselves (--test interop), which --all-targets
    # would override.
    cargo test --offline --no-fail-fast "$@" || rc=$?
fi
exit $rc
'

run_tests() {
    local timeout_s=${TTUI_TEST_TIMEOUT:-3600}
    export RUST_TEST_THREADS=${RUST_TEST_THREADS:-2}
    local ns=(unshare --net --pid --fork --mount --mount-proc)
    if [[ $EUID -ne 0 ]]; then
        # Without root, a user namespace maps us to root inside it.
        ns=(unshare --map-root-user --net --pid --fork --mount --mount-proc)
    fi
    if ! "${ns[@]}" -- true; then
        echo "cannot create the test namespaces with: ${ns[*]}" >&2
        echo "(needs root, or unprivileged user namespaces; in a container, CAP_SYS_ADMIN)" >&2
        return 1
    fi
    local rc=0
    timeout --kill-after=30 "$timeout_s" "${ns[@]}" -- bash -c "$inner" ttui-tests "$@" 2>&1 |
        tee "$test_log" || rc=$?
    if ((rc == 0 || $# > 0)); then
        return "$rc"
    fi
    # The interop tests drive real clients whose timing varies run to run. A test that failed
    # is run once more, alone; one that passes then is reported as FLAKY in the summary (not
    # hidden), one that fails again fails the run. More than five failures is not flakiness.
    local failed n args name ok=1
    failed=$(failed_tests "$test_log")
    n=$(grep -c . <<<"$failed" || true)
    if [[ -z $failed ]] || grep -q '^?' <<<"$failed" || ((n > 5)); then
        return "$rc"
    fi
    echo
    echo "==> running the $n failed test(s) once more, alone"
    while IFS=$'\t' read -r args name; do
        # shellcheck disable=SC2086  # $args is "--lib", "--bin ttui" or "--test NAME"
        if timeout --kill-after=30 900 "${ns[@]}" -- bash -c "$inner" ttui-tests \
            $args -- --exact "$name" 2>&1 | tee -a "$retry_log"; then
            flaky+=("$name")
        else
            ok=0
        fi
    done <<<"$failed"
    ((ok))
}

# "<cargo test target args>\t<test name>" for each failed test in a cargo test log.
failed_tests() {
    awk '
        /^ *Running / {
            t = ($2 == "unittests") ? $3 : $2
            if (t == "src/lib.rs") a = "--lib"
            else if (t == "src/main.rs") a = "--bin ttui"
            else if (t ~ /^tests\/[^\/]+\.rs$/) { sub(/^tests\//, "", t); sub(/\.rs$/, "", t); a = "--test " t }
            else a = "?"
        }
        /^test .* \.\.\. FAILED$/ { print a "\t" $2 }
    ' "$1"
}

step "install third-party clients (apt)" install_packages
step "rust components" rust_components
if [[ ${TTUI_SKIP_LINT:-0} != 1 ]]; then
    step "cargo fmt --check" cargo fmt --all -- --check
    step "cargo clippy --all-targets -D warnings" cargo clippy --all-targets -- -D warnings
fi
step "cargo build (bins, tests)" build
step "cargo test (offline, loopback-only namespace, $root)" run_tests "$@"
summary
