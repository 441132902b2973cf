/* svt.c: errors, logging, progress and small file helpers shared by every module. */
#include "svt.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int svt_err_set(svt_err *err, int code, const char *fmt, ...)
{
	if (!err)
		return code;
	err->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

/* The code svt_err_prefix hands back: the callee's when it set one; a callee that failed
 * without setting its code (a bug) must not turn into success, so that becomes SVT_E_INPUT,
 * recorded in err too so that code and message agree. */
static int prefix_code(svt_err *err)
{
	if (err->code < 0)
		return err->code;
	err->code = SVT_E_INPUT;
	return SVT_E_INPUT;
}

int svt_err_prefix(svt_err *err, const char *fmt, ...)
{
	if (!err)
		return SVT_E_INPUT;
	char pre[SVT_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(pre, sizeof(pre) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return prefix_code(err);
	size_t pl = strlen(pre), ml = strnlen(err->msg, sizeof(err->msg) - 1);
	if (pl + 2 >= sizeof(err->msg))
		pl = sizeof(err->msg) - 3;
	/* Shift the old message right (truncating its tail), then put "pre: " in front. */
	size_t keep = ml < sizeof(err->msg) - 1 - (pl + 2) ? ml : sizeof(err->msg) - 1 - (pl + 2);
	memmove(err->msg + pl + 2, err->msg, keep);
	err->msg[pl + 2 + keep] = '\0';
	memcpy(err->msg, pre, pl);
	err->msg[pl] = ':';
	err->msg[pl + 1] = ' ';
	return prefix_code(err);
}

void svt_err_clear(svt_err *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}

const char *svt_status_name(int code)
{
	switch (code) {
	case SVT_OK: return "ok";
	case SVT_E_IO: return "io";
	case SVT_E_FORMAT: return "format";
	case SVT_E_NOMEM: return "nomem";
	case SVT_E_PROJ: return "proj";
	case SVT_E_HDF5: return "hdf5";
	case SVT_E_CUDA: return "cuda";
	case SVT_E_UNSUPPORTED: return "unsupported";
	case SVT_E_INPUT: return "input";
	case SVT_E_LIMIT: return "limit";
	case SVT_E_NOTFOUND: return "notfound";
	case SVT_E_NODEV: return "nodev";
	case SVT_E_BUSY: return "busy";
	default: return "unknown";
	}
}

static int log_level = 1;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void svt_log_set_level(int level) { log_level = level; }
int svt_log_level(void) { return log_level; }

static void log_v(const char *tag, const char *fmt, va_list ap)
{
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "svtwin: %s", tag);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&log_lock);
}

void svt_log_info(const char *fmt, ...)
{
	if (log_level < 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_v("", fmt, ap);
	va_end(ap);
}

void svt_log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_v("warning: ", fmt, ap);
	va_end(ap);
}

void svt_log_debug(const char *fmt, ...)
{
	if (log_level < 2)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_v("debug: ", fmt, ap);
	va_end(ap);
}

double svt_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double svt_thread_cpu(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return 0;
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

long svt_peak_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6)) {
			kib = strtol(line + 6, NULL, 10);
			break;
		}
	if (f)
		fclose(f);
	return kib;
}

void svt_progress_begin(svt_progress *p, const char *label, size_t total)
{
	p->label = label;
	p->total = total;
	p->done = 0;
	p->t_start = p->t_last = svt_now();
}

static void progress_print(svt_progress *p, int final)
{
	if (log_level < 1)
		return;
	double dt = svt_now() - p->t_start;
	double rate = dt > 0 ? (double)p->done / dt : 0.0;
	int tty = isatty(STDERR_FILENO);
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%ssvtwin: %s: %zu/%zu (%.1f/s, %.1f s)%s", tty ? "\r" : "", p->label,
		p->done, p->total, rate, dt, (tty && !final) ? "" : "\n");
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}

void svt_progress_step(svt_progress *p, size_t n)
{
	p->done += n;
	double t = svt_now();
	/* Plain lines (logs of batch jobs) every 5 s; a terminal 4 times a second. */
	double every = isatty(STDERR_FILENO) ? 0.25 : 5.0;
	if (t - p->t_last >= every && p->done < p->total) {
		p->t_last = t;
		progress_print(p, 0);
	}
}

