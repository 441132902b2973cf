/* ingest_decode.c: JPEG (libjpeg-turbo, TurboJPEG API) and PNG (libpng) decoding.
 *
 * TurboJPEG: the tj3 API where the header provides it (libjpeg-turbo >= 3.0, detected by
 * TJ_NUMINIT), the 2.x API otherwise (Debian 12 ships 2.1.5). Both paths behave the same:
 * sizes are checked against the limits from our own SOF parse before anything is allocated,
 * warnings (corrupt but decodable data) are told apart from fatal errors, progressive scans are
 * limited, and the output buffer is reused across calls. A region of interest (a view's part
 * of a panorama) goes through libjpeg's own API instead, which TurboJPEG 2.x does not expose
 * cropping through: the same library, the same settings (ISLOW DCT, fancy upsampling), so the
 * same pixels.
 */
#include "ingest/ingest_internal.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
/* after stdio.h: jpeglib.h uses FILE and size_t */
#include <jpeglib.h>

#ifdef TJ_NUMINIT
#define INGEST_TJ3 1
#else
#define INGEST_TJ3 0
#endif

struct ingest_decoder {
	tjhandle tj;
	uint8_t *file;      /* reused read buffer for ingest_decode_file */
	size_t file_cap;
	uint8_t *scratch;   /* reused buffer for the pre-orientation image */
	size_t scratch_cap;
};

void ingest_decode_opts_default(ingest_decode_opts *o)
{
	memset(o, 0, sizeof(*o));
	ingest_limits_default(&o->limits);
	o->want_channels = 3;
	o->min_width = 0;
	o->apply_orientation = 1;
}

void ingest_image_free(ingest_image *img)
{
	if (!img)
		return;
	free(img->data);
	memset(img, 0, sizeof(*img));
}

int ingest_decoder_create(ingest_decoder **out, svt_err *err)
{
	*out = NULL;
	ingest_decoder *d = calloc(1, sizeof(*d));
	if (!d)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for a decoder");
#if INGEST_TJ3
	d->tj = tj3Init(TJINIT_DECOMPRESS);
#else
	d->tj = tjInitDecompress();
#endif
	if (!d->tj) {
		free(d);
		return svt_err_set(err, SVT_E_NOMEM, "TurboJPEG init failed: %s",
#if INGEST_TJ3
				   tj3GetErrorStr(NULL)
#else
				   tjGetErrorStr2(NULL)
#endif
		);
	}
#if INGEST_TJ3
	/* Warnings do not stop the decode (they are reported); hostile progressive files with
	 * thousands of scans are refused. */
	tj3Set(d->tj, TJPARAM_STOPONWARNING, 0);
	tj3Set(d->tj, TJPARAM_SCANLIMIT, 500);
#endif
	*out = d;
	return SVT_OK;
}

void ingest_decoder_destroy(ingest_decoder *d)
{
	if (!d)
		return;
#if INGEST_TJ3
	tj3Destroy(d->tj);
#else
	tjDestroy(d->tj);
#endif
	free(d->file);
	free(d->scratch);
	free(d);
}

/* Makes *buf hold at least n bytes, keeping it when it does already. */
static int buf_reserve(uint8_t **buf, size_t *cap, size_t n, svt_err *err)
{
	if (*buf && *cap >= n)
		return SVT_OK;
	free(*buf);
	*cap = 0;
	*buf = malloc(n ? n : 1);
	if (!*buf)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for %zu bytes of pixels", n);
	*cap = n;
	return SVT_OK;
}

/* Applies EXIF orientation o (2..8) from src (w x h) into img. */
static int orient(const uint8_t *src, int w, int h, size_t sstride, int bpp, int o,
		  ingest_image *img, svt_err *err)
{
	int swap = o >= 5;
	int dw = swap ? h : w, dh = swap ? w : h;
	size_t dstride = (size_t)dw * (size_t)bpp;
	int rc = buf_reserve(&img->data, &img->cap, dstride * (size_t)dh, err);
	if (rc)
		return rc;
	for (int y = 0; y < dh; y++) {
		uint8_t *drow = img->data + (size_t)y * dstride;
		for (int x = 0; x < dw; x++) {
			int sx, sy;
			switch (o) {
			case 2: sx = w - 1 - x; sy = y; break;
			case 3: sx = w - 1 - x; sy = h - 1 - y; break;
			case 4: sx = x; sy = h - 1 - y; break;
			case 5: sx = y; sy = x; break;
			case 6: sx = y; sy = h - 1 - x; break;
			case 7: sx = w - 1 - y; sy = h - 1 - x; break;
			default: sx = w - 1 - y; sy = x; break; /* 8 */
			}
			memcpy(drow + (size_t)x * (size_t)bpp, src + (size_t)sy * sstride + (size_t)sx * (size_t)bpp,
			       (size_t)bpp);
		}
	}
	img->width = dw;
	img->height = dh;
	img->stride = dstride;
	return SVT_OK;
}

