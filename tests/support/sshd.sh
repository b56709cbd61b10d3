#!/bin/bash
# A private OpenSSH server on 127.0.0.1 for the end-to-end tests and the demo:
# its own host key, configuration, authorized_keys and log, all under DIR.
# It never reads /etc/ssh/sshd_config or root's ~/.ssh/authorized_keys.
#
#   sshd.sh start DIR [PORT]   start sshd (PORT: a free one is chosen when
#                              omitted); prints the port. DIR/authorized_keys
#                              is created empty if missing; the log is
#                              DIR/sshd.log (LogLevel VERBOSE). Lines of
#                              DIR/sshd_config.extra, if it exists, come
#                              first (sshd keeps a keyword's first value).
#   sshd.sh stop DIR           stop it and the sessions it serves
#   sshd.sh key DIR LABEL      make the client key DIR/keys/LABEL (ed25519, no
#                              passphrase) unless it exists; prints its path
#   sshd.sh ssh DIR PORT KEY [SSH-OPTION...] [-- COMMAND...]
#                              run the ssh client as root@127.0.0.1 with
#                              that key only, no agent, no known_hosts, no
#                              user config and a 5 s connect timeout
#
# Needs root (the server logs in as root with PermitRootLogin
# forced-commands-only, as an nsgate host does). Exit 77 when sshd or ssh is
# not installed.
set -euo pipefail

die() {
    echo "sshd.sh: $*" >&2
    exit 1
}

usage() {
    die "usage: sshd.sh start DIR [PORT] | stop DIR | key DIR LABEL | ssh DIR PORT KEY [OPTION...] [-- COMMAND...]"
}

need() {
    command -v "$1" >/dev/null 2>&1 || [ -x "$1" ] || {
        echo "sshd.sh: $1 not found (install $2)" >&2
        exit 77
    }
}

# sshd must be started by absolute path (it re-executes itself).
SSHD=/usr/sbin/sshd

alive() {
    kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

write_config() {
    local dir=$1 port=$2 pam=no
    # Without PAM, sshd refuses accounts whose password field starts with
    # "!" (locked); PAM's account stack accepts them for key logins.
    if getent shadow root 2>/dev/null | cut -d: -f2 | grep -q '^!'; then
        pam=yes
    fi
    : >"$dir/sshd_config"
    if [ -f "$dir/sshd_config.extra" ]; then
        cat "$dir/sshd_config.extra" >>"$dir/sshd_config"
    fi
    cat >>"$dir/sshd_config" <<CONF
# Private sshd for nsgate tests; written by tests/support/sshd.sh.
ListenAddress 127.0.0.1
Port $port
HostKey $dir/ssh_host_ed25519_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
AuthorizedPrincipalsFile none
AuthorizedKeysCommand none
PermitRootLogin forced-commands-only
ExposeAuthInfo yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
HostbasedAuthentication no
UsePAM $pam
StrictModes no
PermitUserEnvironment no
PrintMotd no
PrintLastLog no
UseDNS no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
LoginGraceTime 30
MaxStartups 50:30:100
LogLevel VERBOSE
CONF
    # OpenSSH 9.8 and later would slow down a test run that opens many
    # short connections from 127.0.0.1.
    if "$SSHD" -t -f "$dir/sshd_config" -o PerSourcePenalties=no 2>/dev/null; then
        echo "PerSourcePenalties no" >>"$dir/sshd_config"
    fi
}

start() {
    local dir=$1 port=${2:-} pid i tries
    [ "$(id -u)" = 0 ] || die "must run as root"
    need "$SSHD" openssh-server
    need ssh-keygen openssh-client
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    # Privilege separation directory, normally made by the service unit.
    [ -d /run/sshd ] || mkdir -m 0755 /run/sshd
    [ -f "$dir/ssh_host_ed25519_key" ] ||
        ssh-keygen -q -t ed25519 -N '' -C nsgate-test-host -f "$dir/ssh_host_ed25519_key"
    [ -f "$dir/authorized_keys" ] || : >"$dir/authorized_keys"
    chmod 0644 "$dir/authorized_keys"
    tries=1
    [ -n "$port" ] || tries=20
    for ((i = 0; i < tries; i++)); do
        [ $tries -eq 1 ] || port=$((20000 + RANDOM % 40000))
        write_config "$dir" "$port"
        "$SSHD" -t -f "$dir/sshd_config" || die "sshd rejects $dir/sshd_config"
        rm -f "$dir/sshd.pid"
        # -D: stay in the foreground so a failed bind ends this process;
        # the pid file appears only once sshd listens.
        setsid "$SSHD" -D -f "$dir/sshd_config" -E "$dir/sshd.log" \
            </dev/null >>"$dir/sshd.stderr" 2>&1 &
        pid=$!
        while alive "$pid" && [ ! -s "$dir/sshd.pid" ]; do
            sleep 0.05
        done
        if alive "$pid"; then
            echo "$port" >"$dir/port"
            echo "$port"
            return 0
        fi
        wait "$pid" 2>/dev/null || true
    done
    tail -n 20 "$dir/sshd.log" "$dir/sshd.stderr" >&2 2>/dev/null || true
    die "sshd did not start on 127.0.0.1:$port"
}

stop() {
    local dir=$1 pid children i
    [ -s "$dir/sshd.pid" ] || return 0
    pid=$(cat "$dir/sshd.pid")
    # The listener does not end its sessions; their sshd processes are its
    # children (each then hangs up on its forced command).
    mapfile -t children < <(pgrep -P "$pid" 2>/dev/null || true)
    kill -TERM "$pid" "${children[@]}" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        alive "$pid" || break
        sleep 0.05
    done
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    rm -f "$dir/sshd.pid"
}

key() {
    local dir=$1 label=$2
    need ssh-keygen openssh-client
    mkdir -p "$dir/keys"
    [ -f "$dir/keys/$label" ] ||
        ssh-keygen -q -t ed25519 -N '' -C "$label@nsgate-test" -f "$dir/keys/$label"
    echo "$dir/keys/$label"
}

client() {
    local dir=$1 port=$2 key=$3
    shift 3
    need ssh openssh-client
    local opts=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        opts+=("$1")
        shift
    done
    [ $# -eq 0 ] || shift
    exec ssh -F /dev/null -i "$key" -p "$port" \
        -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o ConnectTimeout=5 -o LogLevel=ERROR \
        "${opts[@]}" root@127.0.0.1 "$@"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
start) [ $# -ge 1 ] && [ $# -le 2 ] || usage; start "$@" ;;
stop) [ $# -eq 1 ] || usage; stop "$1" ;;
key) [ $# -eq 2 ] || usage; key "$@" ;;
ssh) [ $# -ge 3 ] || usage; client "$@" ;;
*) usage ;;
esac
