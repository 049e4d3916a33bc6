/*
 * docker-leak-helper: observes /proc and executes exact unmount orders.
 *
 * Contract: src/helper/PROTOCOL.md. stdout carries NDJSON records only;
 * diagnostics go to stderr. Single-threaded on purpose: setns(CLONE_NEWNS)
 * is refused to multi-threaded callers.
 *
 * Build: scripts/build-helper.sh (static, -DHELPER_VERSION="x.y.z").
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef HELPER_VERSION
#define HELPER_VERSION "0.0.0-dev"
#endif
#define PROTOCOL_VERSION 1

#ifndef MNT_DETACH
#define MNT_DETACH 2
#endif
#ifndef UMOUNT_NOFOLLOW
#define UMOUNT_NOFOLLOW 8
#endif
#ifndef CLONE_NEWNS
#define CLONE_NEWNS 0x00020000
#endif
#ifndef SYS_statx
#if defined(__x86_64__)
#define SYS_statx 332
#elif defined(__aarch64__)
#define SYS_statx 291
#else
#error "SYS_statx unknown for this architecture"
#endif
#endif

/* Kernel ABI of struct statx (include/uapi/linux/stat.h); our own name so
 * that neither libc's declaration nor its absence (musl 1.2.3) matters. */
struct hx_statx_ts {
	int64_t tv_sec;
	uint32_t tv_nsec;
	int32_t reserved;
};
struct hx_statx {
	uint32_t mask, blksize;
	uint64_t attributes;
	uint32_t nlink, uid, gid;
	uint16_t mode, spare0;
	uint64_t ino, size, blocks, attributes_mask;
	struct hx_statx_ts atime, btime, ctime, mtime;
	uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
	uint64_t mnt_id;
	uint64_t spare[13];
};
_Static_assert(sizeof(struct hx_statx) == 256, "struct statx ABI");
#define HX_STATX_INO 0x100U
#define HX_STATX_MNT_ID 0x1000U
#define HX_AT_STATX_DONT_SYNC 0x4000
#define HX_AT_EMPTY_PATH 0x1000

static int hx_statx(int dirfd, const char *path, int flags, unsigned mask, struct hx_statx *sx)
{
	memset(sx, 0, sizeof *sx);
	return (int)syscall(SYS_statx, dirfd, path, flags, mask, sx);
}

/* ------------------------------------------------------------------ */
/* diagnostics, memory                                                 */

static void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void diag(const char *fmt, ...)
{
	int e = errno;
	va_list ap;
	fputs("helper: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(e));
	errno = e;
}

static void oflush(void);

static void die_oom(void)
{
	oflush();
	fputs("helper: out of memory\n", stderr);
	_exit(1);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die_oom();
	return p;
}

/* Grow *arr (element size sz, capacity *cap) to hold at least need items. */
static void grow(void **arr, size_t *cap, size_t need, size_t sz)
{
	if (need <= *cap)
		return;
	size_t c = *cap ? *cap : 16;
	while (c < need)
		c *= 2;
	*arr = xrealloc(*arr, c * sz);
	*cap = c;
}
#define GROW(arr, cap, need) grow((void **)&(arr), &(cap), (need), sizeof *(arr))

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_reserve(struct buf *b, size_t extra)
{
	GROW(b->p, b->cap, b->len + extra + 1);
}

/* ------------------------------------------------------------------ */
/* buffered stdout writer + JSON                                       */

static char obuf[1 << 16];
static size_t olen;

static void oflush(void)
{
	size_t off = 0;
	while (off < olen) {
		ssize_t n = write(1, obuf + off, olen - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			diag("write stdout");
			_exit(1);
		}
		off += (size_t)n;
	}
	olen = 0;
}

static void owrite(const void *s, size_t n)
{
	const char *p = s;
	while (n) {
		if (olen == sizeof obuf)
			oflush();
		size_t k = sizeof obuf - olen;
		if (k > n)
			k = n;
		memcpy(obuf + olen, p, k);
		olen += k;
		p += k;
		n -= k;
	}
}

static void oputc(char c)
{
	if (olen == sizeof obuf)
		oflush();
	obuf[olen++] = c;
}

static void ostr(const char *s) { owrite(s, strlen(s)); }

static void ou64(uint64_t v)
{
	char t[24];
	int i = sizeof t;
	do {
		t[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	owrite(t + i, sizeof t - (size_t)i);
}

static void oint(long long v)
{
	if (v < 0) {
		oputc('-');
		ou64((uint64_t)0 - (uint64_t)v);
	} else {
		ou64((uint64_t)v);
	}
}

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (n < len)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

/* JSON string: escape '"', '\\' and < 0x20; valid UTF-8 passes, each byte of
 * an invalid sequence becomes U+FFFD. */
static void ojsonn(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, run = 0;
	oputc('"');
	while (i < n) {
		unsigned c = s[i];
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			i++;
			run++;
			continue;
		}
		owrite(s + i - run, run);
		run = 0;
		if (c < 0x80) {
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			if (c == '"' || c == '\\') {
				e[1] = (char)c;
				owrite(e, 2);
			} else if (c == '\n') {
				owrite("\\n", 2);
			} else if (c == '\t') {
				owrite("\\t", 2);
			} else {
				owrite(e, 6);
			}
			i++;
			continue;
		}
		size_t len = utf8_len(s + i, n - i);
		if (len) {
			owrite(s + i, len);
			i += len;
		} else {
			owrite("\xEF\xBF\xBD", 3);
			i++;
		}
	}
	owrite(s + i - run, run);
	oputc('"');
}

static void ojson(const char *s) { ojsonn(s, strlen(s)); }

/* ------------------------------------------------------------------ */
/* errno names                                                         */

static const char *errno_name(int e, char *tmp, size_t tmpsz)
{
	switch (e) {
#define E(x) case x: return #x;
	E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(ENOEXEC)
	E(EBADF) E(ECHILD) E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT) E(ENOTBLK)
	E(EBUSY) E(EEXIST) E(EXDEV) E(ENODEV) E(ENOTDIR) E(EISDIR) E(EINVAL)
	E(ENFILE) E(EMFILE) E(ENOTTY) E(ETXTBSY) E(EFBIG) E(ENOSPC) E(ESPIPE)
	E(EROFS) E(EMLINK) E(EPIPE) E(EDOM) E(ERANGE) E(EDEADLK) E(ENAMETOOLONG)
	E(ENOLCK) E(ENOSYS) E(ENOTEMPTY) E(ELOOP) E(ENOMSG) E(EIDRM) E(ENOLINK)
	E(EPROTO) E(EOVERFLOW) E(EBADFD) E(EUSERS) E(EOPNOTSUPP) E(ETIMEDOUT)
	E(ECONNREFUSED) E(EHOSTDOWN) E(ESTALE) E(EUCLEAN) E(EREMOTEIO) E(EDQUOT)
	E(ENOMEDIUM) E(ECANCELED) E(EOWNERDEAD) E(ENOTCONN) E(ENOTSOCK)
#undef E
	default:
		snprintf(tmp, tmpsz, "E%d", e);
		return tmp;
	}
}

/* ------------------------------------------------------------------ */
/* /proc access                                                        */

static int procfd = -1;

static int vanished(int e) { return e == ENOENT || e == ESRCH; }

/* Read a whole file relative to dirfd into b (NUL-terminated). 0 or errno. */
static int read_at(int dirfd, const char *path, struct buf *b)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno;
	b->len = 0;
	for (;;) {
		buf_reserve(b, 8192);
		ssize_t n = read(fd, b->p + b->len, b->cap - b->len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			b->len = 0;
			b->p[0] = 0;
			return e;
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
	}
	b->p[b->len] = 0;
	close(fd);
	return 0;
}

/* readlinkat into b (NUL-terminated, no length limit). 0 or errno. */
static int readlink_at(int dirfd, const char *path, struct buf *b)
{
	b->len = 0;
	buf_reserve(b, 4096);
	for (;;) {
		ssize_t n = readlinkat(dirfd, path, b->p, b->cap - 1);
		if (n < 0)
			return errno;
		if ((size_t)n < b->cap - 1) {
			b->len = (size_t)n;
			b->p[n] = 0;
			return 0;
		}
		buf_reserve(b, b->cap * 2);
	}
}

/* Copy line (n bytes) into out, escaping bytes >= 0x80 as \NNN octal. */
static void escape_line(const char *line, size_t n, struct buf *out)
{
	out->len = 0;
	buf_reserve(out, n * 4);
	char *o = out->p;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c >= 0x80) {
			*o++ = '\\';
			*o++ = (char)('0' + (c >> 6));
			*o++ = (char)('0' + ((c >> 3) & 7));
			*o++ = (char)('0' + (c & 7));
		} else {
			*o++ = (char)c;
		}
	}
	*o = 0;
	out->len = (size_t)(o - out->p);
}

