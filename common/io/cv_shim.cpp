#include "cv_shim.h"

#include <cmath>
#include <mutex>
#include <new>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/video/tracking.hpp>

namespace
{

/* Rows are scored in parallel by our own workers; OpenCV's pool on top would oversubscribe the cores. */
void single_thread()
{
	static std::once_flag once;
	std::call_once(once, [] { cv::setNumThreads(0); });
}

cv::Mat wrap(const uint8_t *gray, int w, int h, int stride)
{
	return cv::Mat(h, w, CV_8UC1, const_cast<uint8_t *>(gray), (size_t)stride);
}

} // namespace

struct sora_cv_flow {
	int short_side;
	cv::Mat prev, cur, flow;
};

extern "C" int sora_cv_laplacian_var(const uint8_t *gray, int w, int h, int stride, double *out, sora_err *e)
{
	try {
		single_thread();
		cv::Mat lap;
		cv::Laplacian(wrap(gray, w, h, stride), lap, CV_64F);
		cv::Scalar mean, sd;
		cv::meanStdDev(lap, mean, sd);
		*out = sd[0] * sd[0];
		return 0;
	} catch (const std::exception &x) {
		return SORA_FAIL(e, "Laplacian: %s", x.what());
	}
}

extern "C" int sora_cv_flow_open(sora_cv_flow **out, int short_side, sora_err *e)
{
	*out = nullptr;
	if (short_side < 16)
		return SORA_FAIL(e, "flow: short side %d is too small", short_side);
	try {
		single_thread();
		*out = new sora_cv_flow{short_side, {}, {}, {}};
		return 0;
	} catch (const std::exception &x) {
		return SORA_FAIL(e, "flow: %s", x.what());
	}
}

extern "C" void sora_cv_flow_close(sora_cv_flow *f)
{
	delete f;
}

extern "C" int sora_cv_flow_push(sora_cv_flow *f, const uint8_t *gray, int w, int h, int stride, double *mag,
				 int *has_mag, sora_err *e)
{
	*has_mag = 0;
	try {
		int s = w < h ? w : h;
		int ow = w <= h ? f->short_side : (int)std::lround((double)w * f->short_side / h);
		int oh = h < w ? f->short_side : (int)std::lround((double)h * f->short_side / w);
		cv::resize(wrap(gray, w, h, stride), f->cur, cv::Size(ow, oh), 0, 0,
			   s > f->short_side ? cv::INTER_AREA : cv::INTER_LINEAR);
		if (!f->prev.empty() && f->prev.size() == f->cur.size() &&
		    cv::countNonZero(f->prev != f->cur) == 0) {
			/* Farneback leaves a residue of about 1e-4 px on identical frames; a still is 0. */
			*mag = 0;
			*has_mag = 1;
		} else if (!f->prev.empty() && f->prev.size() == f->cur.size()) {
			cv::calcOpticalFlowFarneback(f->prev, f->cur, f->flow, 0.5, 3, 15, 3, 5, 1.2, 0);
			double sum = 0;
			for (int i = 0; i < f->flow.rows; i++) {
				const cv::Vec2f *p = f->flow.ptr<cv::Vec2f>(i);
				for (int j = 0; j < f->flow.cols; j++)
					sum += std::hypot((double)p[j][0], (double)p[j][1]);
			}
			*mag = sum / ((double)f->flow.rows * f->flow.cols);
			*has_mag = 1;
		}
		cv::swap(f->prev, f->cur);
		return 0;
	} catch (const std::exception &x) {
		return SORA_FAIL(e, "flow: %s", x.what());
	}
}
