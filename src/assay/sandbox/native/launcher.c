/*
 * assay-launch: the first step of a native sandbox run.
 *
 * Started by the supervisor (as root) with a clean environment, it joins the
 * run's cgroups, sets the resource limits, drops to the sandbox uid/gid and
 * starts bubblewrap. Doing this in a tiny exec'd program lets the supervisor
 * spawn with vfork instead of forking the whole Python process.
 *
 * It then stays as bubblewrap's parent and a child subreaper: bubblewrap's
 * outer process exits without reaping the namespace's init, which would
 * otherwise be left a zombie for the host's init. The launcher reaps every
 * descendant and exits with bubblewrap's status once none is left, and dies
 * with the supervisor (PR_SET_PDEATHSIG).
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
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
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

/* Run the program as our child, reap every descendant, return its status. */
static int supervise_child(char **program) {
    pid_t supervisor = getppid();
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
        die("prctl", NULL);
    if (getppid() != supervisor)
        _exit(121); /* the supervisor died before the death signal was armed */
    pid_t child = fork();
    if (child < 0)
        die("cannot fork", NULL);
    if (child == 0) {
        execv(program[0], program);
        die("cannot exec", program[0]);
    }
    int result = 121;
    for (;;) {
        int status;
        pid_t done = waitpid(-1, &status, 0);
        if (done < 0) {
            if (errno == EINTR)
                continue;
            break; /* ECHILD: nothing left */
        }
        if (done == child)
            result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return result;
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
    return supervise_child(&argv[i]);
}
