#!/usr/bin/env bash
# SDK images for multi-platform builds (issue 20), offline like sdk-images.sh:
#
#   cachet-sdk:cross        amd64 image that cross-compiles to aarch64:
#                           cachet-sdk:debian's packages + gcc-aarch64-linux-gnu,
#                           libc6-dev-arm64-cross and multiarch
#                           libstd-rust-dev:arm64 (+ libc6:arm64, so the
#                           output also runs in it under qemu)
#   cachet-sdk:multi-arm64  arm64 image with cachet-sdk:debian's packages
#                           (mmdebstrap --architectures=arm64, run under qemu),
#                           in dockerd with platform linux/arm64
#   cachet-sdk:multi        registry only: an image index with linux/amd64 =
#                           the unchanged cachet-sdk:debian manifest and
#                           linux/arm64 = cachet-sdk:multi-arm64
#
# dockerd 20.10 has a single-platform image store: it holds cachet-sdk:cross
# and cachet-sdk:multi-arm64 (loaded with an arm64 config) but cannot
# hold the index; buildkitd resolves cachet-sdk:multi from the mirror per
# platform. The arm64 parts need binfmt (binfmt.sh); without it they are
# skipped and only cachet-sdk:cross is built (its aarch64 output not run).
#
# Each image is checked once after it was (re)imported; the check's marker is
# keyed on the image id, so warm reruns do nothing but compare digests.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
load_env
. "$(dirname "$0")/sdk-lib.sh"
[[ -n ${CACHET_REGISTRY:-} ]] || die "registry not set up; run scripts/env/up"
REGISTRY=$CACHET_REGISTRY
ARM64=${CACHET_BINFMT_ARM64:-0}

# checked_once NAME REF CMD...: run CMD unless it already passed for REF's image id.
checked_once() {
    local name=$1 ref=$2 id marker
    shift 2
    id=$("$DOCKER" image inspect -f '{{.Id}}' "$ref")
    marker="$SDK/$name.checked"
    [[ $(cat "$marker" 2>/dev/null) == "$id:$ARM64" ]] && return 0
    "$@"
    echo "$id:$ARM64" >"$marker"
}

# --- cachet-sdk:cross ------------------------------------------------------
CROSS_PKGS=$DEBIAN_PKGS,gcc-aarch64-linux-gnu,libc6-dev-arm64-cross,libstd-rust-dev:arm64
CROSS_ARCHS=amd64,arm64
CROSS_KEY=$(key_of "image cross" "architectures $CROSS_ARCHS" "packages $CROSS_PKGS")

check_cross() {
    local run=: out
    ((ARM64)) && run='./target/aarch64-unknown-linux-gnu/debug/hello'
    log "checking cachet-sdk:cross: aarch64 std present, hello cross-compiles$( ((ARM64)) && echo ' and runs under qemu')"
    # shellcheck disable=SC2016 # expanded in the container
    out=$(timeout 600 "$DOCKER" run --rm --network none \
        -e CARGO_HOME=/tmp/cargo-home \
        -e CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
        cachet-sdk:cross sh -euc '
            lib="$(rustc --print sysroot)/lib/rustlib/aarch64-unknown-linux-gnu/lib"
            [ -d "$lib" ] || { echo "no aarch64 std at $lib"; exit 1; }
            cd /tmp && cargo new --quiet --vcs none hello && cd hello
            cargo build --offline --quiet --target aarch64-unknown-linux-gnu
            # ELF e_machine (bytes 18-19) of the output: b7 00 = aarch64
            echo "machine $(od -An -tx1 -j18 -N2 target/aarch64-unknown-linux-gnu/debug/hello | tr -d " ")"
            '"$run" 2>&1) || die "cachet-sdk:cross cannot cross-compile to aarch64: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
    grep -qx 'machine b700' <<<"$out" || die "cachet-sdk:cross built a non-aarch64 binary: $out"
    if ((ARM64)); then
        grep -qx 'Hello, world!' <<<"$out" || die "the aarch64 hello from cachet-sdk:cross did not run under qemu: $out"
    fi
    log "cachet-sdk:cross ok ($(tr '\n' ' ' <<<"$out"))"
}

tar=$(build_rootfs cross "$CROSS_KEY" "$CROSS_PKGS" --architectures="$CROSS_ARCHS")
old=$("$DOCKER" image inspect -f '{{.Id}}' cachet-sdk:cross 2>/dev/null || true)
import_image cachet-sdk:cross "$CROSS_KEY" "$tar" "$BASE_PATH"
checked_once cross cachet-sdk:cross check_cross
"$ENV_DIR/push-image" cachet-sdk:cross
new=$("$DOCKER" image inspect -f '{{.Id}}' cachet-sdk:cross)
if [[ -n $old && $old != "$new" ]] && "$DOCKER" image rm "$old" >/dev/null 2>&1; then
    log "removed the previous cachet-sdk:cross ($old)"
fi
env_set CACHET_SDK_CROSS cachet-sdk:cross

if ((!ARM64)); then
    warn "no arm64 emulation (see the binfmt step): cachet-sdk:multi and cachet-sdk:multi-arm64 not built"
    exit 0
fi

# --- cachet-sdk:multi-arm64 ------------------------------------------------
ARM64_KEY=$(key_of "image debian-arm64" "architectures arm64" "packages $DEBIAN_PKGS")

# load_arm64_image REF KEY TAR PATHVALUE: put the rootfs TAR into dockerd as
# a linux/arm64 image, unless REF already is one with KEY. `docker import
# --platform linux/arm64` is no use here: dockerd 20.10 records its own
# architecture (amd64) whatever the flag says. So this hands `docker load` a
# docker-save archive whose config says arm64: one uncompressed layer (TAR
# itself), fixed timestamps, so the image id depends on the inputs only.
load_arm64_image() {
    local ref=$1 key=$2 tar=$3 path=$4 have dir diff config cfgid
    have=$("$DOCKER" image inspect -f '{{.Architecture}} {{index .Config.Labels "cachet.sdk.key"}}' "$ref" 2>/dev/null || true)
    if [[ $have == "arm64 $key" ]]; then
        log "$ref is up to date (linux/arm64, key ${key:0:12})"
        return 0
    fi
    log "loading $ref into dockerd as linux/arm64 ($(du -h "$tar" | cut -f1))"
    diff=sha256:$(sha256_stdin <"$tar")
    config=$(printf '{"architecture":"arm64","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Env":["PATH=%s"],"WorkingDir":"/","Labels":{"cachet.sdk.key":"%s"}},"rootfs":{"type":"layers","diff_ids":["%s"]},"history":[{"created":"1970-01-01T00:00:00Z","comment":"cachet scripts/env/%s"}]}' \
        "$path" "$key" "$diff" "$(basename "$0")")
    cfgid=$(printf '%s' "$config" | sha256_stdin)
    dir=$(mktemp -d "$STATE/arm64-load.XXXXXX")
    printf '%s' "$config" >"$dir/$cfgid.json"
    printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["layer.tar"]}]' "$cfgid" "$ref" >"$dir/manifest.json"
    # The rootfs goes in as layer.tar straight from the cache (no copy).
    if ! tar -cf - -C "$dir" manifest.json "$cfgid.json" \
        -C "$(dirname "$tar")" --transform="s|^$(basename "$tar")\$|layer.tar|" "$(basename "$tar")" |
        timeout 900 "$DOCKER" load >"$dir/load.log" 2>&1; then
        die "docker load of $tar as $ref failed: $(tail_log "$dir/load.log") (dockerd log: $STATE/logs/dockerd.log)"
    fi
    rm -rf "$dir"
}