void svt_progress_end(svt_progress *p) { progress_print(p, 1); }

int svt_file_read(const char *path, size_t max_bytes, uint8_t **data, size_t *size, svt_err *err)
{
	*data = NULL;
	*size = 0;
	int rc = SVT_OK;
	uint8_t *buf = NULL;
	FILE *f = fopen(path, "rb");
	if (!f)
		return svt_err_set(err, SVT_E_IO, "cannot open %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = svt_err_set(err, SVT_E_IO, "%s is not a regular file", path);
		goto done;
	}
	if ((uint64_t)st.st_size > max_bytes) {
		rc = svt_err_set(err, SVT_E_LIMIT, "%s is %lld bytes, over the limit of %zu", path,
				 (long long)st.st_size, max_bytes);
		goto done;
	}
	size_t n = (size_t)st.st_size;
	buf = malloc(n ? n : 1);
	if (!buf) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for %zu bytes of %s", n, path);
		goto done;
	}
	if (fread(buf, 1, n, f) != n) {
		rc = svt_err_set(err, SVT_E_IO, "short read on %s", path);
		goto done;
	}
	*data = buf;
	*size = n;
	buf = NULL;
done:
	free(buf);
	fclose(f);
	return rc;
}

int svt_dir_sync_of(const char *path, svt_err *err)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return svt_err_set(err, SVT_E_IO, "cannot open directory %s: %s", dir, strerror(errno));
	int rc = SVT_OK;
	if (fsync(fd) != 0 && errno != EINVAL)
		rc = svt_err_set(err, SVT_E_IO, "fsync of %s failed: %s", dir, strerror(errno));
	close(fd);
	return rc;
}

int svt_fd_write_all(int fd, int *direct, const void *buf, size_t n, const char *name,
		     svt_err *err)
{
	return svt_fd_pwrite_all(fd, direct, buf, n, 0, name, err);
}

int svt_fd_pwrite_all(int fd, int *direct, const void *buf, size_t n, uint64_t off,
		      const char *name, svt_err *err)
{
	const uint8_t *p = buf;
	size_t done = 0, piece = (size_t)4 << 20;
	while (done < n) {
		size_t want = n - done < piece ? n - done : piece, len = want;
		if (*direct)
			len = (want + SVT_BLOCK - 1) & ~(SVT_BLOCK - 1);
		ssize_t put = pwrite(fd, p + done, len, (off_t)(off + done));
		if (put < 0 && errno == EINTR)
			continue;
#ifdef O_DIRECT
		if (put < 0 && errno == EINVAL && *direct) {
			/* The file system opened O_DIRECT but refuses this write (an alignment it
			 * wants): the rest goes through the page cache, from where it stopped (the
			 * pieces before were whole blocks, so nothing was padded). */
			int fl = fcntl(fd, F_GETFL);
			if (fl == -1 || fcntl(fd, F_SETFL, fl & ~O_DIRECT) == -1)
				return svt_err_set(err, SVT_E_IO, "%s: cannot write %s buffered",
						   strerror(errno), name);
			*direct = 0;
			continue;
		}
#endif
		if (put <= 0)
			return svt_err_set(err, SVT_E_IO, "%s: cannot write %s",
					   strerror(put < 0 ? errno : ENOSPC), name);
		done += (size_t)put > want ? want : (size_t)put; /* past n: the last block's padding */
	}
	return SVT_OK;
}

/* path.tmp written (with O_DIRECT when try_direct and data is block-aligned), fsync'd,
 * renamed to path, the directory fsync'd: the one protocol of both atomic writes. */
static int write_atomic(const char *path, const void *data, size_t size, int try_direct,
			svt_err *err)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return svt_err_set(err, SVT_E_INPUT, "path too long: %s", path);
	int fd = -1, direct = 0, rc;
#ifdef O_DIRECT
	if (try_direct && ((uintptr_t)data & (SVT_BLOCK - 1)) == 0) {
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644);
		direct = fd >= 0;
	}
