/* sora-sample's library glue against the official end-to-end image-to-video run (e2e_i2v_io.safetensors):
 * the reference read as read_from_path(..., "resize_crop") reads it, its sampled VAE latent (torch's
 * global generator seeded 31337), the loop through the real tiny MMDiT on the stored text embeddings, and
 * the VAE decode, each within the fixture README's bounds; text widths that do not fit the MMDiT; the
 * reference's uint8 rounding. Fixtures from $SORA_FIXTURES (default ../shared/fixtures); skipped, saying
 * so, when absent. */
#include "flow/sampler.h"
#include "flow/torch_rng.h"
#include "infer/sample_model.h"
#include "infer/sample_ref.h"
#include "infer/sample_save.h"
#include "io/image_file.h"
#include "models/mmdit.h"
#include "models/vae_hunyuan.h"

#include "flow_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
	NPIX = 3 * 64 * 64,
	NLAT = 16 * 3 * 8 * 8,
	NREF = 16 * 8 * 8,
	LT = 12,
	DT = 48,
	DV = 32,
	NT5 = 576,
	NVID = 110592
};

Test(sample, to_u8_as_the_reference)
{
	/* (x + 1)/2·255 + 0.5, clamped, truncated; x clamped to [−1, 1] first */
	cr_expect_eq(sora_sample_to_u8(-3.0f), 0);
	cr_expect_eq(sora_sample_to_u8(-1.0f), 0);
	cr_expect_eq(sora_sample_to_u8(0.0f), 128);
	cr_expect_eq(sora_sample_to_u8(1.0f), 255);
	cr_expect_eq(sora_sample_to_u8(7.0f), 255);
	cr_expect_eq(sora_sample_to_u8(-0.998f), 0);  /* 0.255 + 0.5 → 0 */
	cr_expect_eq(sora_sample_to_u8(-0.995f), 1);  /* 0.6375 + 0.5 → 1 */
	cr_expect_eq(sora_sample_to_u8(0.5f), 191);   /* 191.25 + 0.5 */
	cr_expect_eq(sora_sample_to_u8(0.502f), 192); /* 191.505 + 0.5 */
}

Test(sample, resize_crop_as_the_reference)
{
	sora_safetensors *st = flow_open_st("e2e_i2v_io.safetensors");
	char path[1024];
	sora_err e = {0};
	static float px[NPIX];
	cr_assert_eq(
	    sora_sample_ref_pixels(flow_fixture(path, sizeof path, "e2e_ref_80x100.png"), 64, 64, 0, px, &e),
	    0, "%s", e.msg);
	flow_expect_exact("resize_crop 80x100 → 64x64", px, flow_f32(st, "resize_crop.80x100_to_64x64", NPIX),
			  NPIX);
	cr_assert_eq(
	    sora_sample_ref_pixels(flow_fixture(path, sizeof path, "e2e_ref_64x64.png"), 64, 64, 0, px, &e),
	    0, "%s", e.msg);
	flow_expect_exact("resize_crop 64x64 → 64x64", px, flow_f32(st, "resize_crop.64x64_to_64x64", NPIX),
			  NPIX);
	flow_expect_exact("ref_pixels", px, flow_f32(st, "ref_pixels", NPIX), NPIX);
	cr_expect_eq(sora_sample_ref_pixels(flow_fixture(path, sizeof path, "README.md"), 64, 64, 0, px, &e),
		     -1);
	cr_expect(strstr(e.msg, "not an image"), "%s", e.msg);
	sora_st_close(st);
}

/* prepare_api(...)(opt 64×64, 9 frames, 3 steps, seed 42, i2v_head, torch.manual_seed(31337)): every
 * stage with the real models, from the PNG to the decoded video. */