/* Parse a non-negative decimal integer occupying all of s[0..n). */
static int parse_uint(const char *s, size_t n, unsigned long long *out)
{
	unsigned long long v = 0;
	if (n == 0 || n > 19)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static int has_u32(const uint32_t *arr, size_t n, uint32_t v)
{
	return arr && bsearch(&v, arr, n, sizeof *arr, cmp_u32) != NULL;
}

/* ------------------------------------------------------------------ */
/* scan                                                                */

struct ns {
	uint64_t ino;
	int *pids;           /* ascending */
	unsigned char *slash; /* member's root is "/" */
	size_t npids, cap;
	int via;             /* PID whose mountinfo was read, -1 if none */
	int err;             /* errno if no member's mountinfo was readable */
	uint32_t *ids;       /* sorted mount IDs of the full mountinfo */
	size_t nids, idcap;
	int refreshed;
};

struct proc {
	int pid;
	int ns; /* index into nss */
};

static struct ns *nss;
static size_t nns, nscap;
static size_t *nsmap; /* open addressing: index+1, 0 = empty */
static size_t nsmapcap;

static struct proc *procs;
static size_t nprocs, proccap;

static size_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x;
}

static void nsmap_insert(size_t idx)
{
	size_t m = nsmapcap - 1, h = hash64(nss[idx].ino) & m;
	while (nsmap[h])
		h = (h + 1) & m;
	nsmap[h] = idx + 1;
}

static size_t ns_get(uint64_t ino)
{
	if (nsmapcap) {
		size_t m = nsmapcap - 1, h = hash64(ino) & m;
		while (nsmap[h]) {
			if (nss[nsmap[h] - 1].ino == ino)
				return nsmap[h] - 1;
			h = (h + 1) & m;
		}
	}
	if ((nns + 1) * 2 > nsmapcap) {
		free(nsmap);
		nsmapcap = nsmapcap ? nsmapcap * 2 : 64;
		nsmap = calloc(nsmapcap, sizeof *nsmap);
		if (!nsmap)
			die_oom();
		for (size_t i = 0; i < nns; i++)
			nsmap_insert(i);
	}
	GROW(nss, nscap, nns + 1);
	memset(&nss[nns], 0, sizeof nss[nns]);
	nss[nns].ino = ino;
	nss[nns].via = -1;
	nsmap_insert(nns);
	return nns++;
}

static void ns_add(size_t idx, int pid, int slash)
{
	struct ns *n = &nss[idx];
	if (n->npids == n->cap) {
		size_t c = n->cap;
		GROW(n->pids, c, n->npids + 1);
		n->slash = xrealloc(n->slash, c);
		n->cap = c;
	}
	n->pids[n->npids] = pid;
	n->slash[n->npids] = (unsigned char)slash;
	n->npids++;
}

/* Read a namespace's mountinfo into b via the lowest member PID whose root is
 * "/" (a chrooted reader sees only mounts under its root), else the lowest
 * readable member. Sets *via. Returns 0 or the errno of the last failure. */
