#!/usr/bin/env bash
# SDK images, built offline (no image registry is reachable, nothing is
# pulled): bookworm root filesystems made by mmdebstrap from the host's own
# Debian apt sources, imported into dockerd and pushed to the loopback
# registry (= buildkitd's docker.io mirror).
#
#   cachet-sdk:debian  minbase + rustc cargo gcc libc6-dev ca-certificates
#   cachet-sdk:rustup  minbase + gcc libc6-dev ca-certificates + the host's
#                      stable rustup toolchain in /usr/local/rust (no docs)
#
# Each rootfs tarball is cached under $STATE/sdk keyed on a hash of its
# inputs; the imported image carries that key as a label, so a warm rerun
# neither rebuilds, re-imports nor re-pushes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
load_env

. "$(dirname "$0")/sdk-lib.sh"

# --- host rust toolchain for cachet-sdk:rustup ----------------------------
find_toolchain() {
    local tc=${CACHET_SDK_TOOLCHAIN:-} rc
    if [[ -z $tc ]] && command -v rustup >/dev/null 2>&1; then
        rc=$(rustup which --toolchain stable rustc 2>/dev/null) && tc=${rc%/bin/rustc}
    fi
    if [[ -z $tc ]] && command -v rustc >/dev/null 2>&1; then
        tc=$(rustc --print sysroot 2>/dev/null) || true
    fi
    [[ -n $tc && -x $tc/bin/rustc && -x $tc/bin/cargo ]] ||
        die "no host stable Rust toolchain found (rustup toolchain 'stable', or set CACHET_SDK_TOOLCHAIN=<toolchain dir>); needed for cachet-sdk:rustup"
    realpath "$tc"
}
TOOLCHAIN=$(find_toolchain)
TOOLCHAIN_ID=$("$TOOLCHAIN/bin/rustc" -vV && "$TOOLCHAIN/bin/cargo" -V)


# cachet-sdk:debian
DEBIAN_KEY=$(key_of "image debian" "packages $DEBIAN_PKGS")
sdk_image debian cachet-sdk:debian "$DEBIAN_KEY" "$DEBIAN_PKGS" "$BASE_PATH"

# cachet-sdk:rustup: toolchain copied in by a customize hook (host side,
# root mode: $1 is the rootfs). Binaries are also linked into
# /usr/local/bin so they are found even by processes that do not get the
# image's PATH.
RUSTUP_PKGS=gcc,libc6-dev,ca-certificates
RUSTUP_HOOK_REV=1
RUSTUP_KEY=$(key_of "image rustup" "packages $RUSTUP_PKGS" "hook $RUSTUP_HOOK_REV" "$TOOLCHAIN_ID")
[[ $TOOLCHAIN != *"'"* ]] || die "toolchain path contains a quote: $TOOLCHAIN"
# shellcheck disable=SC2016 # $1 and $dst are expanded by mmdebstrap's sh
hook='set -e
dst="$1/usr/local/rust"
mkdir -p "$dst"
tar -C '"'$TOOLCHAIN'"' --exclude=./share/doc --exclude=./share/man -cf - . | tar -C "$dst" -xf -
for b in "$dst"/bin/*; do ln -sf "/usr/local/rust/bin/${b##*/}" "$1/usr/local/bin/${b##*/}"; done'
sdk_image rustup cachet-sdk:rustup "$RUSTUP_KEY" "$RUSTUP_PKGS" "/usr/local/rust/bin:$BASE_PATH" \
    --customize-hook="$hook"

env_set CACHET_SDK_DEBIAN_IMAGE cachet-sdk:debian
env_set CACHET_SDK_RUSTUP_IMAGE cachet-sdk:rustup
rust_version=$("$TOOLCHAIN/bin/rustc" -V | cut -d' ' -f2)
env_set CACHET_SDK_RUST_VERSION "$rust_version"
