#!/usr/bin/env bash
# dockerd (Debian's 20.10: the BuildKit v0.8 line) on a private socket.
#
# - $DOCKER_HOST set and answering: use it as is (never touch it).
# - else our own daemon: unix://$STATE/docker/docker.sock, data/exec roots and
#   pidfile under $STATE/docker, its own containerd, no iptables/masquerade
#   (there is no outside network to reach). The default "bridge" network is
#   kept (BuildKit needs it for frontend/RUN containers) but sits on our own
#   Linux bridge (cachet0, 172.29.0.1/16; CACHET_DOCKER_BRIDGE /
#   CACHET_DOCKER_BIP), not docker0, so it cannot collide with a system
#   dockerd or a second state dir. Reused when already running.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

D="$STATE/docker"
SOCK="$D/docker.sock"
PIDFILE="$D/dockerd.pid"
LOG="$STATE/logs/dockerd.log"
OURS="unix://$SOCK"
mkdir -p "$D" "$STATE/logs"

publish() {
    local driver
    driver=$(timeout 10 "$DOCKER" info --format '{{.Driver}}' 2>/dev/null || echo unknown)
    env_set DOCKER_HOST "$DOCKER_HOST"
    env_set CACHET_DOCKERD_OWNED "$1"
    env_set CACHET_DOCKER_STORAGE_DRIVER "$driver"
    [[ $1 == 0 ]] || env_set CACHET_DOCKER_BRIDGE "$BRIDGE"
    log "dockerd $(timeout 10 "$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null) at $DOCKER_HOST, storage driver $driver"
}

if [[ -n ${DOCKER_HOST:-} && $DOCKER_HOST != "$OURS" ]]; then
    if docker_ok; then
        log "using the daemon already at DOCKER_HOST=$DOCKER_HOST (not managed by us)"
        publish 0
        exit 0
    fi
    warn "DOCKER_HOST=$DOCKER_HOST does not answer; starting our own dockerd instead"
fi
export DOCKER_HOST="$OURS"

# Socket paths must fit in sun_path (108 bytes); containerd's is the longest.
if ((${#D} + 40 > 107)); then
    die "state dir path too long for unix sockets ($D); set CACHET_STATE_DIR to a shorter path"
fi

choose_driver() {
    if [[ -n ${CACHET_DOCKER_STORAGE_DRIVER:-} ]]; then
        log "storage driver '$CACHET_DOCKER_STORAGE_DRIVER' (from CACHET_DOCKER_STORAGE_DRIVER)"
        echo "$CACHET_DOCKER_STORAGE_DRIVER"
    elif overlay_works "$D/probe"; then
        echo overlay2
    else
        log "overlayfs cannot be mounted under $D; using storage driver 'vfs' (slower, more disk)"
        echo vfs
    fi
}

# ensure_bridge NAME CIDR: create our Linux bridge for dockerd's default
# network if it does not exist (it does not survive a reboot).
ensure_bridge() {
    need_cmd ip
    if ip link show "$1" >/dev/null 2>&1; then
        return 0
    fi
    log "creating bridge $1 ($2) for dockerd's default network"
    ip link add name "$1" type bridge || die "cannot create bridge $1 (ip link add name $1 type bridge)"
    ip addr add "$2" dev "$1" || die "cannot add $2 to bridge $1"
    ip link set "$1" up || die "cannot bring bridge $1 up"
}

BRIDGE=${CACHET_DOCKER_BRIDGE:-cachet0}
BIP=${CACHET_DOCKER_BIP:-172.29.0.1/16}
driver=$(choose_driver)
printf '{}\n' >"$D/daemon.json" # isolate from any host /etc/docker/daemon.json
args=(
    --host "$OURS"
    --config-file "$D/daemon.json"
    --data-root "$D/data"
    --exec-root "$D/exec"
    --pidfile "$PIDFILE"
    --storage-driver "$driver"
    --bridge "$BRIDGE"
    --iptables=false
    --ip-masq=false
)
key=$(printf '%s\n' "${args[@]}" "$(dockerd --version 2>/dev/null)" | sha256_stdin)

if pid=$(pid_from "$PIDFILE") && pid_is "$pid" dockerd; then
    if [[ $(cat "$D/running.key" 2>/dev/null) == "$key" ]]; then
        if wait_for 60 docker_ok; then
            log "reusing our dockerd (pid $pid)"
            publish 1
            exit 0
        fi
        die "our dockerd (pid $pid) runs but $DOCKER_HOST does not answer within 60 s; log: $LOG: $(tail_log "$LOG")"
    fi
    log "our dockerd (pid $pid) runs with other settings; restarting it"
    stop_pid "$pid" dockerd
elif [[ -S $SOCK ]] && docker_ok; then
    die "a dockerd we did not record answers on $SOCK (pidfile $PIDFILE is stale); stop it or remove $D"
fi

need_cmd dockerd
ensure_bridge "$BRIDGE" "$BIP"
rm -f "$SOCK" "$PIDFILE"
log "starting dockerd (storage driver $driver; log: $LOG)"
echo "--- $(date -Is) starting dockerd ${args[*]}" >>"$LOG"
# start_daemon (lib.sh): the daemon must outlive this script and its process group.
start_daemon "$LOG" dockerd "${args[@]}"
launched=$!
echo "$key" >"$D/running.key"

await_daemon "$launched" 60 docker_ok || case $? in
    1) die "dockerd did not answer on $SOCK within 60 s (still running as pid $launched); log: $LOG: $(tail_log "$LOG")" ;;
    *)
        unmount_under "$D"
        die "dockerd exited during startup; log: $LOG: $(tail_log "$LOG")"
        ;;
esac
if ! "$DOCKER" network inspect bridge >/dev/null 2>&1; then
    warn "dockerd has no default 'bridge' network; RUN/frontend containers may fail (log: $LOG)"
fi
publish 1
