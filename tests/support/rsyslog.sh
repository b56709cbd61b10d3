#!/bin/sh
# A private rsyslogd for the audit tests: its own config, work directory,
# socket and output file, all under DIR. It never touches /dev/log.
#
#   rsyslog.sh start DIR    start it; DIR/log.sock accepts records,
#                           DIR/out.log gets one line per nsgate record:
#                           "FACILITY.SEVERITY RAWMSG"; every message
#                           (logger -u DIR/log.sock -t sshd ... too) also
#                           lands in DIR/auth.log (rsyslog's traditional
#                           format) and DIR/auth-rfc3339.log (its RFC 3339
#                           one), as an auth.log is written
#   rsyslog.sh stop DIR     stop it (waking it first if it was SIGSTOPped)
#   rsyslog.sh restart DIR  stop, then start again (a new socket inode)
#
# Exit 77 when rsyslogd is missing and cannot be installed.
set -eu

cmd=${1:?usage: rsyslog.sh start|stop|restart DIR}
dir=${2:?usage: rsyslog.sh start|stop|restart DIR}

find_rsyslogd() {
    for r in /usr/sbin/rsyslogd /sbin/rsyslogd; do
        [ -x "$r" ] && { echo "$r"; return 0; }
    done
    command -v rsyslogd 2>/dev/null
}

start() {
    rsyslogd=$(find_rsyslogd) || rsyslogd=
    if [ -z "$rsyslogd" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y rsyslog >&2 || true
        rsyslogd=$(find_rsyslogd) || rsyslogd=
    fi
    if [ -z "$rsyslogd" ]; then
        echo "rsyslog.sh: rsyslogd not found" >&2
        exit 77
    fi
    mkdir -p "$dir/work"
    # Records are checked byte for byte, so rsyslog must not rewrite them:
    # no control-character escaping, no rate limiting, and %rawmsg% (the
    # datagram as received) in the output.
    cat >"$dir/rsyslog.conf" <<EOF
global(workDirectory="$dir/work" parser.escapeControlCharactersOnReceive="off")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$dir/log.sock" UsePIDFromSystem="on"
      RateLimit.Interval="0" Unlink="on")
template(name="nsgate_raw" type="string"
         string="%syslogfacility-text%.%syslogseverity-text% %rawmsg%\n")
action(type="omfile" file="$dir/auth.log" template="RSYSLOG_TraditionalFileFormat")
action(type="omfile" file="$dir/auth-rfc3339.log" template="RSYSLOG_FileFormat")
if \$programname == "nsgate" then {
    action(type="omfile" file="$dir/out.log" template="nsgate_raw")
}
EOF
    rm -f "$dir/log.sock" "$dir/rsyslogd.pid"
    : >>"$dir/out.log"
    "$rsyslogd" -n -f "$dir/rsyslog.conf" -i "$dir/rsyslogd.pid" \
        </dev/null >>"$dir/rsyslogd.stderr" 2>&1 &
    echo $! >"$dir/pid"
    i=0
    while [ ! -S "$dir/log.sock" ]; do
        if ! alive "$(cat "$dir/pid")" || [ $i -ge 100 ]; then
            echo "rsyslog.sh: rsyslogd did not start:" >&2
            cat "$dir/rsyslogd.stderr" >&2
            exit 1
        fi
        sleep 0.05
        i=$((i + 1))
    done
}

# Alive and not a zombie waiting for its reaper.
alive() {
    kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

stop() {
    [ -f "$dir/pid" ] || return 0
    pid=$(cat "$dir/pid")
    # A stopped daemon only acts on SIGTERM once continued; it then flushes
    # out.log and removes its socket.
    kill -TERM "$pid" 2>/dev/null || true
    kill -CONT "$pid" 2>/dev/null || true
    i=0
    while alive "$pid"; do
        if [ $i -ge 100 ]; then
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.05
        i=$((i + 1))
    done
    rm -f "$dir/pid"
}

case $cmd in
start) start ;;
stop) stop ;;
restart) stop; start ;;
*) echo "rsyslog.sh: unknown command $cmd" >&2; exit 2 ;;
esac
