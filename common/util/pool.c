#include "pool.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* Sequence numbers: [emitted, claimed) are being worked on, [claimed, produced) wait for a worker.
 * Slot seq % window holds item seq; its done flag is set by the worker and read by the consumer.
 *
 * Rows can be as cheap as a comparison (a filter) or as dear as decoding a video. Handing items over
 * one at a time costs a few lock round trips each, which dominates cheap work, so a worker whose items
 * take under CHEAP_SECONDS claims up to MAX_BATCH at once, and the consumer emits every finished item
 * in a run per lock. Dear items are still claimed one by one so that the threads stay balanced. */
#define CHEAP_SECONDS 50e-6
#define MAX_BATCH     64
#define MIN_WINDOW    256

typedef struct slot {
	void *item;
	int done;
} slot;

typedef struct map {
	const sora_map_ops *ops;
	void *ctx;
	slot *slots;
	void **run; /* the consumer's batch */
	int64_t window, produced, claimed, emitted;
	int end, stop;
	pthread_mutex_t mu;
	pthread_cond_t can_produce, can_claim, can_emit;
} map;

typedef struct worker_arg {
	map *m;
	int id;
} worker_arg;

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *worker_main(void *p)
{
	worker_arg *a = p;
	map *m = a->m;
	double per_item = -1; /* running mean of seconds per item; unknown at first */
	pthread_mutex_lock(&m->mu);
	for (;;) {
		while (m->claimed == m->produced && !m->end)
			pthread_cond_wait(&m->can_claim, &m->mu);
		if (m->claimed == m->produced)
			break;
		int64_t first = m->claimed, n = 1;
		if (per_item >= 0 && per_item < CHEAP_SECONDS)
			n = m->produced - first < MAX_BATCH ? m->produced - first : MAX_BATCH;
		m->claimed += n;
		pthread_mutex_unlock(&m->mu);
		double t0 = now_seconds();
		for (int64_t i = 0; i < n; i++)
			m->ops->work(m->ctx, a->id, m->slots[(first + i) % m->window].item);
		double dt = (now_seconds() - t0) / (double)n;
		per_item = per_item < 0 ? dt : 0.8 * per_item + 0.2 * dt;
		pthread_mutex_lock(&m->mu);
		for (int64_t i = 0; i < n; i++)
			m->slots[(first + i) % m->window].done = 1;
		pthread_cond_signal(&m->can_emit);
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

static void *consumer_main(void *p)
{
	map *m = p;
	pthread_mutex_lock(&m->mu);
	for (;;) {
		slot *s = &m->slots[m->emitted % m->window];
		while (!(m->emitted < m->produced && s->done) && !(m->end && m->emitted == m->produced))
			pthread_cond_wait(&m->can_emit, &m->mu);
		if (m->emitted == m->produced)
			break;
		int64_t n = 0;
		for (; m->emitted + n < m->produced; n++) {
			s = &m->slots[(m->emitted + n) % m->window];
			if (!s->done)
				break;
			m->run[n] = s->item;
			s->item = NULL;
			s->done = 0;
		}
		int more = m->emitted + n < m->produced && m->slots[(m->emitted + n) % m->window].done;
		pthread_mutex_unlock(&m->mu);
		int stop = 0;
		for (int64_t i = 0; i < n; i++)
			stop |= m->ops->emit(m->ctx, m->run[i], i + 1 < n || more);
		pthread_mutex_lock(&m->mu);
		m->emitted += n;
		if (stop)
			m->stop = 1;
		pthread_cond_signal(&m->can_produce);
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

int sora_ordered_map(int threads, int window, const sora_map_ops *ops, void *ctx, sora_err *e)
{
	if (threads < 1)
		threads = 1;
	map m = {.ops = ops,
		 .ctx = ctx,
		 .window = window > 0                 ? window
			   : 4 * threads > MIN_WINDOW ? 4 * threads
						      : MIN_WINDOW,
		 .mu = PTHREAD_MUTEX_INITIALIZER,
		 .can_produce = PTHREAD_COND_INITIALIZER,
		 .can_claim = PTHREAD_COND_INITIALIZER,
		 .can_emit = PTHREAD_COND_INITIALIZER};
	pthread_t *tids = calloc((size_t)threads, sizeof *tids);
	worker_arg *args = calloc((size_t)threads, sizeof *args);
	pthread_t consumer;
	int started = 0, consumer_started = 0, rc = -1;
	m.slots = calloc((size_t)m.window, sizeof *m.slots);
	m.run = calloc((size_t)m.window, sizeof *m.run);
	CHECK_ALLOC(e, m.run);
	CHECK_ALLOC(e, tids);
	CHECK_ALLOC(e, args);
	CHECK_ALLOC(e, m.slots);

	CHECK(e, pthread_create(&consumer, NULL, consumer_main, &m) == 0, "cannot start a thread");
	consumer_started = 1;
	for (; started < threads; started++) {
		args[started] = (worker_arg){&m, started};
		CHECK(e, pthread_create(&tids[started], NULL, worker_main, &args[started]) == 0,
		      "cannot start a thread");
	}

	pthread_mutex_lock(&m.mu);
	for (;;) {
		while (m.produced - m.emitted >= m.window && !m.stop)
			pthread_cond_wait(&m.can_produce, &m.mu);
		if (m.stop)
			break;
		pthread_mutex_unlock(&m.mu);
		void *item = ops->next(ctx);
		pthread_mutex_lock(&m.mu);
		if (!item)
			break;
		m.slots[m.produced % m.window].item = item;
		m.produced++;
		pthread_cond_signal(&m.can_claim);
	}
	pthread_mutex_unlock(&m.mu);
	rc = 0;
fail:
	pthread_mutex_lock(&m.mu);
	m.end = 1;
	pthread_cond_broadcast(&m.can_claim);
	pthread_cond_broadcast(&m.can_emit);
	pthread_mutex_unlock(&m.mu);
	for (int i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	if (consumer_started)
		pthread_join(consumer, NULL);
	free(m.slots);
	free(m.run);
	free(args);
	free(tids);
	return rc;
}
