/* test_base_file.c: base's file writes. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/svt.h"

/* svt_file_write_atomic_direct: the exact bytes and size (a size that ends inside a block: the
 * padding written out is cut off), nothing left under .tmp, an unaligned buffer written the
 * buffered way, and a directory that does not exist refused with SVT_E_IO; the same for
 * svt_file_write_atomic, which shares its protocol. */
Test(file, direct_atomic_write_keeps_exact_bytes)
{
	char dir[] = "/tmp/svt-direct-XXXXXX";
	cr_assert(mkdtemp(dir));
	const size_t sizes[] = {1, 4095, 4096, 4097, 3 * 4096 + 123, (5u << 20) + 7};
	size_t cap = ((5u << 20) + 8 + 2 * SVT_BLOCK) & ~(SVT_BLOCK - 1);
	void *mem = NULL;
	cr_assert_eq(posix_memalign(&mem, SVT_BLOCK, cap), 0);
	uint8_t *buf = mem;
	for (size_t i = 0; i < cap; i++)
		buf[i] = (uint8_t)(i * 131 + (i >> 12));
	for (int mode = 0; mode < 3; mode++) /* direct aligned, direct unaligned, buffered */
		for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			char path[256], tmp[300];
			int unaligned = mode == 1;
			snprintf(path, sizeof(path), "%s/f%zu.%d", dir, k, mode);
			const uint8_t *src = buf + unaligned; /* +1: not block-aligned */
			svt_err err = {0};
			cr_assert_eq(mode == 2 ? svt_file_write_atomic(path, src, sizes[k], &err)
					       : svt_file_write_atomic_direct(path, src, sizes[k], &err),
				     0, "%s", err.msg);
			uint8_t *back = NULL;
			size_t n = 0;
			cr_assert_eq(svt_file_read(path, (size_t)1 << 30, &back, &n, &err), 0, "%s",
				     err.msg);
			cr_expect_eq(n, sizes[k], "size %zu written as %zu", sizes[k], n);
			cr_expect_eq(memcmp(back, src, n < sizes[k] ? n : sizes[k]), 0,
				     "size %zu: bytes differ", sizes[k]);
			free(back);
			snprintf(tmp, sizeof(tmp), "%s.tmp", path);
			cr_expect_neq(access(tmp, F_OK), 0, "%s left behind", tmp);
			unlink(path);
		}
	svt_err err = {0};
	char bad[300];
	snprintf(bad, sizeof(bad), "%s/no/such/dir/f", dir);
	cr_expect_eq(svt_file_write_atomic_direct(bad, buf, 10, &err), SVT_E_IO);
	cr_expect(strstr(err.msg, "cannot create") != NULL, "%s", err.msg);
	svt_err err2 = {0};
	cr_expect_eq(svt_file_write_atomic(bad, buf, 10, &err2), SVT_E_IO);
	cr_expect(strstr(err2.msg, "cannot create") != NULL, "%s", err2.msg);
	free(mem);
	rmdir(dir);
}

/* svt_fd_write_all on a file opened O_DIRECT whose file system refuses a write (here: a
 * buffer off the block alignment, which ext4 and most others refuse with EINVAL): O_DIRECT is
 * cleared on the descriptor and the rest goes buffered from where it stopped, so the file
 * holds exactly the bytes given, unpadded; the caller learns it through *direct. Skipped,
 * saying so, where the file system takes O_DIRECT at any alignment or not at all. */
Test(file, direct_write_refused_goes_on_buffered)
{
	char dir[] = "/tmp/svt-direct-XXXXXX";
	cr_assert(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/f", dir);
	const size_t n = (9u << 20) + 333; /* three pieces, the last not whole blocks */
	void *mem = NULL;
	cr_assert_eq(posix_memalign(&mem, SVT_BLOCK, n + 2 * SVT_BLOCK), 0);
	uint8_t *buf = mem;
	for (size_t i = 0; i < n + 1; i++)
		buf[i] = (uint8_t)(i * 7 + (i >> 9));
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644);
	if (fd < 0) {
		free(mem);
		rmdir(dir);
		cr_skip_test("the file system under /tmp refuses O_DIRECT at open: nothing to test");
	}
	int direct = 1;
	svt_err err = {0};
	cr_assert_eq(svt_fd_write_all(fd, &direct, buf + 1, n, path, &err), 0, "%s", err.msg);
	int still = fcntl(fd, F_GETFL) & O_DIRECT;
	close(fd);
	uint8_t *back = NULL;
	size_t got = 0;
	cr_assert_eq(svt_file_read(path, (size_t)1 << 30, &back, &got, &err), 0, "%s", err.msg);
	unlink(path);
	rmdir(dir);
	if (still) {
		free(back);
		free(mem);
		cr_skip_test("the file system took an unaligned O_DIRECT write: no refusal to test");
	}
	cr_expect_eq(direct, 0, "O_DIRECT cleared on the descriptor but *direct still set");
	cr_expect_eq(got, n, "%zu bytes written as %zu", n, got);
	cr_expect_eq(memcmp(back, buf + 1, got < n ? got : n), 0, "the bytes differ");
	free(back);
	free(mem);
}

