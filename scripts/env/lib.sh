# shellcheck shell=bash
# shellcheck disable=SC2034 # constants here are used by the sourcing scripts
# Common helpers for scripts/env/*. Source it; do not execute it.
#
# Conventions:
#   - every step script is runnable on its own and is idempotent;
#   - every wait is bounded; failures print ONE line saying what failed and
#     where its log is, then exit non-zero;
#   - a step publishes KEY=VALUE facts with env_set; scripts/env/up merges the
#     fragments into $CACHET_STATE_DIR/env at the end.

CACHET_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ENV_DIR="$CACHET_ROOT/scripts/env"

# Bump when a change to these scripts must invalidate cached artifacts
# (rootfs tarballs, imported images).
CACHET_ENV_VERSION=1

# Pinned upstream tool versions (see scripts/env/gotools.sh for why these).
BUILDKIT_VERSION=v0.33.1
BUILDX_VERSION=v0.37.2

# Always Debian's 20.10 client: /usr/local/bin/docker (28.x, no buildx)
# refuses BuildKit builds.
DOCKER=/usr/bin/docker

STATE=${CACHET_STATE_DIR:-$HOME/.cache/cachet}
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
export CACHET_STATE_DIR="$STATE"

REGISTRY_PORT=${CACHET_REGISTRY_PORT:-5050}
REGISTRY="127.0.0.1:$REGISTRY_PORT"

_cachet_step=${CACHET_STEP:-$(basename "$0" .sh)}

log() { printf '[env/%s] %s\n' "$_cachet_step" "$*" >&2; }
warn() { printf '[env/%s] WARNING: %s\n' "$_cachet_step" "$*" >&2; }
die() {
    printf '[env/%s] ERROR: %s\n' "$_cachet_step" "$*" >&2
    exit 1
}

