/* ds_import.c: the way back from the freeze layout (dataset_densify_import): the videos a
 * learned interpolator made for freeze clips, decoded with FFmpeg's libraries, stored as the
 * clips' frames (fmt_dataset_import_frames: slots become model frames, repeats dropped). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/dataset.h"
#include "formats/formats.h"

#ifdef SVT_HAVE_FFMPEG
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>

/* FFmpeg, loaded on first use: every function this file calls, per library, resolved by
 * svt_dl_load from the libraries the headers belong to (their SONAMEs from the Makefile). The
 * program does not link them, so processes that read no video do not pay for mapping them
 * and their dependencies at start. Calls read AV(f)(...): one written without it does not
 * link, so none bypasses the table. */
#ifndef SVT_FFMPEG_SONAMES
#error "SVT_FFMPEG_SONAMES (libavutil's, libswscale's, libavcodec's, libavformat's) comes from the Makefile"
#endif
#define AVUTIL_FNS(X) \
	X(av_frame_alloc) X(av_frame_free) X(av_frame_unref)
#define SWSCALE_FNS(X) \
	X(sws_getCachedContext) X(sws_scale) X(sws_freeContext)
#define AVCODEC_FNS(X) \
	X(av_packet_alloc) X(av_packet_free) X(av_packet_unref) X(avcodec_find_decoder) \
	X(avcodec_alloc_context3) X(avcodec_parameters_to_context) X(avcodec_open2) \
	X(avcodec_send_packet) X(avcodec_receive_frame) X(avcodec_free_context)
#define AVFORMAT_FNS(X) \
	X(avformat_open_input) X(avformat_find_stream_info) X(av_find_best_stream) \
	X(av_read_frame) X(avformat_close_input)
#define FF_FNS(X) AVUTIL_FNS(X) SWSCALE_FNS(X) AVCODEC_FNS(X) AVFORMAT_FNS(X)
/* SVT_FFMPEG_SONAMES is in the order they depend on each other; each symbol is taken from
 * the first that has it. */
SVT_DL_TABLE(ff_dl, "reading videos (svtwin import)", FF_FNS, SVT_FFMPEG_SONAMES);
/* f's pointer, typed from its declaration in FFmpeg's headers. */
#define AV(f) SVT_DL_CALL(ff_dl, f)

/* Decodes every frame of path into rgb (T x H x W x 3, scaled to W x H); *n: frames found
 * (decoding stops with an error past T). */
static int video_read(const char *path, int T, int H, int W, uint8_t *rgb, int *n,
		      svt_err *err)
{
	AVFormatContext *fc = NULL;
	AVCodecContext *cc = NULL;
	AVFrame *fr = AV(av_frame_alloc)();
	AVPacket *pk = AV(av_packet_alloc)();
	struct SwsContext *sws = NULL;
	int rc = SVT_OK, si = -1;
	*n = 0;
	if (!fr || !pk) {
		rc = svt_err_set(err, SVT_E_NOMEM, "%s: decoder", path);
		goto cleanup;
	}
	if (AV(avformat_open_input)(&fc, path, NULL, NULL) < 0 ||
	    AV(avformat_find_stream_info)(fc, NULL) < 0 ||
	    (si = AV(av_find_best_stream)(fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0)) < 0) {
		rc = svt_err_set(err, SVT_E_FORMAT, "%s: not a video FFmpeg can read", path);
		goto cleanup;
	}
	const AVCodec *dec = AV(avcodec_find_decoder)(fc->streams[si]->codecpar->codec_id);
	if (!dec || !(cc = AV(avcodec_alloc_context3)(dec)) ||
	    AV(avcodec_parameters_to_context)(cc, fc->streams[si]->codecpar) < 0 ||
	    AV(avcodec_open2)(cc, dec, NULL) < 0) {
		rc = svt_err_set(err, SVT_E_UNSUPPORTED, "%s: no decoder for its codec", path);
		goto cleanup;
	}
	int flushing = 0;
	while (!rc) {
		int r = flushing ? 0 : AV(av_read_frame)(fc, pk);
		if (r < 0) {
			flushing = 1;
			AV(avcodec_send_packet)(cc, NULL);
		} else if (!flushing) {
			if (pk->stream_index == si && AV(avcodec_send_packet)(cc, pk) < 0)
				rc = svt_err_set(err, SVT_E_FORMAT, "%s: a packet does not decode", path);
			AV(av_packet_unref)(pk);
		}
		while (!rc && AV(avcodec_receive_frame)(cc, fr) == 0) {
			if (*n >= T) {
				rc = svt_err_set(err, SVT_E_INPUT, "%s: more than the clip's %d frames",
						 path, T);
				break;
			}
			sws = AV(sws_getCachedContext)(sws, fr->width, fr->height, fr->format, W, H,
						   AV_PIX_FMT_RGB24, SWS_BICUBIC, NULL, NULL, NULL);
			uint8_t *dst[1] = {rgb + (size_t)(*n) * H * W * 3};
			int ls[1] = {W * 3};
			if (!sws || AV(sws_scale)(sws, (const uint8_t *const *)fr->data,
						  fr->linesize, 0, fr->height, dst, ls) != H)
				rc = svt_err_set(err, SVT_E_FORMAT, "%s: frame %d cannot be converted",
						 path, *n);
			(*n)++;
			AV(av_frame_unref)(fr);
		}
		if (flushing)
			break;
	}
cleanup:
	AV(sws_freeContext)(sws);
	AV(avcodec_free_context)(&cc);
	AV(avformat_close_input)(&fc);
	AV(av_packet_free)(&pk);
	AV(av_frame_free)(&fr);
	return rc;
}
#endif

