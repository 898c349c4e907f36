# Sourced by the benchmark scripts: `find_rqbit TOOLS` sets RQBIT to rqbit's binary, built
# into TOOLS with `cargo install rqbit --locked` the first time (minutes), or to "" when
# BENCH_SKIP_RQBIT is set or the build failed (the script then runs without it). Needs
# `note` from the sourcing script.
find_rqbit() {
    local tools=$1
    RQBIT=""
    if [[ -n ${BENCH_SKIP_RQBIT:-} ]]; then
        note "BENCH_SKIP_RQBIT set: rqbit is not run"
    elif [[ -x $tools/bin/rqbit ]]; then
        RQBIT=$tools/bin/rqbit
    else
        note "building rqbit into $tools (takes minutes; BENCH_SKIP_RQBIT=1 skips it)"
        mkdir -p "$tools"
        if CARGO_TARGET_DIR=$tools/build cargo install rqbit --locked --root "$tools" \
            >"$tools/install.log" 2>&1; then
            RQBIT=$tools/bin/rqbit
        else
            note "NOTE: cargo install rqbit failed (see $tools/install.log); rqbit is not run"
        fi
    fi
}
