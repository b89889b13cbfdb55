/*
 * assay-launch: the first step of a native sandbox run.
 *
 * Started by the supervisor (as root, with an empty environment), it joins a
 * job's cgroups and then parks, waiting on a unix socket for the run itself.
 * Moving a process into a cgroup can wait for an RCU grace period (often
 * 10 ms or more on a busy VM); parking lets the supervisor do that ahead of
 * time, so a run only pays for bubblewrap.
 *
 * The request is one message carrying file descriptors (SCM_RIGHTS: stdin,
 * stdout, stderr, then any extra ones, which become fds 0, 1, 2, 3, ...) and
 * a 4-byte payload length, followed by the payload: NUL-terminated strings,
 * each tagged by its first byte:
 *   U<uid>  G<gid>  R<resource>:<soft>:<hard>  E<NAME=value>  A<argument>
 *   K (keep the low priority it was parked with: background work, a session's anchor)
 * The launcher sets the rlimits, drops to uid/gid (never root), and starts
 * the program (bubblewrap) with exactly that environment.
 *
 * It then stays as the program's parent and a child subreaper: bubblewrap's
 * outer process exits without reaping the namespace's init, which would
 * otherwise be left a zombie for the host's init. The launcher reaps every
 * descendant, exits with the program's status once none is left, and dies
 * with the supervisor thread that started it (PR_SET_PDEATHSIG).
 *
 * A request with a P field runs the program in a session's prepared
 * namespaces instead (see prepared.h): no bubblewrap on the run's path.
 *
 * usage: assay-launch -s SOCKET_FD [-c CGROUP_PROCS_FILE]...
 *        assay-launch --anchor SOCKET_FD   (inside a session's bubblewrap)
 * exit status 121: the launcher itself failed (message on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define FAILED 121
static void die(const char *what, const char *arg);
static void invalid(const char *what, const char *arg);
static unsigned long long number(const char *text);
static pid_t reap(int *status);
static int reap_all(pid_t child);
static int exit_code(int status);
#include "prepared.h"
#define MAX_FDS 16
#define MAX_PAYLOAD (16u << 20)

static void die(const char *what, const char *arg) {
    dprintf(2, "assay-launch: %s %s: %s\n", what, arg ? arg : "", strerror(errno));
    _exit(FAILED);
}

static void invalid(const char *what, const char *arg) {
    errno = EINVAL;
    die(what, arg);
}

static unsigned long long number(const char *text) {
    char *end;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno || end == text || *end != '\0')
        invalid("bad number", text);
    return value;
}

/* The next descendant to end (we are a subreaper or an init), or -1 once none is left. */
static pid_t reap(int *status) {
    pid_t done;
    while ((done = waitpid(-1, status, 0)) < 0 && errno == EINTR)
        ;
    return done;
}

/* Reap every descendant; the wait status of `child`, or -1 if it was not reaped. */
static int reap_all(pid_t child) {
    int status, child_status = -1;
    pid_t done;
    while ((done = reap(&status)) >= 0)
        if (done == child)
            child_status = status;
    return child_status; /* ECHILD: nothing left */
}

/* A process's status as a shell gives it: its exit code, or 128 + its signal. */
static int exit_code(int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
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
    if (!soft || !hard)
        invalid("bad rlimit", spec);
    *soft++ = '\0';
    *hard++ = '\0';
    struct rlimit limit = {.rlim_cur = number(soft), .rlim_max = number(hard)};
    if (setrlimit((int)number(spec), &limit) != 0)
        die("cannot set rlimit", spec);
}