static const char *tj_errstr(tjhandle tj)
{
#if INGEST_TJ3
	return tj3GetErrorStr(tj);
#else
	return tjGetErrorStr2(tj);
#endif
}

/* ---- JPEG, a region of interest (libjpeg API) --------------------------------------------- */

/* The most progressive scans accepted, as TurboJPEG's TJFLAG_LIMITSCANS. */
#define ROI_MAX_SCANS 500
/* Pixels decoded beyond the region on each side: fancy upsampling makes the pixels at the
 * edge of a cropped decode differ from a whole decode's (it has no neighbour beyond them);
 * from one chroma sample (2 px at 4:2:0) in they agree. */
#define ROI_MARGIN 4

typedef struct roi_err {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
	int warned;
	char warning[JMSG_LENGTH_MAX];
	char error[JMSG_LENGTH_MAX];
} roi_err;

static void roi_error_exit(j_common_ptr c)
{
	roi_err *e = (roi_err *)(void *)c->err;
	(*c->err->format_message)(c, e->error);
	longjmp(e->jb, 1);
}

/* Warnings (corrupt but decodable data) are kept, the first one's text, as TurboJPEG does;
 * trace messages are dropped. Nothing goes to stderr. */
static void roi_emit_message(j_common_ptr c, int level)
{
	roi_err *e = (roi_err *)(void *)c->err;
	if (level < 0) {
		if (!e->warned++)
			(*c->err->format_message)(c, e->warning);
		c->err->num_warnings++;
	}
}

static void roi_progress(j_common_ptr c)
{
	j_decompress_ptr dc = (j_decompress_ptr)c;
	if (dc->input_scan_number > ROI_MAX_SCANS) {
		roi_err *e = (roi_err *)(void *)c->err;
		snprintf(e->error, sizeof(e->error),
			 "Progressive JPEG image has more than %d scans", ROI_MAX_SCANS);
		longjmp(e->jb, 1);
	}
}

/* Everything the decode touches after setjmp lives here, so a longjmp clobbers nothing. */
typedef struct roi_job {
	struct jpeg_decompress_struct c;
	roi_err e;
	struct jpeg_progress_mgr prog;
	const uint8_t *buf;
	size_t size;
	uint8_t *dst, *tail;
	size_t stride;
	int ch, x0, y0, x1, y1;
} roi_job;

static int roi_run(roi_job *J)
{
	j_decompress_ptr c = &J->c;
	if (setjmp(J->e.jb))
		return -1;
	jpeg_mem_src(c, J->buf, (unsigned long)J->size);
	jpeg_read_header(c, TRUE);
	c->out_color_space = J->ch == 1 ? JCS_GRAYSCALE : JCS_EXT_RGB;
	c->dct_method = JDCT_ISLOW;
	c->do_fancy_upsampling = TRUE;
	jpeg_start_decompress(c);
	if ((int)c->output_components != J->ch) {
		snprintf(J->e.error, sizeof(J->e.error), "%d components decoded, %d wanted",
			 (int)c->output_components, J->ch);
		return -1;
	}
	int H = (int)c->output_height;
	/* The columns: jpeg_crop_scanline widens them to whole iMCUs, and says where. */
	JDIMENSION xo = (JDIMENSION)J->x0, xw = (JDIMENSION)(J->x1 - J->x0);
	jpeg_crop_scanline(c, &xo, &xw);
	if (J->y0 > 0)
		jpeg_skip_scanlines(c, (JDIMENSION)J->y0);
	while ((int)c->output_scanline < J->y1) {
		JSAMPROW row = J->dst + (size_t)c->output_scanline * J->stride + (size_t)xo * J->ch;
		if (jpeg_read_scanlines(c, &row, 1) != 1)
			break; /* suspension: not with a memory source */
	}
	/* The rest of the entropy-coded data, read (not inverse-transformed) so that its
	 * corruption is seen as a whole decode sees it. Skipping to the very end would not read
	 * it (libjpeg-turbo then only marks the input finished), so the last row is decoded,
	 * into a row of its own. */
	int rest = H - (int)c->output_scanline;
	if (rest > 1)
		jpeg_skip_scanlines(c, (JDIMENSION)(rest - 1));
	if (rest > 0) {
		if (!(J->tail = malloc((size_t)xw * (size_t)J->ch))) {
			snprintf(J->e.error, sizeof(J->e.error), "no memory for a row");
			return -1;
		}
		JSAMPROW row = J->tail;
		jpeg_read_scanlines(c, &row, 1);
	}
	jpeg_finish_decompress(c);
	return 0;
}

