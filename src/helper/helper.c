/*
 * docker-leak-helper: observes /proc and executes exact unmount orders.
 *
 * Contract: src/helper/PROTOCOL.md (protocol 2). stdout carries NDJSON records only;
 * diagnostics go to stderr. Single-threaded on purpose: setns(CLONE_NEWNS) is refused to
 * multi-threaded callers. Everything read from /proc may be crafted by an unprivileged user,
 * and any call that can reach a filesystem may block for ever (a stopped FUSE server, a dead
 * NFS server): such calls run in forked workers that the parent kills when they make no
 * progress for --stall-ms.
 *
 * Build: scripts/build-helper.sh (static, -DHELPER_VERSION="x.y.z").
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef HELPER_VERSION
#define HELPER_VERSION "0.0.0-dev"
#endif
#define PROTOCOL_VERSION 2

#ifndef MNT_DETACH
#define MNT_DETACH 2
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
#ifndef SYS_openat2
#define SYS_openat2 437 /* the same on x86_64 and aarch64 */
#endif

/* Limits (PROTOCOL.md "Limits"). */
#define LINE_MAX_ESC 65536   /* one escaped mountinfo line */
#define LINES_MAX 1000000    /* mountinfo lines reported per namespace */
#define CGROUP_MAX 65536     /* one cgroup file */
#define PINNED_MAX 1000      /* pinned records per process */
#define LINK_MAX_BYTES 4096  /* one readlink */
#define MEMBERS_MAX 16       /* pids= members of an order */
#define FRAME_MAX (16U << 20) /* a worker frame; anything larger is a broken worker */

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
#define HX_STATX_TYPE 0x1U
#define HX_STATX_INO 0x100U
#define HX_STATX_MNT_ID 0x1000U
#define HX_AT_STATX_DONT_SYNC 0x4000
#define HX_AT_EMPTY_PATH 0x1000

/* Kernel ABI of struct open_how (include/uapi/linux/openat2.h, version 0). */
struct hx_open_how {
	uint64_t flags, mode, resolve;
};
_Static_assert(sizeof(struct hx_open_how) == 24, "struct open_how ABI");
#define HX_RESOLVE_NO_MAGICLINKS 0x02
#define HX_RESOLVE_NO_SYMLINKS 0x04
#define HX_RESOLVE_BENEATH 0x08
#define HX_RESOLVE_IN_ROOT 0x10

static int hx_statx(int dirfd, const char *path, int flags, unsigned mask, struct hx_statx *sx)
{
	memset(sx, 0, sizeof *sx);
	return (int)syscall(SYS_statx, dirfd, path, flags, mask, sx);
}

