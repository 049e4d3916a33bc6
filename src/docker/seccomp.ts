/**
 * The helper's own seccomp profile: an allowlist of the system calls it makes (both the musl
 * amd64 and the static glibc arm64 build), plus the few the runtime makes between loading the
 * filter and exec'ing it. Everything else fails with EPERM. Among what is refused: every socket
 * call, ptrace, process_vm_readv/writev, bpf, keyctl, mount, unshare, and (outside umount mode)
 * setns, chroot, fchdir and umount2. Both modes fork watched workers (PROTOCOL.md): whatever may
 * block on a dead filesystem runs in a child the helper kills when it stalls.
 *
 * This is what lets the helper share the host's network namespace without any access to the
 * network: it cannot make a socket at all. A network namespace of its own (NetworkMode none)
 * costs Docker a prestart hook that re-executes dockerd (hundreds of ms per run on small hosts);
 * it is only used when the daemon cannot apply a seccomp profile.
 */
/** What a helper run does (its verb), which decides its privileges. */
export type HelperMode = "scan" | "umount" | "version";

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
  "getppid",
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
  "epoll_pwait",
  "epoll_wait",
  "epoll_ctl",
];

/** scan and umount: watched workers (forked, reporting through a pipe, polled with a deadline,
 * killed when they stall), and openat2 (umount: symlink-free resolution; scan: --layers in the
 * shim's root). fork is musl's (amd64), clone glibc's (arm64); poll musl's, ppoll glibc's.
 * restart_syscall: the kernel resumes an interrupted poll through it (SIGSTOP/SIGCONT, freezer). */
const WORKERS = ["fork", "clone", "wait4", "pipe2", "poll", "ppoll", "restart_syscall", "kill", "openat2"];

/** umount mode: one child per order that joins the holder's namespace, chroots, and unmounts
 * through /proc/self/fd (fchdir there, umount2 of the descriptor's magic link). */
const UMOUNT = ["setns", "chroot", "fchdir", "umount2"];

const EPERM = 1;
const ENOSYS = 38;

/** Calls that only newer kernels have, which the helper falls back from when they fail with
 * ENOSYS: statx (Linux 4.11; mount IDs 5.8) and openat2 (5.6). */
export const NEWER_KERNEL_CALLS = ["statx", "openat2"] as const;

export interface SeccompProfile {
  defaultAction: "SCMP_ACT_ERRNO";
  defaultErrnoRet: number;
  syscalls: (
    | { names: string[]; action: "SCMP_ACT_ALLOW" }
    | { names: string[]; action: "SCMP_ACT_ERRNO"; errnoRet: number }
  )[];
}

export interface SeccompOptions {
  /** Answer these calls with ENOSYS instead of allowing them: tests run the helper as on an old
   * kernel with `{ enosys: [...NEWER_KERNEL_CALLS] }`. */
  enosys?: readonly string[];
}

/** The allowlist for a mode (names; those a given architecture lacks are ignored by the runtime). */
export function helperSyscalls(mode: HelperMode): string[] {
  const modeCalls = mode === "umount" ? [...WORKERS, ...UMOUNT] : mode === "scan" ? WORKERS : [];
  return [...BASE, ...RUNTIME, ...modeCalls].sort();
}

export function helperSeccompProfile(mode: HelperMode, options: SeccompOptions = {}): SeccompProfile {
  const enosys = options.enosys ?? [];
  if (enosys.length === 0) {
    return {
      defaultAction: "SCMP_ACT_ERRNO",
      defaultErrnoRet: EPERM,
      syscalls: [{ names: helperSyscalls(mode), action: "SCMP_ACT_ALLOW" }],
    };
  }
  return {
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: EPERM,
    syscalls: [
      { names: helperSyscalls(mode).filter((n) => !enosys.includes(n)), action: "SCMP_ACT_ALLOW" },
      { names: [...enosys].sort(), action: "SCMP_ACT_ERRNO", errnoRet: ENOSYS },
    ],
  };
}