static int ns_read_mountinfo(struct ns *n, struct buf *b, int *via)
{
	int err = ESRCH;
	char path[64];
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n->npids; i++) {
			if ((pass == 0) != (n->slash[i] != 0))
				continue;
			snprintf(path, sizeof path, "%d/mountinfo", n->pids[i]);
			int e = read_at(procfd, path, b);
			if (e == 0) {
				*via = n->pids[i];
				return 0;
			}
			if (!vanished(e))
				err = e; /* report a real error over "gone" */
		}
	}
	*via = -1;
	return err;
}

/* Collect the sorted mount IDs of every line of mountinfo text b. */
static void collect_ids(struct ns *n, const struct buf *b)
{
	n->nids = 0;
	const char *p = b->p, *end = b->p + b->len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *sp = memchr(p, ' ', (size_t)(le - p));
		unsigned long long id;
		if (sp && parse_uint(p, (size_t)(sp - p), &id) == 0) {
			GROW(n->ids, n->idcap, n->nids + 1);
			n->ids[n->nids++] = (uint32_t)id;
		}
		p = le + 1;
	}
	qsort(n->ids, n->nids, sizeof *n->ids, cmp_u32);
}

static void emit_skipped(int pid, const char *comm, size_t commlen, const char *what, int e)
{
	char tmp[16];
	ostr("{\"type\":\"skipped\",\"pid\":");
	oint(pid);
	ostr(",\"comm\":");
	ojsonn(comm, commlen);
	ostr(",\"what\":");
	ojson(what);
	ostr(",\"errno\":");
	ojson(errno_name(e, tmp, sizeof tmp));
	ostr(",\"message\":");
	ojson(strerror(e));
	ostr("}\n");
}

/* {"type":"error"} record + stderr diagnostic, for errno. */
static void emit_error(const char *what)
{
	int e = errno;
	ostr("{\"type\":\"error\",\"message\":");
	struct buf m = {0};
	buf_reserve(&m, strlen(what) + 256);
	m.len = (size_t)snprintf(m.p, m.cap, "%s: %s", what, strerror(e));
	ojsonn(m.p, m.len);
	free(m.p);
	ostr("}\n");
	errno = e;
	diag("%s", what);
}

