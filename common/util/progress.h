/* Progress on stderr: a live bar with rate and ETA when stderr is a terminal, a plain line every few
 * seconds otherwise, nothing with -q. Ticked from one thread (the writer of the ordered map). */
#ifndef SORA_PROGRESS_H
#define SORA_PROGRESS_H

#include <stdint.h>

typedef struct sora_progress {
	const char *what; /* "rows", "files", ... */
	int64_t total;    /* 0 when unknown (streaming input) */
	int64_t done, rejected;
	double t0, last;
	int enabled, tty;
} sora_progress;

double sora_now(void); /* monotonic seconds */

void sora_progress_start(sora_progress *p, const char *what, int64_t total, int enabled);
void sora_progress_tick(sora_progress *p, int64_t done, int64_t rejected);
/* Erases the bar (terminal) so the summary line stands alone. */
void sora_progress_end(sora_progress *p);

#endif