/* Wait for the request; returns its payload, installs its fds as 0..n-1. */
static char *receive(int sock, size_t *length, int *nfds) {
    uint32_t header;
    char control[CMSG_SPACE(MAX_FDS * sizeof(int))];
    struct iovec iov = {.iov_base = &header, .iov_len = sizeof header};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = control, .msg_controllen = sizeof control};
    ssize_t got;
    do
        got = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (got < 0 && errno == EINTR);
    if (got == 0)
        _exit(0); /* the supervisor closed the slot without using it */
    if (got != (ssize_t)sizeof header || (msg.msg_flags & MSG_CTRUNC))
        invalid("bad request header", NULL);
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    if (!cmsg || cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
        invalid("request without file descriptors", NULL);
    int fds[MAX_FDS];
    *nfds = (int)((cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    if (*nfds < 3 || *nfds > MAX_FDS)
        invalid("request needs stdin, stdout and stderr", NULL);
    memcpy(fds, CMSG_DATA(cmsg), (size_t)*nfds * sizeof(int));
    if (header == 0 || header > MAX_PAYLOAD)
        invalid("bad payload length", NULL);
    char *payload = malloc(header + 1);
    if (!payload)
        die("out of memory", NULL);
    for (size_t done = 0; done < header;) {
        ssize_t n = read(sock, payload + done, header - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            invalid("short payload", NULL);
        done += (size_t)n;
    }
    payload[header] = '\0';
    *length = header;
    /* Each received fd is numbered above its target (0, 1, 2 were open), and
       targets are filled in increasing order, so no pending fd is clobbered. */
    for (int i = 0; i < *nfds; i++)
        if (fds[i] != i && dup2(fds[i], i) < 0)
            die("dup2", NULL);
    if (close_range((unsigned)*nfds, ~0U, 0) != 0)
        die("close_range", NULL);
    return payload;
}

/* Run the program as our child, reap every descendant, return its status. */
static int supervise_child(char **argv, char **envp) {
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
        die("prctl", NULL);
    pid_t child = fork();
    if (child < 0)
        die("cannot fork", NULL);
    if (child == 0) {
        execve(argv[0], argv, envp);
        die("cannot exec", argv[0]);
    }
    int status = reap_all(child);
    return status >= 0 ? exit_code(status) : FAILED;
}

int main(int argc, char **argv) {
    int sock = -1;
    if (argc == 3 && strcmp(argv[1], "--anchor") == 0)
        return send_namespaces((int)number(argv[2]));
    pid_t supervisor = getppid();
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        die("prctl", NULL);
    if (getppid() != supervisor)
        _exit(FAILED); /* the supervisor died before the death signal was armed */
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            invalid("missing value for", argv[i]);
        if (strcmp(argv[i], "-s") == 0)
            sock = (int)number(argv[++i]);
        else if (strcmp(argv[i], "-c") == 0)
            join_cgroup(argv[++i]);
        else
            invalid("unknown option", argv[i]);
    }
    if (sock < 0)
        invalid("usage: -s SOCKET_FD [-c CGROUP_PROCS_FILE]...", NULL);

    size_t length;
    int nfds;
    char *payload = receive(sock, &length, &nfds);
    long uid = -1, gid = -1;
    int keep_priority = 0;
    struct prepared prep = {0};
    size_t nargs = 0, nenv = 0;
    for (char *p = payload; p < payload + length; p += strlen(p) + 1) {
        nargs += *p == 'A';
        nenv += *p == 'E';
    }
    char **args = calloc(nargs + 1, sizeof *args);
    char **env = calloc(nenv + 1, sizeof *env);
    if (!args || !env)
        die("out of memory", NULL);
    nargs = nenv = 0;
    for (char *p = payload, *next; p < payload + length; p = next) {
        next = p + strlen(p) + 1; /* before set_limit() cuts the field up */
        switch (*p) {
        case 'U': uid = (long)number(p + 1); break;
        case 'G': gid = (long)number(p + 1); break;
        case 'R': set_limit(p + 1); break;
        case 'E': env[nenv++] = p + 1; break;
        case 'A': args[nargs++] = p + 1; break;
        case 'K': keep_priority = 1; break;
        case 'P': prep.on = 1; break;
        case 'W': prep.cwd = p + 1; break;
        case 'T': prep.tmp_bytes = number(p + 1); break;
        default: invalid("bad request field", p);
        }
    }
    if (nargs == 0 || uid <= 0 || gid <= 0)
        invalid("request needs U, G and A fields", NULL);
    /* Parked by a low-priority thread; the run itself gets normal priority. */
    if (!keep_priority && setpriority(PRIO_PROCESS, 0, 0) != 0)
        die("cannot reset priority", NULL);
    if (prep.on)
        return run_prepared(&prep, nfds, args, env, uid, gid, supervisor);
    if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)
        die("cannot drop privileges", NULL);
    if (getuid() == 0 || geteuid() == 0)
        die("still root after dropping privileges", NULL);
    /* The uid change cleared the death signal; arm it again. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != supervisor)
        _exit(FAILED);
    return supervise_child(args, env);
}
