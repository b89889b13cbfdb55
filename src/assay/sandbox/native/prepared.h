/*
 * Runs in a session's prepared namespaces (part of assay-launch, included by launcher.c).
 *
 * bubblewrap builds a session's namespaces once (the "anchor": user, mount,
 * network, uts; see prepared.py). Its payload is this program in --anchor
 * mode, which sends the namespaces' fds to the supervisor and exits, so no
 * process lives on inside them: the supervisor's fds keep them. A run then
 * takes a parked launcher (root, already in the run's fresh cgroup), which
 * enters those namespaces and makes what must be the run's own:
 *
 *   a pid namespace (the run sees only its processes; its init is our pid 1),
 *   a mount namespace (the workspace bound on /work, a fresh /proc, /tmp and
 *   /dev/shm), an ipc namespace, a cgroup namespace (rooted at its cgroup);
 *
 * then drops to the sandbox user with no capabilities (bounding, ambient and
 * inheritable sets emptied, checked), sets no_new_privs and the seccomp
 * filter, and execs the program: what bubblewrap did per run, minus building
 * the root and the network namespace again. The launcher stays the run's
 * outer process: it writes bubblewrap's status lines ({"child-pid": N} with
 * the init's host pid, {"exit-code": N}) so the supervisor reads both paths
 * alike, and it never runs anything of the student's (host root, outside the
 * run's pid namespace: nothing in the run can see, signal or trace it).
 *
 * fds of a prepared request: 0-2 stdio, 3 the seccomp filter, 4 the status
 * pipe, 5-8 the user, mount, network and uts namespaces, 9 the workspace.
 */
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>

#define PREPARED_FDS 10
#define FD_SECCOMP 3
#define FD_STATUS 4
#define FD_USERNS 5
#define FD_WORKSPACE 9
#define MAX_FILTER (64u << 10)
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif

extern char **environ;

struct prepared {
    int on;
    const char *cwd;              /* absolute, inside the sandbox */
    unsigned long long tmp_bytes; /* the size of the run's /tmp */
};

/* What the run's own processes report before exec: a kind and an errno. */
struct setup_error {
    char kind; /* 'E': exec failed (a verdict), 'S': set-up failed (ours) */
    int err;
};

static const int NS_TYPES[] = {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWUTS};
static const char *const NS_FILES[] = {"/proc/self/ns/user", "/proc/self/ns/mnt",
                                       "/proc/self/ns/net", "/proc/self/ns/uts"};
#define NS_COUNT 4

/* --anchor: inside a session's fresh bubblewrap, hand its namespaces over. */
static int send_namespaces(int sock) {
    int fds[NS_COUNT];
    for (int i = 0; i < NS_COUNT; i++)
        if ((fds[i] = open(NS_FILES[i], O_RDONLY | O_CLOEXEC)) < 0)
            die("cannot open", NS_FILES[i]);
    char control[CMSG_SPACE(sizeof fds)];
    memset(control, 0, sizeof control);
    char byte = 'N';
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = control, .msg_controllen = sizeof control};
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(cmsg), fds, sizeof fds);
    if (sendmsg(sock, &msg, MSG_NOSIGNAL) != 1)
        die("cannot send the namespaces", NULL);
    return 0;
}

static void report(int fd, const char *key, long value) {
    dprintf(fd, "{ \"%s\": %ld }\n", key, value);
}

static void fail_setup(int errfd, char kind, const char *what, const char *arg) {
    struct setup_error e = {.kind = kind, .err = errno};
    dprintf(2, "%s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "", strerror(e.err));
    (void)!write(errfd, &e, sizeof e);
    _exit(kind == 'E' ? 127 : FAILED);
}

static struct sock_fprog read_filter(int fd) {
    struct sock_filter *code = malloc(MAX_FILTER);
    size_t size = 0;
    ssize_t n;
    if (!code)
        die("out of memory", NULL);
    while ((n = read(fd, (char *)code + size, MAX_FILTER - size)) > 0)
        size += (size_t)n;
    if (n < 0 || size == 0 || size == MAX_FILTER || size % sizeof *code)
        invalid("bad seccomp filter", NULL);
    return (struct sock_fprog){.len = (unsigned short)(size / sizeof *code), .filter = code};
}

static void mount_fresh(int errfd, const char *type, const char *target, unsigned long flags,
                        const char *options) {
    if (mount(type, target, type, flags, options) != 0)
        fail_setup(errfd, 'S', "cannot mount", target);
}

/* As the sandbox user, with nothing left to gain: no capability in any set. */
static void drop_privileges(int errfd, long uid, long gid) {
    for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
            fail_setup(errfd, 'S', "cannot drop the bounding set", NULL);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0)
        fail_setup(errfd, 'S', "cannot clear ambient capabilities", NULL);
    if (setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)
        fail_setup(errfd, 'S', "cannot switch to the sandbox user", NULL);
    /* In the session's user namespace its uid 0 is not mapped, so the uid
       change above does not clear capabilities by itself: clear them here. */
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &header, data) != 0)
        fail_setup(errfd, 'S', "cannot drop capabilities", NULL);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        fail_setup(errfd, 'S', "cannot set no_new_privs", NULL);
    if (syscall(SYS_capget, &header, data) != 0)
        fail_setup(errfd, 'S', "cannot read capabilities", NULL);
    for (int i = 0; i < 2; i++)
        if (data[i].effective || data[i].permitted || data[i].inheritable) {
            errno = EPERM;
            fail_setup(errfd, 'S', "capabilities left after dropping them", NULL);
        }
    if (getuid() != (uid_t)uid || geteuid() != (uid_t)uid || getgid() != (gid_t)gid) {
        errno = EPERM;
        fail_setup(errfd, 'S', "not the sandbox user after switching", NULL);
    }
}

