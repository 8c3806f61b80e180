/* Still image files (PNG, JPEG, BMP, PPM, WebP, ...: whatever FFmpeg's image2 demuxers open) decoded
 * to packed RGB24, for scoring or embedding images rather than video frames. io/video.c refuses still
 * images on purpose (a video tool must not take a .png as a one-frame video); this is the other door.
 *
 * Alpha is dropped, not composited, as PIL's convert("RGB") does. EXIF orientation is not applied
 * (PIL's Image.open does not apply it either). PNG, BMP and PPM decode bit-exactly; JPEG goes through
 * FFmpeg's decoder and swscale's YUV → RGB, which differ from Pillow's libjpeg: under a level on
 * average, tens of levels at sharp colour edges (chroma upsampling). */
#ifndef SORA_IMAGE_FILE_H
#define SORA_IMAGE_FILE_H

#include "../util/err.h"

#include <stdint.h>

/* *rgb [*h, *w, 3] tightly packed, malloc'd (the caller frees it). Fails for a non-regular file, a
 * file with no image stream, a video (more than one frame), or an undecodable image. */
int sora_image_load(const char *path, uint8_t **rgb, int *w, int *h, sora_err *e);
/* Packed RGB24 w × h written as a PNG file (libavcodec's png encoder). */
int sora_image_save_png(const char *path, const uint8_t *rgb, int w, int h, sora_err *e);

#endif