static int exists(const char *dir, const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	struct stat st;
	return lstat(p, &st) == 0;
}

static int trash_folders(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)))
		n += !strncmp(e->d_name, ".svtwin-trash-", 14);
	if (d)
		closedir(d);
	return n;
}

static void touch(const char *dir, const char *name, size_t bytes)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "wb");
	cr_assert(f, "%s", p);
	for (size_t i = 0; i < bytes; i++)
		fputc((int)(i & 0xff), f);
	fclose(f);
}

/* svt_trash: what is put leaves its name at once (a file, a folder with a link in it; a
 * missing path is no error) and nothing else in the folder moves; the removal waits for a
 * place in the gate, then takes this run's trash and the one a killed run left, and not what
 * a link inside pointed at; a put after the start is refused; a trash never started is
 * removed by its destroy. */
Test(file, trash_takes_names_at_once_and_removes_beside)
{
	char dir[] = "/tmp/svt-trash-XXXXXX", out[] = "/tmp/svt-trash-out-XXXXXX";
	cr_assert(mkdtemp(dir) && mkdtemp(out));
	char p[512];
	touch(dir, "old-00000.h5", 1 << 20);
	touch(dir, "keep.json", 10);
	touch(out, "target", 10);
	snprintf(p, sizeof(p), "%s/sub", dir);
	cr_assert_eq(mkdir(p, 0755), 0);
	touch(p, "a.las", 1000);
	char link[600], target[600];
	snprintf(link, sizeof(link), "%s/sub/link", dir);
	snprintf(target, sizeof(target), "%s/target", out);
	cr_assert_eq(symlink(target, link), 0);
	/* a killed run's trash */
	snprintf(p, sizeof(p), "%s/.svtwin-trash-999999999", dir);
	cr_assert_eq(mkdir(p, 0700), 0);
	touch(p, "0-old.h5", 1000);

	svt_err e = {0};
	svt_trash *t = NULL;
	cr_assert_eq(svt_trash_create(dir, &t, &e), 0, "%s", e.msg);
	snprintf(p, sizeof(p), "%s/old-00000.h5", dir);
	cr_assert_eq(svt_trash_put(t, p, &e), 0, "%s", e.msg);
	snprintf(p, sizeof(p), "%s/sub", dir);
	cr_assert_eq(svt_trash_put(t, p, &e), 0, "%s", e.msg);
	snprintf(p, sizeof(p), "%s/missing", dir);
	cr_assert_eq(svt_trash_put(t, p, &e), 0, "%s", e.msg);
	cr_expect(!exists(dir, "old-00000.h5") && !exists(dir, "sub"), "put left the names");
	cr_expect(exists(dir, "keep.json"));
	cr_expect_eq(trash_folders(dir), 2, "this run's trash and the killed run's");

	svt_gate *g = svt_gate_create(1);
	cr_assert(g);
	svt_gate_enter(g); /* every place taken: the removal waits for it */
	svt_trash_start(t, g);
	snprintf(p, sizeof(p), "%s/keep.json", dir);
	cr_expect_neq(svt_trash_put(t, p, &e), 0, "a put after the start is refused");
	usleep(100 * 1000);
	cr_expect_eq(trash_folders(dir), 2, "the removal ran without a place in the gate");
	svt_gate_leave(g);
	svt_trash_destroy(t);
	cr_expect_eq(trash_folders(dir), 0, "the trash folders are gone");
	cr_expect(exists(dir, "keep.json"), "what was not put stays");
	cr_expect(exists(out, "target"), "a link's target outside stays");
	svt_gate_destroy(g);

	/* never started: destroy removes it */
	t = NULL;
	cr_assert_eq(svt_trash_create(dir, &t, &e), 0, "%s", e.msg);
	snprintf(p, sizeof(p), "%s/keep.json", dir);
	cr_assert_eq(svt_trash_put(t, p, &e), 0, "%s", e.msg);
	cr_expect_eq(trash_folders(dir), 1);
	svt_trash_destroy(t);
	cr_expect_eq(trash_folders(dir), 0);
	cr_expect(!exists(dir, "keep.json"));
	svt_trash_destroy(NULL);

	snprintf(p, sizeof(p), "%s/target", out);
	unlink(p);
	rmdir(out);
	cr_expect_eq(rmdir(dir), 0, "the folder is empty");
}
