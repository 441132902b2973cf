/* video.c: H.264 yuv420p mp4 through FFmpeg's libraries (libavformat, libavcodec, libswscale),
 * the way OpenCV's VideoWriter uses them. Optional: without SVT_HAVE_FFMPEG every call says
 * what to install. */
#include <stdlib.h>
#include <string.h>

#include "export/export.h"

#define FFMPEG_PACKAGES "libavformat-dev libavcodec-dev libswscale-dev libavutil-dev"

#ifndef SVT_HAVE_FFMPEG

int export_video_available(void)
{
	return 0;
}

const char *export_video_encoder(const export_opts *o)
{
	(void)o;
	return "none";
}

int export_video_open(const char *path, int W, int H, double fps, const export_opts *o,
		      export_video **out, svt_err *err)
{
	(void)path, (void)W, (void)H, (void)fps, (void)o;
	*out = NULL;
	return svt_err_set(err, SVT_E_UNSUPPORTED,
			   "this svtwin was built without FFmpeg's libraries: install "
			   FFMPEG_PACKAGES " (scripts/install-deps.sh) and rebuild");
}

int export_video_frame(export_video *v, const uint8_t *rgb, svt_err *err)
{
	(void)v, (void)rgb;
	return svt_err_set(err, SVT_E_UNSUPPORTED, "built without FFmpeg");
}

int export_video_close(export_video *v, svt_err *err)
{
	(void)v;
	return svt_err_set(err, SVT_E_UNSUPPORTED, "built without FFmpeg");
}

void export_video_abort(export_video *v)
{
	(void)v;
}

#else

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <pthread.h>

/* FFmpeg, loaded on first use: every function this file calls, per library, resolved by
 * svt_dl_load from the libraries the headers belong to (their SONAMEs from the Makefile). The
 * program does not link them, so processes that encode no video do not pay for mapping them
 * and their dependencies at start. Calls read AV(f)(...): one written without it does not
 * link, so none bypasses the table. */
#ifndef SVT_FFMPEG_SONAMES
#error "SVT_FFMPEG_SONAMES (libavutil's, libswscale's, libavcodec's, libavformat's) comes from the Makefile"
#endif
#define AVUTIL_FNS(X) \
	X(av_log_get_level) X(av_log_set_level) X(av_strerror) X(av_d2q) X(av_dict_set) \
	X(av_dict_free) X(av_frame_alloc) X(av_frame_get_buffer) X(av_frame_make_writable) \
	X(av_frame_free)
#define SWSCALE_FNS(X) \
	X(sws_getContext) X(sws_scale) X(sws_freeContext)
#define AVCODEC_FNS(X) \
	X(avcodec_find_encoder_by_name) X(avcodec_alloc_context3) X(avcodec_open2) \
	X(avcodec_free_context) X(avcodec_receive_packet) X(avcodec_send_frame) \
	X(avcodec_parameters_from_context) X(av_packet_alloc) X(av_packet_free) \
	X(av_packet_unref) X(av_packet_rescale_ts)
#define AVFORMAT_FNS(X) \
	X(avformat_alloc_output_context2) X(avformat_new_stream) X(avio_open) \
	X(avformat_write_header) X(av_interleaved_write_frame) X(av_write_trailer) \
	X(avio_closep) X(avformat_free_context)
#define FF_FNS(X) AVUTIL_FNS(X) SWSCALE_FNS(X) AVCODEC_FNS(X) AVFORMAT_FNS(X)
/* SVT_FFMPEG_SONAMES is in the order they depend on each other; each symbol is taken from
 * the first that has it. */
SVT_DL_TABLE(ff_dl, "encoding videos (svtwin export)", FF_FNS, SVT_FFMPEG_SONAMES);
/* f's pointer, typed from its declaration in FFmpeg's headers. */
#define AV(f) SVT_DL_CALL(ff_dl, f)

struct export_video {
	AVFormatContext *fmt;
	AVCodecContext *enc;
	AVStream *st;
	struct SwsContext *sws;
	AVFrame *frame;
	AVPacket *pkt;
	int W, H;
	int64_t pts;
	int header_written;
	char path[4096];
};

/* Built with FFmpeg, and its libraries load here. */
int export_video_available(void)
{
	return svt_dl_load(&ff_dl, NULL) == SVT_OK;
}

static int nvenc_ok;
static pthread_once_t nvenc_once = PTHREAD_ONCE_INIT;

static void nvenc_probe(void)
{
	/* FFmpeg lists h264_nvenc whenever it was built with it; it only opens with a driver
	 * (libcuda, libnvidia-encode) and an NVENC engine (not every GPU has one: H100 and H200
	 * do not), so "auto" tries a tiny session once, quietly. */
	const AVCodec *c = AV(avcodec_find_encoder_by_name)("h264_nvenc");
	AVCodecContext *e = c ? AV(avcodec_alloc_context3)(c) : NULL;
	if (!e)
		return;
	e->width = 256;
	e->height = 144;
	e->pix_fmt = AV_PIX_FMT_YUV420P;
	e->time_base = (AVRational){1, 16};
	int level = AV(av_log_get_level)();
	AV(av_log_set_level)(AV_LOG_QUIET);
	nvenc_ok = AV(avcodec_open2)(e, c, NULL) == 0;
	AV(av_log_set_level)(level);
	AV(avcodec_free_context)(&e);
}