/* Decodes the region (x0, y0, x1, y1) of a w x h JPEG, widened by ROI_MARGIN, into dst; a
 * warning's text goes to wmsg (JMSG_LENGTH_MAX bytes), *warning set. */
static int decode_jpeg_roi(const uint8_t *buf, size_t size, int w, int h, int ch, const int roi[4],
			   uint8_t *dst, size_t stride, int *warning, char *wmsg, svt_err *err)
{
	roi_job *J = calloc(1, sizeof(*J));
	if (!J)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for a JPEG decoder");
	J->buf = buf;
	J->size = size;
	J->dst = dst;
	J->stride = stride;
	J->ch = ch;
	J->x0 = roi[0] - ROI_MARGIN < 0 ? 0 : roi[0] - ROI_MARGIN;
	J->y0 = roi[1] - ROI_MARGIN < 0 ? 0 : roi[1] - ROI_MARGIN;
	J->x1 = roi[2] + ROI_MARGIN > w ? w : roi[2] + ROI_MARGIN;
	J->y1 = roi[3] + ROI_MARGIN > h ? h : roi[3] + ROI_MARGIN;
	J->c.err = jpeg_std_error(&J->e.pub);
	J->e.pub.error_exit = roi_error_exit;
	J->e.pub.emit_message = roi_emit_message;
	J->prog.progress_monitor = roi_progress;
	jpeg_create_decompress(&J->c);
	J->c.progress = &J->prog;
	int rc = SVT_OK;
	if (roi_run(J) < 0)
		rc = svt_err_set(err, SVT_E_FORMAT, "JPEG: %s", J->e.error);
	else if (J->e.warned) {
		*warning = 1;
		memcpy(wmsg, J->e.warning, JMSG_LENGTH_MAX);
	}
	jpeg_destroy_decompress(&J->c);
	free(J->tail);
	free(J);
	return rc;
}

/* Whether o asks for a region of this w x h JPEG that leaves work undone. */
static int roi_applies(const ingest_decode_opts *o, int w, int h)
{
	const int *r = o->roi;
	return o->roi_w > 0 && o->roi_w == w && o->roi_h == h && r[0] >= 0 && r[1] >= 0 &&
	       r[2] <= w && r[3] <= h && r[0] < r[2] && r[1] < r[3] &&
	       (r[0] > 0 || r[1] > 0 || r[2] < w || r[3] < h);
}

