#!/usr/bin/env bash
# Self-test of the test command: runs tests/run.sh against a fake `cargo` (tests/selftest/bin)
# that lists fake test binaries (bash scripts printing what libtest prints, see libtest.sh),
# one scenario per failure path, and checks its exit status and summary. Every path that must
# fail the command (a binary killed by SIGSEGV or SIGABRT, one past its time limit, one that
# exits without a result line, one never started, a flaky test next to a crash, a retried test
# that reads stdin, ...) has to exit non-zero and name what did not finish; the green ones
# must exit 0 and count right. Takes seconds; tests/run.sh runs it right after installing
# its packages, before lint, build and tests.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d -t ttui-selftest.XXXXXX)
trap '[[ -n ${TTUI_SELFTEST_KEEP:-} ]] || rm -rf "$work"' EXIT
started=$SECONDS
failures=0
count=0

# bins DIR NAME=SPECS...: fake test binaries in DIR.
make_bins() {
    local dir=$1 b name specs
    shift
    mkdir -p "$dir"
    for b in "$@"; do
        name=${b%%=*}
        specs=${b#*=}
        if [[ $specs == missing ]]; then
            : >"$dir/$name.missing"
            continue
        fi
        printf '#!/usr/bin/env bash\nsource %q\nfake_libtest %q "$@"\n' \
            "$here/libtest.sh" "$specs" >"$dir/$name"
        chmod +x "$dir/$name"
    done
}

# scenario NAME EXPECTED_EXIT(0|nonzero) [ENV=VALUE...] -- BINARIES... -- PATTERNS...
# Each pattern is an extended regex the output must match; a leading `!` means must not.
# Scenarios run side by side (each in its own directory, up to `parallel` at once); their
# verdicts are printed in order at the end.
parallel=6
declare -a names=()
scenario() {
    names+=("$1")
    while (($(jobs -rp | wc -l) >= parallel)); do
        wait -n || true
    done
    run_scenario "$@" >"$work/$1.verdict" 2>&1 &
}

run_scenario() {
    local name=$1 want=$2
    shift 2
    local -a envs=() bins=() pats=() args=()
    while [[ $1 != -- ]]; do
        # ARGS=... are tests/run.sh's own arguments (split at spaces), not the environment.
        if [[ $1 == ARGS=* ]]; then
            read -r -a args <<<"${1#ARGS=}"
        else
            envs+=("$1")
        fi
        shift
    done
    shift
    while (($# > 0)) && [[ $1 != -- ]]; do
        bins+=("$1")
        shift
    done
    (($# > 0)) && shift
    pats=("$@")
    local dir="$work/$name"
    make_bins "$dir/bins" "${bins[@]}"
    mkdir -p "$dir/tmp"
    local rc=0 t0=$SECONDS
    env PATH="$here/bin:$PATH" TMPDIR="$dir/tmp" TTUI_SELFTEST_BINS="$dir/bins" \
        TTUI_SKIP_LINT=1 TTUI_RUNNER_SELFTEST=0 "${envs[@]}" \
        bash "$root/tests/run.sh" "${args[@]}" </dev/null >"$dir/out" 2>&1 || rc=$?
    local -a bad=()
    if [[ $want == 0 && $rc -ne 0 ]] || [[ $want != 0 && $rc -eq 0 ]]; then
        bad+=("exit status $rc, expected $want")
    fi
    local p
    for p in "${pats[@]}"; do
        if [[ $p == '!'* ]]; then
            if grep -qE -- "${p#!}" "$dir/out"; then
                bad+=("output matches /${p#!}/")
            fi
        elif ! grep -qE -- "$p" "$dir/out"; then
            bad+=("output lacks /$p/")
        fi
    done
    if ((${#bad[@]} == 0)); then
        printf 'ok    %-28s exit %-3s %2ss\n' "$name" "$rc" $((SECONDS - t0))
    else
        printf 'FAIL  %-28s exit %-3s\n' "$name" "$rc"
        printf '        %s\n' "${bad[@]}"
        echo "      ---- output of tests/run.sh ----"
        sed 's/^/      | /' "$dir/out"
    fi
}

# Green: every binary ran to its end; #[ignore] counts as skipped; the environment is as
# promised (TTUI_REQUIRE_TOOLS=1, skip log, no stdin, ::1 on lo).
scenario green 0 -- \
    lib="a:ok b:ignore" alpha="a:ok b:ok c:env" -- \
    'test units: 2 expected \(2 binaries\), 2 ran to their end' \
    '^tests: 4 passed, 0 failed, 1 skipped$' '!DID NOT FINISH' '!FLAKY' '!^test a \.\.\. ok'

# --nocapture (or --show-output) prints each unit's output as the binary wrote it.
scenario nocapture-shows-output 0 "ARGS=-- --nocapture" -- \
    alpha="a:ok" -- \
    '^test a \.\.\. ok( <[0-9.]+s>)?$' '^tests: 1 passed, 0 failed, 0 skipped$'

# A test that skips itself (TTUI_REQUIRE_TOOLS=0) is counted as skipped, not passed.
scenario self-skip-counted 0 TTUI_REQUIRE_TOOLS=0 -- \
    alpha="a:ok b:skip" -- \
    '^tests: 1 passed, 0 failed, 1 skipped$' 'tests/alpha\.rs: b: fake tool missing'

# Inside the test command a missing prerequisite is a failure.
scenario skip-is-failure-by-default nonzero -- \
    alpha="a:ok b:skip" -- \
    '^tests: 1 passed, 1 failed, 0 skipped$' 'FAILED:' 'tests/alpha\.rs: b \(again'

# Flaky alone: reported, counted as passed, the command passes.
scenario flaky-alone 0 -- \
    alpha="a:ok b:flaky" beta="a:ok" -- \
    'FLAKY' 'tests/alpha\.rs: b$' '^tests: 3 passed, 0 failed, 0 skipped$'

# A crash (SIGSEGV, no FAILED line) next to a flaky test: the flaky pass hides nothing.
scenario segv-next-to-flaky nonzero -- \
    alpha="a:ok b:flaky" beta="a:ok b:segv c:ok" -- \
    'DID NOT FINISH' 'tests/beta\.rs: killed by SIGSEGV \(exit 139\) without a test result line' \
    'FLAKY' 'test units: 2 expected \(2 binaries\), 1 ran to their end' \
    '^tests: 3 passed, 0 failed, 0 skipped; 1 of 2 test units did not finish$'

scenario abort nonzero -- \
    alpha="a:ok" beta="a:ok b:abort" -- \
    'tests/beta\.rs: killed by SIGABRT \(exit 134\)' '1 of 2 test units did not finish$'

# A binary past its time limit is ended and named; the next one still runs.
scenario binary-timeout nonzero TTUI_BINARY_TIMEOUT=2 -- \
    alpha="a:ok b:hang" gamma="a:ok" -- \
    'tests/alpha\.rs: timed out after 2s' 'test units: 2 expected \(2 binaries\), 1 ran to their end' \
    '^tests: 2 passed, 0 failed, 0 skipped; 1 of 2 test units did not finish$'

# The whole step's time runs out after a flaky failure: the binary it cut and the ones that
# never started are named, and the flaky retry does not turn that into a pass.
scenario suite-timeout-after-flaky nonzero TTUI_TEST_TIMEOUT=3 TTUI_JOBS=1 -- \
    alpha="a:flaky" beta="a:hang" gamma="a:ok" -- \
    'tests/beta\.rs: timed out after [23]s' \
    "tests/gamma\.rs: never started: the test step's 3s \(TTUI_TEST_TIMEOUT\) ran out" \
    'FLAKY' '2 of 3 test units did not finish$'

# A retried test that reads stdin cannot swallow the rest of the retry list: the second
# failure is retried too, fails again, and fails the command.
scenario retry-reads-stdin nonzero -- \
    alpha="a:stdin b:fail c:ok" -- \
    'Retrying tests/alpha\.rs: a' 'Retrying tests/alpha\.rs: b' \
    'FLAKY' 'tests/alpha\.rs: a$' 'FAILED:' 'tests/alpha\.rs: b \(again: exit 101\)' \
    '^tests: 2 passed, 1 failed, 0 skipped$'

# The test binaries' flags hold for the retry: an ignored test run with --include-ignored
# that fails is retried with it (without it, it would be ignored again: 0 passed, no pass).
scenario retry-keeps-flags 0 "ARGS=-- --include-ignored" -- \
    alpha="a:ok b:ignflaky" -- \
    'Retrying tests/alpha\.rs: b' 'FLAKY' 'tests/alpha\.rs: b$' '^tests: 2 passed, 0 failed, 0 skipped$'

# A retry that runs no test at all (the name selects nothing) is not a pass.
scenario retry-runs-nothing nonzero -- \
    alpha="a:ok b:gone" -- \
    'FAILED:' 'tests/alpha\.rs: b \(again: exit 0\)' '!FLAKY' '^tests: 1 passed, 1 failed, 0 skipped$'

scenario exit-without-result nonzero -- \
    alpha="a:ok b:exit0 c:ok" beta="a:ok" -- \
    'tests/alpha\.rs: exit 0 without a test result line' '1 of 2 test units did not finish$'

scenario listed-but-missing nonzero -- \
    alpha="a:ok" gone=missing -- \
    'tests/gone\.rs: executable .*/gone missing' '1 of 2 test units did not finish$'

scenario too-many-failures nonzero -- \
    alpha="a:flaky b:flaky c:flaky d:flaky e:flaky f:flaky" -- \
    '!Retrying' '^tests: 0 passed, 6 failed, 0 skipped$'

# An area binary is one unit per module, each named by its file; a filter after `--` picks
# the tests (and so the units) to run.
scenario area-units 0 -- \
    net.main="dht::a:ok dht::b:ok utp::a:ok utp::b:ignore" lib="a:ok" -- \
    'test units: 3 expected \(2 binaries\), 3 ran to their end' 'tests/net/dht\.rs +2 passed' \
    'tests/net/utp\.rs +1 passed' '^tests: 4 passed, 0 failed, 1 skipped$'
scenario area-filter 0 "ARGS=-- utp::" -- \
    net.main="dht::a:ok utp::a:ok utp::b:ok" -- \
    'test units: 1 expected \(1 binaries\), 1 ran to their end' '!tests/net/dht\.rs' \
    '^tests: 2 passed, 0 failed, 0 skipped$'

# Units run side by side (each sees the other), and a module marked `// alone` runs with
# nothing beside it, after them.
scenario side-by-side-and-alone 0 TTUI_JOBS=3 TTUI_SELFTEST_ALONE=net:timing -- \
    net.main="dht::a:par utp::a:par timing::a:excl" -- \
    '2 side by side \(3 at once\), 1 alone after them' 'tests/net/timing\.rs \(alone\)' \
    '^tests: 3 passed, 0 failed, 0 skipped$' '!FLAKY'

# A module marked `// slow` starts before the others (one at a time here, so first).
scenario slow-first 0 TTUI_JOBS=1 TTUI_SELFTEST_SLOW=net:zzz -- \
    net.main="aaa::a:ok zzz::a:first" -- \
    '^tests: 2 passed, 0 failed, 0 skipped$' '!FLAKY'

# Far more units and timed tests than the summary lists (20 of each): all counted, and the
# summary's lists end well (a `sort | head` killed by SIGPIPE once ended the whole run).
scenario many-units 0 TTUI_JOBS=8 -- \
    net.main="m00::a:ok m01::a:ok m02::a:ok m03::a:ok m04::a:ok m05::a:ok m06::a:ok m07::a:ok m08::a:ok m09::a:ok m10::a:ok m11::a:ok m12::a:ok m13::a:ok m14::a:ok m15::a:ok m16::a:ok m17::a:ok m18::a:ok m19::a:ok m20::a:ok m21::a:ok m22::a:ok m23::a:ok m24::a:ok $(printf 'long::test_with_a_long_name_%04d:ok ' $(seq 1 1500))" -- \
    'slowest tests:' '0\.010s  tests/net/m[0-9]+\.rs: m[0-9]+::a' \
    'test units: 26 expected' '^tests: 1525 passed, 0 failed, 0 skipped$'

# One unit killed while others run: the others run to their end and count; the dead one is
# named and fails the command.
scenario killed-beside-others nonzero TTUI_JOBS=3 -- \
    net.main="dht::a:slow utp::a:segv lsd::a:slow lsd::b:ok" -- \
    'tests/net/utp\.rs: killed by SIGSEGV \(exit 139\) without a test result line' \
    'test units: 3 expected \(1 binaries\), 2 ran to their end' \
    '^tests: 3 passed, 0 failed, 0 skipped; 1 of 3 test units did not finish$'

# Two units fail at once: both are named, each failure retried, neither hides the other.
scenario two-fail-at-once nonzero TTUI_JOBS=2 -- \
    net.main="dht::a:fail dht::b:ok utp::a:abort" -- \
    'tests/net/utp\.rs: killed by SIGABRT' 'FAILED:' 'tests/net/dht\.rs: dht::a \(again: exit 101\)' \
    '^tests: 1 passed, 1 failed, 0 skipped; 1 of 2 test units did not finish$'

# A flaky test in one unit beside a hang in another: the hang is named, the flaky pass
# hides nothing.
scenario flaky-beside-hang nonzero TTUI_JOBS=2 TTUI_BINARY_TIMEOUT=3 -- \
    net.main="dht::a:flaky utp::a:hang" -- \
    'tests/net/utp\.rs: timed out after 3s' 'FLAKY' 'tests/net/dht\.rs: dht::a$' \
    '1 of 2 test units did not finish$'

scenario build-fails nonzero TTUI_SELFTEST_BUILD=fail -- \
    alpha="a:ok" -- \
    'FAIL .*cargo build' '^tests: not run'

scenario no-binaries nonzero -- -- \
    'cargo listed no test binaries' '^tests: not run'

wait
for n in "${names[@]}"; do
    count=$((count + 1))
    cat "$work/$n.verdict"
    grep -q '^ok ' "$work/$n.verdict" || failures=$((failures + 1))
done
echo "runner self-test: $((count - failures)) of $count scenarios as expected in $((SECONDS - started))s"
((failures == 0))