int dataset_densify_import(const char *dir, const char *const *videos, size_t n,
			   size_t *frames, svt_err *err)
{
#ifndef SVT_HAVE_FFMPEG
	(void)dir, (void)videos, (void)n, (void)frames;
	return svt_err_set(err, SVT_E_UNSUPPORTED, "densify import reads videos with FFmpeg's "
			   "libraries, and this build has none (install libavformat-dev, "
			   "libavcodec-dev, libswscale-dev and rebuild)");
#else
	char mpath[4096];
	size_t total = 0;
	int rc = svt_dl_load(&ff_dl, err);
	if (!rc)
		rc = svt_path_join(mpath, sizeof(mpath), dir, "master.h5", err);
	for (size_t i = 0; !rc && i < n; i++) {
		/* The clip is the video's file name without its extension. */
		const char *base = strrchr(videos[i], '/');
		base = base ? base + 1 : videos[i];
		char id[128];
		snprintf(id, sizeof(id), "%s", base);
		char *dot = strrchr(id, '.');
		if (dot)
			*dot = '\0';
		fmt_reader *r = NULL;
		size_t k = 0, nc = 0;
		int T = 0, H = 0, W = 0;
		if ((rc = fmt_reader_open(mpath, &r, err)))
			break;
		nc = fmt_reader_clip_count(r);
		for (k = 0; k < nc && strcmp(fmt_reader_clip_id(r, k), id); k++)
			;
		fmt_clip_data cd;
		if (k == nc) {
			rc = svt_err_set(err, SVT_E_NOTFOUND, "%s: no clip %s in %s", videos[i], id, dir);
		} else if (!(rc = fmt_reader_clip(r, k, &cd, err))) {
			T = cd.T, H = cd.H, W = cd.W;
			fmt_clip_data_free(&cd);
		}
		fmt_reader_close(r);
		if (rc)
			break;
		uint8_t *rgb = malloc((size_t)T * H * W * 3);
		int got = 0, T_new = 0;
		if (!rgb)
			rc = svt_err_set(err, SVT_E_NOMEM, "%s: %d frames", videos[i], T);
		else if (!(rc = video_read(videos[i], T, H, W, rgb, &got, err)) && got != T)
			rc = svt_err_set(err, SVT_E_INPUT, "%s: %d frames, clip %s has %d", videos[i],
					 got, id, T);
		if (!rc)
			rc = fmt_dataset_import_frames(dir, id, rgb, T, H, W, &T_new, err);
		free(rgb);
		total += (size_t)T_new;
	}
	if (frames)
		*frames = total;
	return rc;
#endif
}
