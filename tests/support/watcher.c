/*
 * The attacker for tests/containment.rs: a process inside a container that
 * watches for every new process of its pid namespace and records what it
 * can see of it before it is confined.
 *
 *   watcher DIR MARKER...
 *
 * Started as the container's command, DIR a host directory mounted into
 * the container (so the test never has to docker exec, which would add
 * processes of its own). It writes DIR/ready once it watches, then spins:
 * it predicts the next pids from /proc/sys/kernel/ns_last_pid and opens
 * /proc/N as soon as it exists. For each process caught it records, fastest
 * window first:
 *
 *   root=   stat("/proc/N/root/") against its own "/": same, other or err:E
 *   net=    /proc/N/ns/net against its own: same, other or err:E
 *   mnt=    /proc/N/ns/mnt likewise
 *   exe=    /proc/N/exe opened O_PATH and held: held or err:E
 *   uid=    the four ids of the Uid: line of /proc/N/status
 *   capeff= CapEff of /proc/N/status (hex), capbnd= its own CapBnd
 *   leak=   the MARKERs found in /proc/N/cmdline, environ, mountinfo or
 *           net/unix, as WHERE:MARKER[,...] (- when none)
 *   mounts= mount ids in /proc/N/mountinfo that its own has not: n, or err:E
 *   environ= ok or err:E (whether it could be read at all)
 *   cmdline= /proc/N/cmdline, NULs as spaces, escaped \xHH (no blanks)
 *
 * one line "proc pid=N k=v ..." each, to DIR/report. When DIR/stop
 * appears it reopens each held exe through /proc/self/fd/K for writing and
 * writes a few bytes, unless the file is one the container can reach by
 * path anyway (its own files are no hole); one line "exe pid=N path=...
 * wronly=ok|err:E rdwr=ok|err:E written=BYTES" each. Then DIR/done.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define AHEAD 8
#define MAX_HELD 1024
#define BIG (4 << 20)

static const char *dir;
static char **markers;
static int nmarkers;
static FILE *report;
static struct stat own_root;
static char own_net[128], own_mnt[128];
static unsigned long long own_capbnd;
static char own_mounts[BIG];
static char buf[BIG];

static struct {
    int pid;
    int fd;
} held[MAX_HELD];
static int nheld;

static void die(const char *what)
{
    fprintf(stderr, "watcher: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void touch(const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        die(path);
    close(fd);
}

static int exists(const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* Reads a whole file at DFD/PATH into buf (NUL-terminated); its length or
 * -errno. */
static long slurp(int dfd, const char *path)
{
    int fd = openat(dfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    long n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
        if (r < 0) {
            int e = errno;
            close(fd);
            return n > 0 ? n : -e;
        }
        if (r == 0 || n + r >= (long)sizeof buf - 1) {
            n += r;
            break;
        }
        n += r;
    }
    close(fd);
    buf[n] = 0;
    return n;
}

static const char *err(int e)
{
    static char s[8][32];
    static int i;
    i = (i + 1) % 8;
    snprintf(s[i], sizeof s[i], "err:%s", strerrorname_np(e) ? strerrorname_np(e) : "?");
    return s[i];
}

static const char *compare_link(int dfd, const char *path, const char *own)
{
    char l[128];
    ssize_t n = readlinkat(dfd, path, l, sizeof l - 1);
    if (n < 0)
        return err(errno);
    l[n] = 0;
    return strcmp(l, own) == 0 ? "same" : "other";
}

/* Appends WHERE:MARKER for each marker in the first n bytes of buf. */
static void find_markers(const char *where, long n, char *leak, size_t size)
{
    for (long i = 0; i < n; i++)
        if (buf[i] == 0)
            buf[i] = ' ';
    for (int m = 0; m < nmarkers; m++)
        if (memmem(buf, n, markers[m], strlen(markers[m]))) {
            size_t len = strlen(leak);
            snprintf(leak + len, size - len, "%s%s:%s", len ? "," : "", where, markers[m]);
        }
}

/* Whether mount id ID (as text, with a leading and trailing blank) is a
 * mount of our own mountinfo. */
static int own_mount(const char *id)
{
    return strstr(own_mounts, id) != NULL;
}