check_arm64() {
    local arch out
    arch=$("$DOCKER" image inspect -f '{{.Os}}/{{.Architecture}}' cachet-sdk:multi-arm64)
    [[ $arch == linux/arm64 ]] || die "cachet-sdk:multi-arm64 was imported as $arch, not linux/arm64"
    out=$(timeout 300 "$DOCKER" run --rm --network none cachet-sdk:multi-arm64 \
        sh -euc 'uname -m; rustc -vV | sed -n "s/^host: //p"' 2>&1) ||
        die "cachet-sdk:multi-arm64 does not run under qemu: $out"
    [[ $out == *aarch64*aarch64-unknown-linux-gnu* ]] || die "cachet-sdk:multi-arm64 is not an aarch64 SDK: $out"
    log "cachet-sdk:multi-arm64 ok ($arch; $(grep -v WARNING <<<"$out" | tr '\n' ' '))"
}

tar=$(build_rootfs debian-arm64 "$ARM64_KEY" "$DEBIAN_PKGS" --architectures=arm64)
old=$("$DOCKER" image inspect -f '{{.Id}}' cachet-sdk:multi-arm64 2>/dev/null || true)
load_arm64_image cachet-sdk:multi-arm64 "$ARM64_KEY" "$tar" "$BASE_PATH"
checked_once multi-arm64 cachet-sdk:multi-arm64 check_arm64
"$ENV_DIR/push-image" cachet-sdk:multi-arm64
new=$("$DOCKER" image inspect -f '{{.Id}}' cachet-sdk:multi-arm64)
if [[ -n $old && $old != "$new" ]] && "$DOCKER" image rm "$old" >/dev/null 2>&1; then
    log "removed the previous cachet-sdk:multi-arm64 ($old)"
fi

# --- cachet-sdk:multi (index in the registry) -------------------------------
"$ENV_DIR/push-index" cachet-sdk:multi \
    linux/amd64=cachet-sdk:debian linux/arm64=cachet-sdk:multi-arm64

check_multi() {
    local p dir out
    dir=$(mktemp -d "$STATE/multi-check.XXXXXX")
    for p in linux/amd64 linux/arm64; do
        printf 'FROM cachet-sdk:multi\nRUN uname -m >/arch\nFROM scratch\nCOPY --from=0 /arch /\n' >"$dir/Dockerfile"
        timeout 600 "$DOCKER" buildx --builder "$CACHET_BUILDX_BUILDER" build --platform "$p" \
            --output "type=local,dest=$dir/${p#linux/}" "$dir" >"$STATE/logs/multi-check.log" 2>&1 ||
            die "buildx could not build FROM cachet-sdk:multi for $p; see $STATE/logs/multi-check.log: $(tail_log "$STATE/logs/multi-check.log")"
        out+="$p:$(cat "$dir/${p#linux/}/arch") "
    done
    rm -rf "$dir"
    [[ $out == "linux/amd64:x86_64 linux/arm64:aarch64 " ]] ||
        die "BuildKit resolved cachet-sdk:multi to the wrong images: $out"
    log "buildkitd resolves cachet-sdk:multi per platform ($out)"
}
multi=$(registry_digest library/cachet-sdk multi)
if [[ $(cat "$SDK/multi.checked" 2>/dev/null) != "$multi" ]]; then
    check_multi
    echo "$multi" >"$SDK/multi.checked"
fi
env_set CACHET_SDK_MULTI cachet-sdk:multi
env_set CACHET_SDK_MULTI_ARM64 cachet-sdk:multi-arm64
