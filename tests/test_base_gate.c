/* test_base_gate.c: the CPU gate (base/svt.h) that makes --threads bound every thread of a
 * build: never more than n places held at once, and every thread gets through. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>

#include "base/svt.h"

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
	cr_assert_leq(svt_gate_peak(p.g), N);
	svt_gate_destroy(p.g);
}
