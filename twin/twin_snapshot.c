/* twin_snapshot.c: a snapshot of a store (a consistent copy, as of one commit): how a cluster
 * merge folds the ranks' parts into a shared --twin and then replaces it whole, so a killed
 * merge leaves the old twin or the new one. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "twin/twin_internal.h"

int twin_store_snapshot(const char *src_dir, const char *dst_dir, svt_err *err)
{
	if (!src_dir || !dst_dir)
		return svt_err_set(err, SVT_E_INPUT, "twin_store_snapshot: NULL argument");
	char db[4200], out[4200], sp[4500], dp[4500], spd[4200], dpd[4200];
	sqlite3 *h = NULL;
	DIR *d = NULL;
	char *sql = NULL;
	int rc;
	snprintf(db, sizeof(db), "%s/%s", src_dir, TWIN_GPKG_NAME);
	snprintf(out, sizeof(out), "%s/%s", dst_dir, TWIN_GPKG_NAME);
	snprintf(spd, sizeof(spd), "%s/%s", src_dir, TWIN_POINTS_DIR);
	snprintf(dpd, sizeof(dpd), "%s/%s", dst_dir, TWIN_POINTS_DIR);
	if (access(db, F_OK) != 0)
		return svt_err_set(err, SVT_E_NOTFOUND, "%s: no twin store", src_dir);
	if (access(out, F_OK) == 0)
		return svt_err_set(err, SVT_E_INPUT, "%s already holds a twin store", dst_dir);
	if ((rc = svt_mkdirs(dpd, err)))
		return rc;
	/* One read transaction: the copy is the store as of one commit (WAL readers never see
	 * half of one), whatever writes it meanwhile. */
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		rc = svt_err_set(err, SVT_E_IO, "%s: %s", db, h ? sqlite3_errmsg(h) : "cannot open");
		goto cleanup;
	}
	sqlite3_busy_timeout(h, 10000);
	if (!(sql = sqlite3_mprintf("VACUUM INTO %Q", out))) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory");
		goto cleanup;
	}
	if ((rc = twin_db_exec(h, sql, err))) {
		svt_err_prefix(err, "copying %s", db);
		goto cleanup;
	}
	/* The copy keeps the store's WAL journal (VACUUM INTO writes a rollback-journal file):
	 * readers of the store stay safe while it is written. */
	sqlite3_close(h);
	h = NULL;
	if (sqlite3_open_v2(out, &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		rc = svt_err_set(err, SVT_E_IO, "%s: %s", out, h ? sqlite3_errmsg(h) : "cannot open");
		goto cleanup;
	}
	if ((rc = twin_db_exec(h, "PRAGMA journal_mode = WAL", err)))
		goto cleanup;
	/* Point files are never rewritten in place (a change writes a file of a new
	 * generation), so the copy shares them by hard link. */
	if ((d = opendir(spd))) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(sp, sizeof(sp), "%s/%s", spd, e->d_name);
			snprintf(dp, sizeof(dp), "%s/%s", dpd, e->d_name);
			if (link(sp, dp) != 0) {
				rc = svt_err_set(err, SVT_E_IO, "link %s -> %s: %s (the copy must be "
						 "on the store's file system)", sp, dp, strerror(errno));
				goto cleanup;
			}
		}
	}
	rc = svt_dir_sync_of(out, err);
cleanup:
	if (d)
		closedir(d);
	sqlite3_free(sql);
	sqlite3_close(h);
	return rc;
}
