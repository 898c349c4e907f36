# Sourced by the fake test binaries of the runner's self-test: prints what a libtest binary
# prints and exits as it does, for a list of `name:behaviour` tests (a name may have `::` in
# it: `dht::a:ok`). Positional arguments filter (by substring, or by name with `--exact`),
# `--list --format terse` lists, `-Z unstable-options --report-time` adds ` <0.010s>` to each
# result line, as libtest does.
#
# Behaviours: ok, fail, ignore;
#   flaky  fails the first time it runs, passes after (the retry);
#   ignflaky  ignored unless --include-ignored; with it, like flaky;
#   stdin  like flaky, and in its later runs reads all of its stdin first;
#   gone   fails the first time; later runs do not find it (0 tests run, exit 0);
#   slow   passes after 2 s;
#   first  passes only if it is the first fake test of its scenario to run;
#   excl   passes only if no other fake test runs at any time during its 3 s;
#   par    passes only if another fake test runs beside it (it waits up to 3 s);
#   skip   reports itself skipped the way tests/support/prereq.rs does (fails under
#          TTUI_REQUIRE_TOOLS=1, like the real thing);
#   env    passes only in the environment tests/run.sh promises (TTUI_REQUIRE_TOOLS=1,
#          TTUI_SKIP_LOG, RUST_TEST_THREADS, no stdin, ::1 and nothing but lo);
#   segv, abort   the process dies by that signal;
#   hang   never ends;
#   exit0  the process exits 0 in the middle of the run.

fake_libtest() {
    local specs=$1
    shift
    local exact=0 incl=0 list=0 times=""
    local -a filters=()
    while (($# > 0)); do
        case $1 in
        --exact) exact=1 ;;
        --include-ignored) incl=1 ;;
        --list) list=1 ;;
        --format | -Z)
            shift
            ;;
        --report-time) times=" <0.010s>" ;;
        -*) ;;
        *) filters+=("$1") ;;
        esac
        shift
    done
    # A test's later runs: `flaky` and its kin fail only the first time they run.
    local state="${BASH_SOURCE[1]:-$0}.ran"
    mkdir -p "$state"
    local -a run=() failed=()
    local s name how pass=0 fail=0 ign=0 ok f hit again
    for s in $specs; do
        name=${s%:*}
        how=${s##*:}
        hit=$((${#filters[@]} == 0))
        for f in "${filters[@]}"; do
            if ((exact)) && [[ $name == "$f" ]] || ((!exact)) && [[ $name == *"$f"* ]]; then
                hit=1
            fi
        done
        ((hit)) || continue
        if ((list)); then
            echo "$name: test"
            continue
        fi
        # `gone`: there in the full run, not found by a later one.
        [[ $how == gone && -e $state/$name ]] && continue
        run+=("$s")
    done
    if ((list)); then
        return 0
    fi
    echo
    echo "running ${#run[@]} tests"
    for s in "${run[@]}"; do
        name=${s%:*}
        how=${s##*:}
        again=0
        [[ -e $state/$name ]] && again=1
        : >"$state/$name"
        # `first`: passes only if no fake test of the scenario ran before it.
        local before=0
        [[ -e ${TTUI_SELFTEST_BINS:-/nonexistent}/../ran-any ]] && before=1
        [[ -n ${TTUI_SELFTEST_BINS:-} ]] && : >"$TTUI_SELFTEST_BINS/../ran-any"
        ok=1
        case $how in
        ok) ;;
        fail | gone) ok=0 ;;
        ignore)
            echo "test $name ... ignored"
            ign=$((ign + 1))
            continue
            ;;
        flaky) ((again)) || ok=0 ;;
        ignflaky)
            if ((!incl)); then
                echo "test $name ... ignored"
                ign=$((ign + 1))
                continue
            fi
            ((again)) || ok=0
            ;;
        stdin)
            if ((again)); then
                cat >/dev/null
            else
                ok=0
            fi
            ;;
        skip)
            if [[ ${TTUI_REQUIRE_TOOLS:-} != "" && ${TTUI_REQUIRE_TOOLS:-} != 0 ]]; then
                ok=0
            else
                echo "SKIPPED: $name: fake tool missing" >&2
                if [[ -n ${TTUI_SKIP_LOG:-} ]]; then
                    printf '%s\t%s\n' "$name" "fake tool missing" >>"$TTUI_SKIP_LOG"
                fi
            fi
            ;;
        env)
            [[ ${TTUI_REQUIRE_TOOLS:-} == 1 && -n ${TTUI_SKIP_LOG:-} && -n ${RUST_TEST_THREADS:-} ]] || ok=0
            [[ ! -t 0 ]] && ! read -r -t 1 _ || ok=0
            grep -q '^0\{31\}1 [0-9a-f]* [0-9a-f]* [0-9a-f]* [0-9a-f]* *lo$' /proc/net/if_inet6 || ok=0
            [[ $(awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' /proc/self/net/dev) == lo ]] || ok=0
            ;;
        segv) kill -SEGV $$ ;;
        abort) kill -ABRT $$ ;;
        hang) sleep 3600 ;;
        slow) sleep 2 ;;
        first) ((before == 0)) || ok=0 ;;
        excl | par)
            # Beside others or alone: `excl` fails when another unit ran at any time while it
            # did, `par` when none did (each waits up to 3 s for the other to show).
            local dir=${TTUI_SELFTEST_BINS:?}/../running me other=0 k
            mkdir -p "$dir"
            me=$(mktemp "$dir/XXXXXX")
            : >"$me"
            for k in 1 2 3 4 5 6; do
                if compgen -G "$dir/*" | grep -qvx "$me"; then other=1; fi
                sleep 0.5
            done
            rm -f "$me"
            if [[ $how == excl ]]; then ((other == 0)) || ok=0; else ((other)) || ok=0; fi
            ;;
        exit0) exit 0 ;;
        *)
            echo "fake libtest: unknown behaviour $how" >&2
            exit 2
            ;;
        esac
        if ((ok)); then
            echo "test $name ... ok$times"
            pass=$((pass + 1))
        else
            echo "test $name ... FAILED$times"
            fail=$((fail + 1))
            failed+=("$name")
        fi
    done
    echo
    if ((fail > 0)); then
        echo "failures:"
        echo
        for name in "${failed[@]}"; do
            echo "---- $name stdout ----"
            echo "thread '$name' panicked at tests/fake.rs:1:1:"
            echo "fake failure"
            echo
        done
        echo "failures:"
        for name in "${failed[@]}"; do
            echo "    $name"
        done
        echo
        echo "test result: FAILED. $pass passed; $fail failed; $ign ignored; 0 measured; 0 filtered out; finished in 0.01s"
        echo
        exit 101
    fi
    echo "test result: ok. $pass passed; 0 failed; $ign ignored; 0 measured; 0 filtered out; finished in 0.01s"
    echo
    exit 0
}
