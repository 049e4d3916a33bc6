/* Test support: runs a command as if on a kernel without statx (before 4.11) and openat2
 * (before 5.6): a seccomp filter answers both with ENOSYS, everything else is allowed.
 *   enosys-exec COMMAND [ARG...]                                     (x86_64 only) */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NR_STATX 332
#define NR_OPENAT2 437

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: enosys-exec COMMAND [ARG...]\n");
		return 2;
	}
	struct sock_filter prog[] = {
		/* another architecture (e.g. i386 entry): numbers differ, leave it alone */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_STATX, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_OPENAT2, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
	};
	struct sock_fprog fprog = {sizeof prog / sizeof prog[0], prog};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		perror("prctl(PR_SET_NO_NEW_PRIVS)");
		return 1;
	}
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) < 0) {
		perror("seccomp(SECCOMP_SET_MODE_FILTER)");
		return 1;
	}
	execvp(argv[1], argv + 1);
	perror(argv[1]);
	return 127;
}
