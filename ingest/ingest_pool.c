/* ingest_pool.c: decode files ahead on worker threads, in input order, with bounded memory.
 *
 * Workers claim files strictly in input order, and only while fewer than `depth` images are
 * alive (being decoded, waiting for the consumer, or held by it). So memory stays at depth
 * images whatever the length of the capture, and the image the consumer waits for is always
 * claimed before any later one (no deadlock as long as the consumer releases what it got).
 * Released images go to a free list and their buffers are reused by the next decodes.
 */
#include "ingest/ingest.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { SLOT_PENDING = 0, SLOT_WORKING, SLOT_DONE, SLOT_TAKEN };

typedef struct pool_slot {
	int state;
	ingest_image *img; /* NULL when the decode failed */
	int warning;
	svt_err err;
} pool_slot;

struct ingest_pool {
	char **paths;
	size_t n;
	ingest_decode_opts opts;
	pool_slot *slots;
	size_t next_claim, next_out;
	int depth, alive, stop;
	ingest_image *imgs;       /* depth images: each is either free or alive */
	ingest_image **free_imgs; /* the free ones; their buffers are reused */
	int n_free;
	pthread_mutex_t mu;
	pthread_cond_t cv_work, cv_done;
	pthread_t *thr;
	int n_thr;
};

/* alive < depth whenever a worker claims a file, so a free image always exists. */
static ingest_image *take_image(ingest_pool *p)
{
	return p->n_free > 0 ? p->free_imgs[--p->n_free] : NULL;
}

static void give_image(ingest_pool *p, ingest_image *img)
{
	if (img && p->n_free < p->depth)
		p->free_imgs[p->n_free++] = img;
}

static void *worker(void *arg)
{
	ingest_pool *p = arg;
	ingest_decoder *dec = NULL;
	svt_err derr = {0};
	int dec_rc = ingest_decoder_create(&dec, &derr);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && (p->next_claim >= p->n || p->alive >= p->depth))
			pthread_cond_wait(&p->cv_work, &p->mu);
		if (p->stop)
			break;
		size_t i = p->next_claim++;
		pool_slot *s = &p->slots[i];
		s->state = SLOT_WORKING;
		p->alive++;
		ingest_image *img = take_image(p);
		pthread_mutex_unlock(&p->mu);

		int warning = 0;
		svt_err e = {0};
		int rc;
		if (dec_rc)
			rc = svt_err_set(&e, dec_rc, "%s", derr.msg);
		else if (!img)
			rc = svt_err_set(&e, SVT_E_NOMEM, "no memory for an image");
		else
			rc = ingest_decode_file(dec, p->paths[i], &p->opts, img, &warning, &e);

		pthread_mutex_lock(&p->mu);
		s->warning = warning;
		s->err = e;
		if (rc) {
			give_image(p, img);
			s->img = NULL;
			p->alive--; /* nothing held for a failed file */
			pthread_cond_broadcast(&p->cv_work);
		} else {
			s->img = img;
		}
		s->state = SLOT_DONE;
		pthread_cond_broadcast(&p->cv_done);
	}
	pthread_mutex_unlock(&p->mu);
	ingest_decoder_destroy(dec);
	return NULL;
}

int ingest_pool_create(const char *const *paths, size_t n, int threads, int depth,
		       const ingest_decode_opts *opts, ingest_pool **out, svt_err *err)
{
	*out = NULL;
	if (n > 0 && !paths)
		return svt_err_set(err, SVT_E_INPUT, "ingest_pool_create: NULL paths");
	ingest_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return svt_err_set(err, SVT_E_NOMEM, "no memory for a decode pool");
	int rc = SVT_OK;
	if (threads < 1)
		threads = 1;
	if ((size_t)threads > n)
		threads = n > 0 ? (int)n : 1;
	p->depth = depth < 1 ? 1 : depth;
	p->n = n;
	if (opts)
		p->opts = *opts;
	else
		ingest_decode_opts_default(&p->opts);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv_work, NULL);
	pthread_cond_init(&p->cv_done, NULL);
	p->paths = calloc(n ? n : 1, sizeof(char *));
	p->slots = calloc(n ? n : 1, sizeof(pool_slot));
	p->imgs = calloc((size_t)p->depth, sizeof(ingest_image));
	p->free_imgs = calloc((size_t)p->depth, sizeof(ingest_image *));
	p->thr = calloc((size_t)threads, sizeof(pthread_t));
	if (!p->paths || !p->slots || !p->imgs || !p->free_imgs || !p->thr) {
		rc = svt_err_set(err, SVT_E_NOMEM, "no memory for a decode pool of %zu files", n);
		goto done;
	}
	for (int i = 0; i < p->depth; i++)
		p->free_imgs[p->n_free++] = &p->imgs[i];
	for (size_t i = 0; i < n; i++) {
		p->paths[i] = strdup(paths[i] ? paths[i] : "");
		if (!p->paths[i]) {
			rc = svt_err_set(err, SVT_E_NOMEM, "no memory for paths");
			goto done;
		}
	}
	for (int t = 0; t < threads; t++) {
		if (pthread_create(&p->thr[t], NULL, worker, p) != 0) {
			if (t == 0) {
				rc = svt_err_set(err, SVT_E_NOMEM, "cannot start a decode thread");
				goto done;
			}
			break; /* fewer workers still make progress */
		}
		p->n_thr++;
	}
done:
	if (rc) {
		ingest_pool_destroy(p);
		return rc;
	}
	*out = p;
	return SVT_OK;
}

int ingest_pool_next(ingest_pool *p, size_t *index, ingest_image **img, int *warning,
		     svt_err *frame_err, svt_err *err)
{
	if (img)
		*img = NULL;
	if (!p || !img)
		return svt_err_set(err, SVT_E_INPUT, "ingest_pool_next: NULL argument");
	pthread_mutex_lock(&p->mu);
	if (p->next_out >= p->n) {
		pthread_mutex_unlock(&p->mu);
		return svt_err_set(err, SVT_E_NOTFOUND, "every file of the pool was returned");
	}
	size_t i = p->next_out;
	while (p->slots[i].state != SLOT_DONE)
		pthread_cond_wait(&p->cv_done, &p->mu);
	pool_slot *s = &p->slots[i];
	s->state = SLOT_TAKEN;
	p->next_out++;
	*img = s->img;
	s->img = NULL;
	if (index)
		*index = i;
	if (warning)
		*warning = s->warning;
	if (frame_err)
		*frame_err = s->err;
	pthread_mutex_unlock(&p->mu);
	return SVT_OK;
}

void ingest_pool_release(ingest_pool *p, ingest_image *img)
{
	if (!p || !img)
		return;
	pthread_mutex_lock(&p->mu);
	give_image(p, img);
	p->alive--;
	pthread_cond_broadcast(&p->cv_work);
	pthread_mutex_unlock(&p->mu);
}

void ingest_pool_destroy(ingest_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv_work);
	pthread_mutex_unlock(&p->mu);
	for (int t = 0; t < p->n_thr; t++)
		pthread_join(p->thr[t], NULL);
	/* Every image, free, waiting or still held by the caller, lives in imgs. */
	if (p->imgs)
		for (int i = 0; i < p->depth; i++)
			ingest_image_free(&p->imgs[i]);
	free(p->imgs);
	if (p->paths)
		for (size_t i = 0; i < p->n; i++)
			free(p->paths[i]);
	free(p->paths);
	free(p->slots);
	free(p->free_imgs);
	free(p->thr);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv_work);
	pthread_cond_destroy(&p->cv_done);
	free(p);
}
