/* frames.c: a clip's frames in one call (gpu_frame_batch): decode every panorama of the batch,
 * then per frame its colour view, depth view and depth -> points, each reading the panorama
 * where the decode left it. On a CUDA context that is the device (nvJPEG batched, or
 * libjpeg-turbo + one upload), so no kernel uploads the panorama again; on the C path it is
 * host memory and the calls are the same dispatchers the job calls one by one, so the seam
 * gives the job's CPU results bit for bit (tests/test_gpu_frames.c, tests/test_dataset.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/gpu_internal.h"

struct gpu_frame_batch {
	gpu_ctx *ctx;
	int max_frames;
	gpu_jpeg *jpeg;
	gpu_jpeg_frame *dec;      /* max_frames decoded frames */
	const uint8_t **data;     /* the batch's JPEGs, packed for gpu_jpeg_decode_batch */
	size_t *len;
	int *slot;                /* frame k -> its decoded frame (-1: a host panorama) */
	gpu_image *src, *dst;     /* the views of one launch: sources, destinations */
	gpu_view *view;
	int *who;                 /* which frame each is */
	const gpu_depth **dsrc;   /* the depth views of one launch */
	float **dz;
	size_t *dzs;
	char desc[400];
};

int gpu_frame_batch_create(gpu_ctx *ctx, int max_frames, gpu_frame_batch **out, svt_err *err)
{
	int rc = 0;
	gpu_frame_batch *b = NULL;
	*out = NULL;
	if (!ctx || max_frames < 1 || max_frames > 256)
		return svt_err_set(err, SVT_E_INPUT, "frames: need a context and 1..256 frames a batch");
	if (!(b = calloc(1, sizeof(*b))) ||
	    !(b->dec = calloc((size_t)max_frames, sizeof(*b->dec))) ||
	    !(b->data = calloc((size_t)max_frames, sizeof(*b->data))) ||
	    !(b->len = calloc((size_t)max_frames, sizeof(*b->len))) ||
	    !(b->slot = calloc((size_t)max_frames, sizeof(*b->slot))) ||
	    !(b->src = calloc((size_t)max_frames, sizeof(*b->src))) ||
	    !(b->dst = calloc((size_t)max_frames, sizeof(*b->dst))) ||
	    !(b->view = calloc((size_t)max_frames, sizeof(*b->view))) ||
	    !(b->who = calloc((size_t)max_frames, sizeof(*b->who))) ||
	    !(b->dsrc = calloc((size_t)max_frames, sizeof(*b->dsrc))) ||
	    !(b->dz = calloc((size_t)max_frames, sizeof(*b->dz))) ||
	    !(b->dzs = calloc((size_t)max_frames, sizeof(*b->dzs)))) {
		rc = svt_err_set(err, SVT_E_NOMEM, "frames: no memory for a batch of %d", max_frames);
		goto cleanup;
	}
	b->ctx = ctx;
	b->max_frames = max_frames;
	if ((rc = gpu_jpeg_create(ctx, max_frames, &b->jpeg, err)))
		goto cleanup;
	snprintf(b->desc, sizeof(b->desc), "frames on %s, decode: %s", gpu_ctx_backend(ctx),
		 gpu_jpeg_describe(b->jpeg));
cleanup:
	if (rc) {
		gpu_frame_batch_destroy(b);
		return rc;
	}
	*out = b;
	return 0;
}

void gpu_frame_batch_destroy(gpu_frame_batch *b)
{
	if (!b)
		return;
	gpu_jpeg_destroy(b->jpeg);
	free(b->dec);
	free(b->data);
	free(b->len);
	free(b->slot);
	free(b->src);
	free(b->dst);
	free(b->view);
	free(b->who);
	free(b->dsrc);
	free(b->dz);
	free(b->dzs);
	free(b);
}

const char *gpu_frame_batch_describe(const gpu_frame_batch *b)
{
	return b ? b->desc : "none";
}

/* The depth views of the frames that decoded and have one: one launch for all on CUDA. */
static int batch_depth_views(gpu_frame_batch *b, gpu_frame *f, int n, svt_err *err)
{
	int m = 0, rc;
	for (int k = 0; k < n; k++)
		if (!f[k].rc && f[k].depth && f[k].vdepth) {
			b->dsrc[m] = f[k].depth;
			b->view[m] = f[k].view;
			b->dz[m] = f[k].vdepth;
			b->dzs[m] = f[k].vdepth_stride;
			b->who[m++] = k;
		}
	if (m && (rc = gpu_view_depth_multi(b->ctx, b->dsrc, b->view, m, b->dz, b->dzs, err)))
		return svt_err_prefix(err, "depth views of %d frames from frame %d", m, b->who[0]);
	return 0;
}

