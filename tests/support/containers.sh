#!/bin/bash
# Test environment for nsgate's integration and end-to-end tests: Docker,
# Podman and a busybox image built locally (there is no registry access, so
# nothing is ever pulled). Idempotent; run as root on Debian 12.
#
#   containers.sh setup
#       Install docker.io, podman and busybox-static if missing, start dockerd
#       if its socket does not answer, and build the images
#       nsgate-test:busybox (Docker) and localhost/nsgate-test:busybox (Podman).
#   containers.sh rootfs DIR
#       Write the busybox root filesystem into DIR (for tests that build a
#       container themselves with unshare).
#   containers.sh docker-run NAME [OPTION...] [-- COMMAND...]
#   containers.sh podman-run NAME [OPTION...] [-- COMMAND...]
#       Remove any old container NAME, then run a detached one from the test
#       image with the given `run` options; prints the full container id.
#       COMMAND defaults to a long sleep.
#   containers.sh podman-service SOCKET
#       Start `podman system service` on SOCKET unless it already answers.
#   containers.sh rm NAME...
#       Remove Docker and Podman containers of these names, if any.
#
# The image content: /bin/busybox with every applet linked under /bin,
# /etc/passwd (root, app 1000:1000 home /home/app shell /bin/sh, nobody) and
# /etc/group (root, tty 5, app 1000, nobody).
set -euo pipefail