# tail_log FILE [N]: the gist of a log for a one-line die(): its last line
# that looks like an error (else its last N lines), at most 400 characters.
tail_log() {
    local gist
    if [[ ! -f $1 ]]; then
        echo "(no log at $1)"
        return 0
    fi
    gist=$(grep -aiE 'level=(error|fatal)|failed|error|^[a-z][a-z0-9_-]*: [a-z]' "$1" | tail -n 1) || true
    [[ -n $gist ]] || gist=$(tail -n "${2:-3}" "$1" | tr '\n' ' ')
    gist=${gist//$'\n'/ }
    ((${#gist} <= 400)) || gist="...${gist: -400}"
    echo "$gist"
}

# unmount_under DIR: undo mounts a crashed daemon left below DIR (ours only).
unmount_under() {
    local mnt
    awk -v d="$1" 'index($2, d "/") == 1 { print $2 }' /proc/mounts | sort -r |
        while read -r mnt; do umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true; done
}

# wait_for SECONDS CMD...: poll CMD (quietly) every 0.25 s; 0 once it
# succeeds, 1 on timeout. Never waits longer than SECONDS.
wait_for() {
    local timeout=$1
    shift
    local deadline=$((SECONDS + timeout))
    while ((SECONDS < deadline)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.25
    done
    "$@" >/dev/null 2>&1
}

# await_daemon PID SECONDS CHECK...: wait (bounded) for a daemon we just
# launched as PID until CHECK succeeds. Returns 0 once it answers, 1 if it
# is still running but did not answer in time, 2 if it exited.
await_daemon() {
    local pid=$1 timeout=$2
    shift 2
    local deadline=$((SECONDS + timeout))
    while kill -0 "$pid" 2>/dev/null && ! "$@" >/dev/null 2>&1 && ((SECONDS < deadline)); do
        sleep 0.25
    done
    "$@" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null && return 1
    return 2
}

# pid_from PIDFILE: prints the pid if the file names a live process.
pid_from() {
    local pid
    [[ -s $1 ]] || return 1
    pid=$(tr -dc '0-9' <"$1")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

# pid_is PID EXE: true if the live process PID runs executable EXE (basename).
pid_is() {
    local exe
    exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
    [[ $(basename "${exe% (deleted)}") == "$2" ]]
}

# env_set KEY VALUE: publish a fact for $STATE/env (fragment per step).
env_set() {
    local frag="$STATE/env.d/$_cachet_step.env"
    mkdir -p "$STATE/env.d"
    if [[ -z ${_cachet_env_reset:-} ]]; then
        : >"$frag"
        _cachet_env_reset=1
    fi
    # Plain words only, so the env file can be sourced by sh as well as
    # read line by line (no quoting rules for consumers to get wrong).
    [[ $1 =~ ^[A-Z_][A-Z0-9_]*$ && $2 =~ ^[A-Za-z0-9_./:@,+=%-]*$ ]] ||
        die "env fact $1='$2' is not a plain KEY=word pair"
    printf '%s=%s\n' "$1" "$2" >>"$frag"
}

# load_env: export the facts published by the other steps (not this step's
# own previous output, so it can never masquerade as a user override).
load_env() {
    local f line
    for f in "$STATE"/env.d/*.env; do
        [[ -e $f && $f != "$STATE/env.d/$_cachet_step.env" ]] || continue
        while IFS= read -r line; do
            [[ $line == *=* ]] && export "${line%%=*}=${line#*=}"
        done <"$f"
    done
}

# need_cmd CMD: die unless CMD is on PATH (packages.sh installs them).
need_cmd() {
    command -v "$1" >/dev/null 2>&1 || die "'$1' not found; run scripts/env/up (it installs missing packages)"
}

# docker_ok: the daemon at $DOCKER_HOST answers.
docker_ok() {
    timeout 10 "$DOCKER" info --format '{{.ServerVersion}}' >/dev/null 2>&1
}

# sha256 of stdin, hex only.
sha256_stdin() { sha256sum | cut -d' ' -f1; }

# overlay_works DIR: can we mount overlayfs with upper/work dirs on DIR's
# filesystem? (Nested overlay, e.g. inside a container on overlayfs, cannot.)
overlay_works() {
    local t rc=1
    mkdir -p "$1"
    t=$(mktemp -d "$1/overlay-probe.XXXXXX")
    mkdir -p "$t/lower" "$t/upper" "$t/work" "$t/merged"
    echo x >"$t/lower/f"
    if mount -t overlay overlay -o "lowerdir=$t/lower,upperdir=$t/upper,workdir=$t/work" "$t/merged" 2>/dev/null; then
        echo y >"$t/merged/f" 2>/dev/null && [[ $(<"$t/lower/f") == x ]] && rc=0
        umount "$t/merged" 2>/dev/null || true
    fi
    rm -rf "$t"
    return $rc
}

# stop_pid PID NAME: TERM, bounded wait, then KILL.
stop_pid() {
    local pid=$1 name=$2 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 120; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.25
    done
    warn "$name (pid $pid) ignored SIGTERM for 30 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
}

# mirror_path REF: the registry path of a docker.io reference under our
# mirror, "repo:tag" (cachet/frontend:dev -> cachet/frontend:dev,
# foo:tag -> library/foo:tag, foo -> library/foo:latest).
mirror_path() {
    local ref=$1 name tag first domain path
    [[ $ref != *@* ]] || die "$ref: digest references cannot be pushed by tag"
    name=$ref
    tag=latest
    if [[ ${name##*/} == *:* ]]; then
        tag=${name##*:}
        name=${name%:*}
    fi
    first=${name%%/*}
    if [[ $name == */* && ($first == *.* || $first == *:* || $first == localhost) ]]; then
        domain=$first
        path=${name#*/}
    else
        domain=docker.io
        path=$name
    fi
    [[ $domain == docker.io || $domain == index.docker.io ]] ||
        die "$ref is not a docker.io name; only docker.io names resolve through the mirror"
    [[ $path == */* ]] || path=library/$path
    echo "$path:$tag"
}

# registry_digest REPO TAG: manifest digest the registry serves, if any.
registry_digest() {
    curl -fsS --max-time 10 -o /dev/null -D - \
        -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
        -H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json' \
        -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
        -H 'Accept: application/vnd.oci.image.index.v1+json' \
        "http://$REGISTRY/v2/$1/manifests/$2" 2>/dev/null |
        awk 'tolower($1) == "docker-content-digest:" { gsub(/\r/, "", $2); print $2 }' || true
}

# push_to_mirror LOCAL_REF: tag a dockerd image under its mirror path in our
# registry and push it, unless the registry already serves that image.
push_to_mirror() {
    local ref=$1 mp repo tag target remote
    mp=$(mirror_path "$ref")
    repo=${mp%:*}
    tag=${mp##*:}
    target="$REGISTRY/$mp"
    "$DOCKER" image inspect "$ref" >/dev/null 2>&1 || die "no image $ref in dockerd at $DOCKER_HOST"
    remote=$(registry_digest "$repo" "$tag")
    if [[ -n $remote ]] && "$DOCKER" image inspect -f '{{range .RepoDigests}}{{println .}}{{end}}' "$ref" |
        grep -qxF "$REGISTRY/$repo@$remote"; then
        log "$ref already in the registry as $target ($remote)"
        return 0
    fi
    "$DOCKER" tag "$ref" "$target"
    log "pushing $ref as $target"
    timeout 900 "$DOCKER" push "$target" >/dev/null || die "docker push $target failed (registry log: $STATE/logs/registry.log)"
    log "pushed $target ($(registry_digest "$repo" "$tag"))"
}

# Start a daemon that outlives this script: its own session (setsid), stdin from
# /dev/null, output appended to $log, and no file descriptor but 0-2 inherited. A lock fd
# held by a caller (`flock <lockfile> scripts/env/up`) must not stay open in a daemon, or
# the lock is held for the daemon's whole life and everyone waiting on it hangs.
# usage: start_daemon LOG COMMAND [ARGS...]
start_daemon() {
    local log=$1 fd
    shift
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            ((fd > 2)) && eval "exec $fd>&-"
        done
        exec setsid "$@" >>"$log" 2>&1 </dev/null
    ) &
}
