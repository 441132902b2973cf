/* lock.c: one build per output directory, with flock(2).
 *
 * flock rather than a pid file: the kernel releases the lock when the holder dies (kill -9,
 * OOM, power loss on local disks), so no stale lock ever needs a human to delete it, and the
 * test is atomic (no check-then-create race between two builds started together). */
#include "formats/formats.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define LOCK_NAME ".svtwin.lock"
#define LOCK_TEXT_MAX 512

struct fmt_lock {
	int fd;
	char previous[LOCK_TEXT_MAX]; /* a stale holder's text, "" after a clean release */
};

/* The holder's text, without the trailing newline (the lock file is small). */
static void read_text(int fd, char *buf, size_t cap)
{
	ssize_t n = pread(fd, buf, cap - 1, 0);
	buf[n > 0 ? n : 0] = 0;
	size_t len = strlen(buf);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = 0;
}

int fmt_lock_acquire(const char *dir, fmt_lock **out, svt_err *err)
{
	char path[4096];
	int rc = SVT_OK;
	fmt_lock *l = NULL;
	if (!dir || !out)
		return svt_err_set(err, SVT_E_INPUT, "fmt_lock_acquire: NULL argument");
	*out = NULL;
	if ((rc = svt_path_join(path, sizeof(path), dir, LOCK_NAME, err)))
		return rc;
	l = calloc(1, sizeof(*l));
	if (!l)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for a lock");
	l->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (l->fd < 0) {
		rc = svt_err_set(err, SVT_E_IO, "cannot create the lock %s: %s", path,
				 strerror(errno));
		goto done;
	}
	if (flock(l->fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		char holder[LOCK_TEXT_MAX];
		read_text(l->fd, holder, sizeof(holder));
		if (e == EWOULDBLOCK)
			rc = svt_err_set(err, SVT_E_BUSY,
					 "%s is in use by another build (%s): wait for it to end, or "
					 "write to another output directory",
					 dir, holder[0] ? holder : "holder unknown: it has not written "
								   "its name yet");
		else
			rc = svt_err_set(err, SVT_E_IO, "cannot lock %s: %s", path, strerror(e));
		goto done;
	}
	read_text(l->fd, l->previous, sizeof(l->previous));
	char host[256] = "?", when[32];
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "?");
	host[sizeof(host) - 1] = 0;
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	char text[LOCK_TEXT_MAX];
	int n = snprintf(text, sizeof(text), "pid %ld on %s, started %s\n", (long)getpid(), host,
			 when);
	if (ftruncate(l->fd, 0) != 0 || pwrite(l->fd, text, (size_t)n, 0) != n) {
		rc = svt_err_set(err, SVT_E_IO, "cannot write the lock %s: %s", path,
				 strerror(errno));
		goto done;
	}
	*out = l;
	l = NULL;
done:
	fmt_lock_release(l);
	return rc;
}

const char *fmt_lock_previous(const fmt_lock *l)
{
	return l && l->previous[0] ? l->previous : NULL;
}

void fmt_lock_release(fmt_lock *l)
{
	if (!l)
		return;
	if (l->fd >= 0) {
		/* Emptied only while held: a holder that was refused never touches the text. */
		if (flock(l->fd, LOCK_EX | LOCK_NB) == 0 && ftruncate(l->fd, 0) != 0)
			svt_log_warn("could not empty the lock file: the next build will report this "
				     "one as interrupted");
		close(l->fd);
	}
	free(l);
}