static int decode_jpeg(ingest_decoder *d, const uint8_t *buf, size_t size, const ingest_blob *b,
		       const ingest_decode_opts *o, int orientation, ingest_image *img,
		       int *warning, svt_err *err)
{
	int w, h, subsamp, cs;
#if INGEST_TJ3
	if (tj3DecompressHeader(d->tj, buf, size) < 0)
		return svt_err_set(err, SVT_E_FORMAT, "JPEG header: %s", tj_errstr(d->tj));
	w = tj3Get(d->tj, TJPARAM_JPEGWIDTH);
	h = tj3Get(d->tj, TJPARAM_JPEGHEIGHT);
	subsamp = tj3Get(d->tj, TJPARAM_SUBSAMP);
	cs = tj3Get(d->tj, TJPARAM_COLORSPACE);
	if (tj3Get(d->tj, TJPARAM_PRECISION) > 8)
		return svt_err_set(err, SVT_E_UNSUPPORTED, "JPEG: %d-bit samples are not supported",
				   tj3Get(d->tj, TJPARAM_PRECISION));
#else
	if (tjDecompressHeader3(d->tj, buf, (unsigned long)size, &w, &h, &subsamp, &cs) < 0)
		return svt_err_set(err, SVT_E_FORMAT, "JPEG header: %s", tj_errstr(d->tj));
#endif
	(void)subsamp;
	if (w != b->width || h != b->height)
		return svt_err_set(err, SVT_E_FORMAT, "JPEG: header size %dx%d disagrees with SOF %dx%d",
				   w, h, b->width, b->height);
	if (cs == TJCS_CMYK || cs == TJCS_YCCK)
		return svt_err_set(err, SVT_E_UNSUPPORTED, "JPEG: CMYK/YCCK colour is not supported");

	int ch = o->want_channels == 1 ? 1 : o->want_channels == 0 && cs == TJCS_GRAY ? 1 : 3;
	int pf = ch == 1 ? TJPF_GRAY : TJPF_RGB;

	/* DCT scaling: the smallest of 1/8, 1/4, 1/2 whose output still covers min_width. */
	tjscalingfactor sf = {1, 1};
	if (o->min_width > 0 && o->min_width < w) {
		static const int denoms[] = {8, 4, 2};
		for (size_t i = 0; i < SVT_ARRAY_LEN(denoms); i++) {
			tjscalingfactor c = {1, denoms[i]};
			if (TJSCALED(w, c) >= o->min_width) {
				sf = c;
				break;
			}
		}
	}
	int sw = TJSCALED(w, sf), sh = TJSCALED(h, sf);
	int rc = ingest_limits_check(&o->limits, sw, sh, ch, 1, err);
	if (rc)
		return rc;

	size_t stride = (size_t)sw * (size_t)ch;
	size_t need = stride * (size_t)sh;
	uint8_t *dst;
	int oriented = orientation >= 2 && orientation <= 8;
	if (oriented) {
		if ((rc = buf_reserve(&d->scratch, &d->scratch_cap, need, err)))
			return rc;
		dst = d->scratch;
	} else {
		if ((rc = buf_reserve(&img->data, &img->cap, need, err)))
			return rc;
		dst = img->data;
	}

	char wmsg[JMSG_LENGTH_MAX];
	int r;
	if (!oriented && sf.num == sf.denom && roi_applies(o, w, h)) {
		if ((rc = decode_jpeg_roi(buf, size, w, h, ch, o->roi, dst, stride, warning, wmsg,
					  err)))
			return rc;
	} else {
#if INGEST_TJ3
		tj3SetScalingFactor(d->tj, sf);
		r = tj3Decompress8(d->tj, buf, size, dst, (int)stride, pf);
		int code = r < 0 ? tj3GetErrorCode(d->tj) : 0;
#else
		r = tjDecompress2(d->tj, buf, (unsigned long)size, dst, sw, (int)stride, sh, pf,
				  TJFLAG_LIMITSCANS);
		int code = r < 0 ? tjGetErrorCode(d->tj) : 0;
#endif
		if (r < 0) {
			if (code != TJERR_WARNING)
				return svt_err_set(err, SVT_E_FORMAT, "JPEG: %s", tj_errstr(d->tj));
			*warning = 1;
			snprintf(wmsg, sizeof(wmsg), "%s", tj_errstr(d->tj));
		}
	}
	if (*warning)
		svt_err_set(err, SVT_OK, "JPEG corrupt but decodable: %s%s", wmsg,
			    b->has_eoi ? "" : " (no EOI marker: the file looks truncated)");
	img->channels = ch;
	img->bit_depth = 8;
	if (oriented)
		return orient(d->scratch, sw, sh, stride, ch, orientation, img, err);
	img->width = sw;
	img->height = sh;
	img->stride = stride;
	return SVT_OK;
}

/* ---- PNG ------------------------------------------------------------------------------ */

typedef struct png_src {
	const uint8_t *buf;
	size_t size, pos;
	char msg[200];
} png_src;

static void png_read_mem(png_structp png, png_bytep out, size_t n)
{
	png_src *s = png_get_io_ptr(png);
	if (n > s->size - s->pos)
		png_error(png, "file ends early (truncated PNG)");
	memcpy(out, s->buf + s->pos, n);
	s->pos += n;
}