/* Kernel-internal files whose mounts never appear in any mountinfo. */
static int internal_path(const char *p)
{
	static const char *const prefixes[] = {"/memfd:", "/dmabuf:", "/SYSV", "/dev/zero (deleted)",
					       "/[", NULL};
	if (p[0] != '/')
		return 1; /* pipe:[..], socket:[..], anon_inode:..., mnt:[..] */
	for (int i = 0; prefixes[i]; i++)
		if (strncmp(p, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	return 0;
}

static uint32_t *allids;
static size_t nallids;
static struct buf dbuf, lbuf; /* deep scratch: mountinfo refresh, link text */
static size_t npinned, nskipped;

/* A mount ID absent from the namespace's set: confirm it is attached nowhere
 * (re-read the namespace once to rule out mounts created after the first
 * read; and not attached in any other scanned namespace). */
static int detached(struct ns *n, uint32_t id)
{
	if (!n->refreshed) {
		int via;
		n->refreshed = 1;
		if (ns_read_mountinfo(n, &dbuf, &via) == 0)
			collect_ids(n, &dbuf);
	}
	return !has_u32(n->ids, n->nids, id) && !has_u32(allids, nallids, id);
}

/* Inodes of the roots of detached overlays that pinned files live on (for --layers). */
static uint64_t *ovl_roots;
static size_t novl_roots, ovl_rootcap;

/* For a pinned directory on an overlay: the inode of that overlay's root directory, found by
 * walking ".." until it stops moving (the root of a detached mount is its own parent). An
 * overlay reports its root's inode from the upper directory (a container's overlay2/<id>/diff),
 * which ties a detached rootfs to its container. 0 when not an overlay or not a directory. */
static uint64_t overlay_root_ino(const char *procpath)
{
	int fd = openat(procfd, procpath, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return 0;
	struct statfs sf;
	struct stat st;
	uint64_t ino = 0;
	if (fstatfs(fd, &sf) == 0 && (unsigned long)sf.f_type == 0x794c7630UL && fstat(fd, &st) == 0 &&
	    S_ISDIR(st.st_mode)) {
		for (int depth = 0; depth < 4096; depth++) {
			int up = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
			struct stat pst;
			if (up < 0 || fstat(up, &pst) != 0) {
				if (up >= 0)
					close(up);
				break;
			}
			if (pst.st_ino == st.st_ino && pst.st_dev == st.st_dev) {
				ino = (uint64_t)st.st_ino;
				close(up);
				break;
			}
			close(fd);
			fd = up;
			st = pst;
		}
	}
	close(fd);
	return ino;
}

static void emit_pinned(const struct proc *pr, const char *kind, int fd, uint64_t mnt_id,
			unsigned dmaj, unsigned dmin, uint64_t ino, const struct buf *path,
			const char *procpath)
{
	uint64_t root = overlay_root_ino(procpath);
	ostr("{\"type\":\"pinned\",\"pid\":");
	oint(pr->pid);
	ostr(",\"mntns\":");
	ou64(nss[pr->ns].ino);
	ostr(",\"kind\":\"");
	ostr(kind);
	ostr("\",\"fd\":");
	if (fd < 0)
		ostr("null");
	else
		oint(fd);
	ostr(",\"mountId\":");
	ou64(mnt_id);
	ostr(",\"dev\":\"");
	ou64(dmaj);
	oputc(':');
	ou64(dmin);
	ostr("\",\"ino\":");
	ou64(ino);
	ostr(",\"path\":");
	ojsonn(path->p, path->len);
	ostr(",\"overlayRootIno\":");
	if (root) {
		ou64(root);
		GROW(ovl_roots, ovl_rootcap, novl_roots + 1);
		ovl_roots[novl_roots++] = root;
	} else {
		ostr("null");
	}
	ostr("}\n");
	npinned++;
}

/* --layers DIR: for each overlay root inode seen, the entry of DIR (a daemon's overlay2
 * directory, resolved through dockerd's root) whose diff/ directory has that inode. */
static void emit_layers(const char *dir)
{
	static struct buf b;
	char path[64];
	if (!novl_roots || !dir || dir[0] != '/')
		return;
	for (size_t i = 0; i < nprocs; i++) {
		snprintf(path, sizeof path, "%d/comm", procs[i].pid);
		if (read_at(procfd, path, &b) != 0 || strncmp(b.p, "dockerd", 7) != 0)
			continue;
		struct buf rel = {0};
		buf_reserve(&rel, strlen(dir) + 32);
		snprintf(rel.p, strlen(dir) + 32, "%d/root%s", procs[i].pid, dir);
		int dfd = openat(procfd, rel.p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		free(rel.p);
		if (dfd < 0)
			continue;
		DIR *d = fdopendir(dfd);
		if (!d) {
			close(dfd);
			continue;
		}
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			char diff[300];
			struct stat st;
			if ((size_t)snprintf(diff, sizeof diff, "%s/diff", de->d_name) >= sizeof diff)
				continue;
			if (fstatat(dirfd(d), diff, &st, AT_SYMLINK_NOFOLLOW) != 0)
				continue;
			for (size_t k = 0; k < novl_roots; k++) {
				if (ovl_roots[k] == (uint64_t)st.st_ino) {
					ostr("{\"type\":\"layer\",\"dir\":");
					ojson(de->d_name);
					ostr(",\"ino\":");
					ou64((uint64_t)st.st_ino);
					ostr("}\n");
					break;
				}
			}
		}
		closedir(d);
		return; /* the first dockerd whose root has DIR */
	}
}

/* Whether statx reports mount IDs, probed once on /proc itself (a real mount,
 * so its ID is never 0): emulators such as qemu-user pass the mask bit
 * through but leave stx_mnt_id 0 for every file. */
static int statx_mnt_id_works(void)
{
	static int works = -1;
	if (works < 0) {
		struct hx_statx sx;
		works = hx_statx(procfd, "", HX_AT_EMPTY_PATH | HX_AT_STATX_DONT_SYNC, HX_STATX_MNT_ID, &sx) == 0 &&
			(sx.mask & HX_STATX_MNT_ID) && sx.mnt_id != 0;
	}
	return works;
}

/* Deep-inspect one process. Returns 0, or an errno (EACCES/EPERM/...) with
 * *what set when the process could not be inspected. */
static int deep_proc(const struct proc *pr, const char **what)
{
	static int *fds;
	static size_t fdcap;
	static struct buf info;
	static int no_mntid_warned;
	struct ns *n = &nss[pr->ns];
	char path[96];
	static const char *const kinds[] = {"cwd", "root", "exe"};

	for (int k = 0; k < 3; k++) {
		struct hx_statx sx;
		snprintf(path, sizeof path, "%d/%s", pr->pid, kinds[k]);
		if (hx_statx(procfd, path, HX_AT_STATX_DONT_SYNC, HX_STATX_MNT_ID | HX_STATX_INO, &sx) < 0) {
			if (vanished(errno))
				continue; /* gone, or no exe */
			*what = kinds[k];
			return errno;
		}
		if (!statx_mnt_id_works()) {
			if (!no_mntid_warned++) {
				errno = ENOSYS;
				diag("statx does not report the mount ID; cwd/root/exe not checked");
			}
			break;
		}
		/* 0: a kernel-internal mount that is in no namespace by design, e.g. the
		 * exe of a process started from a memfd (runc's cloned binary) */
		if (!(sx.mask & HX_STATX_MNT_ID) || sx.mnt_id == 0)
			continue;
		if (has_u32(n->ids, n->nids, (uint32_t)sx.mnt_id))
			continue;
		if (readlink_at(procfd, path, &lbuf) != 0 || internal_path(lbuf.p))
			continue;
		if (detached(n, (uint32_t)sx.mnt_id))
			emit_pinned(pr, kinds[k], -1, sx.mnt_id, sx.dev_major, sx.dev_minor, sx.ino, &lbuf,
				    path);
	}

	snprintf(path, sizeof path, "%d/fd", pr->pid);
	int dfd = openat(procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		if (vanished(errno))
			return 0;
		*what = "fd";
		return errno;
	}
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		*what = "fd";
		return errno;
	}
	size_t nfds = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		unsigned long long v;
		if (parse_uint(de->d_name, strlen(de->d_name), &v) == 0 && v <= 0x7fffffff) {
			GROW(fds, fdcap, nfds + 1);
			fds[nfds++] = (int)v;
		}
	}
	closedir(d);
	qsort(fds, nfds, sizeof *fds, cmp_int);

	for (size_t i = 0; i < nfds; i++) {
		snprintf(path, sizeof path, "%d/fd/%d", pr->pid, fds[i]);
		int e = readlink_at(procfd, path, &lbuf);
		if (e) {
			if (vanished(e))
				continue;
			*what = "fd";
			return e;
		}
		if (internal_path(lbuf.p))
			continue;
		snprintf(path, sizeof path, "%d/fdinfo/%d", pr->pid, fds[i]);
		e = read_at(procfd, path, &info);
		if (e) {
			if (vanished(e))
				continue;
			*what = "fdinfo";
			return e;
		}
		const char *m = strstr(info.p, "mnt_id:");
		unsigned long long id;
		if (!m)
			continue;
		m += 7;
		while (*m == ' ' || *m == '\t')
			m++;
		size_t dl = strspn(m, "0123456789");
		if (parse_uint(m, dl, &id) != 0)
			continue;
		if (has_u32(n->ids, n->nids, (uint32_t)id) || !detached(n, (uint32_t)id))
			continue;
		struct hx_statx sx;
		snprintf(path, sizeof path, "%d/fd/%d", pr->pid, fds[i]);
		if (hx_statx(procfd, path, HX_AT_STATX_DONT_SYNC, HX_STATX_INO, &sx) < 0) {
			if (!vanished(errno))
				diag("statx /proc/%s", path);
			continue;
		}
		emit_pinned(pr, "fd", fds[i], id, sx.dev_major, sx.dev_minor, sx.ino, &lbuf, path);
	}
	return 0;
}

static int cmd_scan(char **filters, size_t nfilters, int deep, const char *layers)
{
	struct buf bstat = {0}, bcmd = {0}, bcg = {0}, broot = {0}, esc = {0};
	char path[64];
	struct stat st;
	size_t nproc_rec = 0;

	/* self */
	int selfpid = (int)getpid();
	if (readlink_at(procfd, "self", &broot) == 0) {
		unsigned long long v;
		if (parse_uint(broot.p, broot.len, &v) == 0)
			selfpid = (int)v;
	}
	if (fstatat(procfd, "self/ns/mnt", &st, 0) < 0) {
		emit_error("cannot stat /proc/self/ns/mnt");
		return 1;
	}
	ostr("{\"type\":\"self\",\"pid\":");
	oint(selfpid);
	ostr(",\"mntns\":");
	ou64((uint64_t)st.st_ino);
	ostr("}\n");

	/* PIDs, ascending */
	int *pids = NULL;
	size_t npids = 0, pidcap = 0;
	int dfd = openat(procfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		emit_error("cannot list /proc");
		return 1;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		unsigned long long v;
		if (parse_uint(de->d_name, strlen(de->d_name), &v) == 0 && v > 0 && v <= 0x7fffffff) {
			GROW(pids, pidcap, npids + 1);
			pids[npids++] = (int)v;
		}
	}
	closedir(d);
	qsort(pids, npids, sizeof *pids, cmp_int);

	for (size_t i = 0; i < npids; i++) {
		int pid = pids[i], e;

		snprintf(path, sizeof path, "%d/stat", pid);
		if ((e = read_at(procfd, path, &bstat)) != 0) {
			if (!vanished(e)) {
				emit_skipped(pid, "", 0, "stat", e);
				nskipped++;
			}
			continue;
		}
		char *lp = strchr(bstat.p, '(');
		char *rp = strrchr(bstat.p, ')');
		int ppid = -1;
		if (!lp || !rp || rp < lp || sscanf(rp + 1, " %*c %d", &ppid) != 1) {
			errno = EPROTO;
			diag("cannot parse /proc/%d/stat", pid);
			continue;
		}
		const char *comm = lp + 1;
		size_t commlen = (size_t)(rp - lp - 1);

		snprintf(path, sizeof path, "%d/cmdline", pid);
		if ((e = read_at(procfd, path, &bcmd)) != 0) {
			if (!vanished(e)) {
				emit_skipped(pid, comm, commlen, "cmdline", e);
				nskipped++;
			}
			continue;
		}
		if (bcmd.len == 0 && (ppid == 2 || pid == 2))
			continue; /* kernel thread */

		snprintf(path, sizeof path, "%d/ns/mnt", pid);
		if (fstatat(procfd, path, &st, 0) < 0) {
			e = errno;
			if (!vanished(e)) {
				emit_skipped(pid, comm, commlen, "ns/mnt", e);
				nskipped++;
			}
			continue;
		}
		snprintf(path, sizeof path, "%d/root", pid);
		if ((e = readlink_at(procfd, path, &broot)) != 0) {
			if (!vanished(e)) {
				emit_skipped(pid, comm, commlen, "root", e);
				nskipped++;
			}
			continue;
		}
		snprintf(path, sizeof path, "%d/cgroup", pid);
		if ((e = read_at(procfd, path, &bcg)) != 0) {
			if (!vanished(e)) {
				emit_skipped(pid, comm, commlen, "cgroup", e);
				nskipped++;
			}
			continue;
		}

		ostr("{\"type\":\"process\",\"pid\":");
		oint(pid);
		ostr(",\"ppid\":");
		oint(ppid);
		ostr(",\"comm\":");
		ojsonn(comm, commlen);
		ostr(",\"cmdline\":[");
		for (size_t off = 0; off < bcmd.len;) {
			size_t l = strnlen(bcmd.p + off, bcmd.len - off);
			if (off)
				oputc(',');
			ojsonn(bcmd.p + off, l);
			off += l + 1;
		}
		ostr("],\"mntns\":");
		ou64((uint64_t)st.st_ino);
		ostr(",\"root\":");
		ojsonn(broot.p, broot.len);
		ostr(",\"cgroup\":[");
		int first = 1;
		for (const char *p = bcg.p, *end = bcg.p + bcg.len; p < end;) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			const char *le = nl ? nl : end;
			if (le > p) {
				if (!first)
					oputc(',');
				first = 0;
				ojsonn(p, (size_t)(le - p));
			}
			p = le + 1;
		}
		ostr("]}\n");
		nproc_rec++;

		size_t ni = ns_get((uint64_t)st.st_ino);
		ns_add(ni, pid, broot.len == 1 && broot.p[0] == '/');
		GROW(procs, proccap, nprocs + 1);
		procs[nprocs].pid = pid;
		procs[nprocs].ns = (int)ni;
		nprocs++;
	}
	free(pids);

	/* namespaces, in order of their lowest member PID */
	struct buf mi = {0};
	for (size_t k = 0; k < nns; k++) {
		struct ns *n = &nss[k];
		int e = ns_read_mountinfo(n, &mi, &n->via);
		n->err = e;
		ostr("{\"type\":\"namespace\",\"mntns\":");
		ou64(n->ino);
		ostr(",\"pids\":[");
		for (size_t i = 0; i < n->npids; i++) {
			if (i)
				oputc(',');
			oint(n->pids[i]);
		}
		ostr("],\"readVia\":");
		if (e) {
			char tmp[16];
			ostr("null,\"mountinfo\":null,\"errno\":");
			ojson(errno_name(e, tmp, sizeof tmp));
			ostr(",\"message\":");
			ojson(strerror(e));
			ostr("}\n");
			continue;
		}
		oint(n->via);
		ostr(",\"mountinfo\":[");
		int first = 1;
		for (const char *p = mi.p, *end = mi.p + mi.len; p < end;) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			const char *le = nl ? nl : end;
			if (le > p) {
				escape_line(p, (size_t)(le - p), &esc);
				int match = nfilters == 0;
				for (size_t f = 0; !match && f < nfilters; f++)
					match = strstr(esc.p, filters[f]) != NULL;
				if (match) {
					if (!first)
						oputc(',');
					first = 0;
					ojsonn(esc.p, esc.len);
				}
			}
			p = le + 1;
		}
		ostr("]}\n");
		if (deep)
			collect_ids(n, &mi);
	}
	free(mi.p);

	if (deep) {
		for (size_t k = 0; k < nns; k++) {
			size_t cap = nallids + nss[k].nids + 1;
			allids = xrealloc(allids, cap * sizeof *allids);
			if (nss[k].nids)
				memcpy(allids + nallids, nss[k].ids, nss[k].nids * sizeof *allids);
			nallids += nss[k].nids;
		}
		qsort(allids, nallids, sizeof *allids, cmp_u32);
		for (size_t i = 0; i < nprocs; i++) {
			struct proc *pr = &procs[i];
			if (nss[pr->ns].err)
				continue; /* no mount ID set to compare with */
			const char *what = NULL;
			int e = deep_proc(pr, &what);
			if (e) {
				/* comm for the record */
				snprintf(path, sizeof path, "%d/stat", pr->pid);
				const char *comm = "";
				size_t commlen = 0;
				if (read_at(procfd, path, &bstat) == 0) {
					char *lp = strchr(bstat.p, '('), *rp = strrchr(bstat.p, ')');
					if (lp && rp && rp > lp) {
						comm = lp + 1;
						commlen = (size_t)(rp - lp - 1);
					}
				}
				emit_skipped(pr->pid, comm, commlen, what, e);
				nskipped++;
			}
		}
	}

	if (deep)
		emit_layers(layers);

	ostr("{\"type\":\"summary\",\"processes\":");
	ou64(nproc_rec);
	ostr(",\"namespaces\":");
	ou64(nns);
	ostr(",\"skipped\":");
	ou64(nskipped);
	ostr(",\"pinned\":");
	ou64(npinned);
	ostr("}\n");
	free(bstat.p);
	free(bcmd.p);
	free(bcg.p);
	free(broot.p);
	free(esc.p);
	return 0;
}

