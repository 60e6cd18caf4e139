#!/usr/bin/env bash
# Install the Debian packages the environment needs, if any are missing.
# Only Debian's apt is used; nothing here talks to other package sources.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# package -> why
PACKAGES=(
    docker.io              # dockerd (BuildKit v0.8 line) + /usr/bin/docker 20.10 client
    runc                   # OCI runtime for buildkitd's worker
    docker-registry        # loopback registry the SDK images are served from
    mmdebstrap             # offline-reproducible bookworm rootfs for the SDK images
    debian-archive-keyring # signatures checked by mmdebstrap
    qemu-user-static       # arm64 emulation (binfmt_misc) for the cross tests and the arm64 SDK
    arch-test              # mmdebstrap --architectures=arm64 checks emulation with it
    ca-certificates
    curl                   # registry API probes
    iproute2               # ss: who holds the registry port
    util-linux             # flock, setsid
    tar
)

missing=()
for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
    log "all ${#PACKAGES[@]} packages present"
    exit 0
fi

SUDO=()
if ((EUID != 0)); then
    command -v sudo >/dev/null 2>&1 || die "missing packages (${missing[*]}) and not root; install them: apt-get install ${missing[*]}"
    SUDO=(sudo -n)
fi

mkdir -p "$STATE/logs"
apt_log="$STATE/logs/apt.log"
log "installing: ${missing[*]} (log: $apt_log)"

# Do not let package post-install scripts start system daemons (docker.io
# would start a second dockerd on /var/run/docker.sock); standard Debian
# policy-rc.d mechanism, removed again afterwards. Only if none exists.
policy=/usr/sbin/policy-rc.d
added_policy=
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod +x "$policy"
    added_policy=1
fi
cleanup() { [[ -z $added_policy ]] || "${SUDO[@]}" rm -f "$policy"; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
if ! timeout 600 "${SUDO[@]}" apt-get update >>"$apt_log" 2>&1; then
    die "apt-get update failed; see $apt_log: $(tail_log "$apt_log" 3)"
fi
if ! timeout 1200 "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >>"$apt_log" 2>&1; then
    die "could not install ${missing[*]}; see $apt_log: $(tail_log "$apt_log" 3)"
fi
log "installed: ${missing[*]}"
