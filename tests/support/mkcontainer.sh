#!/bin/sh
# Builds a throwaway "container" for the entering tests: a busybox-static
# root filesystem, new mount, pid, uts, ipc, net, cgroup and time
# namespaces, and `sleep` as its init. Prints the host pid of that init once
# it runs. Needs root and util-linux unshare.
#
# usage: mkcontainer.sh DIR [pivot|chroot]
#   pivot   the init's root is the mount namespace's root (as runc does)
#   chroot  the init is chroot'ed inside the new mount namespace
# environment:
#   NSGATE_TEST_HOSTNAME  hostname inside (default nsgate-test)
#   NSGATE_TEST_CGROUP    join cgroup NAME in every hierarchy first (it must exist)
#   NSGATE_TEST_CAPS      setpriv bounding set for the init, e.g. -all,+chown
#   NSGATE_TEST_NNP       1: the init runs with no_new_privs
#   NSGATE_TEST_USERNS    1: also a user namespace, ids 1-65535 mapped to 100001-165535
# Stop it by killing the printed pid; DIR is left for the caller to remove.
set -eu

dir=$1
mode=${2:-pivot}
root=$dir/rootfs
busybox=$(command -v busybox)
case $(file -b "$busybox" 2>/dev/null || echo static) in
*dynamic*) echo "mkcontainer: $busybox is not static (apt-get install busybox-static)" >&2; exit 1 ;;
esac

mkdir -p "$root/bin" "$root/etc" "$root/proc" "$root/dev" "$root/tmp" \
	"$root/root" "$root/home/app" "$root/usr/local/bin" "$root/srv/data"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
	[ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:App:/home/app:/bin/ash
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
nohome:x:1001:1001::/nonexistent:/bin/sh
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:root
tty:x:5:
wheel:x:10:root,app
audio:x:29:app
staff:x:50:
app:x:1000:
nogroup:x:65534:
EOF
cat >"$root/usr/local/bin/hello" <<'EOF'
#!/bin/sh
echo "hello from a script: $*"
EOF
chmod 755 "$root/usr/local/bin/hello"
printf 'not a program\n' >"$root/usr/local/bin/notexec"
chmod 644 "$root/usr/local/bin/notexec"
chown 1000:1000 "$root/home/app"
chmod 1777 "$root/tmp"

if [ -n "${NSGATE_TEST_CGROUP:-}" ]; then
	for procs in /sys/fs/cgroup/*/"$NSGATE_TEST_CGROUP"/cgroup.procs; do
		echo $$ >"$procs"
	done
fi

hostname_=${NSGATE_TEST_HOSTNAME:-nsgate-test}
# Confinement for the init, applied by the host's setpriv, which has to run
# before the root changes: so only with chroot (and it must keep sys_chroot).
privs=""
if [ -n "${NSGATE_TEST_CAPS:-}${NSGATE_TEST_NNP:-}" ]; then
	[ "$mode" = chroot ] || { echo "mkcontainer: capabilities need chroot mode" >&2; exit 1; }
	privs="setpriv"
	[ -n "${NSGATE_TEST_CAPS:-}" ] && privs="$privs --bounding-set=$NSGATE_TEST_CAPS --inh-caps=-all"
	[ -n "${NSGATE_TEST_NNP:-}" ] && privs="$privs --no-new-privs"
fi
userns=""
if [ -n "${NSGATE_TEST_USERNS:-}" ]; then
	# The maps are written below from outside, as root may (newuidmap would
	# need /etc/subuid); the init waits for them. The namespace's root stays
	# the host's (its programs must keep their capabilities across exec
	# before any setuid), every other id is shifted by 100000.
	userns="--user"
	chown 101000:101000 "$root/home/app"
fi

# Runs as the new pid namespace's init, in the new namespaces.
# shellcheck disable=SC2016 # expanded by the inner shell
inner='
	set -e
	if [ -n "$USERNS" ]; then
		while [ -z "$(cat /proc/self/gid_map)" ]; do sleep 0.01; done
	fi
	hostname "$HOSTNAME_"
	ip link set lo up
	ip link add nsgtest0 type dummy 2>/dev/null || true
	# A mount point of its own for pivot_root, before anything is mounted inside.
	mount --bind "$ROOT" "$ROOT"
	mount -t proc proc "$ROOT/proc"
	mount -t tmpfs -o mode=755 dev "$ROOT/dev"
	for d in null zero full random urandom tty; do
		touch "$ROOT/dev/$d"
		mount --bind "/dev/$d" "$ROOT/dev/$d"
	done
	mkdir "$ROOT/dev/pts"
	mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$ROOT/dev/pts"
	ln -s pts/ptmx "$ROOT/dev/ptmx"
	if [ "$MODE" = chroot ]; then
		# shellcheck disable=SC2086 # $PRIVS is a command line
		exec $PRIVS chroot "$ROOT" /bin/sleep 1000000
	fi
	cd "$ROOT"
	mkdir -p .oldroot
	pivot_root . .oldroot
	exec /bin/sh -c "umount -l /.oldroot && rmdir /.oldroot && exec /bin/sleep 1000000"
'
# shellcheck disable=SC2086 # word splitting of $userns is intended
unshare --fork --pid --mount --uts --ipc --net --cgroup --time $userns \
	--propagation private \
	env ROOT="$root" MODE="$mode" HOSTNAME_="$hostname_" PRIVS="$privs" \
	USERNS="$userns" sh -c "$inner" \
	</dev/null >"$dir/log" 2>&1 &
outer=$!
if [ -n "$userns" ]; then
	i=0
	until [ "$(readlink "/proc/$outer/ns/user")" != "$(readlink /proc/self/ns/user)" ]; do
		i=$((i + 1))
		[ $i -lt 200 ] || { echo "mkcontainer: no user namespace" >&2; exit 1; }
		sleep 0.01
	done
	printf '0 0 1\n1 100001 65535\n' >"/proc/$outer/uid_map"
	printf '0 0 1\n1 100001 65535\n' >"/proc/$outer/gid_map"
fi

# The init is unshare's child; wait until it is the sleep.
i=0
while [ $i -lt 100 ]; do
	child=$(cat "/proc/$outer/task/$outer/children" 2>/dev/null | tr -d ' ') || true
	if [ -n "$child" ] && [ "$(cat "/proc/$child/comm" 2>/dev/null)" = sleep ]; then
		echo "$child"
		exit 0
	fi
	if ! kill -0 "$outer" 2>/dev/null; then
		break
	fi
	i=$((i + 1))
	sleep 0.05
done
echo "mkcontainer: the container did not start:" >&2
cat "$dir/log" >&2
kill -9 "$outer" 2>/dev/null || true
exit 1