static int nvenc_opens(void)
{
	pthread_once(&nvenc_once, nvenc_probe);
	return nvenc_ok;
}

const char *export_video_encoder(const export_opts *o)
{
	const char *name = o && o->encoder ? o->encoder : "libx264";
	if (!strcmp(name, "auto"))
		return export_video_available() && nvenc_opens() ? "h264_nvenc" : "libx264";
	return name;
}

static int av_fail(svt_err *err, int averr, const char *path, const char *what)
{
	char msg[AV_ERROR_MAX_STRING_SIZE] = "";
	AV(av_strerror)(averr, msg, sizeof(msg));
	return svt_err_set(err, SVT_E_IO, "%s: %s: %s", path, what, msg);
}

/* fps as a rational: NTSC-style 1001 rates exactly, others to 1/1000. */
static AVRational fps_rational(double fps)
{
	for (int k = 24; k <= 60; k += 6) {
		double ntsc = k * 1000.0 / 1001.0;
		if (fps > ntsc - 1e-4 && fps < ntsc + 1e-4)
			return (AVRational){k * 1000, 1001};
	}
	AVRational q = AV(av_d2q)(fps, 1000000);
	if (q.num <= 0 || q.den <= 0)
		q = (AVRational){(int)(fps * 1000 + 0.5), 1000};
	return q;
}

/* Drains the encoder's packets into the file. */
static int drain(export_video *v, svt_err *err)
{
	for (;;) {
		int r = AV(avcodec_receive_packet)(v->enc, v->pkt);
		if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
			return SVT_OK;
		if (r < 0)
			return av_fail(err, r, v->path, "encode");
		AV(av_packet_rescale_ts)(v->pkt, v->enc->time_base, v->st->time_base);
		v->pkt->stream_index = v->st->index;
		r = AV(av_interleaved_write_frame)(v->fmt, v->pkt);
		AV(av_packet_unref)(v->pkt);
		if (r < 0)
			return av_fail(err, r, v->path, "write");
	}
}

