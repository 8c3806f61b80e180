/* The training step's flow math against the official training step of mmdit_tiny_io.safetensors
 * (train.py prepare_inputs / run_iter, torch.manual_seed(2024), batch 2, a [16, 3, 8, 8] latent): the
 * logit-normal t, the noise from the same generator, x_0 packing, x_t, the velocity target, the ids,
 * and the loss with its gradient from the stored prediction. */
#include "flow/pack.h"
#include "flow/schedule.h"
#include "flow/torch_rng.h"
#include "flow/train.h"
#include "flow_fixture.h"

enum { B = 2, NX = 2 * 48 * 64, NLAT = 2 * 16 * 3 * 8 * 8, NIDS = 48 * 3, NIDS2 = 2 * NIDS };

Test(flow_train, official_training_step)
{
	sora_safetensors *st = flow_open_st("mmdit_tiny_io.safetensors");
	sora_err e = {0};
	static float normal[B], t[B], x0[NX], x1[NX], xt[NX], v[NX], grad[NX], ids[NIDS];
	sora_torch_rng g;
	sora_torch_rng_seed(&g, 2024);
	sora_torch_randn(&g, normal, B);
	flow_expect_exact("train.normal_t", normal, flow_f32(st, "train.normal_t", B), B);
	sora_train_t(t, normal, B, sora_flow_alpha(8 * 8 / 4, 3));
	flow_expect_exact("train.t", t, flow_f32(st, "train.t", B), B);
	cr_assert_eq(sora_pack(x0, flow_f32(st, "train.in.video_latents", NLAT), B, 16, 3, 8, 8, 2, &e), 0,
		     "%s", e.msg);
	flow_expect_exact("train.x_0", x0, flow_f32(st, "train.x_0", NX), NX);
	sora_torch_randn(&g, x1, NX);
	flow_expect_exact("train.x_1", x1, flow_f32(st, "train.x_1", NX), NX);
	sora_flow_interpolate(xt, x0, x1, t, B, NX / B);
	flow_expect_exact("train.x_t", xt, flow_f32(st, "train.x_t", NX), NX);
	sora_flow_target(v, x0, x1, NX);
	flow_expect_exact("train.target_v", v, flow_f32(st, "train.target_v", NX), NX);
	sora_img_ids(ids, 1, 3, 4, 4);
	const float *rid = flow_f32(st, "train.img_ids", NIDS2);
	flow_expect_exact("train.img_ids[0]", ids, rid, NIDS);
	flow_expect_exact("train.img_ids[1]", ids, rid + NIDS, NIDS);
	double loss = sora_flow_mse(flow_f32(st, "train.pred", NX), v, NX, grad);
	expect_cmp("train.loss", cmp_rel(cmp_f64(&loss, 1), cmp_f32(flow_f32(st, "train.loss", 1), 1), 1e-6));
	flow_expect_close("train.dloss_dpred", grad, flow_f32(st, "train.dloss_dpred", NX), NX, 1e-6);
	sora_st_close(st);
}
