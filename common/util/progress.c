#include "progress.h"

#include "log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A terminal is redrawn often enough to look live; a log file gets a line now and then. */
#define TTY_PERIOD 0.2
#define LOG_PERIOD 5.0

double sora_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void sora_progress_start(sora_progress *p, const char *what, int64_t total, int enabled)
{
	*p = (sora_progress){.what = what, .total = total, .enabled = enabled, .tty = isatty(2)};
	p->t0 = p->last = sora_now();
}

static void fmt_time(char *buf, size_t n, double sec)
{
	long s = (long)(sec + 0.5);
	if (s >= 3600)
		snprintf(buf, n, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, n, "%ld:%02ld", s / 60, s % 60);
}

/* "ETA m:ss" when the total is known, else the time so far. */
static void draw(sora_progress *p, double now)
{
	double el = now - p->t0, rate = el > 0 ? (double)p->done / el : 0;
	char when[48] = "ETA ?";
	if (p->total > 0 && rate > 0) {
		memcpy(when, "ETA ", 4);
		fmt_time(when + 4, sizeof when - 4, (double)(p->total - p->done) / rate);
	} else if (p->total <= 0) {
		fmt_time(when, sizeof when, el);
		strcat(when, " elapsed");
	}
	sora_log_lock();
	if (p->tty) {
		fputs("\r\033[K", stderr);
		if (p->total > 0) {
			int width = 30, fill = (int)((double)width * (double)p->done / (double)p->total);
			fputc('[', stderr);
			for (int i = 0; i < width; i++)
				fputc(i < fill ? '#' : '.', stderr);
			fprintf(stderr, "] %lld/%lld %s", (long long)p->done, (long long)p->total, p->what);
		} else {
			fprintf(stderr, "%lld %s", (long long)p->done, p->what);
		}
		fprintf(stderr, ", %lld rejected, %.1f/s, %s", (long long)p->rejected, rate, when);
		sora_log_set_bar(1);
	} else {
		fprintf(stderr, "%s: %lld", sora_log_prog(), (long long)p->done);
		if (p->total > 0)
			fprintf(stderr, "/%lld", (long long)p->total);
		fprintf(stderr, " %s, %lld rejected, %.1f/s, %s\n", p->what, (long long)p->rejected, rate,
			when);
	}
	sora_log_unlock();
}

void sora_progress_tick(sora_progress *p, int64_t done, int64_t rejected)
{
	p->done = done;
	p->rejected = rejected;
	if (!p->enabled)
		return;
	double now = sora_now();
	if (now - p->last < (p->tty ? TTY_PERIOD : LOG_PERIOD))
		return;
	p->last = now;
	draw(p, now);
}

void sora_progress_end(sora_progress *p)
{
	if (!p->enabled || !p->tty)
		return;
	sora_log_lock();
	fputs("\r\033[K", stderr);
	sora_log_set_bar(0);
	sora_log_unlock();
}
