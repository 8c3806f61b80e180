/* A clip's frames as Open-Sora 2.0's training loader prepares them (opensora/datasets: datasets.py
 * VideoTextDataset, utils.py temporal_random_crop, video_transforms.py ResizeCrop), so that the latents
 * sora-encode stores are those the reference would have computed on the fly:
 *
 *   - frames: num_frames = the bucket's length, picked from a window of num_frames × interval frames
 *     (interval from map_target_fps, fps_max 24) by np.linspace(begin, end − 1, num_frames, dtype=int).
 *     The reference draws the window's begin at random each epoch; a stored latent is one draw, and
 *     sora-encode takes the first window (begin 0), the one every clip has.
 *   - pixels: /255, resized to cover the bucket's size (bilinear, align_corners=False, no antialias:
 *     F.interpolate), centre crop, (x − 0.5) / 0.5. */
#ifndef SORA_CLIP_FRAMES_H
#define SORA_CLIP_FRAMES_H

#include "../util/err.h"

#include <stdint.h>

/* The num_frames frame indices (into a clip of total frames) that the loader takes from the window that
 * starts at begin: np.linspace(begin, min(begin + num_frames·interval, total) − 1, num_frames, dtype=int).
 * Fails when the window holds fewer than num_frames frames (the reference's assert). */
int sora_clip_frame_indices(int total, int num_frames, int interval, int begin, int *idx, sora_err *e);

/* resize_crop_to_fill: the size (*sh, *sw) an h × w frame is resized to so that it covers th × tw, and
 * the top-left corner (*i, *j) of the centre crop. */
void sora_resize_crop_plan(int h, int w, int th, int tw, int *sh, int *sw, int *i, int *j);

/* One RGB24 frame (h × w, rows linesize bytes apart) resized to cover th × tw, centre-cropped and
 * normalised to [−1, 1], into out: 3 planes th × tw, the plane for channel c at out + c·plane. */
void sora_resize_crop_rgb(const uint8_t *rgb, int linesize, int h, int w, int th, int tw, float *out,
			  size_t plane);

/* An image as the loader prepares it (utils.py resize_crop_to_fill for PIL images): Pillow's BICUBIC
 * resize to cover th × tw (the same size as for video), the crop's offset int(round((s − t) / 2.0)) (half
 * to even, unlike the video's floor), ToTensor's /255 of the uint8 result, (x − 0.5) / 0.5. */
int sora_resize_crop_image(const uint8_t *rgb, int linesize, int h, int w, int th, int tw, float *out,
			   size_t plane, sora_err *e);

/* The prepared clip: x [3, num_frames, th, tw] in [−1, 1] (malloc'd) from the frames of path within
 * [start, end) seconds, taking the frames that sora_clip_frame_indices gives. */
typedef struct sora_clip_info {
	int total; /* frames in [start, end) */
	int width, height;
	double fps; /* the stream's; 0 when unknown */
} sora_clip_info;

/* Counts the frames of path within [start, end) and reads its size and frame rate. */
int sora_clip_probe(const char *path, double start, double end, sora_clip_info *info, sora_err *e);
/* Decodes the frames idx[0..n) (increasing, counted from the first frame at or after start) and prepares
 * them at th × tw into *x [3, n, th, tw]. */
int sora_clip_prepare(const char *path, double start, const int *idx, int n, int th, int tw, float **x,
		      sora_err *e);

#endif
