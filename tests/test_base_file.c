/* test_base_file.c: base's file writes. */
#include <criterion/criterion.h>
#include <fcntl.h>
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