#endif
	if (fd < 0 && (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return svt_err_set(err, SVT_E_IO, "cannot create %s: %s", tmp, strerror(errno));
	rc = svt_fd_write_all(fd, &direct, data, size, tmp, err);
	if (!rc && direct && ftruncate(fd, (off_t)size) != 0)
		rc = svt_err_set(err, SVT_E_IO, "cannot truncate %s: %s", tmp, strerror(errno));
	if (!rc && fsync(fd) != 0)
		rc = svt_err_set(err, SVT_E_IO, "fsync of %s failed: %s", tmp, strerror(errno));
	if (close(fd) != 0 && !rc)
		rc = svt_err_set(err, SVT_E_IO, "close of %s failed: %s", tmp, strerror(errno));
	if (!rc && rename(tmp, path) != 0)
		rc = svt_err_set(err, SVT_E_IO, "rename %s -> %s failed: %s", tmp, path,
				 strerror(errno));
	if (rc) {
		unlink(tmp);
		return rc;
	}
	return svt_dir_sync_of(path, err);
}

int svt_file_write_atomic(const char *path, const void *data, size_t size, svt_err *err)
{
	return write_atomic(path, data, size, 0, err);
}

int svt_file_write_atomic_direct(const char *path, const void *data, size_t size,
				 svt_err *err)
{
	return write_atomic(path, data, size, 1, err);
}

int svt_mkdirs(const char *path, svt_err *err)
{
	char buf[4096];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return svt_err_set(err, SVT_E_INPUT, "path too long: %s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return svt_err_set(err, SVT_E_IO, "cannot create %s: %s", buf, strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST)
		return svt_err_set(err, SVT_E_IO, "cannot create %s: %s", buf, strerror(errno));
	return SVT_OK;
}

int svt_path_join(char *out, size_t cap, const char *dir, const char *name, svt_err *err)
{
	size_t dl = strlen(dir);
	int slash = dl > 0 && dir[dl - 1] != '/';
	int n = snprintf(out, cap, "%s%s%s", dir, slash ? "/" : "", name);
	if (n < 0 || (size_t)n >= cap)
		return svt_err_set(err, SVT_E_INPUT, "path too long: %s/%s", dir, name);
	return SVT_OK;
}

int svt_path_is_contained(const char *rel)
{
	if (!rel || !*rel || rel[0] == '/')
		return 0;
	const char *p = rel;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return 0;
		if (!e)
			break;
		p = e + 1;
	}
	return 1;
}

/* ---- Strict option values --------------------------------------------------------------- */

/* strto* skip leading blanks and stop at the first bad character; an option value is the
 * number and nothing else, so both are refused here. */
static int value_present(const char *opt, const char *s, const char *what, svt_err *err)
{
	if (!s || !*s)
		return svt_err_set(err, SVT_E_INPUT, "%s: an empty value is not %s", opt, what);
	if (isspace((unsigned char)s[0]))
		return svt_err_set(err, SVT_E_INPUT, "%s: '%s' is not %s", opt, s, what);
	return SVT_OK;
}

int svt_parse_int(const char *opt, const char *s, long long min, long long max, long long *out,
		  svt_err *err)
{
	int rc = value_present(opt, s, "an integer", err);
	if (rc)
		return rc;
	char *end = NULL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (end == s || *end)
		return svt_err_set(err, SVT_E_INPUT, "%s: '%s' is not an integer", opt, s);
	if (errno == ERANGE || v < min || v > max)
		return svt_err_set(err, SVT_E_INPUT, "%s: %s is out of range [%lld, %lld]", opt, s,
				   min, max);
	*out = v;
	return SVT_OK;
}

int svt_parse_u64(const char *opt, const char *s, uint64_t *out, svt_err *err)
{
	int rc = value_present(opt, s, "a non-negative integer", err);
	if (rc)
		return rc;
	/* strtoull takes "-1" and wraps it to 2^64 - 1 */
	if (s[0] == '-' || s[0] == '+')
		return svt_err_set(err, SVT_E_INPUT, "%s: '%s' is not a non-negative integer", opt, s);
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s || *end)
		return svt_err_set(err, SVT_E_INPUT, "%s: '%s' is not a non-negative integer", opt, s);
	if (errno == ERANGE)
		return svt_err_set(err, SVT_E_INPUT, "%s: %s is out of range [0, %llu]", opt, s,
				   (unsigned long long)UINT64_MAX);
	*out = (uint64_t)v;
	return SVT_OK;
}

