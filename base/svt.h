/* svt.h: what every svtwin module shares: status codes, the error context, logging.
 *
 * Error convention (see docs/architecture.md): a fallible function returns 0 (SVT_OK) or a
 * negative svt_status and takes a caller-owned `svt_err *err` as its last argument. Only the
 * function that detects a failure writes the message (svt_err_set); a function whose callee
 * failed passes the code up unchanged (it may prefix context with svt_err_prefix). err may be
 * NULL when the caller does not want the message. Library code never calls exit() or abort().
 */
#ifndef SVT_H
#define SVT_H

#include <stddef.h>
#include <stdint.h>

#define SVT_VERSION "0.1.0"

/* Status codes, grouped by class. Values are stable: they appear in JSON reports. */
typedef enum svt_status {
	SVT_OK = 0,
	SVT_E_IO = -1,          /* open/read/write/rename/fsync failed */
	SVT_E_FORMAT = -2,      /* input is not what it claims to be (corrupt JPEG, bad GPX...) */
	SVT_E_NOMEM = -3,       /* allocation failed */
	SVT_E_PROJ = -4,        /* PROJ refused a CRS or a transformation */
	SVT_E_HDF5 = -5,        /* the HDF5 library failed */
	SVT_E_CUDA = -6,        /* a CUDA call failed (the caller may fall back to the C path) */
	SVT_E_UNSUPPORTED = -7, /* valid input we do not handle (a CMYK JPEG, an unknown model) */
	SVT_E_INPUT = -8,       /* a bad argument or a value out of range */
	SVT_E_LIMIT = -9,       /* a configured limit refused the input (image too large...) */
	SVT_E_NOTFOUND = -10,   /* a required file, tag or record is absent */
	SVT_E_NODEV = -11,      /* no usable GPU (not an error for callers that can fall back) */
	SVT_E_BUSY = -12,       /* another process holds what this one needs (an OUT's lock) */
} svt_status;

#define SVT_ERR_MSG_MAX 512

/* A caller-owned error context. Zero-initialise it (svt_err e = {0};). Not shared between
 * threads: each thread passes its own. */
typedef struct svt_err {
	int code;
	char msg[SVT_ERR_MSG_MAX];
} svt_err;

/* Sets err->code and formats err->msg; returns code so callers can `return svt_err_set(...)`.
 * err may be NULL. */
