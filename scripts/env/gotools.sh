#!/usr/bin/env bash
# Build buildkitd + buildctl (current BuildKit) and the buildx CLI plugin from
# pinned upstream module versions, through the Go module proxy, into
# $STATE/bin. Cached: a rerun with the same pins does nothing.
#
# Pins: buildkit v0.34.x and buildx v0.38 do not build here (some of their
# dependencies are refused by the module proxy), hence v0.33.1 / v0.37.2.
# The tools module is generated in the state dir at run time; no upstream
# source is vendored into the repo. Never `go mod tidy` it: that pulls test
# dependencies the proxy refuses.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

BIN="$STATE/bin"
mkdir -p "$BIN" "$STATE/logs"
log_file="$STATE/logs/gotools.log"

# Bump to rebuild with the same pins (e.g. after changing the build flags).
RECIPE=2
BUILDKIT_STAMP="$BUILDKIT_VERSION recipe $RECIPE"
BUILDX_STAMP="$BUILDX_VERSION recipe $RECIPE"

stamp_ok() { [[ -x $BIN/$1 && -f $BIN/.$1.version && $(<"$BIN/.$1.version") == "$2" ]]; }

find_go() {
    local g v
    for g in "${GO:-}" /usr/local/go/bin/go "$(command -v go 2>/dev/null || true)"; do
        [[ -n $g && -x $g ]] || continue
        v=$("$g" env GOVERSION 2>/dev/null) || continue # go1.21+ only
        v=${v#go}
        # Go >= 1.21 can fetch the toolchain buildkit's go.mod asks for.
        if [[ $v =~ ^1\.([0-9]+) ]] && ((BASH_REMATCH[1] >= 21)); then
            echo "$g"
            return 0
        fi
    done
    return 1
}

build_buildkit() {
    local go=$1 mod="$STATE/gotools/buildkit-$BUILDKIT_VERSION" out="$STATE/gotools/out.$$"
    rm -rf "$mod" "$out"
    mkdir -p "$mod" "$out"
    printf 'module cachet.local/tools\n\ngo 1.24\n' >"$mod/go.mod"
    log "building buildkitd+buildctl $BUILDKIT_VERSION (cold: ~2-3 min; log: $log_file)"
    (
        cd "$mod"
        timeout 1200 "$go" get \
            "github.com/moby/buildkit/cmd/buildkitd@$BUILDKIT_VERSION" \
            "github.com/moby/buildkit/cmd/buildctl@$BUILDKIT_VERSION"
        # -X: report the real version (go install sets no ldflags itself).
        GOBIN="$out" timeout 1800 "$go" install \
            -ldflags "-X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION" \
            github.com/moby/buildkit/cmd/buildctl \
            github.com/moby/buildkit/cmd/buildkitd
    ) >>"$log_file" 2>&1 || die "building buildkit $BUILDKIT_VERSION failed; see $log_file: $(tail_log "$log_file" 3)"
    mv -f "$out/buildkitd" "$out/buildctl" "$BIN/"
    rm -rf "$out"
    echo "$BUILDKIT_STAMP" >"$BIN/.buildkitd.version"
    echo "$BUILDKIT_STAMP" >"$BIN/.buildctl.version"
}

build_buildx() {
    local go=$1 out="$STATE/gotools/out.$$"
    rm -rf "$out"
    mkdir -p "$out"
    log "building buildx $BUILDX_VERSION (cold: ~1-2 min; log: $log_file)"
    (
        cd "$STATE/gotools"
        GOBIN="$out" timeout 1800 "$go" install \
            -ldflags "-X github.com/docker/buildx/version.Version=$BUILDX_VERSION" \
            "github.com/docker/buildx/cmd/buildx@$BUILDX_VERSION"
    ) >>"$log_file" 2>&1 || die "building buildx $BUILDX_VERSION failed; see $log_file: $(tail_log "$log_file" 3)"
    mv -f "$out/buildx" "$BIN/buildx"
    rm -rf "$out"
    echo "$BUILDX_STAMP" >"$BIN/.buildx.version"
}

need_buildkit=
need_buildx=
stamp_ok buildkitd "$BUILDKIT_STAMP" && stamp_ok buildctl "$BUILDKIT_STAMP" || need_buildkit=1
stamp_ok buildx "$BUILDX_STAMP" || need_buildx=1

if [[ -n $need_buildkit || -n $need_buildx ]]; then
    go=$(find_go) || die "Go >= 1.21 not found (looked at \$GO, /usr/local/go/bin/go, PATH); needed once to build buildkitd/buildx into $BIN"
    mkdir -p "$STATE/gotools"
    # Debian's Go sets GOTOOLCHAIN=local; let an older Go fetch the toolchain
    # the modules require (from the module proxy, via go itself).
    export GOTOOLCHAIN=${GOTOOLCHAIN:-auto}
    [[ -z $need_buildkit ]] || build_buildkit "$go"
    [[ -z $need_buildx ]] || build_buildx "$go"
else
    log "cached: buildkitd/buildctl $BUILDKIT_VERSION, buildx $BUILDX_VERSION in $BIN"
fi

# buildx as a docker CLI plugin, in our own DOCKER_CONFIG.
plugins="$STATE/docker-config/cli-plugins"
mkdir -p "$plugins"
if ! cmp -s "$BIN/buildx" "$plugins/docker-buildx"; then
    cp -f "$BIN/buildx" "$plugins/docker-buildx.tmp"
    mv -f "$plugins/docker-buildx.tmp" "$plugins/docker-buildx"
fi

env_set CACHET_BIN_DIR "$BIN"
env_set BUILDKITD "$BIN/buildkitd"
env_set BUILDCTL "$BIN/buildctl"
env_set DOCKER_CONFIG "$STATE/docker-config"
