#!/usr/bin/env bash
# arm64 emulation through binfmt_misc, so the cross tests can run aarch64
# output and the arm64 SDK (scripts/env/cross-images.sh) can be built and run.
#
# Mounts binfmt_misc if needed and registers Debian's qemu-aarch64 entry
# (qemu-user-static, /usr/lib/binfmt.d/qemu-aarch64.conf) straight through
# /proc/sys/fs/binfmt_misc/register: without systemd-binfmt nothing applies
# that file. The entry must carry the F (fix-binary) flag: the kernel then
# opens the interpreter at registration, so it also works inside containers
# and BuildKit steps whose root filesystem has no qemu. Proven by running a
# 161-byte hand-assembled static aarch64 program that prints "arm64 ok".
#
# If the kernel refuses (no binfmt_misc, no permission), this says what failed
# and publishes CACHET_BINFMT_ARM64=0 instead of failing the whole `up`.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# CACHET_BINFMT_DIR: only to try the refusal path (point it somewhere unmountable).
BM=${CACHET_BINFMT_DIR:-/proc/sys/fs/binfmt_misc}
CONF=/usr/lib/binfmt.d/qemu-aarch64.conf
ENTRY=$BM/qemu-aarch64

unavailable() {
    warn "arm64 emulation unavailable: $*"
    warn "cross builds still work; tests that run arm64 programs or the arm64 SDK are skipped (CACHET_BINFMT_ARM64=0)"
    env_set CACHET_BINFMT_ARM64 0
    exit 0
}

# 161-byte static aarch64 ELF: write(1, "arm64 ok\n", 9); exit(0).
PROBE_B64=f0VMRgIBAQAAAAAAAAAAAAIAtwABAAAAeABAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAAAAEAAOAABAAAAAAAAAAEAAAAFAAAAAAAAAAAAAAAAAEAAAAAAAAAAQAAAAAAAoQAAAAAAAAChAAAAAAAAAAAQAAAAAAAAIACA0uEAABAiAYDSCAiA0gEAANQAAIDSqAuA0gEAANRhcm02NCBvawo=
probe_runs() {
    local p out
    p=$(mktemp "$STATE/arm64-probe.XXXXXX")
    base64 -d <<<"$PROBE_B64" >"$p"
    chmod +x "$p"
    out=$(timeout 20 "$p" 2>&1) || true
    rm -f "$p"
    [[ $out == "arm64 ok" ]]
}

if [[ ! -e $BM/register ]]; then
    grep -qw binfmt_misc /proc/filesystems || unavailable "the kernel has no binfmt_misc file system (not in /proc/filesystems)"
    err=$(mount -t binfmt_misc binfmt_misc "$BM" 2>&1) ||
        unavailable "mount -t binfmt_misc binfmt_misc $BM failed (needs root / CAP_SYS_ADMIN): ${err%%$'\n'*}"
    log "mounted binfmt_misc on $BM"
fi
[[ $(cat "$BM/status" 2>/dev/null) == enabled ]] || unavailable "binfmt_misc is disabled ($BM/status)"
[[ -f $CONF ]] || die "$CONF missing; qemu-user-static should have been installed by scripts/env/packages.sh"

# Debian's line is ":qemu-aarch64:M::<magic>:<mask>:<interpreter>:<flags>".
line=$(grep -m1 '^:qemu-aarch64:' "$CONF") || die "no qemu-aarch64 line in $CONF"
flags=${line##*:}
if [[ $flags != *F* ]]; then
    line="${line}F"
    log "Debian's entry lacks the F flag ($flags); registering with ${flags}F"
fi

# entry_ok: registered, enabled, and fix-binary (else containers fail).
entry_ok() {
    [[ -f $ENTRY ]] && grep -qx enabled "$ENTRY" && grep -q '^flags: .*F' "$ENTRY"
}

if [[ -f $ENTRY ]] && ! entry_ok; then
    log "replacing the existing qemu-aarch64 entry ($(grep '^flags:' "$ENTRY" || echo 'no flags'); not enabled or no F flag)"
    err=$( (echo -1 >"$ENTRY") 2>&1) || unavailable "could not remove the existing $ENTRY: ${err##*: }"
fi
if [[ ! -f $ENTRY ]]; then
    err=$( (printf '%s' "$line" >"$BM/register") 2>&1) ||
        unavailable "the kernel refused the qemu-aarch64 registration (writing $CONF's line to $BM/register): ${err##*: }"
    log "registered qemu-aarch64 ($(grep '^interpreter' "$ENTRY"), $(grep '^flags' "$ENTRY"))"
fi
entry_ok || unavailable "$ENTRY is not an enabled fix-binary (F) entry after registration"

probe_runs || unavailable "qemu-aarch64 is registered but a static arm64 test program did not print 'arm64 ok'"
log "arm64 programs run under qemu ($(grep '^flags' "$ENTRY"))"
env_set CACHET_BINFMT_ARM64 1
