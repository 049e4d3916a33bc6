/**
 * The helper's own seccomp profile: an allowlist of the system calls it makes (both the musl
 * amd64 and the static glibc arm64 build), plus the few the runtime makes between loading the
 * filter and exec'ing it. Everything else fails with EPERM. Among what is refused: every socket
 * call, ptrace, process_vm_readv/writev, bpf, keyctl, mount, unshare, and (outside umount mode)
 * clone, setns, chroot and umount2.
 *
 * This is what lets the helper share the host's network namespace without any access to the
 * network: it cannot make a socket at all. A network namespace of its own (NetworkMode none)
 * costs Docker a prestart hook that re-executes dockerd (hundreds of ms per run on small hosts);
 * it is only used when the daemon cannot apply a seccomp profile.
 */
import type { HelperMode } from "./helper-runner.js";

/** Every mode: process start-up, memory, reading /proc, writing results. */
const BASE = [
  // start-up and memory (musl and glibc static)
  "arch_prctl",
  "brk",
  "madvise",
  "mmap",
  "mprotect",
  "mremap",
  "munmap",
  "prlimit64",
  "rseq",
  "set_robust_list",
  "set_tid_address",
  "getrandom",
  "sysinfo",
  // process
  "exit",
  "exit_group",
  "getpid",
  "gettid",
  "rt_sigaction",
  "rt_sigprocmask",
  "rt_sigreturn",
  // files (reading /proc, writing stdout/stderr)
  "close",
  "fcntl",
  "fstat",
  "fstatfs",
  "statfs",
  "getdents64",
  "lseek",
  "newfstatat",
  "open",
  "openat",
  "pread64",
  "read",
  "readlink",
  "readlinkat",
  "statx",
  "write",
  "writev",
];

/** What the runtime (runc, crun) may still call after loading the filter: its exec of the helper
 * and its Go runtime's background threads. */
const RUNTIME = [
  "execve",
  "execveat",
  "close_range",
  "futex",
  "nanosleep",
  "clock_nanosleep",
  "clock_gettime",
  "gettimeofday",
  "sched_yield",
  "sigaltstack",
  "tgkill",
  "getppid",
  "epoll_pwait",
  "epoll_wait",
  "epoll_ctl",
];

/** umount mode: one child per order that joins the holder's namespace, chroots, unmounts. */
const UMOUNT = ["fork", "clone", "wait4", "pipe2", "setns", "chroot", "chdir", "fchdir", "umount2"];

const EPERM = 1;

export interface SeccompProfile {
  defaultAction: "SCMP_ACT_ERRNO";
  defaultErrnoRet: number;
  syscalls: { names: string[]; action: "SCMP_ACT_ALLOW" }[];
}

/** The allowlist for a mode (names; those a given architecture lacks are ignored by the runtime). */
export function helperSyscalls(mode: HelperMode): string[] {
  return [...BASE, ...RUNTIME, ...(mode === "umount" ? UMOUNT : [])].sort();
}

export function helperSeccompProfile(mode: HelperMode): SeccompProfile {
  return {
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: EPERM,
    syscalls: [{ names: helperSyscalls(mode), action: "SCMP_ACT_ALLOW" }],
  };
}