int svt_err_set(svt_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prepends "context: " to an already set message (for a caller adding where it failed);
 * returns the callee's err->code. Never success: when err->code is not negative (a callee
 * that failed without saying how) it becomes SVT_E_INPUT, and so is the return when err is
 * NULL (the callee's code is then unknown; callers that hold it return their rc instead). */
int svt_err_prefix(svt_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears err. */
void svt_err_clear(svt_err *err);

/* splitmix64's finaliser: a well-mixed 64-bit hash, the same on every machine. What every
 * seeded or partitioning rule hashes with (splits, cluster cells, random view yaws). */
static inline uint64_t svt_hash64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* A short stable name for a status ("io", "format", ...), for reports. */
const char *svt_status_name(int code);

/* Logging to stderr. Levels: 0 quiet (errors only), 1 normal, 2 verbose. Thread-safe. */
void svt_log_set_level(int level);
int svt_log_level(void);
void svt_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void svt_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void svt_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Progress on long work: prints "label: done/total (rate/s)" to stderr at most a few times a
 * second, in place on a terminal and as plain lines otherwise. Single-threaded use. */
typedef struct svt_progress {
	const char *label;
	size_t total, done;
	double t_start, t_last;
} svt_progress;
void svt_progress_begin(svt_progress *p, const char *label, size_t total);
void svt_progress_step(svt_progress *p, size_t n);
void svt_progress_end(svt_progress *p);

/* ---- CPU gate -----------------------------------------------------------------------------
 * At most n of the threads that share a gate do work at once: a thread enters before it works
 * and leaves before it blocks (waits for a queue, a join). It is how --threads bounds all of a
 * build's threads (views, depth, fusion, compression, writing, hashing) while they still
 * overlap when n allows. A thread holds at most one place of one gate at a time; pause and
 * resume let code that may or may not run in a holder (a writer called by the build's main
 * thread) give the place up around a blocking wait. NULL gates are open: every call is a
 * no-op. */
typedef struct svt_gate svt_gate;
/* A gate of n >= 1 places (NULL on no memory). */
svt_gate *svt_gate_create(int n);
void svt_gate_destroy(svt_gate *g);
/* Blocks until a place is free and takes it for the calling thread. */
void svt_gate_enter(svt_gate *g);
/* Gives the calling thread's place back (it must hold one). */
void svt_gate_leave(svt_gate *g);
/* Before a blocking wait: leaves g if the calling thread holds a place of it; returns whether
 * it did, for svt_gate_resume after the wait. */
int svt_gate_pause(svt_gate *g);
void svt_gate_resume(svt_gate *g, int paused);
/* The most places ever held at once (for tests). */
int svt_gate_peak(const svt_gate *g);
/* Threads waiting to enter now (for tests). A gate of one place hands it out in the order it
 * was asked for: a thread that leaves and enters again queues behind those already waiting. */
int svt_gate_waiting(const svt_gate *g);

/* Monotonic time in seconds. */
double svt_now(void);
/* CPU time of the calling thread in seconds (what a stage costs, whatever else runs). */
double svt_thread_cpu(void);

/* This process's peak resident memory in KiB (Linux's VmHWM: this program's own since its
 * exec, unlike getrusage's ru_maxrss, which keeps the RSS of the process that forked it); -1
 * where /proc does not say. */
long svt_peak_rss_kib(void);

/* Reads a whole file into a malloc'd buffer (caller frees), refusing files over max_bytes. */
int svt_file_read(const char *path, size_t max_bytes, uint8_t **data, size_t *size, svt_err *err);

/* Writes data to path atomically: path.tmp, fsync, rename, fsync of the directory. */
int svt_file_write_atomic(const char *path, const void *data, size_t size, svt_err *err);

/* The same for a large buffer that can go to the disk without the page cache (O_DIRECT):
 * copying it into fresh page-cache pages and writing those back costs more CPU than the
 * write itself (100 MB of files: 0.27-0.32 s CPU buffered, 0.02 s direct, on this project's
 * VMs). data must be SVT_BLOCK-aligned and readable up to size rounded up to SVT_BLOCK (the
 * last block goes out whole; the file is then cut to size). Where the file system refuses
 * O_DIRECT, the buffered write. */
#define SVT_BLOCK ((size_t)4096)
int svt_file_write_atomic_direct(const char *path, const void *data, size_t size,
				 svt_err *err);

/* Writes buf[0, n) to fd from offset 0 in pieces (pwrite; EINTR retried): with *direct (fd
 * opened O_DIRECT, buf as svt_file_write_atomic_direct asks), whole blocks, the last one
 * padded (the caller then cuts the file to n). A write the file system refuses with EINVAL
 * (an alignment O_DIRECT there wants) clears O_DIRECT on fd and *direct, and the rest goes
 * buffered, unpadded. An error names the file (name). */
int svt_fd_write_all(int fd, int *direct, const void *buf, size_t n, const char *name,
		     svt_err *err);
/* svt_fd_write_all of buf[0, n) at file offset off (a multiple of SVT_BLOCK with *direct). */
int svt_fd_pwrite_all(int fd, int *direct, const void *buf, size_t n, uint64_t off,
		      const char *name, svt_err *err);

/* fsyncs the directory that holds path, so a rename into it is durable. */
int svt_dir_sync_of(const char *path, svt_err *err);

/* mkdir -p. */
int svt_mkdirs(const char *path, svt_err *err);

/* Joins dir and name into out (size cap); fails with SVT_E_INPUT when it does not fit. */
int svt_path_join(char *out, size_t cap, const char *dir, const char *name, svt_err *err);

/* True when rel is a relative path that stays inside its root: no leading '/', no ".."
 * component, no NUL. Used to refuse hostile paths in capture metadata (kapture, CSV). */
int svt_path_is_contained(const char *rel);

/* ---- What a run replaces, removed beside it ---------------------------------------------
 * Freeing a large file's blocks costs the file system tens of milliseconds (45 ms for a
 * 218 MB shard on ext4), spent by whoever drops its last name: an unlink, or a rename of the
 * new file over it. A trash takes that off a run's critical path: svt_trash_put renames what
 * the run replaces into a folder of DIR at once (DIR/.svtwin-trash-PID, the same file system:
 * the old bytes leave their names as before), and a thread started by svt_trash_start removes
 * the folder while the run works, holding a place in the run's gate while it does. Trash
 * folders a killed run left in DIR go with it. */
typedef struct svt_trash svt_trash;
/* A trash in dir (nothing is created before the first put). */
int svt_trash_create(const char *dir, svt_trash **out, svt_err *err);
/* Takes path (a file or a folder, on dir's file system) from its name into the trash; a path
 * that does not exist is no error. Where the rename fails, path is removed at once. */
int svt_trash_put(svt_trash *t, const char *path, svt_err *err);
/* Starts the removal of what was put and of earlier runs' trash in dir (a thread that works in
 * a place of gate, NULL: none); what fails to go is reported (svt_log_warn), nothing else. */
void svt_trash_start(svt_trash *t, svt_gate *gate);
/* Waits for the removal (doing it here when it was never started) and frees t. NULL: no-op. */
void svt_trash_destroy(svt_trash *t);
/* 1 when a folder's name is a trash's (a killed run's, seen in its dir: `svtwin verify` says
 * so); svt_trash_left sums the disk blocks it still holds (0, or -1 when it cannot be read). */
int svt_trash_is_name(const char *name);
int svt_trash_left(const char *path, uint64_t *bytes);

/* ---- Strict option values ---------------------------------------------------------------
 * The whole of s must be the number (no sign for u64, no blanks, no trailing text, no
 * overflow), or the call fails with SVT_E_INPUT and a message that names the option
 * ("--seed: 'abc' is not an integer", "--clip-frames: 0 is out of range [1, 100000]").
 * opt is the option as the user wrote it ("--seed"); out is untouched on failure. Pure. */
int svt_parse_int(const char *opt, const char *s, long long min, long long max, long long *out,
		  svt_err *err);
int svt_parse_u64(const char *opt, const char *s, uint64_t *out, svt_err *err);
int svt_parse_double(const char *opt, const char *s, double min, double max, double *out,
		     svt_err *err);
/* A size "WxH", each a whole number in [min, max] ("--size: '12x' is not WxH"). */
int svt_parse_size(const char *opt, const char *s, int min, int max, int *w, int *h,
		   svt_err *err);

/* ---- Libraries loaded on first use ------------------------------------------------------
 * GDAL and FFmpeg are dlopen'd by the code that uses them, the first time it runs, instead of
 * being linked: the dynamic loader maps their ~150 dependent libraries at every start, which
 * cost each svtwin process (the program, every test binary) ~0.09 s it mostly never used.
 * A user keeps one svt_dl per library (or family: FFmpeg's four) in static storage, most
 * simply through SVT_DL_TABLE (below), and calls svt_dl_load(&table, err) in every entry
 * point that reaches the library, before using any of its functions. The sonames come from
 * the build (the Makefile reads the SONAME of the library the headers belong to), so the
 * pointers are typed from the same release's headers. */
typedef struct svt_dl {
	const char *what;            /* what needs it, for the message ("reading layers") */
	const char *const *sonames;  /* NULL-terminated: what dlopen loads, every one of them */
	const char *const *names;    /* n symbol names, each looked up in sonames' order */
	void **fns;                  /* n slots, filled in names' order */
	size_t n;
	/* The loader's own, zero at first: 0 not tried, 1 loaded, -1 failed (code, msg). */
	int state;
	int code;
	char msg[SVT_ERR_MSG_MAX];
} svt_dl;
#define SVT_DL_INIT(what, sonames, names, fns) \
	{(what), (sonames), (names), (fns), sizeof(names) / sizeof((names)[0]), 0, 0, {0}}

/* The whole table in one line, for a file that uses one library (or family) through it:
 *
 *     #define GDAL_FNS(X) X(GDALOpenEx) X(GDALClose) ...
 *     SVT_DL_TABLE(gdal_dl, "reading layers", GDAL_FNS, SVT_GDAL_SONAME);
 *     #define GDAL(f) SVT_DL_CALL(gdal_dl, f)
 *
 * declares the places of the functions LIST names, their names and slots and the svt_dl var
 * over the sonames given (one table per file: the places are named after the functions).
 * SVT_DL_CALL(var, f) is f's pointer, typed from f's declaration in the library's headers;
 * call it only after svt_dl_load(&var, ...) succeeded. */
#define SVT_DL_AT_(f) SVT_DL_AT_##f,
#define SVT_DL_NAME_(f) #f,
#define SVT_DL_TABLE(var, what, LIST, ...)                                                  \
	enum { LIST(SVT_DL_AT_) var##_count };                                               \
	static const char *const var##_names[] = {LIST(SVT_DL_NAME_)};                       \
	static const char *const var##_sonames[] = {__VA_ARGS__, NULL};                      \
	static void *var##_fns[var##_count];                                                 \
	static svt_dl var = SVT_DL_INIT(what, var##_sonames, var##_names, var##_fns)
#define SVT_DL_CALL(var, f) ((__typeof__(&f))var##_fns[SVT_DL_AT_##f])

/* Loads d's libraries once per process (dlopen RTLD_NOW | RTLD_LOCAL, never closed once
 * loaded) and fills d->fns; thread-safe (the first caller loads, the others wait for it; a
 * later call costs one atomic load). 0 when every symbol resolved; otherwise
 * SVT_E_UNSUPPORTED with a message naming what needs the library, the library that does not
 * load or the symbol none has, and the Debian package to install; every later call fails the
 * same way (no retry: a library does not appear while a process runs). SVT_DL_HIDE (a
 * colon-separated list of soname prefixes) makes the libraries it names fail to load, for
 * tests of what a machine without them is told. */
int svt_dl_load(svt_dl *d, svt_err *err);

#define SVT_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