static void png_on_error(png_structp png, png_const_charp msg)
{
	png_src *s = png_get_error_ptr(png);
	snprintf(s->msg, sizeof(s->msg), "%s", msg);
	png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
	/* Benign (an odd ICC profile, an unknown chunk): the pixels are fine. */
	(void)png;
	(void)msg;
}

typedef struct png_job {
	png_structp png;
	png_infop info;
	png_bytep *rows;
	ingest_image *img;
	uint8_t *dst;        /* where rows point (img->data or the scratch buffer) */
	int rc;
} png_job;

/* Everything between setjmp and the end lives in *j so a longjmp clobbers nothing. */
static int png_run(png_job *j, ingest_decoder *d, const ingest_decode_opts *o, int oriented,
		   svt_err *err)
{
	png_structp png = j->png;
	png_infop info = j->info;
	if (setjmp(png_jmpbuf(png)))
		return SVT_E_FORMAT;
	png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
	png_read_info(png, info);
	int ct = png_get_color_type(png, info);
	int bd = png_get_bit_depth(png, info);
	if (ct == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(png);
	if (ct == PNG_COLOR_TYPE_GRAY && bd < 8)
		png_set_expand_gray_1_2_4_to_8(png);
	if (o->want_channels == 0) {
		if (png_get_valid(png, info, PNG_INFO_tRNS))
			png_set_tRNS_to_alpha(png);
		if (bd == 16)
			png_set_swap(png); /* PNG is big-endian; hand out host order */
	} else {
		if (ct & PNG_COLOR_MASK_ALPHA)
			png_set_strip_alpha(png);
		if (bd == 16)
			png_set_scale_16(png);
		if (o->want_channels == 1) {
			if (ct & PNG_COLOR_MASK_COLOR || ct == PNG_COLOR_TYPE_PALETTE)
				png_set_rgb_to_gray_fixed(png, 1, -1, -1);
		} else if (!(ct & PNG_COLOR_MASK_COLOR)) {
			png_set_gray_to_rgb(png);
		}
	}
	png_set_interlace_handling(png);
	png_read_update_info(png, info);
	int w = (int)png_get_image_width(png, info), h = (int)png_get_image_height(png, info);
	int ch = png_get_channels(png, info);
	int obd = png_get_bit_depth(png, info);
	int rc = ingest_limits_check(&o->limits, w, h, ch, obd / 8, err);
	if (rc) {
		j->rc = rc;
		return rc;
	}
	size_t stride = png_get_rowbytes(png, info);
	size_t need = stride * (size_t)h;
	if (oriented)
		rc = buf_reserve(&d->scratch, &d->scratch_cap, need, err);
	else
		rc = buf_reserve(&j->img->data, &j->img->cap, need, err);
	if (rc) {
		j->rc = rc;
		return rc;
	}
	j->dst = oriented ? d->scratch : j->img->data;
	j->rows = malloc((size_t)h * sizeof(png_bytep));
	if (!j->rows) {
		j->rc = svt_err_set(err, SVT_E_NOMEM, "no memory for PNG rows");
		return j->rc;
	}
	for (int y = 0; y < h; y++)
		j->rows[y] = j->dst + (size_t)y * stride;
	png_read_image(png, j->rows);
	png_read_end(png, NULL);
	j->img->width = w;
	j->img->height = h;
	j->img->channels = ch;
	j->img->bit_depth = obd;
	j->img->stride = stride;
	return SVT_OK;
}

static int decode_png(ingest_decoder *d, const uint8_t *buf, size_t size,
		      const ingest_decode_opts *o, int orientation, ingest_image *img, svt_err *err)
{
	png_src src = {buf, size, 0, {0}};
	png_job j = {0};
	j.img = img;
	int oriented = orientation >= 2 && orientation <= 8;
	j.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_on_error, png_on_warning);
	if (!j.png)
		return svt_err_set(err, SVT_E_NOMEM, "libpng: no memory");
	j.info = png_create_info_struct(j.png);
	int rc;
	if (!j.info) {
		rc = svt_err_set(err, SVT_E_NOMEM, "libpng: no memory");
		goto done;
	}
	png_set_read_fn(j.png, &src, png_read_mem);
#ifdef PNG_IGNORE_ADLER32
	/* The zlib stream's Adler-32 is left unchecked: the CRC-32 of every IDAT chunk, which
	 * libpng checks (an error for critical chunks), covers the same bytes; the sum was 1 % of
	 * a build's CPU (its depth maps). */
	png_set_option(j.png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
	rc = png_run(&j, d, o, oriented, err);
	if (rc && !j.rc)
		rc = svt_err_set(err, SVT_E_FORMAT, "PNG: %s", src.msg[0] ? src.msg : "decode failed");
	if (!rc && oriented) {
		ingest_image tmp = *img;
		rc = orient(d->scratch, tmp.width, tmp.height, tmp.stride,
			    tmp.channels * tmp.bit_depth / 8, orientation, img, err);
	}
done:
	free(j.rows);
	png_destroy_read_struct(&j.png, j.info ? &j.info : NULL, NULL);
	return rc;
}

int ingest_decode_mem(ingest_decoder *d, const uint8_t *buf, size_t size,
		      const ingest_decode_opts *opts, ingest_image *img, int *warning, svt_err *err)
{
	ingest_decode_opts def;
	if (!opts) {
		ingest_decode_opts_default(&def);
		opts = &def;
	}
	int dummy = 0;
	if (!warning)
		warning = &dummy;
	*warning = 0;
	if (!d || !img)
		return svt_err_set(err, SVT_E_INPUT, "ingest_decode_mem: NULL decoder or image");
	if (opts->want_channels != 0 && opts->want_channels != 1 && opts->want_channels != 3)
		return svt_err_set(err, SVT_E_INPUT, "want_channels must be 0, 1 or 3, not %d",
				   opts->want_channels);
	if (opts->limits.max_file_bytes && size > opts->limits.max_file_bytes)
		return svt_err_set(err, SVT_E_LIMIT, "file of %zu bytes is over the limit of %llu",
				   size, (unsigned long long)opts->limits.max_file_bytes);
	ingest_blob b;
	int rc = ingest_blob_scan(buf, size, &b, err);
	if (rc)
		return rc;
	/* The header's size is checked before the library sees the file: a 65535x65535 JPEG or
	 * a 100000x100000 PNG is refused here, before any allocation. The decoded size is checked
	 * again once the scale and channels are known. */
	if ((rc = ingest_limits_check(&opts->limits, b.width, b.height, 1, 1, err)))
		return rc;
	int orientation = opts->apply_orientation ? ingest_tiff_orientation(b.exif, b.exif_len) : 1;
	if (b.kind == INGEST_BLOB_JPEG)
		return decode_jpeg(d, buf, size, &b, opts, orientation, img, warning, err);
	return decode_png(d, buf, size, opts, orientation, img, err);
}

/* Reads path into the decoder's reused buffer. */
static int read_into(ingest_decoder *d, const char *path, uint64_t max_bytes, size_t *size,
		     svt_err *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return svt_err_set(err, SVT_E_IO, "cannot open %s: %s", path, strerror(errno));
	int rc = SVT_OK;
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = svt_err_set(err, SVT_E_IO, "%s is not a regular file", path);
		goto done;
	}
	if (max_bytes && (uint64_t)st.st_size > max_bytes) {
		rc = svt_err_set(err, SVT_E_LIMIT, "%s: %lld bytes, over the limit of %llu", path,
				 (long long)st.st_size, (unsigned long long)max_bytes);
		goto done;
	}
	size_t n = (size_t)st.st_size;
	if ((rc = buf_reserve(&d->file, &d->file_cap, n, err)))
		goto done;
	if (n && fread(d->file, 1, n, f) != n) {
		rc = svt_err_set(err, SVT_E_IO, "cannot read %s", path);
		goto done;
	}
	*size = n;
done:
	fclose(f);
	return rc;
}

int ingest_decode_file(ingest_decoder *d, const char *path, const ingest_decode_opts *opts,
		       ingest_image *img, int *warning, svt_err *err)
{
	ingest_decode_opts def;
	if (!opts) {
		ingest_decode_opts_default(&def);
		opts = &def;
	}
	if (warning)
		*warning = 0;
	if (!d || !path)
		return svt_err_set(err, SVT_E_INPUT, "ingest_decode_file: NULL argument");
	size_t size = 0;
	int rc = read_into(d, path, opts->limits.max_file_bytes, &size, err);
	if (rc)
		return rc;
	rc = ingest_decode_mem(d, d->file, size, opts, img, warning, err);
	if (rc)
		return svt_err_prefix(err, "%s", path);
	return SVT_OK;
}
