/* The few OpenCV calls the project needs, behind a C API (OpenCV is C++; this and cv_shim.cpp are the
 * only C++ in sora-score). Frames are 8-bit gray, rows `stride` bytes apart. C++ exceptions become
 * errors in e; nothing here prints. Every call runs on the calling thread only: rows are already
 * scored in parallel. */
#ifndef SORA_CV_SHIM_H
#define SORA_CV_SHIM_H

#include "../util/err.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Variance of the Laplacian (3x3 aperture 1, as cv2.Laplacian(gray, cv2.CV_64F).var()). */
int sora_cv_laplacian_var(const uint8_t *gray, int w, int h, int stride, double *out, sora_err *e);

/* Farneback optical flow between consecutive frames resized to a given short side. */
typedef struct sora_cv_flow sora_cv_flow;

int sora_cv_flow_open(sora_cv_flow **out, int short_side, sora_err *e);
void sora_cv_flow_close(sora_cv_flow *f);
/* Adds a frame; from the second on, *mag is the mean flow magnitude from the previous frame, in pixels
 * at the resized size (*has_mag = 1). Resizing uses INTER_AREA when shrinking, INTER_LINEAR when
 * enlarging. */
int sora_cv_flow_push(sora_cv_flow *f, const uint8_t *gray, int w, int h, int stride, double *mag,
		      int *has_mag, sora_err *e);

#ifdef __cplusplus
}
#endif

#endif
