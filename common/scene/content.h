/* The per-frame measures shot detection runs on, computed on the small detection frame.
 *
 * HSV is OpenCV's 8-bit COLOR_BGR2HSV, bit for bit (the same fixed-point division tables): H in
 * [0, 179] (degrees / 2), S = 255 (max - min) / max, V = max. The content score is PySceneDetect's
 * ContentDetector default: the mean of the mean absolute differences of H, S and V between two frames
 * (equal weights, hue not wrapped). */
#ifndef SORA_SCENE_CONTENT_H
#define SORA_SCENE_CONTENT_H

#include <stdint.h>

/* Packed RGB24 rows (linesize ls) of w x h pixels into three planes of w*h bytes: hsv[0..n) = H,
 * hsv[n..2n) = S, hsv[2n..3n) = V, n = w*h. */
void sora_rgb_to_hsv(const uint8_t *rgb, int ls, int w, int h, uint8_t *hsv);

/* Content score between two HSV frames of n pixels each (0 to 255). */
double sora_content_score(const uint8_t *hsv_a, const uint8_t *hsv_b, int n);

/* Mean of every R, G and B value (PySceneDetect's ThresholdDetector `average_rgb`). */
double sora_rgb_mean(const uint8_t *rgb, int ls, int w, int h);

#endif