int export_video_open(const char *path, int W, int H, double fps, const export_opts *o,
		      export_video **out, svt_err *err)
{
	*out = NULL;
	if (W < 2 || H < 2 || W % 2 || H % 2 || !(fps > 0) || fps > 1000)
		return svt_err_set(err, SVT_E_INPUT, "%s: %dx%d at %g fps (yuv420p needs even sizes)",
				   path, W, H, fps);
	int rc = svt_dl_load(&ff_dl, err), r;
	if (rc)
		return rc;
	/* FFmpeg's own chatter (x264's statistics) only with -v. */
	AV(av_log_set_level)(svt_log_level() >= 2 ? AV_LOG_INFO : AV_LOG_ERROR);
	const char *name = export_video_encoder(o);
	AVDictionary *opt = NULL;
	export_video *v = calloc(1, sizeof(*v));
	if (!v)
		return svt_err_set(err, SVT_E_NOMEM, "%s", path);
	snprintf(v->path, sizeof(v->path), "%s", path);
	v->W = W;
	v->H = H;
	const AVCodec *codec = AV(avcodec_find_encoder_by_name)(name);
	if (!codec || codec->id != AV_CODEC_ID_H264) {
		rc = svt_err_set(err, SVT_E_UNSUPPORTED, "FFmpeg offers no H.264 encoder '%s'%s", name,
				 !strcmp(name, "libx264") ? " (an FFmpeg built without x264: "
				 "--encoder h264_nvenc or another H.264 encoder)" : "");
		goto cleanup;
	}
	/* The container is named, not guessed: callers write NAME.mp4.tmp. */
	if ((r = AV(avformat_alloc_output_context2)(&v->fmt, NULL, "mp4", path)) < 0) {
		rc = av_fail(err, r, path, "mp4 muxer");
		goto cleanup;
	}
	AVRational rate = fps_rational(fps);
	v->enc = AV(avcodec_alloc_context3)(codec);
	v->st = AV(avformat_new_stream)(v->fmt, NULL);
	v->frame = AV(av_frame_alloc)();
	v->pkt = AV(av_packet_alloc)();
	if (!v->enc || !v->st || !v->frame || !v->pkt) {
		rc = svt_err_set(err, SVT_E_NOMEM, "%s: encoder", path);
		goto cleanup;
	}
	v->enc->width = W;
	v->enc->height = H;
	v->enc->pix_fmt = AV_PIX_FMT_YUV420P;
	v->enc->time_base = av_inv_q(rate);
	v->enc->framerate = rate;
	/* BT.601 limited range is what swscale's RGB->YUV default computes: tag it so decoders
	 * convert back with the same matrix. */
	v->enc->colorspace = AVCOL_SPC_SMPTE170M;
	v->enc->color_range = AVCOL_RANGE_MPEG;
	v->enc->thread_count = o && o->threads > 0 ? o->threads : 0;
	if (v->fmt->oformat->flags & AVFMT_GLOBALHEADER)
		v->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	char crf[16];
	snprintf(crf, sizeof(crf), "%d", o ? o->crf : 18);
	if (!strcmp(name, "h264_nvenc")) {
		AV(av_dict_set)(&opt, "rc", "vbr", 0);
		AV(av_dict_set)(&opt, "cq", crf, 0);
		v->enc->bit_rate = 0;
	} else {
		AV(av_dict_set)(&opt, "crf", crf, 0);
	}
	if (o && o->preset)
		AV(av_dict_set)(&opt, "preset", o->preset, 0);
	if ((r = AV(avcodec_open2)(v->enc, codec, &opt)) < 0) {
		/* An encoder that does not open (nvenc without a GPU or driver) fails every clip
		 * alike: unsupported here, not an I/O error of this file. */
		char msg[AV_ERROR_MAX_STRING_SIZE] = "";
		AV(av_strerror)(r, msg, sizeof(msg));
		rc = svt_err_set(err, SVT_E_UNSUPPORTED, "encoder %s does not open here: %s%s", name,
				 msg, strcmp(name, "libx264") ? " (--encoder libx264 or auto)" : "");
		goto cleanup;
	}
	if ((r = AV(avcodec_parameters_from_context)(v->st->codecpar, v->enc)) < 0) {
		rc = av_fail(err, r, path, "stream parameters");
		goto cleanup;
	}
	v->st->time_base = v->enc->time_base;
	v->st->avg_frame_rate = rate;
	v->st->r_frame_rate = rate;
	if ((r = AV(avio_open)(&v->fmt->pb, path, AVIO_FLAG_WRITE)) < 0) {
		rc = av_fail(err, r, path, "open");
		goto cleanup;
	}
	if ((r = AV(avformat_write_header)(v->fmt, NULL)) < 0) {
		rc = av_fail(err, r, path, "mp4 header");
		goto cleanup;
	}
	v->header_written = 1;
	v->frame->format = AV_PIX_FMT_YUV420P;
	v->frame->width = W;
	v->frame->height = H;
	if ((r = AV(av_frame_get_buffer)(v->frame, 0)) < 0) {
		rc = av_fail(err, r, path, "frame");
		goto cleanup;
	}
	v->sws = AV(sws_getContext)(W, H, AV_PIX_FMT_RGB24, W, H, AV_PIX_FMT_YUV420P, SWS_BICUBIC,
				    NULL, NULL, NULL);
	if (!v->sws) {
		rc = svt_err_set(err, SVT_E_UNSUPPORTED, "%s: swscale RGB24 -> YUV420P", path);
		goto cleanup;
	}
cleanup:
	AV(av_dict_free)(&opt);
	if (rc)
		export_video_abort(v);
	else
		*out = v;
	return rc;
}

int export_video_frame(export_video *v, const uint8_t *rgb, svt_err *err)
{
	if (!v || !rgb)
		return svt_err_set(err, SVT_E_INPUT, "export_video_frame: NULL argument");
	int r = AV(av_frame_make_writable)(v->frame);
	if (r < 0)
		return av_fail(err, r, v->path, "frame");
	const uint8_t *src[1] = {rgb};
	int stride[1] = {3 * v->W};
	AV(sws_scale)(v->sws, src, stride, 0, v->H, v->frame->data, v->frame->linesize);
	v->frame->pts = v->pts++;
	if ((r = AV(avcodec_send_frame)(v->enc, v->frame)) < 0)
		return av_fail(err, r, v->path, "encode");
	return drain(v, err);
}

int export_video_close(export_video *v, svt_err *err)
{
	if (!v)
		return svt_err_set(err, SVT_E_INPUT, "export_video_close: NULL");
	int rc = SVT_OK, r;
	if ((r = AV(avcodec_send_frame)(v->enc, NULL)) < 0)
		rc = av_fail(err, r, v->path, "flush");
	if (!rc)
		rc = drain(v, err);
	if (!rc && (r = AV(av_write_trailer)(v->fmt)) < 0)
		rc = av_fail(err, r, v->path, "mp4 trailer");
	v->header_written = 0;
	if (!rc && (r = AV(avio_closep)(&v->fmt->pb)) < 0)
		rc = av_fail(err, r, v->path, "close");
	export_video_abort(v);
	return rc;
}

void export_video_abort(export_video *v)
{
	if (!v)
		return;
	if (v->fmt && v->fmt->pb)
		AV(avio_closep)(&v->fmt->pb);
	AV(sws_freeContext)(v->sws);
	AV(av_frame_free)(&v->frame);
	AV(av_packet_free)(&v->pkt);
	AV(avcodec_free_context)(&v->enc);
	AV(avformat_free_context)(v->fmt);
	free(v);
}

#endif