/* ------------------------------------------------------------------ */
/* umount                                                              */

enum stage { ST_OK, ST_PARSE, ST_OPEN, ST_SETNS, ST_CHROOT, ST_CHECK, ST_UMOUNT };
static const char *const stage_names[] = {"ok", "parse", "open", "setns", "chroot", "check", "umount"};

struct outcome {
	enum stage stage;
	int err;
	struct buf msg;
};

static void set_outcome(struct outcome *o, enum stage s, int e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void set_outcome(struct outcome *o, enum stage s, int e, const char *fmt, ...)
{
	va_list ap;
	o->stage = s;
	o->err = e;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	o->msg.len = 0;
	buf_reserve(&o->msg, (size_t)(n > 0 ? n : 0) + 1);
	va_start(ap, fmt);
	vsnprintf(o->msg.p, o->msg.cap, fmt, ap);
	va_end(ap);
	o->msg.len = (size_t)(n > 0 ? n : 0);
}

/* Decode \NNN octal escapes (raw mountinfo form -> bytes). -1 on \000. */
static int unescape(const char *s, struct buf *out)
{
	size_t n = strlen(s);
	out->len = 0;
	buf_reserve(out, n);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' &&
		    s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
			int c = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0');
			if (c == 0)
				return -1;
			out->p[out->len++] = (char)c;
			i += 3;
		} else {
			out->p[out->len++] = s[i];
		}
	}
	out->p[out->len] = 0;
	return 0;
}

