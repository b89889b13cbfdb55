/*
 * assay-launch: the first step of a native sandbox run.
 *
 * Started by the supervisor (as root) with a clean environment, it joins the
 * run's cgroups, sets the resource limits, drops to the sandbox uid/gid and
 * execs bubblewrap. Doing this in a tiny exec'd program lets the supervisor
 * spawn with vfork instead of forking the whole Python process.
 *
 * usage: assay-launch [-c CGROUP_PROCS_FILE]... [-r RESOURCE:SOFT:HARD]...
 *                     -u UID -g GID -- PROGRAM [ARG]...
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void die(const char *what, const char *arg) {
    dprintf(2, "assay-launch: %s %s: %s\n", what, arg ? arg : "", strerror(errno));
    _exit(121);
}

static unsigned long long number(const char *text) {
    char *end;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno || end == text) {
        errno = EINVAL;
        die("bad number", text);
    }
    return value;
}

static void join_cgroup(const char *procs_file) {
    int fd = open(procs_file, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "0", 1) != 1)
        die("cannot join cgroup", procs_file);
    close(fd);
}

static void set_limit(char *spec) {
    char *soft = strchr(spec, ':');
    char *hard = soft ? strchr(soft + 1, ':') : NULL;
    if (!soft || !hard) {
        errno = EINVAL;
        die("bad rlimit", spec);
    }
    *soft++ = '\0';
    *hard++ = '\0';
    struct rlimit limit = {.rlim_cur = number(soft), .rlim_max = number(hard)};
    if (setrlimit((int)number(spec), &limit) != 0)
        die("cannot set rlimit", spec);
}

int main(int argc, char **argv) {
    long uid = -1, gid = -1;
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (i + 1 >= argc) {
            errno = EINVAL;
            die("missing value for", argv[i]);
        }
        if (strcmp(argv[i], "-c") == 0)
            join_cgroup(argv[++i]);
        else if (strcmp(argv[i], "-r") == 0)
            set_limit(argv[++i]);
        else if (strcmp(argv[i], "-u") == 0)
            uid = (long)number(argv[++i]);
        else if (strcmp(argv[i], "-g") == 0)
            gid = (long)number(argv[++i]);
        else {
            errno = EINVAL;
            die("unknown option", argv[i]);
        }
    }
    if (i >= argc || uid <= 0 || gid <= 0) {
        errno = EINVAL;
        die("usage: -u UID -g GID -- PROGRAM", NULL);
    }
    if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)
        die("cannot drop privileges", NULL);
    if (getuid() == 0 || geteuid() == 0)
        die("still root after dropping privileges", NULL);
    execv(argv[i], &argv[i]);
    die("cannot exec", argv[i]);
    return 121;
}
