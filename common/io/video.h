/* Video I/O on libavformat / libavcodec / libswscale.
 *
 * Open a file, read its metadata, decode frames in presentation order as gray, RGB or the native YUV,
 * scaled to a requested size and rotated for display; seek to a time and decode frame-exactly from
 * there; write H.264 MP4 with libx264. Every function reports failure through a sora_err and returns
 * a negative value; nothing here prints or exits.
 */
#ifndef SORA_VIDEO_H
#define SORA_VIDEO_H

#include "../util/err.h"

#include <stdint.h>

typedef struct sora_video sora_video;

typedef struct sora_video_info {
	int width, height;             /* displayed size: coded size with rotation applied */
	int coded_width, coded_height; /* as stored in the stream */
	int rotation;                  /* clockwise degrees to rotate for display: 0, 90, 180, 270 */
	double fps;            /* average frame rate (avg_frame_rate, else r_frame_rate); 0 if unknown */
	int fps_num, fps_den;  /* the same as a fraction */
	double duration_sec;   /* of the stream, else the container, else from a count; 0 if unknown */
	int64_t num_frames;    /* frame count (see num_frames_source); 0 if unknown */
	int num_frames_source; /* SORA_NFRAMES_* */
	char codec[32];        /* decoder short name: h264, hevc, vp9, ... */
	char pix_fmt[32];      /* native pixel format name: yuv420p, yuv420p10le, ... */
	int bit_depth;         /* bits per luma sample */
	/* 1 when frame durations vary. From the headers: r_frame_rate and avg_frame_rate differ by more
	 * than 0.5%. Once frames are counted from packets or by decoding, from their timestamps instead:
	 * the gaps between consecutive frames differ by more than 1% (plus one tick of rounding). */
	int vfr;
	int has_audio;
	int64_t bit_rate; /* video stream bit rate in bit/s, else the container's; 0 if unknown */
} sora_video_info;

enum {
	SORA_NFRAMES_UNKNOWN = 0,
	SORA_NFRAMES_CONTAINER = 1, /* the container's frame count, consistent with duration x fps */
	SORA_NFRAMES_PACKETS = 2,   /* counted by demuxing every video packet (no decoding) */
	SORA_NFRAMES_DECODED = 3,   /* counted by decoding every frame */
};

/* Pixel layout of decoded frames. */
typedef enum {
	SORA_PIX_GRAY = 0,   /* 8-bit luma, 1 plane */
	SORA_PIX_RGB = 1,    /* packed RGB24, 1 plane */
	SORA_PIX_NATIVE = 2, /* the stream's own pixel format and planes, not scaled, not rotated */
} sora_pix;

typedef struct sora_video_opts {
	int threads;    /* decoder threads (frame threading where the codec allows); 0 = FFmpeg's choice */
	sora_pix pix;   /* layout of decoded frames */
	int out_width;  /* scaled size of decoded frames (after rotation); 0,0 = displayed size; */
	int out_height; /* one of them 0 = keep aspect ratio from the other */
	int fast; /* detection-quality decoding: skip loop filter, fast flags. Never for written clips */
} sora_video_opts;

typedef struct sora_frame {
	uint8_t *data[4]; /* planes; owned by the sora_video, valid until the next decode/seek/close */
	int linesize[4];
	int width, height;
	int pix_fmt;    /* AVPixelFormat of data (GRAY8, RGB24, or the native one) */
	double pts_sec; /* presentation time in seconds from the stream start; a frame without a
			 * timestamp is placed one frame duration after the previous one */
	/* Frame index in presentation order from the stream start: frames returned since the start.
	 * After a seek it is exact when every frame's timestamp is known (the packets were counted at open,
	 * or sora_video_count_frames ran), else round(pts_sec x fps), exact for constant frame rate. */
	int64_t index;
} sora_frame;

/* Opens path and its best video stream. Rejects non-regular files (FIFOs, devices, directories)
 * without opening them, so nothing can block. opts may be NULL (defaults: all zero). */
int sora_video_open(sora_video **out, const char *path, const sora_video_opts *opts, sora_err *e);
void sora_video_close(sora_video *v);

/* Changes the size of the GRAY/RGB frames decoded from now on (out_width / out_height as in
 * sora_video_opts), for callers that choose it from the video's own size: cheaper than opening twice.
 * Frames returned before become invalid. */
int sora_video_set_size(sora_video *v, int out_width, int out_height, sora_err *e);

/* Metadata from the container and codec headers. num_frames comes from the container when it is
 * trustworthy (present and consistent with duration x fps), else from counting packets. */
const sora_video_info *sora_video_get_info(const sora_video *v);

/* Counts frames exactly by decoding all of them (Open-Sora's meta.py decodes the whole file) and
 * updates info: num_frames, num_frames_source, vfr (from the decoded timestamps), duration_sec.
 * Leaves the reader rewound to the start. */
int sora_video_count_frames(sora_video *v, sora_err *e);

/* Decodes the next frame in presentation order. Returns 1 with *f filled, 0 at end of stream, <0 on
 * error. Corrupt packets in the middle are skipped as FFmpeg does; an error is returned only when
 * nothing more can be decoded: no frame decodes at all, or the demuxer fails before the end (after the
 * frames already decoded have been returned). */
int sora_video_read(sora_video *v, sora_frame *f, sora_err *e);

/* Positions the reader so that the next sora_video_read returns the first frame whose presentation
 * time is >= t_sec (frame-exact: seeks to the keyframe before, then decodes and drops). Correct for
 * variable frame rate: it compares timestamps, never frame counts. Past the last frame, the next read
 * returns 0. Streams without timestamps (raw .h264) can only seek to 0. */
int sora_video_seek(sora_video *v, double t_sec, sora_err *e);

/* H.264 MP4 writer (libx264, yuv420p). Frames are packed RGB24 of the size given at open. */
typedef struct sora_video_writer sora_video_writer;

typedef struct sora_writer_opts {
	int width, height;
	int fps_num, fps_den;
	int crf;            /* libx264 CRF; 0 means the default 18 */
	const char *preset; /* libx264 preset; NULL means "medium" */
} sora_writer_opts;

int sora_video_writer_open(sora_video_writer **out, const char *path, const sora_writer_opts *o, sora_err *e);
int sora_video_writer_put_rgb(sora_video_writer *w, const uint8_t *rgb, int linesize, sora_err *e);
/* Flushes, writes the trailer and frees w (also on error). */
int sora_video_writer_close(sora_video_writer *w, sora_err *e);

#endif
