/* VMAF motion exactly as FFmpeg 5.1's vmafmotion filter computes it, plus libvmaf's motion2 pooling.
 *
 * Per frame: the luma plane is blurred with the 5-tap integer kernel {1785, 8002, 13193, 8002, 1785}
 * (vertical pass shifted right by the bit depth, horizontal pass by 15, both truncating, borders
 * mirrored as FFmpeg does); m[t] is the mean absolute difference of consecutive blurred frames in 8-bit
 * units, m[0] = 0. motion2[t] = min(m[t], m[t+1]), the last frame keeping m. */
#ifndef SORA_VMAFMOTION_H
#define SORA_VMAFMOTION_H

#include "util/err.h"

#include <stdint.h>

typedef struct sora_vmafmotion sora_vmafmotion;

/* Luma of w x h samples of `depth` bits (8: one byte each; 9 to 16: uint16 in native endianness). */
int sora_vmafmotion_open(sora_vmafmotion **out, int w, int h, int depth, sora_err *e);
void sora_vmafmotion_close(sora_vmafmotion *s);

/* Adds the next frame's luma plane (linesize in bytes); returns m[t]. */
double sora_vmafmotion_push(sora_vmafmotion *s, const uint8_t *luma, int linesize);

typedef struct sora_vmafmotion_result {
	int64_t frames;
	double avg;   /* mean(m): what FFmpeg prints as "VMAF Motion avg" */
	double score; /* (mean(m) + mean(motion2)) / 2: Open-Sora 2.0's score_vmafmotion */
} sora_vmafmotion_result;

/* The pooled scores of the frames pushed so far (all zero before any). */
sora_vmafmotion_result sora_vmafmotion_result_get(const sora_vmafmotion *s);

#endif
