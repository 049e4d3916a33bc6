/*
 * For scripts/bench-stacked.sh: what an unprivileged user can do to a scan. In a user and mount
 * namespace of its own, it mounts a tmpfs on /tmp, then N tmpfs mounts in K stacks (each mount on
 * top of the previous one: a chain of parents N/K deep) on directories whose path contains the
 * daemon's root (so that the helper reports every line and the plugin analyses every one), prints
 * "ready" and sleeps until killed. (The kernel's cost of stacking grows with the height of the
 * stack, so a single stack of 100,000 takes the kernel tens of minutes to build.)
 *
 *   bench-stack-mounts N K DIR    (DIR: relative to the new /tmp, e.g. x/var/lib/docker/volumes/v/_data)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "bench-stack-mounts: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, text, strlen(text)) < 0)
		die(path);
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc != 4)
		return fprintf(stderr, "usage: bench-stack-mounts N K DIR\n"), 2;
	long n = strtol(argv[1], NULL, 10);
	long k = strtol(argv[2], NULL, 10);
	if (n < 1 || k < 1 || k > n)
		return fprintf(stderr, "bench-stack-mounts: bad N or K\n"), 2;
	char map[64];
	uid_t uid = getuid();
	gid_t gid = getgid();
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		die("unshare");
	snprintf(map, sizeof map, "0 %u 1", uid);
	write_file("/proc/self/uid_map", map);
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof map, "0 %u 1", gid);
	write_file("/proc/self/gid_map", map);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("make / private");
	if (mount("stack", "/tmp", "tmpfs", 0, NULL) < 0)
		die("mount /tmp");
	char path[4096];
	for (long s = 0; s < k; s++) {
		snprintf(path, sizeof path, "/tmp/%s/%ld", argv[3], s);
		for (char *p = path + 5; *p; p++) {
			if (*p == '/') {
				*p = 0;
				mkdir(path, 0755);
				*p = '/';
			}
		}
		mkdir(path, 0755);
		for (long i = s; i < n; i += k)
			if (mount("s", path, "tmpfs", 0, "size=4k") < 0)
				die("mount");
	}
	printf("ready\n");
	fflush(stdout);
	pause();
	return 0;
}