/* Field idx (0-based, space-separated) of line; returns pointer and length. */
static const char *field(const char *line, size_t n, int idx, size_t *flen)
{
	const char *p = line, *end = line + n;
	for (int i = 0; i < idx; i++) {
		p = memchr(p, ' ', (size_t)(end - p));
		if (!p)
			return NULL;
		p++;
	}
	const char *sp = memchr(p, ' ', (size_t)(end - p));
	*flen = (size_t)((sp ? sp : end) - p);
	return p;
}

/* 64-bit FNV-1a: the fingerprint of a (escaped) mountinfo line, as the plugin computes it
 * over the line the scan reported (src/helper/protocol.ts mountLineFingerprint). */
static unsigned long long fnv1a64(const char *p, size_t n)
{
	unsigned long long h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Runs in the forked child, after setns + chroot: verify that mount `id` is
 * the top mount at raw mount point `mp` (and, with a fingerprint, still the very
 * mountinfo line seen at scan time: the kernel reuses mount IDs), then detach it. */
static void child_umount(unsigned long long id, int has_fp, unsigned long long fp, const char *mp,
			 const char *path, struct outcome *o)
{
	struct buf mi = {0}, esc = {0};
	/* our own mountinfo: after setns + chroot it is the holder's view */
	int e = read_at(procfd, "self/mountinfo", &mi);
	if (e) {
		set_outcome(o, ST_CHECK, e, "cannot read mountinfo: %s", strerror(e));
		return;
	}
	size_t mplen = strlen(mp);
	int found = 0;
	unsigned long long cover = 0;
	struct buf now = {0};
	for (const char *p = mi.p, *end = mi.p + mi.len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		escape_line(p, (size_t)(le - p), &esc);
		p = le + 1;
		size_t l0 = 0, l1 = 0, l4 = 0;
		const char *f0 = field(esc.p, esc.len, 0, &l0);
		const char *f1 = field(esc.p, esc.len, 1, &l1);
		const char *f4 = field(esc.p, esc.len, 4, &l4);
		unsigned long long mid, parent;
		if (!f0 || !f1 || !f4 || parse_uint(f0, l0, &mid) || parse_uint(f1, l1, &parent))
			continue;
		if (mid == id) {
			found = 1;
			if (has_fp && fnv1a64(esc.p, esc.len) != fp)
				found = 3;
			if (l4 != mplen || memcmp(f4, mp, mplen) != 0) {
				now.len = 0;
				buf_reserve(&now, l4);
				memcpy(now.p, f4, l4);
				now.p[l4] = 0;
				now.len = l4;
				found = 2;
			}
		} else if (parent == id && l4 == mplen && memcmp(f4, mp, mplen) == 0) {
			cover = mid;
		}
	}
	if (found == 3) {
		set_outcome(o, ST_CHECK, ESTALE,
			    "mount %llu at %s changed since the scan (its mountinfo line differs)", id, mp);
		return;
	}
	if (found != 1) {
		set_outcome(o, ST_CHECK, ESTALE, "mount %llu is not at %s (now: %s)", id, mp,
			    found ? now.p : "absent");
		return;
	}
	if (cover) {
		set_outcome(o, ST_CHECK, ESTALE, "mount %llu at %s is covered by mount %llu", id, mp,
			    cover);
		return;
	}
	/* what the path resolves to must be that very mount */
	struct hx_statx sx;
	if (hx_statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | HX_AT_STATX_DONT_SYNC, HX_STATX_MNT_ID, &sx) <
	    0) {
		e = errno;
		set_outcome(o, ST_CHECK, e, "cannot stat %s: %s", mp, strerror(e));
		return;
	}
	if ((sx.mask & HX_STATX_MNT_ID) && sx.mnt_id != 0 && sx.mnt_id != id) {
		set_outcome(o, ST_CHECK, ESTALE, "mount %llu is not at %s (now: mount %llu)", id, mp,
			    (unsigned long long)sx.mnt_id);
		return;
	}
	if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0) {
		e = errno;
		set_outcome(o, ST_UMOUNT, e, "umount %s: %s", mp, strerror(e));
		return;
	}
	o->stage = ST_OK;
	o->err = 0;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static void do_order(const char *order, struct outcome *o, long long *pid_out,
		     unsigned long long *id_out, const char **mp_out)
{
	static struct buf path;
	const char *c1 = strchr(order, ':');
	const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	unsigned long long pid = 0, id = 0;
	*pid_out = 0;
	*id_out = 0;
	*mp_out = order;
	if (!c1 || !c2) {
		set_outcome(o, ST_PARSE, EINVAL, "order is not PID:MOUNTID[/FINGERPRINT]:MOUNTPOINT");
		return;
	}
	*mp_out = c2 + 1;
	int bad_pid = parse_uint(order, (size_t)(c1 - order), &pid) || pid == 0 || pid > 0x7fffffff;
	/* MOUNTID or MOUNTID/FINGERPRINT (16 hex digits) */
	const char *slash = memchr(c1 + 1, '/', (size_t)(c2 - c1 - 1));
	const char *id_end = slash ? slash : c2;
	int has_fp = 0;
	unsigned long long fp = 0;
	int bad_id = parse_uint(c1 + 1, (size_t)(id_end - c1 - 1), &id) || id > 0xffffffffULL;
	if (slash) {
		size_t fl = (size_t)(c2 - slash - 1);
		char hex[17];
		char *hend = NULL;
		if (fl != 16) {
			bad_id = 1;
		} else {
			memcpy(hex, slash + 1, 16);
			hex[16] = 0;
			errno = 0;
			fp = strtoull(hex, &hend, 16);
			bad_id |= errno != 0 || !hend || *hend != 0 || hex[0] == '-' || hex[0] == '+';
			has_fp = 1;
		}
	}
	if (!bad_pid)
		*pid_out = (long long)pid;
	if (!bad_id)
		*id_out = id;
	if (bad_pid || bad_id) {
		set_outcome(o, ST_PARSE, EINVAL, "bad %s in order", bad_pid ? "PID" : "mount ID");
		return;
	}
	const char *mp = c2 + 1;
	if (mp[0] != '/' || unescape(mp, &path) != 0) {
		set_outcome(o, ST_PARSE, EINVAL, "bad mount point in order");
		return;
	}

	char p[64];
	snprintf(p, sizeof p, "%llu/ns/mnt", pid);
	int nsfd = openat(procfd, p, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		int e = errno;
		set_outcome(o, ST_OPEN, e, "open /proc/%s: %s", p, strerror(e));
		return;
	}
	snprintf(p, sizeof p, "%llu/root", pid);
	int rootfd = openat(procfd, p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		int e = errno;
		close(nsfd);
		set_outcome(o, ST_OPEN, e, "open /proc/%s: %s", p, strerror(e));
		return;
	}
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		int e = errno;
		close(nsfd);
		close(rootfd);
		set_outcome(o, ST_SETNS, e, "pipe: %s", strerror(e));
		return;
	}
	oflush(); /* the child must not inherit pending output */
	pid_t child = fork();
	if (child < 0) {
		int e = errno;
		close(nsfd);
		close(rootfd);
		close(pfd[0]);
		close(pfd[1]);
		set_outcome(o, ST_SETNS, e, "fork: %s", strerror(e));
		return;
	}
	if (child == 0) {
		close(pfd[0]);
		struct outcome r = {0};
		if (setns(nsfd, CLONE_NEWNS) < 0) {
			int e = errno;
			set_outcome(&r, ST_SETNS, e, "setns: %s", strerror(e));
		} else if (fchdir(rootfd) < 0 || chroot(".") < 0 || chdir("/") < 0) {
			int e = errno;
			set_outcome(&r, ST_CHROOT, e, "chroot to the holder's root: %s", strerror(e));
		} else {
			child_umount(id, has_fp, fp, mp, path.p, &r);
		}
		int hdr[2] = {(int)r.stage, r.err};
		if (write_all(pfd[1], hdr, sizeof hdr) < 0 ||
		    (r.msg.len && write_all(pfd[1], r.msg.p, r.msg.len) < 0))
			_exit(3);
		_exit(0);
	}
	close(pfd[1]);
	close(nsfd);
	close(rootfd);
	struct buf rb = {0};
	for (;;) {
		buf_reserve(&rb, 4096);
		ssize_t n = read(pfd[0], rb.p + rb.len, rb.cap - rb.len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		rb.len += (size_t)n;
	}
	close(pfd[0]);
	int status = 0;
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	int hdr[2];
	if (rb.len < sizeof hdr) {
		if (WIFSIGNALED(status))
			set_outcome(o, ST_UMOUNT, EIO, "child killed by signal %d", WTERMSIG(status));
		else
			set_outcome(o, ST_UMOUNT, EIO, "child exited with status %d without a result",
				    WEXITSTATUS(status));
		free(rb.p);
		return;
	}
	memcpy(hdr, rb.p, sizeof hdr);
	o->stage = hdr[0] >= ST_OK && hdr[0] <= ST_UMOUNT ? (enum stage)hdr[0] : ST_UMOUNT;
	o->err = hdr[1];
	o->msg.len = 0;
	buf_reserve(&o->msg, rb.len - sizeof hdr);
	memcpy(o->msg.p, rb.p + sizeof hdr, rb.len - sizeof hdr);
	o->msg.len = rb.len - sizeof hdr;
	o->msg.p[o->msg.len] = 0;
	free(rb.p);
}

