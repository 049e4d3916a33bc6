/* Test support: runs a static binary from a memfd (as runc does with its cloned binary), so that
 * the process's exe is on a kernel-internal mount whose statx mount ID is 0.
 *   memfd-exec BINARY ARGV0 [ARG...]                                                          */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: memfd-exec BINARY ARGV0 [ARG...]\n");
		return 2;
	}
	int in = open(argv[1], O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (in < 0 || fstat(in, &st) < 0) {
		perror(argv[1]);
		return 1;
	}
	int mfd = memfd_create("dlt-memfd", MFD_CLOEXEC);
	if (mfd < 0) {
		perror("memfd_create");
		return 1;
	}
	for (off_t off = 0; off < st.st_size;) {
		ssize_t n = sendfile(mfd, in, &off, (size_t)(st.st_size - off));
		if (n <= 0) {
			perror("sendfile");
			return 1;
		}
	}
	fexecve(mfd, argv + 2, environ);
	perror("fexecve");
	return 1;
}
