/* trash.c: what a run replaces, removed on a thread beside it (svt.h, svt_trash). */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "svt.h"

#define TRASH_PREFIX ".svtwin-trash-"

struct svt_trash {
	char dir[4096];
	char path[4200];      /* dir/.svtwin-trash-PID */
	int made;             /* path exists */
	unsigned long seq;    /* names inside: <seq>-<basename>, never twice the same */
	svt_gate *gate;
	pthread_t th;
	int started;
	int done;
};

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	int r = flag == FTW_DP ? rmdir(p) : unlink(p);
	if (r != 0 && errno != ENOENT)
		svt_log_warn("cannot remove %s: %s", p, strerror(errno));
	return 0; /* on with the rest: what stays is reported, nothing is lost by it */
}

/* rm -r of path, not following links (a link inside goes, not what it points at). */
static int rm_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
	return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

int svt_trash_is_name(const char *name)
{
	return name && !strncmp(name, TRASH_PREFIX, strlen(TRASH_PREFIX));
}

static uint64_t left_bytes;

static int add_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)p;
	(void)ftw;
	if (flag == FTW_F)
		left_bytes += (uint64_t)st->st_blocks * 512;
	return 0;
}

int svt_trash_left(const char *path, uint64_t *bytes)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER; /* nftw has no user pointer */
	pthread_mutex_lock(&mu);
	left_bytes = 0;
	int rc = nftw(path, add_entry, 16, FTW_PHYS | FTW_MOUNT);
	*bytes = left_bytes;
	pthread_mutex_unlock(&mu);
	return rc == 0 ? 0 : -1;
}

int svt_trash_create(const char *dir, svt_trash **out, svt_err *err)
{
	if (!dir || !out)
		return svt_err_set(err, SVT_E_INPUT, "svt_trash_create: NULL argument");
	*out = NULL;
	svt_trash *t = calloc(1, sizeof(*t));
	if (!t)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for a trash");
	if (snprintf(t->dir, sizeof(t->dir), "%s", dir) >= (int)sizeof(t->dir) ||
	    snprintf(t->path, sizeof(t->path), "%s/" TRASH_PREFIX "%ld", dir, (long)getpid()) >=
		    (int)sizeof(t->path)) {
		free(t);
		return svt_err_set(err, SVT_E_INPUT, "path too long: %s", dir);
	}
	*out = t;
	return SVT_OK;
}

int svt_trash_put(svt_trash *t, const char *path, svt_err *err)
{
	if (!t || !path)
		return svt_err_set(err, SVT_E_INPUT, "svt_trash_put: NULL argument");
	if (t->started)
		return svt_err_set(err, SVT_E_INPUT, "svt_trash_put: the removal has started");
	struct stat st;
	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return SVT_OK;
		return svt_err_set(err, SVT_E_IO, "%s: %s", path, strerror(errno));
	}
	if (!t->made) {
		if (mkdir(t->path, 0700) != 0 && errno != EEXIST)
			goto direct;
		t->made = 1;
	}
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	char to[4500];
	if (snprintf(to, sizeof(to), "%s/%lu-%s", t->path, t->seq++, base) < (int)sizeof(to) &&
	    rename(path, to) == 0)
		return SVT_OK;
direct:
	/* No trash to be had here (another file system, a full directory): the old way. */
	if (rm_tree(path) != 0)
		return svt_err_set(err, SVT_E_IO, "cannot remove %s: %s", path, strerror(errno));
	return SVT_OK;
}

/* This run's trash, then any a killed run left in dir (no lock is needed: the caller holds
 * dir's, so no other live run has a trash there). */
static void trash_run(svt_trash *t)
{
	svt_gate_enter(t->gate);
	if (t->made && rm_tree(t->path) != 0)
		svt_log_warn("cannot remove %s: %s", t->path, strerror(errno));
	DIR *d = opendir(t->dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, TRASH_PREFIX, strlen(TRASH_PREFIX)))
			continue;
		char p[4500];
		snprintf(p, sizeof(p), "%s/%s", t->dir, e->d_name);
		if (rm_tree(p) != 0)
			svt_log_warn("cannot remove %s: %s", p, strerror(errno));
	}
	if (d)
		closedir(d);
	svt_gate_leave(t->gate);
	t->done = 1;
}

static void *trash_main(void *arg)
{
	trash_run(arg);
	return NULL;
}

void svt_trash_start(svt_trash *t, svt_gate *gate)
{
	if (!t || t->started)
		return;
	t->gate = gate;
	t->started = pthread_create(&t->th, NULL, trash_main, t) == 0 ? 1 : -1;
}

void svt_trash_destroy(svt_trash *t)
{
	if (!t)
		return;
	if (t->started == 1)
		pthread_join(t->th, NULL);
	else if (!t->done) {
		t->gate = NULL; /* the caller may hold a place of it: no second one here */
		trash_run(t);
	}
	free(t);
}