static int cmd_umount(char **orders, size_t n)
{
	size_t ok = 0, failed = 0;
	struct outcome o = {0};
	for (size_t i = 0; i < n; i++) {
		long long pid;
		unsigned long long id;
		const char *mp;
		o.stage = ST_OK;
		o.err = 0;
		o.msg.len = 0;
		do_order(orders[i], &o, &pid, &id, &mp);
		ostr("{\"type\":\"result\",\"pid\":");
		oint(pid);
		ostr(",\"mountId\":");
		ou64(id);
		ostr(",\"mountPoint\":");
		ojson(mp);
		if (o.stage == ST_OK) {
			ostr(",\"ok\":true}\n");
			ok++;
		} else {
			char tmp[16];
			ostr(",\"ok\":false,\"stage\":");
			ojson(stage_names[o.stage]);
			ostr(",\"errno\":");
			ojson(errno_name(o.err, tmp, sizeof tmp));
			ostr(",\"message\":");
			ojsonn(o.msg.p ? o.msg.p : "", o.msg.len);
			ostr("}\n");
			failed++;
			fprintf(stderr, "helper: order %s failed at %s: %.*s\n", orders[i], stage_names[o.stage],
				(int)o.msg.len, o.msg.p ? o.msg.p : "");
		}
		oflush();
	}
	ostr("{\"type\":\"summary\",\"orders\":");
	ou64(n);
	ostr(",\"ok\":");
	ou64(ok);
	ostr(",\"failed\":");
	ou64(failed);
	ostr("}\n");
	free(o.msg.p);
	return 0;
}