/* Frame f's points from its panorama src (on the device when on_device). */
static int frame_depth(gpu_ctx *ctx, gpu_frame *f, const gpu_image *src, int on_device,
		       svt_err *err)
{
	int rc;
	if (f->depth && f->pts &&
	    (rc = gpu_depth_to_points_src(ctx, f->depth, src, on_device, f->w2c, f->pts, f->cap,
					  &f->npts, err)))
		return svt_err_prefix(err, "points");
	return 0;
}

/* The colour views of the frames whose panorama is on the device (on_device = 1: one launch
 * for all) or in host memory (0: one by one), of those that decoded. */
static int batch_views(gpu_frame_batch *b, gpu_frame *f, int n, int on_device, svt_err *err)
{
	int m = 0, rc;
	for (int k = 0; k < n; k++) {
		const gpu_image *src = f[k].pano;
		int dev = 0;
		if (b->slot[k] >= 0) {
			const gpu_jpeg_frame *d = &b->dec[b->slot[k]];
			if (d->rc)
				continue;
			src = &d->img;
			dev = d->on_device;
		}
		if (dev != on_device)
			continue;
		b->src[m] = *src;
		b->view[m] = f[k].view;
		b->dst[m] = f[k].out;
		b->who[m++] = k;
	}
	if (!m)
		return 0;
	if ((rc = gpu_views_multi(b->ctx, b->src, on_device, b->view, m, b->dst, err))) {
		/* "frame %d" there counts this launch's frames: name the batch's. */
		return svt_err_prefix(err, "views of %d frames from frame %d", m, b->who[0]);
	}
	return 0;
}

int gpu_frame_batch_run(gpu_frame_batch *b, gpu_frame *f, int n, svt_err *err)
{
	int rc = 0, m = 0;
	if (!b || (!f && n) || n < 0 || n > b->max_frames)
		return svt_err_set(err, SVT_E_INPUT, "frames: bad batch (n %d, at most %d)", n,
				   b ? b->max_frames : 0);
	for (int k = 0; k < n; k++) {
		if (!f[k].jpeg && !f[k].pano)
			return svt_err_set(err, SVT_E_INPUT, "frames: frame %d has no panorama", k);
		f[k].rc = f[k].warning = 0;
		f[k].msg[0] = '\0';
		f[k].npts = 0;
		f[k].backend = GPU_JPEG_TURBO;
		b->slot[k] = -1;
		if (f[k].jpeg) {
			b->data[m] = f[k].jpeg;
			b->len[m] = f[k].jpeg_len;
			b->slot[k] = m++;
		}
	}
	/* Every JPEG of the batch in one call (nvJPEG's batched decode on the hardware engine);
	 * a bad frame is reported in its own rc, only a device failure fails the batch. */
	if (m && (rc = gpu_jpeg_decode_batch(b->jpeg, b->data, b->len, m, b->dec, err)))
		return rc;
	for (int k = 0; k < n; k++)
		if (b->slot[k] >= 0) {
			const gpu_jpeg_frame *d = &b->dec[b->slot[k]];
			f[k].backend = d->backend;
			f[k].warning = d->warning;
			if (d->rc || d->warning)
				snprintf(f[k].msg, sizeof(f[k].msg), "%s", d->msg);
			f[k].rc = d->rc;
		}
	/* The colour views: the device frames in one launch, then any host ones; the depth views
	 * in one launch. */
	if ((rc = batch_views(b, f, n, 1, err)) || (rc = batch_views(b, f, n, 0, err)) ||
	    (rc = batch_depth_views(b, f, n, err)))
		return rc;
	for (int k = 0; k < n; k++) {
		const gpu_image *src = f[k].pano;
		int on_device = 0;
		if (f[k].rc)
			continue;
		if (b->slot[k] >= 0) {
			src = &b->dec[b->slot[k]].img;
			on_device = b->dec[b->slot[k]].on_device;
		}
		if ((rc = frame_depth(b->ctx, &f[k], src, on_device, err)))
			return svt_err_prefix(err, "frame %d", k);
	}
	return 0;
}
