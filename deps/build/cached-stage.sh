# shellcheck shell=bash
# Sourced by build.sh and tests/sanitize/build.sh (not a stage of its own).
#
# cached_stage NAME DEST KEY CACHED CC CFLAGS: the output of
# deps/build/NAME.sh for KEY in DEST. DEST is kept when it already holds
# KEY; otherwise the copy in the cache folder CACHED is used, built first
# (from the locked, patched sources, with CC and CFLAGS) when missing.
# The caller provides ROOT, B, JOBS, say and die.
cached_stage() {
    local name=$1 dest=$2 key=$3 cached=$4 cc=$5 cflags=$6
    if [ -f "$dest/.key" ] && [ "$(cat "$dest/.key")" = "$key" ]; then
        say "$name: up to date ($key)"
        return
    fi
    if [ ! -f "$cached/.key" ]; then
        say "$name: building ($key)"
        local work=$B/src/$name
        "$ROOT/deps/fetch" --unpack "$name" "$work"
        rm -rf "$cached.tmp" && mkdir -p "$cached.tmp"
        SRC=$work PREFIX=$cached.tmp CONFIG_DIR=$ROOT/deps/config/$name \
            STAGE_DIR=$ROOT/deps/build DEPS=$B/deps JOBS=$JOBS \
            CC=$cc CFLAGS=$cflags \
            "$ROOT/deps/build/$name.sh" || die "stage $name failed (sources in $work)"
        echo "$key" >"$cached.tmp/.key"
        rm -rf "$cached" && mv "$cached.tmp" "$cached"
    else
        say "$name: from cache ($key)"
    fi
    rm -rf "$dest" && mkdir -p "$(dirname "$dest")" && cp -a "$cached" "$dest"
}
