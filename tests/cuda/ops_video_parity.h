#ifndef SORA_OPS_VIDEO_PARITY_H
#define SORA_OPS_VIDEO_PARITY_H

/* Runs every CUDA video op (ops_video.h) against its CPU twin, one ok / not ok line each. */
void sora_ops_video_parity(int *passed, int *failed);

#endif
