/* dl.c: libraries loaded on first use (svt_dl_load, base/svt.h). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/svt.h"

#define DL_LIBS_MAX 8

/* One lock for every library: loads are a few per process, and holding it across dlopen is
 * what makes a second caller wait for the first instead of loading twice. */
static pthread_mutex_t dl_lock = PTHREAD_MUTEX_INITIALIZER;

/* The Debian package that ships soname, by Debian's rule for shared library packages
 * (policy 8.1): libgdal.so.32 -> libgdal32, libfoo2.so.3 -> libfoo2-3 (a dash when the name
 * ends in a digit). The message names it because that is what a user installs. */
static void dl_package(const char *soname, char *out, size_t cap)
{
	const char *so = strstr(soname, ".so.");
	if (!so) {
		snprintf(out, cap, "%s", soname);
		return;
	}
	int len = (int)(so - soname);
	int dash = len > 0 && soname[len - 1] >= '0' && soname[len - 1] <= '9';
	size_t major = strcspn(so + 4, ".");
	snprintf(out, cap, "%.*s%s%.*s", len, soname, dash ? "-" : "", (int)major, so + 4);
}

/* The first nh sonames of d, each as is (pkg 0) or as its package (pkg 1), joined by sep. */
static void dl_list(const svt_dl *d, size_t nh, int pkg, const char *sep, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = '\0';
	for (size_t k = 0; k < nh && len + 1 < cap; k++) {
		char name[128];
		if (pkg)
			dl_package(d->sonames[k], name, sizeof(name));
		else
			snprintf(name, sizeof(name), "%s", d->sonames[k]);
		int w = snprintf(out + len, cap - len, "%s%s", k ? sep : "", name);
		len = w < 0 ? cap : len + (size_t)w;
	}
}

/* Records d's failure (code and message, cut to fit: the names at its start matter most). */
static void dl_fail(svt_dl *d, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void dl_fail(svt_dl *d, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
	d->code = code;
}

/* Whether soname is hidden by SVT_DL_HIDE (colon-separated prefixes: "libgdal:libavcodec"):
 * a library that is installed made to look absent, so that tests can see what a machine
 * without it is told. */
static int dl_hidden(const char *soname)
{
	const char *h = getenv("SVT_DL_HIDE");
	while (h && *h) {
		size_t k = strcspn(h, ":");
		if (k && !strncmp(soname, h, k))
			return 1;
		h += k + (h[k] == ':');
	}
	return 0;
}

/* Opens every library of d and resolves every name; on failure fills d->code and d->msg and
 * closes what it opened, so that no half-filled table is ever used. Under dl_lock. */
static int dl_open(svt_dl *d)
{
	void *h[DL_LIBS_MAX];
	size_t nh = 0;
	char list[256], pkg[128];
	for (; d->sonames[nh]; nh++) {
		if (nh == DL_LIBS_MAX) {
			dl_fail(d, SVT_E_INPUT, "%s: over %d libraries", d->what, DL_LIBS_MAX);
			goto fail;
		}
		dlerror();
		int hidden = dl_hidden(d->sonames[nh]);
		if (hidden || !(h[nh] = dlopen(d->sonames[nh], RTLD_NOW | RTLD_LOCAL))) {
			const char *why = hidden ? "hidden by SVT_DL_HIDE" : dlerror();
			dl_package(d->sonames[nh], pkg, sizeof(pkg));
			dl_fail(d, SVT_E_UNSUPPORTED,
				"%s needs %s, which does not load (%s): install the Debian "
				"package %s (scripts/install-deps.sh)",
				d->what, d->sonames[nh], why ? why : "dlopen failed", pkg);
			goto fail;
		}
	}
	for (size_t i = 0; i < d->n; i++) {
		d->fns[i] = NULL;
		for (size_t k = 0; k < nh && !d->fns[i]; k++)
			d->fns[i] = dlsym(h[k], d->names[i]);
		if (d->fns[i])
			continue;
		/* The soname matched, the symbol is gone: a build of the library other than the
		 * one svtwin was compiled against. */
		dl_list(d, nh, 0, ", ", list, sizeof(list));
		dl_list(d, nh, 1, " ", pkg, sizeof(pkg));
		dl_fail(d, SVT_E_UNSUPPORTED,
			"%s needs %s, which %s here lacks (not the build svtwin was compiled "
			"against): install the Debian package %s (scripts/install-deps.sh) or "
			"rebuild svtwin", d->what, d->names[i], list, pkg);
		goto fail;
	}
	return 1;
fail:
	memset(d->fns, 0, d->n * sizeof(d->fns[0]));
	for (size_t k = 0; k < nh; k++)
		dlclose(h[k]);
	return -1;
}

int svt_dl_load(svt_dl *d, svt_err *err)
{
	if (!d || !d->sonames)
		return svt_err_set(err, SVT_E_INPUT, "svt_dl_load: NULL");
	/* Acquire: a caller that sees 1 also sees the filled table. */
	int st = __atomic_load_n(&d->state, __ATOMIC_ACQUIRE);
	if (!st) {
		pthread_mutex_lock(&dl_lock);
		st = d->state;
		if (!st) {
			st = dl_open(d);
			__atomic_store_n(&d->state, st, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&dl_lock);
	}
	if (st > 0)
		return SVT_OK;
	return svt_err_set(err, d->code, "%s", d->msg);
}
