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

SUITE=bookworm
SDK="$STATE/sdk"
mkdir -p "$SDK" "$STATE/logs"
[[ -n ${DOCKER_HOST:-} ]] || die "dockerd not set up; run scripts/env/dockerd.sh (or scripts/env/up)"
docker_ok || die "dockerd at $DOCKER_HOST does not answer; run scripts/env/up"

# --- Debian mirrors, read from the host's apt sources at run time ---------
# Only entries for $SUITE, $SUITE-updates and $SUITE-security (this skips
# third-party repositories such as nodesource or cloud-sdk).
host_debian_sources() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        awk -v want="^$SUITE(-updates|-security)?\$" '
            function flush(   n, m, i, j, U, S, opt) {
                if (types ~ /(^| )deb( |$)/ && tolower(enabled) != "no") {
                    opt = (signed ~ /^\//) ? "[signed-by=" signed "] " : ""
                    n = split(uris, U, " "); m = split(suites, S, " ")
                    for (i = 1; i <= n; i++)
                        for (j = 1; j <= m; j++)
                            if (S[j] ~ want)
                                print "deb " opt U[i] " " S[j] " " comps
                }
                types = uris = suites = comps = signed = enabled = ""
            }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]/ { next } # continuation line (e.g. an inline key)
            {
                k = tolower($0); sub(/:.*/, "", k)
                v = $0; sub(/^[^:]*:[ \t]*/, "", v); sub(/[ \t]+$/, "", v)
                if (k == "types") types = v
                else if (k == "uris") uris = v
                else if (k == "suites") suites = v
                else if (k == "components") comps = v
                else if (k == "signed-by") signed = v
                else if (k == "enabled") enabled = v
            }
            END { flush() }
        ' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        awk -v want="^$SUITE(-updates|-security)?\$" '
            $1 != "deb" { next }
            {
                opt = ""; i = 2
                if ($2 ~ /^\[/) {
                    while (i <= NF && $i !~ /\]$/) { if ($i ~ /signed-by=/) opt = $i; i++ }
                    if ($i ~ /signed-by=/) opt = $i
                    i++
                    gsub(/[\[\]]/, "", opt)
                    if (opt != "") opt = "[" opt "] "
                }
                if ($(i + 1) !~ want) next
                line = "deb " opt $i " " $(i + 1)
                for (j = i + 2; j <= NF && $j !~ /^#/; j++) line = line " " $j
                print line
            }
        ' "$f"
    done
}

mapfile -t MIRRORS < <(host_debian_sources | awk '!seen[$0]++')
((${#MIRRORS[@]} > 0)) || die "no Debian $SUITE entries in the host's apt sources (/etc/apt/sources.list{,.d/*}); cannot build the SDK rootfs"
SOURCES_TEXT=$(printf '%s\n' "${MIRRORS[@]}")

# Keep images small: no docs, man pages or translations.
DPKG_OPTS=(
    --dpkgopt='path-exclude=/usr/share/doc/*'
    --dpkgopt='path-include=/usr/share/doc/*/copyright'
    --dpkgopt='path-exclude=/usr/share/man/*'
    --dpkgopt='path-exclude=/usr/share/info/*'
    --dpkgopt='path-exclude=/usr/share/locale/*'
    --aptopt='Acquire::Retries "3"'
)
BASE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

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

# build_rootfs NAME KEY PACKAGES [extra mmdebstrap args...]: prints the tarball path.
build_rootfs() {
    local name=$1 key=$2 pkgs=$3 tar logf
    shift 3
    tar="$SDK/$name-${key:0:16}.tar"
    if [[ -s $tar ]]; then
        echo "$tar"
        return 0
    fi
    need_cmd mmdebstrap
    logf="$STATE/logs/mmdebstrap-$name.log"
    log "building $name rootfs with mmdebstrap (cold: a few minutes; log: $logf)"
    rm -f "$tar.tmp"
    if ! timeout 1800 mmdebstrap --mode=root --format=tar --variant=minbase \
        --include="$pkgs" "${DPKG_OPTS[@]}" "$@" \
        "$SUITE" "$tar.tmp" "${MIRRORS[@]}" >"$logf" 2>&1; then
        rm -f "$tar.tmp"
        die "mmdebstrap for $name failed; see $logf: $(tail_log "$logf" 3)"
    fi
    mv -f "$tar.tmp" "$tar"
    # Older inputs' tarballs of the same image are dead weight.
    find "$SDK" -maxdepth 1 -name "$name-*.tar" ! -path "$tar" -delete
    echo "$tar"
}

# import_image REF KEY TAR PATHVALUE: import unless REF already has KEY.
import_image() {
    local ref=$1 key=$2 tar=$3 path=$4 have
    have=$("$DOCKER" image inspect -f '{{index .Config.Labels "cachet.sdk.key"}}' "$ref" 2>/dev/null || true)
    if [[ $have == "$key" ]]; then
        log "$ref is up to date (key ${key:0:12})"
        return 0
    fi
    log "importing $ref into dockerd ($(du -h "$tar" | cut -f1))"
    timeout 900 "$DOCKER" import \
        --change "ENV PATH=$path" \
        --change "WORKDIR /" \
        --change "LABEL cachet.sdk.key=$key" \
        --message "cachet scripts/env/sdk-images.sh" \
        "$tar" "$ref" >/dev/null || die "docker import of $tar as $ref failed (dockerd log: $STATE/logs/dockerd.log)"
}

sdk_image() {
    local name=$1 ref=$2 key=$3 pkgs=$4 path=$5 tar old new
    shift 5
    tar=$(build_rootfs "$name" "$key" "$pkgs" "$@")
    old=$("$DOCKER" image inspect -f '{{.Id}}' "$ref" 2>/dev/null || true)
    import_image "$ref" "$key" "$tar" "$path"
    "$ENV_DIR/push-image" "$ref"
    new=$("$DOCKER" image inspect -f '{{.Id}}' "$ref")
    # A replaced SDK is ~1 GB; drop it unless something still uses it.
    if [[ -n $old && $old != "$new" ]] && "$DOCKER" image rm "$old" >/dev/null 2>&1; then
        log "removed the previous $ref ($old)"
    fi
}

key_of() { printf '%s\n' "env v$CACHET_ENV_VERSION" "suite $SUITE" "$@" "$SOURCES_TEXT" "${DPKG_OPTS[@]}" | sha256_stdin; }

# cachet-sdk:debian
DEBIAN_PKGS=rustc,cargo,gcc,libc6-dev,ca-certificates
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