/* ------------------------------------------------------------------ */

static int usage(const char *why)
{
	if (why)
		fprintf(stderr, "helper: %s\n", why);
	fputs("usage: docker-leak-helper version\n"
	      "       docker-leak-helper scan [--filter SUBSTRING]... [--deep]\n"
	      "       docker-leak-helper umount PID:MOUNTID:MOUNTPOINT...\n",
	      stderr);
	return why ? 2 : 0;
}

static int open_proc(void)
{
	procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (procfd >= 0)
		return 0;
	emit_error("cannot open /proc");
	return -1;
}

int main(int argc, char **argv)
{
	int rc;
	if (argc < 2)
		return usage("missing verb");
	const char *verb = argv[1];
	if (!strcmp(verb, "-h") || !strcmp(verb, "--help") || !strcmp(verb, "help"))
		return usage(NULL);
	if (!strcmp(verb, "version")) {
		if (argc != 2)
			return usage("version takes no arguments");
		ostr("{\"type\":\"version\",\"version\":");
		ojson(HELPER_VERSION);
		ostr(",\"protocol\":");
		oint(PROTOCOL_VERSION);
		ostr("}\n");
		rc = 0;
	} else if (!strcmp(verb, "scan")) {
		char **filters = xrealloc(NULL, (size_t)argc * sizeof *filters);
		size_t nf = 0;
		int deep = 0;
		const char *layers = NULL;
		for (int i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--deep"))
				deep = 1;
			else if (!strcmp(argv[i], "--layers")) {
				if (++i >= argc)
					return usage("--layers needs a directory");
				layers = argv[i];
			}
			else if (!strcmp(argv[i], "--filter")) {
				if (++i >= argc)
					return usage("--filter needs a value");
				filters[nf++] = argv[i];
			} else if (!strncmp(argv[i], "--filter=", 9))
				filters[nf++] = argv[i] + 9;
			else {
				fprintf(stderr, "helper: unknown scan argument: %s\n", argv[i]);
				return usage("bad arguments");
			}
		}
		rc = open_proc() < 0 ? 1 : cmd_scan(filters, nf, deep, layers);
		free(filters);
	} else if (!strcmp(verb, "umount")) {
		rc = open_proc() < 0 ? 1 : cmd_umount(argv + 2, (size_t)argc - 2);
	} else {
		fprintf(stderr, "helper: unknown verb: %s\n", verb);
		return usage("bad arguments");
	}
	oflush();
	return rc;
}
