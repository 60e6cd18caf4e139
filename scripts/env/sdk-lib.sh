# shellcheck shell=bash
# shellcheck disable=SC2034 # constants here are used by the sourcing scripts
# Shared by the SDK image steps (sdk-images.sh, cross-images.sh); source it
# after lib.sh and load_env. Offline bookworm rootfs tarballs made by
# mmdebstrap from the host's own Debian apt sources, cached under $STATE/sdk
# keyed on their inputs, and imported into dockerd carrying that key as the
# label cachet.sdk.key, so warm reruns neither rebuild nor re-import.
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

# import_image REF KEY TAR PATHVALUE [docker import args...]: import unless
# REF already has KEY.
import_image() {
    local ref=$1 key=$2 tar=$3 path=$4 have
    shift 4
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
        --message "cachet scripts/env/$(basename "$0")" "$@" \
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

# cachet-sdk:debian's packages; the arm64 SDK (cross-images.sh) gets the same.
DEBIAN_PKGS=rustc,cargo,gcc,libc6-dev,ca-certificates

key_of() { printf '%s\n' "env v$CACHET_ENV_VERSION" "suite $SUITE" "$@" "$SOURCES_TEXT" "${DPKG_OPTS[@]}" | sha256_stdin; }
