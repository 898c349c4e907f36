# Sourced by the fake test binaries of the runner's self-test: prints what a libtest binary
# prints and exits as it does, for a list of `name:behaviour` tests. `--exact NAME` runs one.
#
# Behaviours: ok, fail, ignore;
#   flaky  fails in the full run, passes when run alone;
#   ignflaky  ignored unless --include-ignored; with it, like flaky;
#   stdin  like flaky, and when run alone reads all of its stdin first;
#   gone   fails in the full run; `--exact` does not find it (0 tests run, exit 0);
#   skip   reports itself skipped the way tests/prereq/mod.rs does (fails under
#          TTUI_REQUIRE_TOOLS=1, like the real thing);
#   env    passes only in the environment tests/run.sh promises (TTUI_REQUIRE_TOOLS=1,
#          TTUI_SKIP_LOG, RUST_TEST_THREADS, no stdin, ::1 and nothing but lo);
#   segv, abort   the process dies by that signal;
#   hang   never ends;
#   exit0  the process exits 0 in the middle of the run.

fake_libtest() {
    local specs=$1
    shift
    local exact="" incl=0
    while (($# > 0)); do
        case $1 in
        --exact)
            exact=${2-}
            shift
            ;;
        --include-ignored) incl=1 ;;
        esac
        shift
    done
    local -a run=() failed=()
    local s name how pass=0 fail=0 ign=0 ok
    for s in $specs; do
        name=${s%%:*}
        if [[ -z $exact || ($name == "$exact" && ${s#*:} != gone) ]]; then
            run+=("$s")
        fi
    done
    echo
    echo "running ${#run[@]} tests"
    for s in "${run[@]}"; do
        name=${s%%:*}
        how=${s#*:}
        ok=1
        case $how in
        ok) ;;
        fail | gone) ok=0 ;;
        ignore)
            echo "test $name ... ignored"
            ign=$((ign + 1))
            continue
            ;;
        flaky) [[ -n $exact ]] || ok=0 ;;
        ignflaky)
            if ((!incl)); then
                echo "test $name ... ignored"
                ign=$((ign + 1))
                continue
            fi
            [[ -n $exact ]] || ok=0
            ;;
        stdin)
            if [[ -n $exact ]]; then
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
        exit0) exit 0 ;;
        *)
            echo "fake libtest: unknown behaviour $how" >&2
            exit 2
            ;;
        esac
        if ((ok)); then
            echo "test $name ... ok"
            pass=$((pass + 1))
        else
            echo "test $name ... FAILED"
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