IMAGE=nsgate-test:busybox
PODMAN_IMAGE=localhost/nsgate-test:busybox
# Bump when the image content below changes, so old images are rebuilt.
IMAGE_VERSION=1
DOCKER_SOCK=/var/run/docker.sock
DOCKERD_LOG=/tmp/nsgate-dockerd.log
LOCK=/run/lock/nsgate-containers.lock
SLEEP_FOREVER=(/bin/sleep 1000000000)
# Rootful podman on this kind of machine needs runc and explicit ulimits
# (its defaults exceed what the OCI runtime may set here).
PODMAN_RUN_OPTS=(--runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

die() {
    echo "containers.sh: $*" >&2
    exit 1
}

# Serialise concurrent callers (tests run in parallel threads and binaries).
lock() {
    mkdir -p "$(dirname "$LOCK")"
    exec 9>"$LOCK"
    flock -w 300 9 || die "cannot take $LOCK"
}

need_root() {
    [ "$(id -u)" = 0 ] || die "must run as root"
}

install_packages() {
    local missing=()
    command -v docker >/dev/null || missing+=(docker.io)
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v podman >/dev/null || missing+=(podman)
    [ -x /bin/busybox ] && /bin/busybox --list >/dev/null 2>&1 &&
        dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
    command -v curl >/dev/null || missing+=(curl)
    if [ ${#missing[@]} -gt 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update
        apt-get install -y "${missing[@]}"
    fi
}

socket_answers() {
    curl -sf --max-time 2 --unix-socket "$1" http://localhost/_ping >/dev/null 2>&1
}

start_dockerd() {
    socket_answers "$DOCKER_SOCK" && return 0
    echo "containers.sh: starting dockerd (log in $DOCKERD_LOG)" >&2
    # setsid: the daemon must outlive the test process that started it;
    # 9>&-: and must not hold our lock.
    setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null 9>&- &
    local i
    for i in $(seq 1 120); do
        socket_answers "$DOCKER_SOCK" && return 0
        sleep 0.5
    done
    tail -n 30 "$DOCKERD_LOG" >&2 || true
    die "dockerd did not answer on $DOCKER_SOCK within 60 s"
}

make_rootfs() {
    local dir=$1 applet
    [ -x /bin/busybox ] || die "/bin/busybox missing (busybox-static)"
    mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,root,home/app,tmp,proc,sys,dev,run,var}
    cp /bin/busybox "$dir/bin/busybox"
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] && continue
        ln -sf busybox "$dir/bin/$applet"
    done
    cat >"$dir/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
    cat >"$dir/etc/group" <<'EOF'
root:x:0:
tty:x:5:
app:x:1000:
nogroup:x:65534:
EOF
    chmod 644 "$dir/etc/passwd" "$dir/etc/group"
    chown 1000:1000 "$dir/home/app"
    chmod 700 "$dir/root"
    chmod 1777 "$dir/tmp"
}

image_tar() {
    local tmp
    tmp=$(mktemp -d /tmp/nsgate-rootfs.XXXXXX)
    make_rootfs "$tmp/rootfs"
    tar --numeric-owner -C "$tmp/rootfs" -cf "$tmp/rootfs.tar" .
    echo "$tmp"
}

build_images() {
    local have tmp
    have=$(docker image inspect -f '{{index .Config.Labels "nsgate-test"}}' "$IMAGE" 2>/dev/null || true)
    if [ "$have" != "$IMAGE_VERSION" ]; then
        tmp=$(image_tar)
        docker import \
            -c "CMD [\"${SLEEP_FOREVER[0]}\", \"${SLEEP_FOREVER[1]}\"]" \
            -c "LABEL nsgate-test=$IMAGE_VERSION" \
            "$tmp/rootfs.tar" "$IMAGE" >/dev/null
        rm -rf "$tmp"
    fi
    have=$(podman image inspect -f '{{index .Config.Labels "nsgate-test"}}' "$PODMAN_IMAGE" 2>/dev/null || true)
    if [ "$have" != "$IMAGE_VERSION" ]; then
        tmp=$(image_tar)
        podman import --quiet \
            --change "CMD [\"${SLEEP_FOREVER[0]}\", \"${SLEEP_FOREVER[1]}\"]" \
            --change "LABEL nsgate-test=$IMAGE_VERSION" \
            "$tmp/rootfs.tar" "$PODMAN_IMAGE" >/dev/null
        rm -rf "$tmp"
    fi
}

# run ENGINE NAME [OPTION...] [-- COMMAND...]
run_container() {
    local engine=$1 name=$2 image opts=() cmd=()
    shift 2
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        opts+=("$1")
        shift
    done
    if [ $# -gt 0 ]; then
        shift
        cmd=("$@")
    fi
    [ ${#cmd[@]} -gt 0 ] || cmd=("${SLEEP_FOREVER[@]}")
    if [ "$engine" = docker ]; then
        image=$IMAGE
    else
        image=$PODMAN_IMAGE
        opts=("${PODMAN_RUN_OPTS[@]}" "${opts[@]}")
    fi
    "$engine" rm -f "$name" >/dev/null 2>&1 || true
    "$engine" run -d --name "$name" "${opts[@]}" "$image" "${cmd[@]}"
}

podman_service() {
    local sock=$1 i
    socket_answers "$sock" && return 0
    mkdir -p "$(dirname "$sock")"
    rm -f "$sock"
    setsid podman system service --time=0 "unix://$sock" \
        >>"/tmp/nsgate-podman-service.log" 2>&1 </dev/null 9>&- &
    for i in $(seq 1 60); do
        socket_answers "$sock" && return 0
        sleep 0.5
    done
    die "podman system service did not answer on $sock within 30 s"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
setup)
    need_root
    lock
    install_packages
    start_dockerd
    build_images
    ;;
rootfs)
    [ $# -eq 1 ] || die "usage: containers.sh rootfs DIR"
    make_rootfs "$1"
    ;;
docker-run | podman-run)
    need_root
    [ $# -ge 1 ] || die "usage: containers.sh $cmd NAME [OPTION...] [-- COMMAND...]"
    run_container "${cmd%-run}" "$@"
    ;;
podman-service)
    need_root
    [ $# -eq 1 ] || die "usage: containers.sh podman-service SOCKET"
    lock
    podman_service "$1"
    ;;
rm)
    need_root
    for name in "$@"; do
        docker rm -f "$name" >/dev/null 2>&1 || true
        podman rm -f "$name" >/dev/null 2>&1 || true
    done
    ;;
*)
    die "usage: containers.sh setup | rootfs DIR | docker-run NAME [OPTION...] [-- COMMAND...] | podman-run NAME [OPTION...] [-- COMMAND...] | podman-service SOCKET | rm NAME..."
    ;;
esac