int svt_parse_double(const char *opt, const char *s, double min, double max, double *out,
		     svt_err *err)
{
	int rc = value_present(opt, s, "a number", err);
	if (rc)
		return rc;
	char *end = NULL;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end || !isfinite(v))
		return svt_err_set(err, SVT_E_INPUT, "%s: '%s' is not a number", opt, s);
	if (errno == ERANGE || v < min || v > max)
		return svt_err_set(err, SVT_E_INPUT, "%s: %s is out of range [%g, %g]", opt, s, min,
				   max);
	*out = v;
	return SVT_OK;
}

int svt_parse_size(const char *opt, const char *s, int min, int max, int *w, int *h,
		   svt_err *err)
{
	int rc = value_present(opt, s, "WxH", err);
	if (rc)
		return rc;
	const char *x = strchr(s, 'x');
	char a[32];
	size_t na = x ? (size_t)(x - s) : 0;
	long long vw, vh;
	svt_err e2 = {0};
	if (!x || na == 0 || na >= sizeof(a))
		return svt_err_set(err, SVT_E_INPUT, "%s: '%s' is not WxH", opt, s);
	memcpy(a, s, na);
	a[na] = '\0';
	if (svt_parse_int(opt, a, min, max, &vw, &e2) || svt_parse_int(opt, x + 1, min, max, &vh, &e2))
		return svt_err_set(err, SVT_E_INPUT, "%s: '%s' is not WxH with each in [%d, %d]", opt,
				   s, min, max);
	*w = (int)vw;
	*h = (int)vh;
	return SVT_OK;
}

/* ---- CPU gate ------------------------------------------------------------------------------ */

/* A gate of one place hands it out in the order it was asked for (a ticket each). Unfair, a
 * thread that leaves and at once enters again wins the place back before a waiter wakes: a
 * --threads 1 build's view worker ran a whole clip's frames before the main thread stored the
 * first, so a clip's encoded frames were all alive at once (memory growing with the clip's
 * length: the samples' build with one 110-frame clip peaked at 531 MB, in turn 299 MB; two
 * 57-frame clips 495 -> 373 MB). With two places or more the gate stays
 * unfair: the worker's place changes hands less, and on a guest that packs runnable threads
 * onto one vCPU each hand-over risks an idle CPU (docs/benchmarks.md, stop 28). */
struct svt_gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int n, busy, peak;
	unsigned long next, serving; /* tickets: the next to give, the next to enter */
};

/* The gate the calling thread holds a place of (at most one). */
static __thread svt_gate *gate_held;

svt_gate *svt_gate_create(int n)
{
	svt_gate *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->n = n > 0 ? n : 1;
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	return g;
}

void svt_gate_destroy(svt_gate *g)
{
	if (!g)
		return;
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->cv);
	free(g);
}

void svt_gate_enter(svt_gate *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->mu);
	unsigned long me = g->next++;
	while (g->busy >= g->n || (g->n == 1 && me != g->serving))
		pthread_cond_wait(&g->cv, &g->mu);
	g->serving++;
	g->busy++;
	if (g->busy > g->peak)
		g->peak = g->busy;
	pthread_mutex_unlock(&g->mu);
	gate_held = g;
}

void svt_gate_leave(svt_gate *g)
{
	if (!g)
		return;
	gate_held = NULL;
	pthread_mutex_lock(&g->mu);
	g->busy--;
	/* One place: every waiter looks at its ticket (only the next one goes). */
	if (g->n == 1)
		pthread_cond_broadcast(&g->cv);
	else
		pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

int svt_gate_pause(svt_gate *g)
{
	if (!g || gate_held != g)
		return 0;
	svt_gate_leave(g);
	return 1;
}

void svt_gate_resume(svt_gate *g, int paused)
{
	if (paused)
		svt_gate_enter(g);
}

int svt_gate_waiting(const svt_gate *g)
{
	if (!g)
		return 0;
	pthread_mutex_lock((pthread_mutex_t *)&g->mu);
	int w = (int)(g->next - g->serving);
	pthread_mutex_unlock((pthread_mutex_t *)&g->mu);
	return w;
}

int svt_gate_peak(const svt_gate *g)
{
	if (!g)
		return 0;
	pthread_mutex_lock((pthread_mutex_t *)&g->mu);
	int p = g->peak;
	pthread_mutex_unlock((pthread_mutex_t *)&g->mu);
	return p;
}
