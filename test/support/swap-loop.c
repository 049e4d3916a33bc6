/* Test support: swaps two paths (a directory and a symlink) with renameat2(RENAME_EXCHANGE)
 * as fast as it can, to race a helper that resolves a path through one of them. On SIGTERM or
 * SIGINT it stops, puts both back where they started, prints how many swaps it made and exits.
 *   swap-loop PATH_A PATH_B                                                                    */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int exchange(const char *a, const char *b)
{
	return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: swap-loop PATH_A PATH_B\n");
		return 2;
	}
	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	unsigned long long swaps = 0;
	while (!stop) {
		if (exchange(argv[1], argv[2]) < 0) {
			perror("renameat2");
			return 1;
		}
		swaps++;
	}
	/* an odd count leaves them exchanged: swap once more */
	if (swaps % 2 && exchange(argv[1], argv[2]) < 0) {
		perror("renameat2");
		return 1;
	}
	printf("%llu\n", swaps);
	return 0;
}