/* " ID " for each line of buf, into out. */
static void mount_ids(const char *text, char *out, size_t size)
{
    size_t len = 0;
    out[0] = 0;
    const char *line = text;
    while (*line) {
        const char *end = strchr(line, ' ');
        if (!end)
            break;
        int n = snprintf(out + len, size - len, " %.*s ", (int)(end - line), line);
        if (n < 0 || (size_t)n >= size - len)
            break;
        len += n;
        line = strchr(line, '\n');
        if (!line)
            break;
        line++;
    }
}

static void escape(const char *s, long n, char *out, size_t size)
{
    size_t len = 0;
    for (long i = 0; i < n && len + 5 < size; i++) {
        unsigned char c = s[i];
        if (c == 0)
            c = ' ';
        if (c > ' ' && c < 0x7f && c != '\\')
            out[len++] = c;
        else
            len += snprintf(out + len, size - len, "\\x%02x", c);
    }
    out[len] = 0;
}

static const char *field(const char *text, const char *name)
{
    const char *p = strstr(text, name);
    return p ? p + strlen(name) : NULL;
}

static void caught(int pid, int dfd)
{
    /* The narrowest windows first: where the process is. */
    struct stat st;
    const char *root;
    if (fstatat(dfd, "root/", &st, 0) < 0)
        root = err(errno);
    else
        root = st.st_dev == own_root.st_dev && st.st_ino == own_root.st_ino ? "same" : "other";
    const char *net = compare_link(dfd, "ns/net", own_net);
    const char *mnt = compare_link(dfd, "ns/mnt", own_mnt);
    const char *exe = "held";
    int fd = openat(dfd, "exe", O_PATH | O_CLOEXEC);
    if (fd < 0)
        exe = err(errno);
    else if (nheld < MAX_HELD) {
        held[nheld].pid = pid;
        held[nheld].fd = fd;
        nheld++;
    } else
        close(fd);

    char leak[1024] = "";
    static char cmdline[8192];
    long n = slurp(dfd, "cmdline");
    if (n >= 0) {
        escape(buf, n, cmdline, sizeof cmdline);
        find_markers("cmdline", n, leak, sizeof leak);
    } else
        snprintf(cmdline, sizeof cmdline, "%s", err(-n));

    char uid[64] = "-", capeff[32] = "-";
    n = slurp(dfd, "status");
    if (n > 0) {
        const char *u = field(buf, "\nUid:\t");
        const char *c = field(buf, "\nCapEff:\t");
        unsigned a, b, d, e;
        if (u && sscanf(u, "%u %u %u %u", &a, &b, &d, &e) == 4)
            snprintf(uid, sizeof uid, "%u,%u,%u,%u", a, b, d, e);
        if (c)
            snprintf(capeff, sizeof capeff, "%.16s", c);
        char *nl = strchr(capeff, '\n');
        if (nl)
            *nl = 0;
    }

    char mounts[32];
    n = slurp(dfd, "mountinfo");
    if (n >= 0) {
        static char ids[BIG];
        mount_ids(buf, ids, sizeof ids);
        int extra = 0;
        for (char *p = ids; (p = strchr(p, ' ')) && p[1];) {
            char *q = strchr(p + 1, ' ');
            if (!q)
                break;
            char id[32];
            snprintf(id, sizeof id, " %.*s ", (int)(q - p - 1), p + 1);
            if (!own_mount(id))
                extra++;
            p = q + 1;
        }
        snprintf(mounts, sizeof mounts, "%d", extra);
        find_markers("mountinfo", n, leak, sizeof leak);
    } else
        snprintf(mounts, sizeof mounts, "%s", err(-n));
    n = slurp(dfd, "net/unix");
    if (n > 0)
        find_markers("net/unix", n, leak, sizeof leak);
    const char *environ = "ok";
    n = slurp(dfd, "environ");
    if (n >= 0)
        find_markers("environ", n, leak, sizeof leak);
    else
        environ = err(-n);

    fprintf(report,
            "proc pid=%d root=%s net=%s mnt=%s exe=%s uid=%s capeff=%s capbnd=%016llx "
            "leak=%s mounts=%s environ=%s cmdline=%s\n",
            pid, root, net, mnt, exe, uid, capeff, own_capbnd, leak[0] ? leak : "-", mounts,
            environ, cmdline);
    fflush(report);
}