static int hx_openat2(int dirfd, const char *path, uint64_t flags, uint64_t resolve)
{
	struct hx_open_how how = {flags, 0, resolve};
	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

/* openat2 missing (ENOSYS), or too old for our struct or flags (E2BIG, EINVAL). */
static int openat2_missing(int e) { return e == ENOSYS || e == E2BIG || e == EINVAL; }

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

static void buf_add(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* ------------------------------------------------------------------ */
/* output: buffered stdout in the parent; in a worker, the record being built for the parent */

static int in_worker; /* a forked worker never writes fd 1: its records go through its pipe */
static struct buf cap;
static char obuf[1 << 16];
static size_t olen;

static void oflush(void)
{
	size_t off = 0;
	if (in_worker) {
		olen = 0;
		return;
	}
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
	if (in_worker) {
		buf_add(&cap, p, n);
		return;
	}
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

static void oputc(char c) { owrite(&c, 1); }

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

static void obool(int v) { ostr(v ? "true" : "false"); }

static void odev(unsigned maj, unsigned min)
{
	oputc('"');
	ou64(maj);
	oputc(':');
	ou64(min);
	oputc('"');
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

/* JSON string: escape '"', '\\', < 0x20 and 0x7f (a terminal control character); valid UTF-8
 * passes, each byte of an invalid sequence becomes U+FFFD. */
static void ojsonn(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, run = 0;
	oputc('"');
	while (i < n) {
		unsigned c = s[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
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
static int stall_ms = 3000;
static size_t cmdline_max = 4096;
static uint64_t nstalled; /* workers killed for making no progress */

static int vanished(int e) { return e == ENOENT || e == ESRCH; }

/* Read dirfd/path into b (NUL-terminated), at most max bytes (SIZE_MAX: all); *more (if given)
 * tells whether the file had more. 0 or errno. */
static int read_capped(int dirfd, const char *path, struct buf *b, size_t max, int *more)
{
	if (more)
		*more = 0;
	b->len = 0;
	buf_reserve(b, 0);
	b->p[0] = 0;
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno;
	for (;;) {
		size_t want = 8192;
		/* read one byte past the cap to tell "exactly max" from "more" */
		if (max != SIZE_MAX && max + 1 - b->len < want)
			want = max + 1 - b->len;
		buf_reserve(b, want);
		ssize_t n = read(fd, b->p + b->len, want);
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
		if (max != SIZE_MAX && b->len > max) {
			b->len = max;
			if (more)
				*more = 1;
			break;
		}
	}
	b->p[b->len] = 0;
	close(fd);
	return 0;
}

static int read_at(int dirfd, const char *path, struct buf *b)
{
	return read_capped(dirfd, path, b, SIZE_MAX, NULL);
}

/* readlinkat into b, cut at LINK_MAX_BYTES. 0 or errno. */
static int readlink_capped(int dirfd, const char *path, struct buf *b)
{
	b->len = 0;
	buf_reserve(b, LINK_MAX_BYTES);
	ssize_t n = readlinkat(dirfd, path, b->p, LINK_MAX_BYTES);
	if (n < 0) {
		b->p[0] = 0;
		return errno;
	}
	b->len = (size_t)n;
	b->p[n] = 0;
	return 0;
}

/* Bytes the helper escapes in mountinfo lines on top of the kernel (which escapes space, tab,
 * newline and backslash): everything that is not printable ASCII. */
static int needs_escape(unsigned char c) { return c >= 0x7f || c < 0x20; }

/* Copy line (n bytes) into out, escaping needs_escape() bytes as \NNN octal. */
static void escape_line(const char *line, size_t n, struct buf *out)
{
	out->len = 0;
	buf_reserve(out, n * 4);
	char *o = out->p;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)line[i];
		if (needs_escape(c)) {
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

/* /proc/PID/stat: comm lies between the first '(' and the LAST ')' (a comm may contain both);
 * after it come space-separated fields from 3 on: ppid is 4, starttime 22. */
static int parse_stat(const char *s, size_t len, const char **comm, size_t *commlen, int *ppid,
		      uint64_t *start)
{
	const char *lp = memchr(s, '(', len);
	const char *rp = memrchr(s, ')', len);
	if (!lp || !rp || rp < lp)
		return -1;
	const char *p = rp + 1, *end = s + len;
	unsigned long long v;
	for (int f = 3; f <= 22; f++) {
		if (p >= end || *p != ' ')
			return -1;
		p++;
		const char *q = p;
		while (q < end && *q != ' ' && *q != '\n')
			q++;
		if (f == 4) {
			if (parse_uint(p, (size_t)(q - p), &v) || v > 0x7fffffff)
				return -1;
			*ppid = (int)v;
		} else if (f == 22) {
			if (parse_uint(p, (size_t)(q - p), &v))
				return -1;
			*start = v;
		}
		p = q;
	}
	*comm = lp + 1;
	*commlen = (size_t)(rp - lp - 1);
	return 0;
}

/* fdinfo text is read only this far: "mnt_id:" is on its third line, and what follows (an
 * epoll's or inotify's entries) can be long. */
#define FDINFO_MAX 4096

/* The "mnt_id:" line of fdinfo text (at the start of a line: later lines of some descriptors
 * carry other fields). 0 and *id, or ENODATA. */
static int parse_mnt_id(const char *text, uint64_t *id)
{
	for (const char *m = text; (m = strstr(m, "mnt_id:")) != NULL; m += 7) {
		if (m != text && m[-1] != '\n')
			continue;
		const char *d = m + 7;
		while (*d == ' ' || *d == '\t')
			d++;
		unsigned long long v;
		if (parse_uint(d, strspn(d, "0123456789"), &v) == 0) {
			*id = v;
			return 0;
		}
	}
	return ENODATA;
}

/* Field 9 (flags) of a /proc/PID/stat text that parse_stat accepted. */
static unsigned long long stat_flags(const char *s, size_t len)
{
	const char *p = memrchr(s, ')', len), *end = s + len;
	unsigned long long v = 0;
	for (int f = 3; p && f <= 9; f++) {
		p = memchr(p + 1, ' ', (size_t)(end - p - 1));
		if (!p)
			return 0;
		if (f == 9)
			parse_uint(p + 1, strspn(p + 1, "0123456789"), &v);
	}
	return v;
}

/* The mnt_id of descriptor fd of this process (/proc/self/fdinfo, Linux 3.15+): 0 and *id,
 * ENODATA when the kernel does not show it, or the errno of the read. */
static int fdinfo_mnt_id(int fd, uint64_t *id)
{
	static struct buf b;
	char path[48];
	snprintf(path, sizeof path, "self/fdinfo/%d", fd);
	int e = read_capped(procfd, path, &b, FDINFO_MAX, NULL);
	return e ? e : parse_mnt_id(b.p, id);
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

static size_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x;
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

/* Mount ID and parent ID of a mountinfo line (fields 0 and 1). */
static int line_ids(const char *p, size_t n, uint32_t *id, uint32_t *parent)
{
	size_t l0, l1;
	const char *f0 = field(p, n, 0, &l0), *f1 = field(p, n, 1, &l1);
	unsigned long long a, b;
	if (!f0 || !f1 || parse_uint(f0, l0, &a) || parse_uint(f1, l1, &b) || a > 0xffffffffULL ||
	    b > 0xffffffffULL)
		return -1;
	*id = (uint32_t)a;
	*parent = (uint32_t)b;
	return 0;
}

/* ------------------------------------------------------------------ */
/* watched workers                                                     */
/*
 * A worker is a forked child that does what may block (reads that reach a filesystem or take a
 * process's memory-map lock) and sends its results to the parent as frames on a pipe: an 8-byte
 * header {type, length} and the payload. It writes each frame as soon as it has it, so the
 * parent knows how far it got; the parent waits with poll and kills a worker from which no byte
 * came for stall_ms.
 */

enum ftype {
	F_PROGRESS = 1, /* no payload: still moving */
	F_DONE,         /* no payload: finished normally */
	F_CMDLINE,      /* struct cmdhdr + command line bytes */
	F_BEGIN,        /* uint32 process index: deep inspection of it starts */
	F_END,          /* uint32 index, uint32 pinned records dropped for the limit */
	F_PINNED,       /* a pinned record (JSON line) */
	F_SKIPPED,      /* a skipped record (JSON line) */
	F_OVL,          /* uint64 overlay root inode */
	F_LAYER,        /* a layer record (JSON line) */
	F_ERR,          /* int32 errno + message */
	F_STAGE,        /* int32 stage reached (umount child) */
	F_RESULT,       /* struct resulthdr + message (umount child) */
};

struct fhdr {
	uint32_t type, len;
};

static int wfd = -1; /* a worker's end of its pipe */

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

static struct buf wout; /* a worker's frames not yet written */

/* Worker side: one frame of header + a + b, written at once (with any held back before it).
 * A parent that is gone leaves nothing to do. */
static void wsend2(uint32_t type, const void *a, size_t an, const void *b, size_t bn)
{
	struct fhdr h = {type, (uint32_t)(an + bn)};
	buf_add(&wout, &h, sizeof h);
	buf_add(&wout, a, an);
	buf_add(&wout, b, bn);
	if (write_all(wfd, wout.p, wout.len) < 0)
		_exit(1);
	wout.len = 0;
}

/* Worker side: a frame written with the next one (only when nothing that may block comes
 * between them: the parent sees it no later than it needs it). */
static void wsend_later(uint32_t type, const void *p, size_t n)
{
	struct fhdr h = {type, (uint32_t)n};
	buf_add(&wout, &h, sizeof h);
	buf_add(&wout, p, n);
}

static void wsend(uint32_t type, const void *p, size_t n) { wsend2(type, p, n, NULL, 0); }

/* Worker side: the record built in cap goes to the parent as one frame. */
static void wsend_record(uint32_t type)
{
	wsend(type, cap.p, cap.len);
	cap.len = 0;
}

struct worker {
	pid_t pid;
	int fd;
	struct buf in;
	size_t off;
};

/* Forks a worker running fn(arg) with its records redirected to the pipe. -1 with errno.
 * (w needs no initialisation; worker_stop releases what this sets up.) */
static int worker_start(struct worker *w, void (*fn)(void *), void *arg)
{
	int p[2];
	oflush(); /* nothing of ours pending in the child's copy */
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t c = fork();
	if (c < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		errno = e;
		return -1;
	}
	if (c == 0) {
		close(p[0]);
		in_worker = 1;
		olen = 0;
		cap.len = 0;
		wout.len = 0;
		wfd = p[1];
		fn(arg);
		_exit(0);
	}
	close(p[1]);
	w->pid = c;
	w->fd = p[0];
	w->in = (struct buf){0};
	w->off = 0;
	return 0;
}

/* Parent side: the next frame (*data valid until the next call). 1: a frame; 0: the worker
 * closed its pipe (or sent garbage); -1: nothing came for stall_ms. */
static int worker_next(struct worker *w, uint32_t *type, const char **data, uint32_t *len)
{
	for (;;) {
		size_t have = w->in.len - w->off;
		if (have >= sizeof(struct fhdr)) {
			struct fhdr h;
			memcpy(&h, w->in.p + w->off, sizeof h);
			if (h.len > FRAME_MAX) {
				errno = EPROTO;
				diag("worker %d sent a frame of %u bytes", (int)w->pid, h.len);
				return 0;
			}
			if (have >= sizeof h + h.len) {
				*type = h.type;
				*data = w->in.p + w->off + sizeof h;
				*len = h.len;
				w->off += sizeof h + h.len;
				return 1;
			}
		}
		if (w->off) {
			memmove(w->in.p, w->in.p + w->off, have);
			w->in.len = have;
			w->off = 0;
		}
		struct pollfd pf = {w->fd, POLLIN, 0};
		int r = poll(&pf, 1, stall_ms);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			diag("poll");
			return 0;
		}
		if (r == 0)
			return -1;
		buf_reserve(&w->in, 65536);
		ssize_t n = read(w->fd, w->in.p + w->in.len, w->in.cap - w->in.len - 1);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			diag("read from worker %d", (int)w->pid);
			return 0;
		}
		if (n == 0)
			return 0;
		w->in.len += (size_t)n;
	}
}

/* Ends a worker (killing it first if asked) and reaps it. The pipe closes only once the worker
 * has really exited; one that SIGKILL cannot reach (uninterruptible sleep) is left behind rather
 * than waited for. Returns its wait status, or -1. */
static int worker_stop(struct worker *w, int kill_it)
{
	int status = -1, closed = 0;
	char junk[4096];
	if (kill_it && kill(w->pid, SIGKILL) < 0)
		diag("kill worker %d", (int)w->pid);
	for (;;) {
		struct pollfd pf = {w->fd, POLLIN, 0};
		int r = poll(&pf, 1, stall_ms > 1000 ? stall_ms : 1000);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		ssize_t n = read(w->fd, junk, sizeof junk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			closed = 1;
			break;
		}
	}
	if (closed) {
		while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
			;
	} else {
		errno = ETIMEDOUT;
		diag("worker %d does not exit; left behind", (int)w->pid);
	}
	close(w->fd);
	free(w->in.p);
	w->in = (struct buf){0};
	w->fd = -1;
	w->pid = 0;
	return status;
}

static void describe_status(struct buf *b, int status)
{
	if (status == -1)
		buf_printf(b, "it did not exit");
	else if (WIFSIGNALED(status))
		buf_printf(b, "killed by signal %d", WTERMSIG(status));
	else
		buf_printf(b, "exit status %d", WEXITSTATUS(status));
}

/* ------------------------------------------------------------------ */
/* scan                                                                */

struct ns {
	uint64_t ino;
	size_t *members;      /* indexes into procs, ascending PID */
	size_t nmembers, cap;
	int via;              /* PID whose mountinfo was read, -1 if none */
	int err;              /* errno if no member's mountinfo was readable */
	uint32_t *ids;        /* sorted mount IDs of the full mountinfo (--deep) */
	size_t nids, idcap;
	int refreshed;
};

struct proc {
	int pid;
	size_t ns;        /* index into nss */
	uint64_t start;
	int slash;        /* root is "/" */
	size_t commlen;
	char comm[64];
};

static struct ns *nss;
static size_t nns, nscap;
static size_t *nsmap; /* open addressing: index+1, 0 = empty */
static size_t nsmapcap;

static struct proc *procs;
static size_t nprocs, proccap;

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

/* Opens /proc/PID of procs[i] as a directory and checks it is still that process (same start
 * time): the descriptor then stays bound to it even if the PID is reused. -1 with errno (ESRCH
 * when the PID now names another process). */
static int open_proc_dir(int pid, uint64_t start)
{
	static struct buf b;
	char name[16];
	snprintf(name, sizeof name, "%d", pid);
	int dfd = openat(procfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	const char *comm;
	size_t commlen;
	int ppid, e = read_capped(dfd, "stat", &b, 4096, NULL);
	uint64_t now;
	if (!e && parse_stat(b.p, b.len, &comm, &commlen, &ppid, &now) != 0)
		e = EPROTO;
	if (!e && now != start)
		e = ESRCH;
	if (e) {
		close(dfd);
		errno = e;
		return -1;
	}
	return dfd;
}

/* Read a namespace's mountinfo into b via the lowest member whose root is "/" (a chrooted
 * reader sees only mounts under its root), else the lowest readable member; each member is
 * checked to be the scanned process and still in the namespace around the read. Sets *via.
 * Returns 0 or the errno of the last failure. */
static int ns_read_mountinfo(struct ns *n, struct buf *b, int *via)
{
	int err = ESRCH;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n->nmembers; i++) {
			struct proc *pr = &procs[n->members[i]];
			if ((pass == 0) != (pr->slash != 0))
				continue;
			int dfd = open_proc_dir(pr->pid, pr->start);
			if (dfd < 0)
				continue; /* gone or replaced: as if never there */
			struct stat st;
			int e = fstatat(dfd, "ns/mnt", &st, 0) < 0 ? errno : 0;
			if (!e && (uint64_t)st.st_ino != n->ino)
				e = ESRCH; /* moved to another namespace */
			if (!e)
				e = read_at(dfd, "mountinfo", b);
			if (!e && (fstatat(dfd, "ns/mnt", &st, 0) < 0 || (uint64_t)st.st_ino != n->ino))
				e = ESRCH; /* moved while we read */
			close(dfd);
			if (e == 0) {
				*via = pr->pid;
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
		uint32_t id, parent;
		if (le > p && line_ids(p, (size_t)(le - p), &id, &parent) == 0) {
			GROW(n->ids, n->idcap, n->nids + 1);
			n->ids[n->nids++] = id;
		}
		p = le + 1;
	}
	qsort(n->ids, n->nids, sizeof *n->ids, cmp_u32);
}

static void emit_skipped(int pid, const char *comm, size_t commlen, const char *what, int e,
			 const char *message)
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
	ojson(message ? message : strerror(e));
	ostr("}\n");
}

/* {"type":"error"} record + stderr diagnostic, for errno. */
static void emit_error(const char *what)
{
	int e = errno;
	struct buf m = {0};
	buf_printf(&m, "%s: %s", what, strerror(e));
	ostr("{\"type\":\"error\",\"message\":");
	ojsonn(m.p, m.len);
	ostr("}\n");
	free(m.p);
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
static uint64_t npinned, nskipped, npinned_dropped;

/* How the deep phase learns mount IDs, probed once in the parent: */
static int have_statx;   /* statx exists (Linux 4.11+) */
static int statx_mntid;  /* statx reports mount IDs (5.8+; not under qemu-user) */
static int fdinfo_mntid; /* /proc/self/fdinfo shows mnt_id (3.15+) */

static void probe_kernel(void)
{
	struct hx_statx sx;
	uint64_t id;
	int r = hx_statx(procfd, "", HX_AT_EMPTY_PATH | HX_AT_STATX_DONT_SYNC, HX_STATX_MNT_ID, &sx);
	have_statx = r == 0 || errno != ENOSYS;
	/* /proc is a real mount, so its ID is never 0: qemu-user passes the mask bit through
	 * but leaves stx_mnt_id 0 for every file */
	statx_mntid = r == 0 && (sx.mask & HX_STATX_MNT_ID) && sx.mnt_id != 0;
	fdinfo_mntid = fdinfo_mnt_id(procfd, &id) == 0 && id != 0;
	if (!statx_mntid && !fdinfo_mntid) {
		errno = ENOSYS;
		diag("neither statx nor /proc/self/fdinfo reports mount IDs; --deep checks nothing");
	}
}

/* A mount ID absent from the namespace's set: confirm it is attached nowhere
 * (re-read the namespace once to rule out mounts created after the first
 * read; and not attached in any other scanned namespace). */
static int detached(struct ns *n, uint32_t id)
{
	static struct buf b;
	if (!n->refreshed) {
		int via;
		n->refreshed = 1;
		if (ns_read_mountinfo(n, &b, &via) == 0)
			collect_ids(n, &b);
	}
	return !has_u32(n->ids, n->nids, id) && !has_u32(allids, nallids, id);
}

/* For a pinned directory on an overlay: the inode of that overlay's root directory, found by
 * walking ".." until it stops moving (the root of a detached mount is its own parent). An
 * overlay reports its root's inode from the upper directory (a container's overlay2/<id>/diff),
 * which ties a detached rootfs to its container. 0 when not an overlay or not a directory.
 * (fstatfs reaches the filesystem: this runs in the deep worker.) */
static uint64_t overlay_root_ino(int dfd, const char *rel)
{
	int fd = openat(dfd, rel, O_PATH | O_CLOEXEC);
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

/* Deep worker state for the process being inspected. */
struct deepctx {
	const struct proc *pr;
	int dfd;           /* /proc/PID, checked to be that process */
	uint32_t pinned;   /* records sent */
	uint32_t dropped;  /* left out for PINNED_MAX */
};

static void send_pinned(struct deepctx *c, const char *kind, int fd, uint64_t mnt_id, unsigned dmaj,
			unsigned dmin, uint64_t ino, const struct buf *path, const char *rel)
{
	if (c->pinned >= PINNED_MAX) {
		c->dropped++;
		return;
	}
	uint64_t root = overlay_root_ino(c->dfd, rel);
	ostr("{\"type\":\"pinned\",\"pid\":");
	oint(c->pr->pid);
	ostr(",\"mntns\":");
	ou64(nss[c->pr->ns].ino);
	ostr(",\"kind\":\"");
	ostr(kind);
	ostr("\",\"fd\":");
	if (fd < 0)
		ostr("null");
	else
		oint(fd);
	ostr(",\"mountId\":");
	ou64(mnt_id);
	ostr(",\"dev\":");
	odev(dmaj, dmin);
	ostr(",\"ino\":");
	ou64(ino);
	ostr(",\"path\":");
	ojsonn(path->p, path->len);
	ostr(",\"overlayRootIno\":");
	if (root)
		ou64(root);
	else
		ostr("null");
	ostr("}\n");
	wsend_record(F_PINNED);
	if (root)
		wsend(F_OVL, &root, sizeof root);
	c->pinned++;
}

static void send_skipped(const struct deepctx *c, const char *what, int e)
{
	emit_skipped(c->pr->pid, c->pr->comm, c->pr->commlen, what, e, NULL);
	wsend_record(F_SKIPPED);
}

/* Device and inode of dfd/rel (a magic link, followed), without a getattr that may wait for a
 * server where statx can say so. 0 or errno. */
static int link_dev_ino(int dfd, const char *rel, unsigned *dmaj, unsigned *dmin, uint64_t *ino)
{
	if (have_statx) {
		struct hx_statx sx;
		if (hx_statx(dfd, rel, HX_AT_STATX_DONT_SYNC, HX_STATX_INO, &sx) < 0)
			return errno;
		*dmaj = sx.dev_major;
		*dmin = sx.dev_minor;
		*ino = sx.ino;
		return 0;
	}
	struct stat st;
	if (fstatat(dfd, rel, &st, 0) < 0)
		return errno;
	*dmaj = major(st.st_dev);
	*dmin = minor(st.st_dev);
	*ino = (uint64_t)st.st_ino;
	return 0;
}

/* Mount ID, device and inode of cwd/root/exe. statx where it reports mount IDs; else the
 * fdinfo of an O_PATH descriptor of the link (opening a magic link with O_PATH calls nothing
 * in the filesystem). *mnt_id 0: kernel-internal (a memfd exe). 0 or errno. */
static int link_ids(int dfd, const char *rel, uint64_t *mnt_id, unsigned *dmaj, unsigned *dmin,
		    uint64_t *ino)
{
	if (statx_mntid) {
		struct hx_statx sx;
		if (hx_statx(dfd, rel, HX_AT_STATX_DONT_SYNC, HX_STATX_MNT_ID | HX_STATX_INO, &sx) < 0)
			return errno;
		*mnt_id = (sx.mask & HX_STATX_MNT_ID) ? sx.mnt_id : 0;
		*dmaj = sx.dev_major;
		*dmin = sx.dev_minor;
		*ino = sx.ino;
		return 0;
	}
	int fd = openat(dfd, rel, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return errno;
	int e = fdinfo_mnt_id(fd, mnt_id);
	close(fd);
	if (e == ENODATA)
		e = ENOSYS;
	if (e)
		return e;
	return link_dev_ino(dfd, rel, dmaj, dmin, ino);
}

/* Deep-inspect procs[idx], sending its records as frames. */
static void deep_proc(size_t idx, uint32_t *dropped)
{
	static int *fds;
	static size_t fdcap;
	static struct buf info, lbuf;
	static const char *const kinds[] = {"cwd", "root", "exe"};
	const struct proc *pr = &procs[idx];
	struct ns *n = &nss[pr->ns];
	struct deepctx c = {pr, -1, 0, 0};
	char rel[48];

	c.dfd = open_proc_dir(pr->pid, pr->start);
	if (c.dfd < 0) {
		if (!vanished(errno))
			send_skipped(&c, "cwd", errno);
		return; /* gone, or its PID names another process now */
	}
	for (int k = 0; k < 3; k++) {
		uint64_t mnt_id, ino;
		unsigned dmaj, dmin;
		int e = link_ids(c.dfd, kinds[k], &mnt_id, &dmaj, &dmin, &ino);
		if (e) {
			if (vanished(e))
				continue; /* gone, or no exe */
			send_skipped(&c, kinds[k], e);
			goto out;
		}
		/* 0: a kernel-internal mount that is in no namespace by design, e.g. the
		 * exe of a process started from a memfd (runc's cloned binary) */
		if (mnt_id == 0 || has_u32(n->ids, n->nids, (uint32_t)mnt_id))
			continue;
		if (readlink_capped(c.dfd, kinds[k], &lbuf) != 0 || internal_path(lbuf.p))
			continue;
		if (detached(n, (uint32_t)mnt_id))
			send_pinned(&c, kinds[k], -1, mnt_id, dmaj, dmin, ino, &lbuf, kinds[k]);
	}

	int fdd = openat(c.dfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fdd >= 0 ? fdopendir(fdd) : NULL;
	if (!d) {
		int e = errno;
		if (fdd >= 0)
			close(fdd);
		if (!vanished(e))
			send_skipped(&c, "fd", e);
		goto out;
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
		if (i % 16 == 15)
			wsend(F_PROGRESS, NULL, 0);
		snprintf(rel, sizeof rel, "fd/%d", fds[i]);
		int e = readlink_capped(c.dfd, rel, &lbuf);
		if (e) {
			if (vanished(e))
				continue;
			send_skipped(&c, "fd", e);
			goto out;
		}
		if (internal_path(lbuf.p))
			continue;
		snprintf(rel, sizeof rel, "fdinfo/%d", fds[i]);
		e = read_capped(c.dfd, rel, &info, FDINFO_MAX, NULL);
		if (e) {
			if (vanished(e))
				continue;
			send_skipped(&c, "fdinfo", e);
			goto out;
		}
		uint64_t id;
		if (parse_mnt_id(info.p, &id) != 0)
			continue; /* before Linux 3.15 */
		if (has_u32(n->ids, n->nids, (uint32_t)id) || !detached(n, (uint32_t)id))
			continue;
		uint64_t ino;
		unsigned dmaj, dmin;
		snprintf(rel, sizeof rel, "fd/%d", fds[i]);
		wsend(F_PROGRESS, NULL, 0); /* the stat below may wait for the file's server */
		if ((e = link_dev_ino(c.dfd, rel, &dmaj, &dmin, &ino)) != 0) {
			if (!vanished(e)) {
				errno = e;
				diag("stat /proc/%d/%s", pr->pid, rel);
			}
			continue;
		}
		send_pinned(&c, "fd", fds[i], id, dmaj, dmin, ino, &lbuf, rel);
	}
out:
	close(c.dfd);
	*dropped = c.dropped;
}

/* The deep worker: processes from index *(size_t *)arg on, each framed by F_BEGIN/F_END. */
static void deep_worker(void *arg)
{
	size_t from = *(size_t *)arg;
	for (size_t i = from; i < nprocs; i++) {
		if (nss[procs[i].ns].err)
			continue; /* no mount ID set to compare with */
		uint32_t idx = (uint32_t)i, end[2] = {(uint32_t)i, 0};
		wsend(F_BEGIN, &idx, sizeof idx); /* with the previous F_END */
		deep_proc(i, &end[1]);
		wsend_later(F_END, end, sizeof end);
	}
	wsend(F_DONE, NULL, 0);
}

/* Inodes of the roots of detached overlays that pinned files live on (for --layers). */
static uint64_t *ovl_roots;
static size_t novl_roots, ovl_rootcap;

/* Runs the deep phase in watched workers: the records of a process are relayed only once it is
 * complete; a process that stalls its worker is reported as skipped ("deep", ETIMEDOUT) and a
 * new worker goes on with the next one. */
static int run_deep(void)
{
	struct worker w;
	struct buf pending = {0};
	uint64_t *povl = NULL;
	size_t npovl = 0, povlcap = 0;
	uint64_t ppinned = 0, pskipped = 0;
	size_t from = 0;
	while (from < nprocs) {
		if (worker_start(&w, deep_worker, &from) < 0) {
			emit_error("cannot start the deep worker");
			free(pending.p);
			free(povl);
			return -1;
		}
		long cur = -1;
		int finished = 0, stalled = 0, status = -1;
		for (;;) {
			uint32_t type, len;
			const char *data;
			int r = worker_next(&w, &type, &data, &len);
			if (r == -1) {
				stalled = 1;
				break;
			}
			if (r == 0)
				break;
			if (type == F_BEGIN && len == 4) {
				uint32_t idx;
				memcpy(&idx, data, 4);
				cur = idx;
				pending.len = 0;
				npovl = 0;
				ppinned = pskipped = 0;
			} else if ((type == F_PINNED || type == F_SKIPPED) && cur >= 0) {
				buf_add(&pending, data, len);
				if (type == F_PINNED)
					ppinned++;
				else
					pskipped++;
			} else if (type == F_OVL && len == 8 && cur >= 0) {
				GROW(povl, povlcap, npovl + 1);
				memcpy(&povl[npovl++], data, 8);
			} else if (type == F_END && len == 8 && cur >= 0) {
				uint32_t end[2];
				memcpy(end, data, 8);
				owrite(pending.p, pending.len);
				npinned += ppinned;
				nskipped += pskipped;
				npinned_dropped += end[1];
				for (size_t k = 0; k < npovl; k++) {
					GROW(ovl_roots, ovl_rootcap, novl_roots + 1);
					ovl_roots[novl_roots++] = povl[k];
				}
				from = (size_t)cur + 1;
				cur = -1;
			} else if (type == F_DONE) {
				finished = 1;
				from = nprocs;
				break;
			}
		}
		status = worker_stop(&w, !finished);
		if (finished)
			break;
		/* the worker stalled or died: blame the process it was in (or the next one it would
		 * have begun: between two processes it does nothing that can block or fail) */
		size_t blame = cur >= 0 ? (size_t)cur : from;
		while (cur < 0 && blame < nprocs && nss[procs[blame].ns].err)
			blame++;
		if (blame >= nprocs)
			break;
		const struct proc *pr = &procs[blame];
		struct buf msg = {0};
		if (stalled) {
			nstalled++;
			buf_printf(&msg,
				   "inspecting its cwd, root, exe and fds made no progress for %d ms (a file on a "
				   "stopped FUSE server or a dead NFS mount?); the worker was killed",
				   stall_ms);
		} else {
			buf_printf(&msg, "the worker inspecting it ended without finishing (");
			describe_status(&msg, status);
			buf_printf(&msg, ")");
		}
		emit_skipped(pr->pid, pr->comm, pr->commlen, "deep", stalled ? ETIMEDOUT : EIO, msg.p);
		free(msg.p);
		nskipped++;
		from = blame + 1;
	}
	free(pending.p);
	free(povl);
	return 0;
}

/* --layers: the worker opens DIR as the helper's parent (the runtime shim, which sees the
 * daemon's paths) sees it, and sends one layer record per entry whose diff/ has the inode of a
 * pinned overlay's root. */
struct layersjob {
	int ppid;
	const char *dir;
};

static void layers_worker(void *arg)
{
	const struct layersjob *j = arg;
	struct buf msg = {0};
	char root[32];
	snprintf(root, sizeof root, "%d/root", j->ppid);
	int rootfd = openat(procfd, root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int dfd = -1, e = 0;
	if (rootfd < 0) {
		e = errno;
		buf_printf(&msg, "cannot open /proc/%s: %s", root, strerror(e));
	} else {
		const char *rel = j->dir;
		while (*rel == '/')
			rel++;
		/* RESOLVE_IN_ROOT: an absolute symlink in DIR resolves in the parent's root, not ours */
		dfd = hx_openat2(rootfd, *rel ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC,
				 HX_RESOLVE_IN_ROOT | HX_RESOLVE_NO_MAGICLINKS);
		if (dfd < 0 && openat2_missing(errno)) {
			struct buf p = {0};
			buf_printf(&p, "%s%s", root, j->dir);
			dfd = openat(procfd, p.p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			free(p.p);
		}
		if (dfd < 0) {
			e = errno;
			buf_printf(&msg, "cannot open %s in the root of PID %d: %s", j->dir, j->ppid,
				   strerror(e));
		}
		close(rootfd);
	}
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (dfd >= 0 && !d) {
		e = errno;
		buf_printf(&msg, "cannot list %s: %s", j->dir, strerror(e));
		close(dfd);
	}
	if (!d) {
		int32_t e32 = e;
		wsend2(F_ERR, &e32, sizeof e32, msg.p, msg.len);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char diff[300];
		struct stat st;
		wsend(F_PROGRESS, NULL, 0);
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
				wsend_record(F_LAYER);
				break;
			}
		}
	}
	closedir(d);
	wsend(F_DONE, NULL, 0);
}

static void run_layers(int ppid, const char *dir)
{
	struct layersjob j = {ppid, dir};
	struct worker w;
	const char *comm = "";
	size_t commlen = 0;
	for (size_t i = 0; i < nprocs; i++)
		if (procs[i].pid == ppid) {
			comm = procs[i].comm;
			commlen = procs[i].commlen;
		}
	if (worker_start(&w, layers_worker, &j) < 0) {
		emit_skipped(ppid, comm, commlen, "layers", errno, "cannot start the layers worker");
		nskipped++;
		return;
	}
	int done = 0, r;
	uint32_t type, len;
	const char *data;
	struct buf msg = {0};
	while ((r = worker_next(&w, &type, &data, &len)) == 1) {
		if (type == F_LAYER) {
			owrite(data, len);
		} else if (type == F_ERR && len >= 4) {
			int32_t e;
			memcpy(&e, data, 4);
			buf_add(&msg, data + 4, len - 4);
			emit_skipped(ppid, comm, commlen, "layers", e, msg.p);
			nskipped++;
			done = 1;
			break;
		} else if (type == F_DONE) {
			done = 1;
			break;
		}
	}
	int status = worker_stop(&w, !done);
	if (!done) {
		msg.len = 0;
		if (r == -1) {
			nstalled++;
			buf_printf(&msg, "listing %s made no progress for %d ms; the worker was killed", dir,
				   stall_ms);
		} else {
			buf_printf(&msg, "the worker listing %s ended without finishing (", dir);
			describe_status(&msg, status);
			buf_printf(&msg, ")");
		}
		emit_skipped(ppid, comm, commlen, "layers", r == -1 ? ETIMEDOUT : EIO, msg.p);
		nskipped++;
	}
	free(msg.p);
}

/* The cmdline worker: for each PID from job->from on, in order, the start time and at most
 * cmdline_max bytes of the command line (reading it takes the target's memory-map lock, which
 * a process stuck on a dead filesystem may hold for ever). */
struct cmdjob {
	const int *pids;
	size_t n, from;
};

struct cmdhdr {
	uint32_t idx;
	int32_t err;
	uint64_t start;
	uint32_t truncated, pad;
};

static void cmdline_worker(void *arg)
{
	const struct cmdjob *j = arg;
	struct buf st = {0}, b = {0};
	for (size_t i = j->from; i < j->n; i++) {
		struct cmdhdr h = {(uint32_t)i, 0, 0, 0, 0};
		char name[16];
		snprintf(name, sizeof name, "%d", j->pids[i]);
		b.len = 0;
		int dfd = openat(procfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0) {
			h.err = errno;
		} else {
			const char *comm;
			size_t commlen;
			int ppid, more = 0;
			h.err = read_capped(dfd, "stat", &st, 4096, NULL);
			if (!h.err && parse_stat(st.p, st.len, &comm, &commlen, &ppid, &h.start) != 0)
				h.err = EPROTO;
			/* a kernel thread (PF_KTHREAD in field 9) has no memory, so no command line */
			if (!h.err && !(stat_flags(st.p, st.len) & 0x00200000U))
				h.err = read_capped(dfd, "cmdline", &b, cmdline_max, &more);
			h.truncated = (uint32_t)more;
			close(dfd);
		}
		wsend2(F_CMDLINE, &h, sizeof h, b.p, h.err ? 0 : b.len);
	}
	wsend(F_DONE, NULL, 0);
}

struct cmdres {
	int err;
	int truncated;
	uint64_t start;
	struct buf text;
};

static struct worker cmdw;
static int cmdw_on;

/* The command line of PID index i, from the running cmdline worker (started or restarted as
 * needed; r NULL: only that). A stall kills the worker: that PID's command line is reported
 * unread (ETIMEDOUT) and the next call starts a new worker from the next PID. -1 when no
 * worker can be started. */
static int get_cmdline(struct cmdjob *j, size_t i, struct cmdres *r)
{
	if (!cmdw_on) {
		j->from = i;
		if (worker_start(&cmdw, cmdline_worker, j) < 0)
			return -1;
		cmdw_on = 1;
	}
	if (!r)
		return 0;
	r->err = 0;
	r->truncated = 0;
	r->text.len = 0;
	for (;;) {
		uint32_t type, len;
		const char *data;
		int k = worker_next(&cmdw, &type, &data, &len);
		if (k == 1 && type == F_CMDLINE && len >= sizeof(struct cmdhdr)) {
			struct cmdhdr h;
			memcpy(&h, data, sizeof h);
			if (h.idx < i)
				continue;
			if (h.idx == i) {
				r->err = h.err;
				r->truncated = (int)h.truncated;
				r->start = h.start;
				buf_add(&r->text, data + sizeof h, len - sizeof h);
				return 0;
			}
		}
		if (k == 1 && type == F_PROGRESS)
			continue;
		/* stalled, or the worker ended or went out of step without PID i */
		worker_stop(&cmdw, 1);
		cmdw_on = 0;
		if (k == -1)
			nstalled++;
		r->err = k == -1 ? ETIMEDOUT : EIO;
		return 0;
	}
}

/* One namespace record. full: every line; else the lines matching a filter or on the helper's
 * root device, plus every ancestor of those (by parent mount ID, within the namespace). */
static void emit_namespace(struct ns *n, char **filters, size_t nfilters, int full,
			   const char *rootdev, int deep)
{
	static struct buf mi, esc;
	static size_t *loff, *llen, *map;
	static uint32_t *lid, *lpar;
	static unsigned char *sel;
	static size_t lcap, lcap2, lcap3, lcap4, lcap5, mapcap;
	int e = ns_read_mountinfo(n, &mi, &n->via);
	n->err = e;
	ostr("{\"type\":\"namespace\",\"mntns\":");
	ou64(n->ino);
	ostr(",\"pids\":[");
	for (size_t i = 0; i < n->nmembers; i++) {
		if (i)
			oputc(',');
		oint(procs[n->members[i]].pid);
	}
	ostr("],\"readVia\":");
	if (e) {
		char tmp[16];
		ostr("null,\"full\":");
		obool(full);
		ostr(",\"dropped\":0,\"mountinfo\":null,\"errno\":");
		ojson(errno_name(e, tmp, sizeof tmp));
		ostr(",\"message\":");
		ojson(strerror(e));
		ostr("}\n");
		return;
	}
	if (deep)
		collect_ids(n, &mi);

	/* the lines, in the kernel's order */
	size_t nl = 0;
	for (const char *p = mi.p, *end = mi.p + mi.len; p < end;) {
		const char *q = memchr(p, '\n', (size_t)(end - p));
		const char *le = q ? q : end;
		if (le > p) {
			GROW(loff, lcap, nl + 1);
			GROW(llen, lcap2, nl + 1);
			GROW(lid, lcap3, nl + 1);
			GROW(lpar, lcap4, nl + 1);
			GROW(sel, lcap5, nl + 1);
			loff[nl] = (size_t)(p - mi.p);
			llen[nl] = (size_t)(le - p);
			if (line_ids(p, llen[nl], &lid[nl], &lpar[nl]) != 0)
				lid[nl] = lpar[nl] = 0; /* 0 is never a mount ID */
			sel[nl] = (unsigned char)(full != 0);
			nl++;
		}
		p = le + 1;
	}
	if (!full) {
		size_t rdl = strlen(rootdev);
		for (size_t i = 0; i < nl; i++) {
			const char *p = mi.p + loff[i];
			size_t dl;
			const char *dev = field(p, llen[i], 2, &dl);
			if (dev && dl == rdl && memcmp(dev, rootdev, dl) == 0) {
				sel[i] = 1;
				continue;
			}
			escape_line(p, llen[i], &esc);
			for (size_t f = 0; !sel[i] && f < nfilters; f++)
				sel[i] = strstr(esc.p, filters[f]) != NULL;
		}
		/* mount ID -> line, then each selected line's ancestors, marked once: linear */
		size_t mc = 16;
		while (mc < nl * 2)
			mc *= 2;
		GROW(map, mapcap, mc);
		memset(map, 0, mc * sizeof *map);
		for (size_t i = 0; i < nl; i++) {
			if (!lid[i])
				continue;
			size_t h = hash64(lid[i]) & (mc - 1);
			while (map[h] && lid[map[h] - 1] != lid[i])
				h = (h + 1) & (mc - 1);
			if (!map[h])
				map[h] = i + 1;
		}
		for (size_t i = 0; i < nl; i++) {
			if (sel[i] != 1)
				continue;
			uint32_t up = lpar[i];
			for (;;) {
				size_t h = hash64(up) & (mc - 1);
				while (map[h] && lid[map[h] - 1] != up)
					h = (h + 1) & (mc - 1);
				if (!up || !map[h] || sel[map[h] - 1])
					break; /* outside this view, or already marked (its ancestors too) */
				size_t j = map[h] - 1;
				sel[j] = 2;
				up = lpar[j];
			}
		}
	}
	oint(n->via);
	ostr(",\"full\":");
	obool(full);
	/* the lines go after "dropped", which is known only once they are escaped */
	uint64_t dropped = 0, emitted = 0;
	struct buf lines = {0};
	for (size_t i = 0; i < nl; i++) {
		if (!sel[i])
			continue;
		escape_line(mi.p + loff[i], llen[i], &esc);
		if (esc.len > LINE_MAX_ESC || emitted >= LINES_MAX) {
			dropped++;
			continue;
		}
		if (emitted++)
			buf_add(&lines, ",", 1);
		/* a JSON string of printable ASCII: only '"' and '\\' need escaping */
		buf_reserve(&lines, esc.len * 2 + 2);
		lines.p[lines.len++] = '"';
		for (size_t k = 0; k < esc.len; k++) {
			char ch = esc.p[k];
			if (ch == '"' || ch == '\\')
				lines.p[lines.len++] = '\\';
			lines.p[lines.len++] = ch;
		}
		lines.p[lines.len++] = '"';
		lines.p[lines.len] = 0;
	}
	ostr(",\"dropped\":");
	ou64(dropped);
	ostr(",\"mountinfo\":[");
	owrite(lines.p, lines.len);
	ostr("]}\n");
	free(lines.p);
}

#define SCAN_BATCH 64

/* What the parent reads of one PID itself (none of it reaches a filesystem). */
enum slstate { SL_OK, SL_GONE, SL_FAILED, SL_LATER };
struct pslot {
	int pid, ppid, err;
	enum slstate state;
	const char *what; /* the file that failed (SL_FAILED) */
	const char *comm;
	size_t commlen;
	uint64_t start, mntns;
	struct buf stat, root, cg;
};

/* Reads stat, then (unless a possible kernel thread, left for after its command line is
 * known: SL_LATER; or `rest` is set) ns/mnt, root and cgroup, through one /proc/PID descriptor. */
static void scan_own(struct pslot *sl, int pid, int rest)
{
	char name[16];
	int e = 0;
	struct stat st;
	snprintf(name, sizeof name, "%d", pid);
	sl->pid = pid;
	int dfd = openat(procfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		e = errno;
	if (!rest) {
		if (!e)
			e = read_capped(dfd, "stat", &sl->stat, 4096, NULL);
		if (e) {
			sl->state = vanished(e) ? SL_GONE : SL_FAILED;
			sl->what = "stat";
			sl->err = e;
			goto out;
		}
		if (parse_stat(sl->stat.p, sl->stat.len, &sl->comm, &sl->commlen, &sl->ppid, &sl->start)) {
			errno = EPROTO;
			diag("cannot parse /proc/%d/stat", pid);
			sl->state = SL_GONE;
			goto out;
		}
		if (sl->ppid == 2 || pid == 2) {
			sl->state = SL_LATER;
			goto out;
		}
	} else if (e) {
		sl->state = vanished(e) ? SL_GONE : SL_FAILED;
		sl->what = "ns/mnt";
		sl->err = e;
		goto out;
	}
	sl->what = "ns/mnt";
	e = fstatat(dfd, "ns/mnt", &st, 0) < 0 ? errno : 0;
	sl->mntns = (uint64_t)st.st_ino;
	if (!e) {
		sl->what = "root";
		e = readlink_capped(dfd, "root", &sl->root);
	}
	if (!e) {
		int more;
		sl->what = "cgroup";
		e = read_capped(dfd, "cgroup", &sl->cg, CGROUP_MAX, &more);
		if (!e && more) {
			/* cut at the last whole line */
			char *nl = memrchr(sl->cg.p, '\n', sl->cg.len);
			sl->cg.len = nl ? (size_t)(nl - sl->cg.p) + 1 : 0;
		}
	}
	sl->state = !e ? SL_OK : vanished(e) ? SL_GONE : SL_FAILED;
	sl->err = e;
out:
	if (dfd >= 0)
		close(dfd);
}

static void emit_process(const struct pslot *sl, const struct cmdres *cr)
{
	ostr("{\"type\":\"process\",\"pid\":");
	oint(sl->pid);
	ostr(",\"ppid\":");
	oint(sl->ppid);
	ostr(",\"start\":");
	ou64(sl->start);
	ostr(",\"comm\":");
	ojsonn(sl->comm, sl->commlen);
	ostr(",\"cmdline\":[");
	for (size_t off = 0; off < cr->text.len;) {
		size_t l = strnlen(cr->text.p + off, cr->text.len - off);
		if (off)
			oputc(',');
		ojsonn(cr->text.p + off, l);
		off += l + 1;
	}
	ostr("],\"cmdlineTruncated\":");
	obool(cr->truncated);
	ostr(",\"mntns\":");
	ou64(sl->mntns);
	ostr(",\"root\":");
	ojsonn(sl->root.p, sl->root.len);
	ostr(",\"cgroup\":[");
	int first = 1;
	for (const char *p = sl->cg.p, *end = sl->cg.p + sl->cg.len; p < end;) {
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
}

static int cmd_scan(char **filters, size_t nfilters, int deep, const char *layers)
{
	struct buf broot = {0};
	struct cmdres cr = {0};
	struct stat st;
	size_t nproc_rec = 0;

	/* self */
	int selfpid = (int)getpid(), ppid = (int)getppid();
	if (readlink_capped(procfd, "self", &broot) == 0) {
		unsigned long long v;
		if (parse_uint(broot.p, broot.len, &v) == 0)
			selfpid = (int)v; /* the PID as /proc (the host's) numbers it */
	}
	if (fstatat(procfd, "self/ns/mnt", &st, 0) < 0) {
		emit_error("cannot stat /proc/self/ns/mnt");
		return 1;
	}
	uint64_t selfns = (uint64_t)st.st_ino;
	/* our root ("/"), via /proc so that musl makes no stat(2) call the allowlist lacks */
	if (fstatat(procfd, "self/root", &st, 0) < 0) {
		emit_error("cannot stat /proc/self/root");
		return 1;
	}
	char rootdev[32];
	snprintf(rootdev, sizeof rootdev, "%u:%u", major(st.st_dev), minor(st.st_dev));
	/* the parent's namespace is reported whole (it is the daemon's: the shim's) */
	uint64_t ppidns = 0;
	char path[64];
	snprintf(path, sizeof path, "%d/ns/mnt", ppid);
	if (fstatat(procfd, path, &st, 0) == 0)
		ppidns = (uint64_t)st.st_ino;
	else
		diag("cannot stat /proc/%s (no namespace is reported whole)", path);
	ostr("{\"type\":\"self\",\"pid\":");
	oint(selfpid);
	ostr(",\"ppid\":");
	oint(ppid);
	ostr(",\"mntns\":");
	ou64(selfns);
	ostr(",\"rootDev\":\"");
	ostr(rootdev);
	ostr("\"}\n");

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

	/* In batches: our own reads for up to SCAN_BATCH PIDs first, while the cmdline worker reads
	 * theirs, then their frames, in order (mostly waiting in the pipe by then: no wakeup per
	 * PID). A slot keeps what a PID's record needs until then. */
	struct cmdjob job = {pids, npids, 0};
	static struct pslot slots[SCAN_BATCH];
	for (size_t b0 = 0; b0 < npids; b0 += SCAN_BATCH) {
		size_t bn = npids - b0 < SCAN_BATCH ? npids - b0 : SCAN_BATCH;
		if (!cmdw_on && get_cmdline(&job, b0, NULL) < 0) {
			emit_error("cannot start the cmdline worker");
			return 1;
		}
		for (size_t k = 0; k < bn; k++)
			scan_own(&slots[k], pids[b0 + k], 0);
		for (size_t k = 0; k < bn; k++) {
			struct pslot *sl = &slots[k];
			/* always: the worker's stream stays in step with the PID list */
			if (get_cmdline(&job, b0 + k, &cr) < 0) {
				emit_error("cannot start the cmdline worker");
				return 1;
			}
			if (sl->state == SL_GONE)
				continue;
			if (sl->state == SL_FAILED && !strcmp(sl->what, "stat")) {
				emit_skipped(sl->pid, "", 0, "stat", sl->err, NULL);
				nskipped++;
				continue;
			}
			/* the worker read another process under this PID, or none: as if it had vanished */
			if (vanished(cr.err) || (cr.err == 0 && cr.start != sl->start))
				continue;
			if (sl->state == SL_LATER) {
				if (cr.err == 0 && cr.text.len == 0)
					continue; /* kernel thread */
				scan_own(sl, sl->pid, 1);
				if (sl->state == SL_GONE)
					continue;
			}
			if (sl->state == SL_FAILED) {
				emit_skipped(sl->pid, sl->comm, sl->commlen, sl->what, sl->err, NULL);
				nskipped++;
				continue;
			}
			emit_process(sl, &cr);
			nproc_rec++;
			if (cr.err) {
				struct buf msg = {0};
				if (cr.err == ETIMEDOUT)
					buf_printf(&msg,
						   "reading the command line made no progress for %d ms (the process "
						   "may be stuck on a dead filesystem); the reader was killed",
						   stall_ms);
				else if (cr.err == EIO)
					buf_printf(&msg, "the command line reader ended without an answer");
				emit_skipped(sl->pid, sl->comm, sl->commlen, "cmdline", cr.err, msg.p);
				free(msg.p);
				nskipped++;
			}

			size_t ni = ns_get(sl->mntns);
			GROW(procs, proccap, nprocs + 1);
			struct proc *pr = &procs[nprocs];
			pr->pid = sl->pid;
			pr->ns = ni;
			pr->start = sl->start;
			pr->slash = sl->root.len == 1 && sl->root.p[0] == '/';
			pr->commlen = sl->commlen < sizeof pr->comm ? sl->commlen : sizeof pr->comm;
			memcpy(pr->comm, sl->comm, pr->commlen);
			struct ns *n = &nss[ni];
			GROW(n->members, n->cap, n->nmembers + 1);
			n->members[n->nmembers++] = nprocs;
			nprocs++;
		}
	}
	if (cmdw_on) {
		worker_stop(&cmdw, 0); /* it has sent everything: let it finish */
		cmdw_on = 0;
	}
	free(pids);

	/* namespaces, in order of their lowest member PID */
	for (size_t k = 0; k < nns; k++) {
		struct ns *n = &nss[k];
		int full = nfilters == 0 || (ppidns && n->ino == ppidns);
		emit_namespace(n, filters, nfilters, full, rootdev, deep);
	}

	if (deep) {
		for (size_t k = 0; k < nns; k++) {
			size_t c = nallids + nss[k].nids + 1;
			allids = xrealloc(allids, c * sizeof *allids);
			if (nss[k].nids)
				memcpy(allids + nallids, nss[k].ids, nss[k].nids * sizeof *allids);
			nallids += nss[k].nids;
		}
		qsort(allids, nallids, sizeof *allids, cmp_u32);
		probe_kernel();
		if ((statx_mntid || fdinfo_mntid) && run_deep() < 0)
			return 1;
		if (layers && novl_roots)
			run_layers(ppid, layers);
	}

	ostr("{\"type\":\"summary\",\"processes\":");
	ou64(nproc_rec);
	ostr(",\"namespaces\":");
	ou64(nns);
	ostr(",\"skipped\":");
	ou64(nskipped);
	ostr(",\"pinned\":");
	ou64(npinned);
	ostr(",\"pinnedDropped\":");
	ou64(npinned_dropped);
	ostr(",\"stalled\":");
	ou64(nstalled);
	ostr("}\n");
	free(broot.p);
	free(cr.text.p);
	return 0;
}

/* ------------------------------------------------------------------ */
/* umount                                                              */

enum stage { ST_OK, ST_PARSE, ST_OPEN, ST_SETNS, ST_CHROOT, ST_RESOLVE, ST_CHECK, ST_UMOUNT };
static const char *const stage_names[] = {"ok",      "parse",   "open",  "setns",
					  "chroot",  "resolve", "check", "umount"};
#define ST_LAST ST_UMOUNT

enum verify { V_AUTO, V_STATX, V_FDINFO, V_MOUNTINFO };
static const char *const verify_names[] = {"auto", "statx", "fdinfo", "mountinfo"};
static enum verify verify_mode = V_AUTO;

struct outcome {
	enum stage stage;
	int err;
	enum verify verified;
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

struct order {
	int has_id;
	uint64_t ns, id, fp;
	size_t npids;
	int pids[MEMBERS_MAX];
	uint64_t starts[MEMBERS_MAX];
	const char *mp; /* raw (escaped), NULL if absent */
	struct buf path; /* decoded */
};

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

/* Decodes the raw mount point, which must be exactly in the form the helper prints (printable
 * ASCII; \NNN only for bytes the kernel or the helper escape), so that it names one path and
 * compares equal to the mountinfo text. Then refuses what could leave the intended place:
 * empty, "." and ".." components. 0, or -1 with o set. */
static int decode_mp(const char *mp, struct buf *out, struct outcome *o)
{
	size_t n = strlen(mp);
	out->len = 0;
	buf_reserve(out, n);
	if (mp[0] != '/') {
		set_outcome(o, ST_PARSE, EINVAL, "mount point %.200s is not absolute", mp);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)mp[i];
		if (c == '\\') {
			if (i + 3 >= n || mp[i + 1] < '0' || mp[i + 1] > '3' || mp[i + 2] < '0' ||
			    mp[i + 2] > '7' || mp[i + 3] < '0' || mp[i + 3] > '7') {
				set_outcome(o, ST_PARSE, EINVAL,
					    "mount point %.200s has a backslash at offset %zu that is not an "
					    "octal escape \\NNN",
					    mp, i);
				return -1;
			}
			unsigned v = (unsigned)(mp[i + 1] - '0') * 64 + (unsigned)(mp[i + 2] - '0') * 8 +
				     (unsigned)(mp[i + 3] - '0');
			if (!(v == ' ' || v == '\\' || needs_escape((unsigned char)v)) || v == 0) {
				set_outcome(o, ST_PARSE, EINVAL,
					    "mount point %.200s has an escape \\%.3s at offset %zu that "
					    "mountinfo never has",
					    mp, mp + i + 1, i);
				return -1;
			}
			out->p[out->len++] = (char)v;
			i += 3;
		} else if (c <= 0x20 || c >= 0x7f) {
			set_outcome(o, ST_PARSE, EINVAL,
				    "mount point has byte 0x%02x at offset %zu: not the escaped form of "
				    "mountinfo",
				    c, i);
			return -1;
		} else {
			out->p[out->len++] = (char)c;
		}
	}
	out->p[out->len] = 0;
	if (out->len == 1) {
		set_outcome(o, ST_PARSE, EINVAL, "mount point / (the holder's root) is refused");
		return -1;
	}
	/* components: between the slashes of the decoded path (an escape never yields '/') */
	for (const char *p = out->p + 1;;) {
		const char *s = strchr(p, '/');
		size_t l = s ? (size_t)(s - p) : strlen(p);
		if (l == 0 || (l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.')) {
			set_outcome(o, ST_PARSE, EINVAL, "mount point %.200s has %s component; refused", mp,
				    l == 0 ? "an empty" : l == 1 ? "a \".\"" : "a \"..\"");
			return -1;
		}
		if (!s)
			break;
		p = s + 1;
	}
	return 0;
}

/* Parses "ns=… id=… fp=… pids=PID@START,… mp=RAW" (any order, each once, mp= last). Every
 * field is looked at, so that what parses is reported even when the order fails; the first
 * error is the message. 0, or -1 with out set. */
static int parse_order(const char *s, struct order *o, struct outcome *out)
{
	int seen_ns = 0, seen_id = 0, seen_fp = 0, seen_pids = 0, failed = 0;
	o->has_id = 0;
	o->npids = 0;
	o->mp = NULL;
	/* mp= is last and its value is the rest: no value before it holds a space */
	const char *mpf = strncmp(s, "mp=", 3) == 0 ? s : strstr(s, " mp=");
	if (mpf)
		o->mp = mpf + (mpf == s ? 3 : 4);
	const char *end = mpf ? mpf : s + strlen(s);
#define FAIL(...)                                                       \
	do {                                                            \
		if (!failed++)                                          \
			set_outcome(out, ST_PARSE, EINVAL, __VA_ARGS__); \
	} while (0)
	/* the fields before mp=: [s, end), one space between two (and none left over) */
	for (const char *p = s, *sp = s; end > s && sp; p = sp ? sp + 1 : p) {
		sp = memchr(p, ' ', (size_t)(end - p));
		const char *fe = sp ? sp : end;
		const char *eq = memchr(p, '=', (size_t)(fe - p));
		size_t fl = (size_t)(fe - p);
		if (!eq) {
			if (!fl)
				FAIL("empty field (fields are separated by one space)");
			else
				FAIL("field \"%.*s\" is not key=value", (int)(fl > 64 ? 64 : fl), p);
			continue;
		}
		size_t kl = (size_t)(eq - p), vl = (size_t)(fe - eq - 1);
		const char *v = eq + 1;
		unsigned long long x = 0;
		int *seen = kl == 2 && !memcmp(p, "ns", 2)     ? &seen_ns
			    : kl == 2 && !memcmp(p, "id", 2)   ? &seen_id
			    : kl == 2 && !memcmp(p, "fp", 2)   ? &seen_fp
			    : kl == 4 && !memcmp(p, "pids", 4) ? &seen_pids
							       : NULL;
		if (!seen) {
			FAIL("unknown field \"%.*s\"", (int)(kl > 64 ? 64 : kl), p);
			continue;
		}
		if ((*seen)++) {
			FAIL("field %.*s= given twice", (int)kl, p);
			continue;
		}
		int bad = 0;
		if (seen == &seen_ns) {
			bad = parse_uint(v, vl, &x) || x == 0;
			o->ns = x;
		} else if (seen == &seen_id) {
			bad = parse_uint(v, vl, &x) || x == 0 || x > 0xffffffffULL;
			if (!bad) {
				o->id = x;
				o->has_id = 1;
			}
		} else if (seen == &seen_fp) {
			bad = vl != 16;
			o->fp = 0;
			for (size_t i = 0; !bad && i < 16; i++) {
				char c = v[i];
				int d = c >= '0' && c <= '9'   ? c - '0'
					: c >= 'a' && c <= 'f' ? c - 'a' + 10
					: c >= 'A' && c <= 'F' ? c - 'A' + 10
							       : -1;
				bad = d < 0;
				o->fp = o->fp << 4 | (uint64_t)(d < 0 ? 0 : d);
			}
		} else {
			/* PID@START,… */
			for (const char *m = v; !bad && m < fe;) {
				const char *c = memchr(m, ',', (size_t)(fe - m));
				const char *me = c ? c : fe;
				const char *at = memchr(m, '@', (size_t)(me - m));
				unsigned long long pid, start;
				bad = !at || o->npids == MEMBERS_MAX || parse_uint(m, (size_t)(at - m), &pid) ||
				      pid == 0 || pid > 0x7fffffff ||
				      parse_uint(at + 1, (size_t)(me - at - 1), &start) || (c && c + 1 == fe);
				if (!bad) {
					o->pids[o->npids] = (int)pid;
					o->starts[o->npids++] = start;
				}
				m = me + 1;
			}
			bad = bad || o->npids == 0;
		}
		if (bad)
			FAIL("bad %.*s= value \"%.*s\"%s", (int)kl, p, (int)(vl > 200 ? 200 : vl), v,
			     seen == &seen_pids ? " (want 1 to 16 PID@START, comma-separated)"
			     : seen == &seen_fp ? " (want 16 hex digits)"
						 : "");
	}
	if (!o->mp)
		FAIL("missing mp= (it must be the last field)");
	const char *missing = !seen_ns ? "ns" : !seen_id ? "id" : !seen_fp ? "fp" : !seen_pids ? "pids" : NULL;
	if (missing)
		FAIL("order has no %s= field", missing);
#undef FAIL
	if (failed)
		return -1;
	return decode_mp(o->mp, &o->path, out);
}

/* The member the order is carried out through: descriptors of its /proc dir, mount namespace
 * and root, all bound to that very process. */
struct member {
	int pid;
	int dfd, nsfd, rootfd;
	uint64_t userns; /* inode of its user namespace, 0 if unknown */
};

static void member_close(struct member *m)
{
	if (m->dfd >= 0)
		close(m->dfd);
	if (m->nsfd >= 0)
		close(m->nsfd);
	if (m->rootfd >= 0)
		close(m->rootfd);
	m->dfd = m->nsfd = m->rootfd = -1;
}

/* Step 1: the first usable member, in the order's order; each refusal is kept for the message. */
static int pick_member(const struct order *o, struct member *m, struct outcome *out)
{
	static struct buf why, b;
	int first_err = 0;
	why.len = 0;
	for (size_t k = 0; k < o->npids; k++) {
		int pid = o->pids[k], e = 0;
		char name[16];
		const char *comm;
		size_t commlen;
		int ppid;
		uint64_t start = 0;
		struct stat st;
		m->pid = pid;
		m->dfd = m->nsfd = m->rootfd = -1;
		m->userns = 0;
		if (why.len)
			buf_add(&why, "; ", 2);
		snprintf(name, sizeof name, "%d", pid);
		m->dfd = openat(procfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (m->dfd < 0) {
			e = errno;
			if (vanished(e))
				buf_printf(&why, "PID %d is gone", pid);
			else
				buf_printf(&why, "cannot open /proc/%d: %s", pid, strerror(e));
			goto refused;
		}
		e = read_capped(m->dfd, "stat", &b, 4096, NULL);
		if (e) {
			if (vanished(e))
				buf_printf(&why, "PID %d is gone", pid);
			else
				buf_printf(&why, "cannot read /proc/%d/stat: %s", pid, strerror(e));
			goto refused;
		}
		if (parse_stat(b.p, b.len, &comm, &commlen, &ppid, &start) != 0) {
			e = EPROTO;
			buf_printf(&why, "cannot parse /proc/%d/stat", pid);
			goto refused;
		}
		if (start != o->starts[k]) {
			e = ESRCH;
			buf_printf(&why, "PID %d is now another process (start time %llu != %llu)", pid,
				   (unsigned long long)start, (unsigned long long)o->starts[k]);
			goto refused;
		}
		/* through the checked directory: these are that very process's, or fail */
		m->nsfd = openat(m->dfd, "ns/mnt", O_RDONLY | O_CLOEXEC);
		if (m->nsfd < 0 || fstat(m->nsfd, &st) < 0) {
			e = errno;
			if (vanished(e))
				buf_printf(&why, "PID %d is gone", pid);
			else
				buf_printf(&why, "cannot open /proc/%d/ns/mnt: %s", pid, strerror(e));
			goto refused;
		}
		if ((uint64_t)st.st_ino != o->ns) {
			e = ESTALE;
			buf_printf(&why, "PID %d is not in mount namespace %llu (it is in %llu)", pid,
				   (unsigned long long)o->ns, (unsigned long long)st.st_ino);
			goto refused;
		}
		m->rootfd = openat(m->dfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (m->rootfd < 0) {
			e = errno;
			if (vanished(e))
				buf_printf(&why, "PID %d is gone", pid);
			else
				buf_printf(&why, "cannot open /proc/%d/root: %s", pid, strerror(e));
			goto refused;
		}
		if (fstatat(m->dfd, "ns/user", &st, 0) == 0)
			m->userns = (uint64_t)st.st_ino;
		return 0;
	refused:
		if (!first_err)
			first_err = vanished(e) ? ESRCH : e;
		member_close(m);
	}
	m->pid = 0;
	set_outcome(out, ST_OPEN, first_err, "no usable member: %s", why.p);
	return -1;
}

struct resulthdr {
	int32_t stage, err, verified;
};

/* Child side: report the stage reached (the parent blames it if we stall). */
static void child_stage(enum stage s)
{
	int32_t v = (int32_t)s;
	wsend(F_STAGE, &v, sizeof v);
}

/* Raw (escaped) text of mp up to and including its k-th component (1-based), for messages. */
static int raw_prefix_len(const char *mp, size_t k)
{
	size_t i = 0, seen = 0;
	while (mp[i]) {
		i++;
		while (mp[i] && mp[i] != '/')
			i++;
		if (++seen == k)
			break;
	}
	return (int)(i > 400 ? 400 : i);
}

/* Step 3: an O_PATH descriptor of the mount point, never following a symlink: openat2 with
 * RESOLVE_NO_SYMLINKS (and BENEATH: nothing outside the holder's root), else one
 * openat(O_NOFOLLOW) per component, refusing any that is a symlink. -1 with r set. */
static int resolve_nofollow(int rootfd, const struct order *o, struct outcome *r)
{
	const char *rel = o->path.p + 1;
	int e = ENOSYS;
	for (int tries = 0; tries < 64; tries++) {
		int fd = hx_openat2(rootfd, rel, O_PATH | O_CLOEXEC,
				    HX_RESOLVE_NO_SYMLINKS | HX_RESOLVE_NO_MAGICLINKS | HX_RESOLVE_BENEATH);
		if (fd >= 0)
			return fd;
		e = errno;
		if (e != EAGAIN && e != EINTR)
			break; /* EAGAIN: a concurrent rename; try again */
	}
	if (!openat2_missing(e)) {
		if (e == ELOOP)
			set_outcome(r, ST_RESOLVE, e, "a component of %s is a symbolic link; refused", o->mp);
		else if (e == EXDEV)
			set_outcome(r, ST_RESOLVE, e, "%s leads outside the holder's root; refused", o->mp);
		else
			set_outcome(r, ST_RESOLVE, e, "cannot resolve %s: %s", o->mp, strerror(e));
		return -1;
	}
	/* no openat2 (before Linux 5.6): component by component */
	int cur = rootfd;
	size_t k = 0;
	for (const char *p = rel; *p;) {
		const char *s = strchr(p, '/');
		size_t l = s ? (size_t)(s - p) : strlen(p);
		char comp[256];
		k++;
		if (l >= sizeof comp) {
			if (cur != rootfd)
				close(cur);
			set_outcome(r, ST_RESOLVE, ENAMETOOLONG, "component %zu of %s is too long", k, o->mp);
			return -1;
		}
		memcpy(comp, p, l);
		comp[l] = 0;
		int next = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		e = errno;
		if (cur != rootfd)
			close(cur);
		if (next < 0) {
			set_outcome(r, ST_RESOLVE, e, "cannot resolve %.*s (in %s): %s",
				    raw_prefix_len(o->mp, k), o->mp, o->mp, strerror(e));
			return -1;
		}
		/* O_NOFOLLOW gave the link itself if it is one; its type never changes, so a
		 * cached answer (DONT_SYNC) is exact */
		struct hx_statx sx;
		unsigned mode;
		if (hx_statx(next, "", HX_AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | HX_AT_STATX_DONT_SYNC,
			     HX_STATX_TYPE, &sx) == 0 && (sx.mask & HX_STATX_TYPE)) {
			mode = sx.mode;
		} else {
			struct stat st;
			if (fstat(next, &st) < 0) {
				e = errno;
				close(next);
				set_outcome(r, ST_RESOLVE, e, "cannot stat %.*s (in %s): %s",
					    raw_prefix_len(o->mp, k), o->mp, o->mp, strerror(e));
				return -1;
			}
			mode = st.st_mode;
		}
		if (S_ISLNK(mode)) {
			close(next);
			set_outcome(r, ST_RESOLVE, ELOOP, "%.*s (a component of %s) is a symbolic link; refused",
				    raw_prefix_len(o->mp, k), o->mp, o->mp);
			return -1;
		}
		cur = next;
		p = s ? s + 1 : p + l;
	}
	return cur;
}

/* Step 4: in our own mountinfo (after setns + chroot: the holder's view), mount id must be at
 * mp with the scanned line (fingerprint) and nothing stacked on it there. Fills the device of
 * that line. 0, or -1 with r set. */
static int check_mountinfo(const struct order *o, unsigned *dmaj, unsigned *dmin, struct outcome *r)
{
	static struct buf mi, esc, now;
	int e = read_at(procfd, "self/mountinfo", &mi);
	if (e) {
		set_outcome(r, ST_CHECK, e, "cannot read mountinfo: %s", strerror(e));
		return -1;
	}
	size_t mplen = strlen(o->mp);
	int found = 0; /* 1 ok, 2 elsewhere, 3 other line */
	unsigned long long cover = 0;
	for (const char *p = mi.p, *end = mi.p + mi.len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		escape_line(p, (size_t)(le - p), &esc);
		p = le + 1;
		size_t l2 = 0, l4 = 0;
		uint32_t mid, parent;
		const char *f2 = field(esc.p, esc.len, 2, &l2);
		const char *f4 = field(esc.p, esc.len, 4, &l4);
		if (!f2 || !f4 || line_ids(esc.p, esc.len, &mid, &parent) != 0)
			continue;
		int here = l4 == mplen && memcmp(f4, o->mp, mplen) == 0;
		if (mid == o->id) {
			if (!here) {
				now.len = 0;
				buf_add(&now, f4, l4 > 400 ? 400 : l4);
				found = 2;
			} else if (fnv1a64(esc.p, esc.len) != o->fp) {
				found = 3;
			} else {
				char dev[32];
				found = 1;
				snprintf(dev, sizeof dev, "%.*s", (int)(l2 < 31 ? l2 : 31), f2);
				if (sscanf(dev, "%u:%u", dmaj, dmin) != 2)
					*dmaj = *dmin = ~0U;
			}
		} else if (parent == o->id && here) {
			cover = mid;
		}
	}
	if (found == 3) {
		set_outcome(r, ST_CHECK, ESTALE,
			    "mount %llu at %s changed since the scan (its mountinfo line differs)",
			    (unsigned long long)o->id, o->mp);
		return -1;
	}
	if (found != 1) {
		set_outcome(r, ST_CHECK, ESTALE, "mount %llu is not at %s (now: %s%s)",
			    (unsigned long long)o->id, o->mp, found ? "at " : "absent", found ? now.p : "");
		return -1;
	}
	if (cover) {
		set_outcome(r, ST_CHECK, ESTALE, "mount %llu at %s is covered by mount %llu",
			    (unsigned long long)o->id, o->mp, cover);
		return -1;
	}
	return 0;
}

/* Step 5: the descriptor is that very mount. 0, or -1 with r set; r->verified: the method. */
static int verify_fd(int fd, const struct order *o, unsigned dmaj, unsigned dmin, struct outcome *r)
{
	enum verify v = verify_mode;
	if (v == V_AUTO || v == V_STATX) {
		struct hx_statx sx;
		int ok = hx_statx(fd, "", HX_AT_EMPTY_PATH | HX_AT_STATX_DONT_SYNC, HX_STATX_MNT_ID, &sx) == 0;
		int e = ok ? 0 : errno;
		if (ok && (sx.mask & HX_STATX_MNT_ID) && sx.mnt_id != 0) {
			r->verified = V_STATX;
			if (sx.mnt_id == o->id)
				return 0;
			set_outcome(r, ST_CHECK, ESTALE, "%s resolves to mount %llu, not %llu (statx)", o->mp,
				    (unsigned long long)sx.mnt_id, (unsigned long long)o->id);
			return -1;
		}
		if (!ok && e != ENOSYS && e != EINVAL) {
			set_outcome(r, ST_CHECK, e, "statx of the descriptor of %s: %s", o->mp, strerror(e));
			return -1;
		}
		if (v == V_STATX) {
			set_outcome(r, ST_CHECK, ENOSYS, "--verify statx: %s", ok ? "statx does not report mount IDs here" : strerror(e));
			return -1;
		}
	}
	if (v == V_AUTO || v == V_FDINFO) {
		uint64_t id;
		int e = fdinfo_mnt_id(fd, &id);
		if (e == 0 && id != 0) {
			r->verified = V_FDINFO;
			if (id == o->id)
				return 0;
			set_outcome(r, ST_CHECK, ESTALE, "%s resolves to mount %llu, not %llu (fdinfo)", o->mp,
				    (unsigned long long)id, (unsigned long long)o->id);
			return -1;
		}
		if (e && e != ENODATA) {
			set_outcome(r, ST_CHECK, e, "cannot read /proc/self/fdinfo/%d: %s", fd, strerror(e));
			return -1;
		}
		if (v == V_FDINFO) {
			set_outcome(r, ST_CHECK, ENOSYS, "--verify fdinfo: /proc/self/fdinfo shows no mnt_id here");
			return -1;
		}
	}
	/* oldest kernels: the descriptor's device must be the mount's */
	struct stat st;
	r->verified = V_MOUNTINFO;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		set_outcome(r, ST_CHECK, e, "cannot stat the descriptor of %s: %s", o->mp, strerror(e));
		return -1;
	}
	if (major(st.st_dev) == dmaj && minor(st.st_dev) == dmin)
		return 0;
	set_outcome(r, ST_CHECK, ESTALE, "%s resolves to device %u:%u, not %u:%u of mount %llu (mountinfo)",
		    o->mp, major(st.st_dev), minor(st.st_dev), dmaj, dmin, (unsigned long long)o->id);
	return -1;
}

struct childjob {
	const struct order *o;
	const struct member *m;
};

/* Steps 2-6, in the forked child; each stage is announced to the parent before it starts. */
static void umount_child(void *arg)
{
	const struct childjob *j = arg;
	const struct order *o = j->o;
	const struct member *m = j->m;
	struct outcome r = {ST_OK, 0, V_AUTO, {0}};
	char fdname[16];
	int fd = -1;
	/* our own /proc/self/fd, opened before setns: the umount goes through its magic link */
	int selffd = openat(procfd, "self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	child_stage(ST_SETNS);
	if (selffd < 0) {
		int e = errno;
		set_outcome(&r, ST_SETNS, e, "cannot open /proc/self/fd: %s", strerror(e));
		goto done;
	}
	if (setns(m->nsfd, CLONE_NEWNS) < 0) {
		int e = errno;
		set_outcome(&r, ST_SETNS, e, "setns into mount namespace %llu of PID %d: %s",
			    (unsigned long long)o->ns, m->pid, strerror(e));
		goto done;
	}
	child_stage(ST_CHROOT);
	if (fchdir(m->rootfd) < 0 || chroot(".") < 0) {
		int e = errno;
		set_outcome(&r, ST_CHROOT, e, "chroot to the root of PID %d: %s", m->pid, strerror(e));
		goto done;
	}
	child_stage(ST_RESOLVE);
	fd = resolve_nofollow(m->rootfd, o, &r);
	if (fd < 0)
		goto done;
	child_stage(ST_CHECK);
	unsigned dmaj = ~0U, dmin = ~0U;
	if (check_mountinfo(o, &dmaj, &dmin, &r) < 0 || verify_fd(fd, o, dmaj, dmin, &r) < 0)
		goto done;
	child_stage(ST_UMOUNT);
	/* the verified descriptor, never the path again: /proc/self/fd/N is a magic link to it,
	 * which umount2 follows (so no UMOUNT_NOFOLLOW) */
	snprintf(fdname, sizeof fdname, "%d", fd);
	if (fchdir(selffd) < 0) {
		int e = errno;
		set_outcome(&r, ST_UMOUNT, e, "cannot enter /proc/self/fd: %s", strerror(e));
		goto done;
	}
	if (umount2(fdname, MNT_DETACH) < 0) {
		int e = errno;
		set_outcome(&r, ST_UMOUNT, e, "umount2 of mount %llu at %s (through /proc/self/fd/%d): %s",
			    (unsigned long long)o->id, o->mp, fd, strerror(e));
		goto done;
	}
	r.stage = ST_OK;
	r.err = 0;
done:
	{
		struct resulthdr h = {(int32_t)r.stage, r.err, (int32_t)r.verified};
		wsend2(F_RESULT, &h, sizeof h, r.msg.p, r.msg.len);
	}
}

/* Steps 2-6: run the child, wait for it with the stall deadline. */
static void run_child(const struct order *o, const struct member *m, struct outcome *out)
{
	struct childjob j = {o, m};
	struct worker w;
	if (worker_start(&w, umount_child, &j) < 0) {
		int e = errno;
		set_outcome(out, ST_SETNS, e, "cannot fork: %s", strerror(e));
		return;
	}
	enum stage reached = ST_SETNS;
	for (;;) {
		uint32_t type, len;
		const char *data;
		int k = worker_next(&w, &type, &data, &len);
		if (k == 1 && type == F_STAGE && len == 4) {
			int32_t s;
			memcpy(&s, data, 4);
			if (s >= ST_SETNS && s <= ST_LAST)
				reached = (enum stage)s;
			continue;
		}
		if (k == 1 && type == F_RESULT && len >= sizeof(struct resulthdr)) {
			struct resulthdr h;
			memcpy(&h, data, sizeof h);
			out->stage = h.stage >= ST_OK && h.stage <= ST_LAST ? (enum stage)h.stage : reached;
			out->err = h.err;
			out->verified = h.verified >= V_AUTO && h.verified <= V_MOUNTINFO ? (enum verify)h.verified
											  : V_AUTO;
			out->msg.len = 0;
			buf_add(&out->msg, data + sizeof h, len - sizeof h);
			worker_stop(&w, 1); /* it has said all; nothing it does now matters */
			return;
		}
		if (k == 1)
			continue;
		/* killing an exited child (a zombie) changes nothing; one still there must not hold us */
		int status = worker_stop(&w, 1);
		if (k == -1) {
			nstalled++;
			if (reached == ST_RESOLVE)
				set_outcome(out, reached, ETIMEDOUT,
					    "resolving %s made no progress for %d ms (a stopped FUSE server or a "
					    "dead NFS mount on the way?); the child was killed",
					    o->mp, stall_ms);
			else
				set_outcome(out, reached, ETIMEDOUT,
					    "no progress for %d ms at stage %s; the child was killed", stall_ms,
					    stage_names[reached]);
		} else {
			struct buf d = {0};
			describe_status(&d, status);
			set_outcome(out, reached, EIO, "the child ended at stage %s without a result (%s)",
				    stage_names[reached], d.p);
			free(d.p);
		}
		return;
	}
}

static int cmd_umount(char **orders, size_t n)
{
	size_t ok = 0, failed = 0;
	struct outcome o = {0};
	struct order ord = {0};
	struct stat st;
	uint64_t selfuserns = 0;
	if (fstatat(procfd, "self/ns/user", &st, 0) == 0)
		selfuserns = (uint64_t)st.st_ino;
	else
		diag("cannot stat /proc/self/ns/user (locked mounts are not told apart)");
	for (size_t i = 0; i < n; i++) {
		struct member m = {0, -1, -1, -1, 0};
		int used = 0;
		o.stage = ST_OK;
		o.err = 0;
		o.verified = V_AUTO;
		o.msg.len = 0;
		if (parse_order(orders[i], &ord, &o) == 0 && pick_member(&ord, &m, &o) == 0) {
			used = 1;
			run_child(&ord, &m, &o);
		}
		int locked = used && o.stage == ST_UMOUNT && o.err == EINVAL && m.userns && selfuserns &&
			     m.userns != selfuserns;
		if (locked)
			buf_printf(&o.msg, " (a locked mount: PID %d lives in another user namespace)", m.pid);
		ostr("{\"type\":\"result\",\"index\":");
		ou64(i);
		ostr(",\"pid\":");
		if (used)
			oint(m.pid);
		else
			ostr("null");
		ostr(",\"mountId\":");
		if (ord.has_id)
			ou64(ord.id);
		else
			ostr("null");
		ostr(",\"mountPoint\":");
		if (ord.mp)
			ojson(ord.mp);
		else
			ostr("null");
		if (o.stage == ST_OK) {
			ostr(",\"ok\":true,\"verifiedBy\":");
			ojson(verify_names[o.verified]);
			ostr("}\n");
			ok++;
		} else {
			char tmp[16];
			ostr(",\"ok\":false,\"stage\":");
			ojson(stage_names[o.stage]);
			ostr(",\"errno\":");
			ojson(errno_name(o.err, tmp, sizeof tmp));
			ostr(",\"message\":");
			ojsonn(o.msg.p ? o.msg.p : "", o.msg.len);
			ostr(",\"locked\":");
			obool(locked);
			ostr("}\n");
			failed++;
			fprintf(stderr, "helper: order %zu failed at %s: %.*s\n", i, stage_names[o.stage],
				(int)o.msg.len, o.msg.p ? o.msg.p : "");
		}
		member_close(&m);
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
	free(ord.path.p);
	return 0;
}

/* ------------------------------------------------------------------ */

static int usage(const char *why)
{
	if (why)
		fprintf(stderr, "helper: %s\n", why);
	fputs("usage: docker-leak-helper version\n"
	      "       docker-leak-helper scan [--filter SUBSTRING]... [--deep [--layers DIR]]\n"
	      "                               [--stall-ms N] [--cmdline-max N]\n"
	      "       docker-leak-helper umount [--verify auto|statx|fdinfo|mountinfo] [--stall-ms N]\n"
	      "                                 'ns=INO id=ID fp=HEX16 pids=PID@START,... mp=RAW'...\n",
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

/* "--name VALUE" or "--name=VALUE" at argv[*i]: the value (advancing *i), or NULL. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, int *missing)
{
	size_t l = strlen(name);
	*missing = 0;
	if (strncmp(argv[*i], name, l) != 0)
		return NULL;
	if (argv[*i][l] == '=')
		return argv[*i] + l + 1;
	if (argv[*i][l] != 0)
		return NULL;
	if (*i + 1 >= argc) {
		*missing = 1;
		return NULL;
	}
	return argv[++*i];
}

static int parse_num_opt(const char *v, unsigned long long lo, unsigned long long hi,
			 unsigned long long *out)
{
	return parse_uint(v, strlen(v), out) == 0 && *out >= lo && *out <= hi ? 0 : -1;
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
	} else if (!strcmp(verb, "scan") || !strcmp(verb, "umount")) {
		int scan = verb[0] == 's';
		char **filters = xrealloc(NULL, (size_t)argc * sizeof *filters);
		size_t nf = 0;
		int deep = 0, i;
		const char *layers = NULL;
		for (i = 2; i < argc; i++) {
			const char *v;
			int missing;
			unsigned long long x;
			if (!scan && strncmp(argv[i], "--", 2) != 0)
				break; /* the orders */
			if (!scan && !strcmp(argv[i], "--")) {
				i++;
				break;
			}
			if (scan && !strcmp(argv[i], "--deep")) {
				deep = 1;
			} else if (scan && ((v = opt_value(argc, argv, &i, "--filter", &missing)) || missing)) {
				if (missing)
					return usage("--filter needs a value");
				filters[nf++] = (char *)v;
			} else if (scan && ((v = opt_value(argc, argv, &i, "--layers", &missing)) || missing)) {
				if (missing || v[0] != '/')
					return usage("--layers needs an absolute directory");
				layers = v;
			} else if (scan && ((v = opt_value(argc, argv, &i, "--cmdline-max", &missing)) || missing)) {
				if (missing || parse_num_opt(v, 1, 1U << 24, &x))
					return usage("--cmdline-max needs a number of bytes from 1 to 16777216");
				cmdline_max = (size_t)x;
			} else if ((v = opt_value(argc, argv, &i, "--stall-ms", &missing)) || missing) {
				if (missing || parse_num_opt(v, 1, 3600000, &x))
					return usage("--stall-ms needs a number of milliseconds from 1 to 3600000");
				stall_ms = (int)x;
			} else if (!scan && ((v = opt_value(argc, argv, &i, "--verify", &missing)) || missing)) {
				int k;
				for (k = 0; v && k <= V_MOUNTINFO && strcmp(v, verify_names[k]); k++)
					;
				if (missing || k > V_MOUNTINFO)
					return usage("--verify needs auto, statx, fdinfo or mountinfo");
				verify_mode = (enum verify)k;
			} else {
				fprintf(stderr, "helper: unknown %s argument: %s\n", verb, argv[i]);
				return usage("bad arguments");
			}
		}
		if (open_proc() < 0)
			rc = 1;
		else if (scan)
			rc = cmd_scan(filters, nf, deep, layers);
		else
			rc = cmd_umount(argv + i, (size_t)(argc - i));
		free(filters);
	} else {
		fprintf(stderr, "helper: unknown verb: %s\n", verb);
		return usage("bad arguments");
	}
	oflush();
	return rc;
}