Test(sample, e2e_i2v_real_models)
{
	sora_safetensors *st = flow_open_st("e2e_i2v_io.safetensors");
	char path[1024], cfg[64] = "/tmp/sora-sample-XXXXXX";
	sora_err e = {0};
	sora_vae vae;
	sora_mmdit dit;
	sora_sample_model s;
	sora_sample_opts o;
	sora_sample_plan p;
	sora_torch_rng g;
	static float px[NPIX], ref[NREF], noise[NLAT], lat[NLAT], txt[3 * NT5], y[3 * DV];
	float *video = NULL;
	int vd[4];

	int fd = mkstemp(cfg);
	cr_assert(fd >= 0);
	const char *json = "{\"axes_dim\": [8, 12, 12]}";
	cr_assert_eq(write(fd, json, strlen(json)), (ssize_t)strlen(json));
	close(fd);
	cr_assert_eq(sora_vae_load(&vae, flow_fixture(path, sizeof path, "vae_tiny.safetensors"),
				   flow_fixture((char[1024]){0}, 1024, "vae_tiny_config.json"), &e),
		     0, "%s", e.msg);
	cr_assert_eq(
	    sora_mmdit_load(&dit, flow_fixture(path, sizeof path, "mmdit_tiny.safetensors"), cfg, &e), 0,
	    "%s", e.msg);
	unlink(cfg);

	cr_assert_eq(
	    sora_sample_ref_pixels(flow_fixture(path, sizeof path, "e2e_ref_64x64.png"), 64, 64, 0, px, &e),
	    0, "%s", e.msg);
	sora_torch_rng_seed(&g, 31337);
	cr_assert_eq(sora_sample_ref_latent(&vae, px, 1, 64, 64, &g, ref, &e), 0, "%s", e.msg);
	flow_expect_close("ref_latent (sampled posterior)", ref, flow_f32(st, "ref_latent", NREF), NREF,
			  1e-4);

	/* the text batch [prompt; neg; neg] from the stored embeddings (NT5 = LT · DT; NVID = 3 · 9 · 64 ·
	 * 64) */
	memcpy(txt, flow_f32(st, "t5.prompt", NT5), sizeof(float) * NT5);
	for (int k = 1; k < 3; k++)
		memcpy(txt + (ptrdiff_t)k * NT5, flow_f32(st, "t5.neg", NT5), sizeof(float) * NT5);
	memcpy(y, flow_f32(st, "clip.prompt", DV), sizeof(float) * DV);
	for (int k = 1; k < 3; k++)
		memcpy(y + (ptrdiff_t)k * DV, flow_f32(st, "clip.neg", DV), sizeof(float) * DV);

	sora_sample_opts_default(&o);
	o.resolution = o.aspect_ratio = NULL;
	o.height = o.width = 64;
	o.num_frames = 9;
	o.num_steps = 3;
	o.cond = SORA_COND_I2V_HEAD;
	cr_assert_eq(sora_sample_plan_init(&p, &o, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_sample_noise(&p, 1, sora_sample_seed(42, 0), noise, &e), 0, "%s", e.msg);
	cr_expect_eq(sora_sample_model_init(&s, &dit, 3, LT, txt, 32, y, DV, 3, 4, 4, &e), -1);
	cr_expect(strstr(e.msg, "32 wide, the MMDiT takes 48"), "%s", e.msg);
	cr_expect_eq(sora_sample_model_init(&s, &dit, 3, LT, txt, DT, y, 48, 3, 4, 4, &e), -1);
	cr_expect(strstr(e.msg, "48 wide, the MMDiT takes 32"), "%s", e.msg);
	cr_assert_eq(sora_sample_model_init(&s, &dit, 3, LT, txt, DT, y, DV, 3, 4, 4, &e), 0, "%s", e.msg);
	s.quiet = 1;
	const sora_cond_ref cr = {ref, NULL, 1, 0};
	cr_assert_eq(sora_sample_run(&p, 1, noise, &cr, sora_sample_model_call, &s, lat, &e), 0, "%s", e.msg);
	static float unscaled[NLAT];
	for (int i = 0; i < NLAT; i++)
		unscaled[i] = lat[i] / 0.476986f;
	flow_expect_close("decode_in_unscaled", unscaled, flow_f32(st, "decode_in_unscaled", NLAT), NLAT,
			  1e-4);

	const int zd[4] = {16, 3, 8, 8};
	cr_assert_eq(sora_vae_decode(&vae, lat, zd, &video, vd, &e), 0, "%s", e.msg);
	cr_assert(vd[0] == 3 && vd[1] == 9 && vd[2] == 64 && vd[3] == 64);
	flow_expect_close("video", video, flow_f32(st, "video", NVID), NVID, 1e-4);

	free(video);
	sora_sample_model_free(&s);
	sora_mmdit_free(&dit);
	sora_vae_free(&vae);
	sora_st_close(st);
}