static long last_pid(void)
{
    long n = slurp(AT_FDCWD, "/proc/sys/kernel/ns_last_pid");
    return n > 0 ? strtol(buf, NULL, 10) : -1;
}

/* Tries to write to each held exe the container cannot reach by path. */
static void attack_exes(void)
{
    for (int i = 0; i < nheld; i++) {
        char self[64], path[4096];
        snprintf(self, sizeof self, "/proc/self/fd/%d", held[i].fd);
        ssize_t n = readlink(self, path, sizeof path - 1);
        path[n < 0 ? 0 : n] = 0;
        struct stat fst, pst;
        if (fstat(held[i].fd, &fst) < 0)
            continue;
        if (n > 0 && stat(path, &pst) == 0 && pst.st_dev == fst.st_dev &&
            pst.st_ino == fst.st_ino)
            continue; /* the container's own file */
        char epath[8192];
        escape(path, strlen(path), epath, sizeof epath);
        const char *result[2];
        long written = 0;
        int modes[2] = {O_WRONLY, O_RDWR};
        for (int m = 0; m < 2; m++) {
            int fd = open(self, modes[m] | O_CLOEXEC);
            if (fd < 0) {
                result[m] = err(errno);
                continue;
            }
            result[m] = "ok";
            ssize_t w = write(fd, "\x7f" "ATTACKED-BY-CONTAINER", 22);
            if (w > 0)
                written += w;
            close(fd);
        }
        fprintf(report, "exe pid=%d path=%s wronly=%s rdwr=%s written=%ld\n", held[i].pid, epath,
                result[0], result[1], written);
    }
    fflush(report);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: watcher DIR MARKER...\n");
        return 2;
    }
    dir = argv[1];
    markers = argv + 2;
    nmarkers = argc - 2;
    char path[4096];
    snprintf(path, sizeof path, "%s/report", dir);
    report = fopen(path, "w");
    if (!report)
        die(path);

    if (stat("/", &own_root) < 0)
        die("/");
    ssize_t n = readlink("/proc/self/ns/net", own_net, sizeof own_net - 1);
    if (n < 0)
        die("/proc/self/ns/net");
    own_net[n] = 0;
    n = readlink("/proc/self/ns/mnt", own_mnt, sizeof own_mnt - 1);
    if (n < 0)
        die("/proc/self/ns/mnt");
    own_mnt[n] = 0;
    if (slurp(AT_FDCWD, "/proc/self/status") <= 0)
        die("/proc/self/status");
    const char *bnd = field(buf, "\nCapBnd:\t");
    own_capbnd = bnd ? strtoull(bnd, NULL, 16) : 0;
    if (slurp(AT_FDCWD, "/proc/self/mountinfo") <= 0)
        die("/proc/self/mountinfo");
    mount_ids(buf, own_mounts, sizeof own_mounts);
    int proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (proc < 0)
        die("/proc");
    int self = getpid();

    fprintf(report, "self pid=%d net=%s capbnd=%016llx\n", self, own_net, own_capbnd);
    fflush(report);
    touch("ready");

    long next = last_pid() + 1;
    for (unsigned long spin = 0;; spin++) {
        int found = 0;
        for (int k = 0; k < AHEAD && !found; k++) {
            char name[24];
            int pid = next + k;
            snprintf(name, sizeof name, "%d", pid);
            int dfd = openat(proc, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (dfd < 0)
                continue;
            found = 1;
            next = pid + 1;
            if (pid != self)
                caught(pid, dfd);
            close(dfd);
        }
        if (found)
            continue;
        if (spin % 64 == 0) {
            /* Missed some (they came and went): look at the newest. */
            long last = last_pid();
            if (last >= next + AHEAD)
                next = last - AHEAD / 2;
        }
        if (spin % 4096 == 0 && exists("stop"))
            break;
    }
    attack_exes();
    fclose(report);
    touch("done");
    return 0;
}
