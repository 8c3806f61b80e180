#include "util/pool.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef struct state {
	int n, next, expect, in_flight, max_in_flight, stop_at;
	int *order;
	pthread_mutex_t mu;
} state;

static void *next(void *ctx)
{
	state *s = ctx;
	if (s->next == s->n)
		return NULL;
	int *v = malloc(sizeof *v);
	*v = s->next++;
	pthread_mutex_lock(&s->mu);
	if (++s->in_flight > s->max_in_flight)
		s->max_in_flight = s->in_flight;
	pthread_mutex_unlock(&s->mu);
	return v;
}

static void work(void *ctx, int worker, void *item)
{
	int v = *(int *)item;
	/* Uneven work so that items finish out of order. */
	struct timespec ts = {0, (long)((v * 7919) % 13) * 100000L};
	nanosleep(&ts, NULL);
	*(int *)item = v * 2;
}

static int emit(void *ctx, void *item, int more)
{
	state *s = ctx;
	s->order[s->expect++] = *(int *)item;
	free(item);
	pthread_mutex_lock(&s->mu);
	s->in_flight--;
	pthread_mutex_unlock(&s->mu);
	return s->stop_at && s->expect >= s->stop_at;
}

static void run(int threads, int window, int n, int stop_at, state *s)
{
	*s = (state){.n = n,
		     .stop_at = stop_at,
		     .order = calloc((size_t)n, sizeof(int)),
		     .mu = PTHREAD_MUTEX_INITIALIZER};
	const sora_map_ops ops = {next, work, emit};
	sora_err e = {0};
	cr_assert_eq(sora_ordered_map(threads, window, &ops, s, &e), 0);
}

Test(pool, output_in_input_order_for_any_thread_count)
{
	int counts[] = {1, 2, 4, 16};
	for (int t = 0; t < 4; t++) {
		state s;
		run(counts[t], 0, 500, 0, &s);
		cr_assert_eq(s.expect, 500);
		for (int i = 0; i < 500; i++)
			cr_assert_eq(s.order[i], 2 * i, "threads %d: item %d", counts[t], i);
		free(s.order);
	}
}

Test(pool, memory_is_bounded_by_the_window)
{
	state s;
	run(4, 8, 300, 0, &s);
	cr_assert_leq(s.max_in_flight, 8);
	free(s.order);
}

Test(pool, emit_can_stop_early_and_nothing_leaks)
{
	state s;
	run(3, 6, 1000, 10, &s);
	cr_assert_geq(s.expect, 10);
	cr_assert_lt(s.expect, 1000);
	cr_assert_eq(s.in_flight, 0);
	free(s.order);
}

Test(pool, empty_input)
{
	state s;
	run(4, 0, 0, 0, &s);
	cr_assert_eq(s.expect, 0);
	free(s.order);
}