/* The program: its own session, the working directory, the filter, exec. */
static void exec_program(int errfd, const struct prepared *prep, struct sock_fprog *filter,
                         char **argv, char **envp) {
    if (setsid() < 0)
        fail_setup(errfd, 'S', "setsid", NULL);
    if (chdir(prep->cwd) != 0)
        fail_setup(errfd, 'S', "Can't chdir to", prep->cwd);
    environ = envp; /* execvp searches the run's PATH */
    /* The last thing before exec, as bubblewrap does. */
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, filter) != 0)
        fail_setup(errfd, 'S', "cannot set the seccomp filter", NULL);
    execvp(argv[0], argv);
    fail_setup(errfd, 'E', argv[0], NULL);
}

/* pid 1 of the run's pid namespace: mounts, drops, then waits like bubblewrap's
   init: it exits with the program's status once the program is gone (the
   kernel then kills what is left in the namespace). */
static void run_init(int errfd, const struct prepared *prep, struct sock_fprog *filter,
                     char **argv, char **envp, long uid, long gid) {
    char options[128];
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        fail_setup(errfd, 'S', "prctl", NULL);
    mount_fresh(errfd, "proc", "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    snprintf(options, sizeof options, "size=%llu,mode=1777,uid=%ld,gid=%ld", prep->tmp_bytes,
             uid, gid);
    mount_fresh(errfd, "tmpfs", "/tmp", MS_NOSUID | MS_NODEV, options);
    snprintf(options, sizeof options, "mode=755,uid=%ld,gid=%ld", uid, gid);
    mount_fresh(errfd, "tmpfs", "/dev/shm", MS_NOSUID | MS_NODEV, options);
    drop_privileges(errfd, uid, gid);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) /* cleared by the uid change */
        fail_setup(errfd, 'S', "prctl", NULL);
    pid_t program = fork();
    if (program < 0)
        fail_setup(errfd, 'S', "cannot fork", NULL);
    if (program == 0)
        exec_program(errfd, prep, filter, argv, envp);
    close(errfd);
    int status;
    pid_t done;
    while ((done = reap(&status)) >= 0)
        if (done == program)
            _exit(exit_code(status));
    _exit(FAILED);
}

static int run_prepared(const struct prepared *prep, int nfds, char **argv, char **envp, long uid,
                        long gid, pid_t supervisor) {
    if (nfds != PREPARED_FDS || !prep->cwd || prep->cwd[0] != '/' || prep->tmp_bytes == 0)
        invalid("bad prepared request", NULL);
    struct sock_fprog filter = read_filter(FD_SECCOMP);
    /* The workspace, cloned while we still see the host's mounts. */
    int tree = (int)syscall(SYS_open_tree, FD_WORKSPACE, "",
                            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
    if (tree < 0)
        die("cannot clone the workspace mount", NULL);
    if (setgroups(0, NULL) != 0) /* the session's user namespace denies setgroups */
        die("cannot drop groups", NULL);
    /* bubblewrap nests two user namespaces: the mount, network and uts
       namespaces belong to the outer one, which only host root (we, still)
       may enter them from; the inner one, the sandbox user's, comes last. */
    for (int i = 1; i <= NS_COUNT; i++)
        if (setns(FD_USERNS + i % NS_COUNT, NS_TYPES[i % NS_COUNT]) != 0)
            die("cannot enter the session's namespace", NS_FILES[i % NS_COUNT]);
    if (unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWCGROUP) != 0)
        die("cannot make the run's namespaces", NULL);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        die("cannot make the run's mounts private", NULL);
    if (syscall(SYS_move_mount, tree, "", AT_FDCWD, "/work", MOVE_MOUNT_F_EMPTY_PATH) != 0)
        die("cannot mount the workspace", NULL);
    close(tree);
    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) != 0)
        die("pipe", NULL);
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
        die("prctl", NULL);
    if (getppid() != supervisor)
        _exit(FAILED);
    pid_t init = fork();
    if (init < 0)
        die("cannot fork", NULL);
    if (init == 0) {
        /* Only stdio and the error pipe go on: no namespace, status or filter fd. */
        if (dup2(errpipe[1], 3) < 0 || fcntl(3, F_SETFD, FD_CLOEXEC) != 0 ||
            close_range(4, ~0U, 0) != 0)
            _exit(FAILED);
        run_init(3, prep, &filter, argv, envp, uid, gid);
    }
    close(errpipe[1]);
    report(FD_STATUS, "child-pid", init);
    int init_status = reap_all(init); /* returns once the whole run is gone */
    int result = init_status >= 0 ? exit_code(init_status) : FAILED;
    /* Written only before exec by our own code (the write ends close on exec):
       at most one record, checked all the same. */
    struct setup_error e;
    ssize_t got = read(errpipe[0], &e, sizeof e);
    if (got == (ssize_t)sizeof e && e.kind == 'E')
        report(FD_STATUS, "exit-code", 127); /* the command could not be executed */
    else if (got == 0 && init_status >= 0)
        report(FD_STATUS, "exit-code", result);
    return result; /* no exit-code line: the set-up failed (said on stderr) */
}
