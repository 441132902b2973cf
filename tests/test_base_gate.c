/* test_base_gate.c: the CPU gate (base/svt.h) that makes --threads bound every thread of a
 * build: never more than n places held at once, every thread gets through, and a gate of one
 * place hands it out in the order it was asked for, so that a thread leaving and entering
 * again at once (a view worker between frames) cannot starve one already waiting (the build's
 * main thread, which stores the frames: unfair, a --threads 1 build held a whole clip of
 * encoded frames before the first was stored). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>

#include "base/svt.h"

typedef struct order_log {
	pthread_mutex_t mu;
	int seq[8], n;
} order_log;

typedef struct entrant {
	svt_gate *g;
	order_log *log;
	int id;
} entrant;

static void log_add(order_log *l, int id)
{
	pthread_mutex_lock(&l->mu);
	l->seq[l->n++] = id;
	pthread_mutex_unlock(&l->mu);
}

static void *enter_once(void *arg)
{
	entrant *e = arg;
	svt_gate_enter(e->g);
	log_add(e->log, e->id);
	svt_gate_leave(e->g);
	return NULL;
}

static void wait_for_waiters(svt_gate *g, int n)
{
	for (long spins = 0; svt_gate_waiting(g) < n; spins++) {
		cr_assert_lt(spins, 100000000L, "the gate never saw %d waiting", n);
		sched_yield();
	}
}

Test(gate, one_place_goes_in_the_order_asked)
{
	svt_gate *g = svt_gate_create(1);
	cr_assert_not_null(g);
	order_log log = {.mu = PTHREAD_MUTEX_INITIALIZER};
	svt_gate_enter(g); /* the only place: 1 and 2 queue behind it, 1 first */
	entrant a = {g, &log, 1}, b = {g, &log, 2};
	pthread_t ta, tb;
	cr_assert_eq(pthread_create(&ta, NULL, enter_once, &a), 0);
	wait_for_waiters(g, 1);
	cr_assert_eq(pthread_create(&tb, NULL, enter_once, &b), 0);
	wait_for_waiters(g, 2);
	/* Leaving and entering again at once, as a worker between frames does: the holder goes
	 * behind both waiters (an unfair gate lets it win the place back before they wake). */
	svt_gate_leave(g);
	svt_gate_enter(g);
	log_add(&log, 0);
	svt_gate_leave(g);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	cr_assert_eq(log.n, 3);
	cr_assert(log.seq[0] == 1 && log.seq[1] == 2 && log.seq[2] == 0, "order %d %d %d",
		  log.seq[0], log.seq[1], log.seq[2]);
	cr_assert_eq(svt_gate_waiting(g), 0);
	cr_assert_eq(svt_gate_peak(g), 1);
	svt_gate_destroy(g);
}

typedef struct busy_probe {
	svt_gate *g;
	pthread_mutex_t mu;
	int inside, most;
} busy_probe;

static void *enter_many(void *arg)
{
	busy_probe *p = arg;
	for (int i = 0; i < 2000; i++) {
		svt_gate_enter(p->g);
		pthread_mutex_lock(&p->mu);
		if (++p->inside > p->most)
			p->most = p->inside;
		pthread_mutex_unlock(&p->mu);
		sched_yield();
		pthread_mutex_lock(&p->mu);
		p->inside--;
		pthread_mutex_unlock(&p->mu);
		svt_gate_leave(p->g);
	}
	return NULL;
}

Test(gate, never_more_than_n_inside_and_all_get_through, .timeout = 60)
{
	enum { N = 3, THREADS = 8 };
	busy_probe p = {.g = svt_gate_create(N), .mu = PTHREAD_MUTEX_INITIALIZER};
	cr_assert_not_null(p.g);
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, enter_many, &p), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	cr_assert_leq(p.most, N, "%d inside a gate of %d", p.most, N);
	cr_assert_geq(p.most, 2, "a gate of %d never let two in at once", N);
	cr_assert_eq(p.inside, 0);
	cr_assert_eq(svt_gate_waiting(p.g), 0);
	cr_assert_leq(svt_gate_peak(p.g), N);
	svt_gate_destroy(p.g);
}
