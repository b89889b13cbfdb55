"""What every backend's seccomp filter refuses (SANDBOX_THREATS.md items 18-21).

One list for both backends, so they cannot drift apart: the native backend
compiles it with libseccomp, the Docker backend turns it into a profile.
Names that are not system calls on an architecture are skipped there.
"""

from __future__ import annotations

import socket

DENIED_SYSCALLS = (
    # filesystems and namespaces
    "mount", "umount", "umount2", "pivot_root", "chroot", "unshare", "setns", "open_tree",
    "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "name_to_handle_at", "open_by_handle_at", "quotactl", "quotactl_fd",
    "swapon", "swapoff", "acct",
    # other processes and the kernel
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "reboot", "syslog", "vhangup", "iopl", "ioperm", "lookup_dcookie",
    "fanotify_init", "personality", "uselib", "nfsservctl",
    # clocks and the host's identity
    "clock_settime", "clock_adjtime", "settimeofday", "adjtimex", "stime",
    "sethostname", "setdomainname",
)  # fmt: skip

# clone() flags that make namespaces: CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC,
# NEWUSER, NEWPID, NEWNET, NEWTIME (linux/sched.h). clone3 answers ENOSYS so
# that libc falls back to clone, whose flags a filter can inspect.
NAMESPACE_FLAGS = (
    0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000,
    0x00000080,
)  # fmt: skip

AF_VSOCK = 40
DENIED_SOCKET_FAMILIES = (socket.AF_PACKET, AF_VSOCK)  # and SOCK_RAW in any family
# TIOCSTI, TIOCLINUX, and TIOCSETD: a run may have a terminal of its own (``RunSpec.terminal``),
# whose line discipline it must not change (n_gsm, n_hdlc: kernel code few programs reach)
DENIED_IOCTLS = (0x5412, 0x541C, 0x5423)
