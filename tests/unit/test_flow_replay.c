/* `sora-sample --replay`'s library half on flow_io.safetensors: load denoise3.* (noise, condition,
 * timesteps, text), run the loop with a callback that replays the official predictions, write every step,
 * read the file back and compare with the fixture; the same from a file holding only the noise (schedule
 * from the options, no condition); and the errors for missing or mis-shaped inputs. */
#include "flow/replay.h"
#include "flow_fixture.h"

enum { NX3 = 3 * 48 * 64, NLAT = 16 * 3 * 8 * 8, NTXT = 3 * 12 * 48 };

typedef struct stored {
	const sora_safetensors *st;
	int calls;
} stored;

static int stored_pred(void *ctx, int step, int n, float t, const float *img, const float *cond, float *pred,
		       sora_err *e)
{
	stored *s = ctx;
	char name[64];
	snprintf(name, sizeof name, "denoise3.step%d.pred", step);
	memcpy(pred, flow_f32(s->st, name, NX3), (size_t)NX3 * sizeof *pred);
	s->calls++;
	return 0;
}

static void tmp_path(char *buf, size_t n, const char *what)
{
	snprintf(buf, n, "/tmp/sora_flow_replay_%d_%s.safetensors", (int)getpid(), what);
}

static void check_output(const sora_safetensors *ref, const char *out, int with_cond)
{
	sora_err e = {0};
	sora_safetensors *got = NULL;
	cr_assert_eq(sora_st_open(&got, out, &e), 0, "%s", e.msg);
	cr_expect_eq(sora_st_count(got), 7, "3 steps × (x_in, pred) + x_final");
	for (int i = 0; i < 3; i++)
		for (int k = 0; k < 2; k++) {
			char name[64], rname[80];
			snprintf(name, sizeof name, "step%d.%s", i, k ? "pred" : "x_in");
			snprintf(rname, sizeof rname, "denoise3.%s", name);
			flow_expect_exact(name, flow_f32(got, name, NX3), flow_f32(ref, rname, NX3), NX3);
		}
	if (with_cond)
		flow_expect_close("x_final", flow_f32(got, "x_final", NLAT),
				  flow_f32(ref, "denoise3.x_final", NLAT), NLAT, 1e-5);
	sora_st_close(got);
}

static sora_sample_opts replay_opts(void)
{
	sora_sample_opts o;
	sora_sample_opts_default(&o);
	o.num_steps = 3;
	o.cond = SORA_COND_I2V_HEAD;
	return o;
}

Test(flow_replay, denoise3_from_stored_inputs)
{
	char in[1024], out[256];
	sora_err e = {0};
	sora_safetensors *ref = flow_open_st("flow_io.safetensors");
	flow_fixture(in, sizeof in, "flow_io.safetensors");
	sora_replay r;
	cr_assert_eq(sora_replay_load(&r, in, "denoise3.", &e), 0, "%s", e.msg);
	cr_expect(r.B == 1 && r.C == 16 && r.T == 3 && r.H == 8 && r.W == 8);
	cr_expect(r.masks && r.masked_ref && r.timesteps && r.num_steps == 3);
	cr_expect(r.txt && r.txt_len == 12 && r.txt_dim == 48 && r.y_vec && r.y_dim == 32);
	flow_expect_exact("replay txt", r.txt, flow_f32(ref, "denoise3.txt", NTXT), NTXT);
	stored s = {ref, 0};
	sora_sample_opts o = replay_opts();
	tmp_path(out, sizeof out, "full");
	cr_assert_eq(sora_replay_run(&r, &o, stored_pred, &s, out, &e), 0, "%s", e.msg);
	cr_expect_eq(s.calls, 3);
	check_output(ref, out, 1);
	unlink(out);
	sora_replay_free(&r);
	sora_st_close(ref);
}

/* Only P.noise stored: the schedule comes from --num-steps (get_schedule(3, 16, 3) = the stored one) and
 * there is no condition, so only step 0's input can match the i2v run. */
Test(flow_replay, noise_only)
{
	char out[256], noise_file[256];
	sora_err e = {0};
	sora_safetensors *ref = flow_open_st("flow_io.safetensors");
	tmp_path(noise_file, sizeof noise_file, "noise");
	sora_tensor t;
	sora_tensor_view(&t, SORA_F32, 5, (int64_t[]){1, 16, 3, 8, 8},
			 (void *)flow_f32(ref, "denoise3.noise", NLAT));
	const char *names[] = {"P.noise"};
	cr_assert_eq(sora_st_write(noise_file, names, &t, 1, NULL, &e), 0, "%s", e.msg);
	sora_replay r;
	cr_assert_eq(sora_replay_load(&r, noise_file, "P.", &e), 0, "%s", e.msg);
	cr_expect(!r.masks && !r.timesteps && !r.txt);
	stored s = {ref, 0};
	sora_sample_opts o = replay_opts();
	tmp_path(out, sizeof out, "noise_out");
	cr_assert_eq(sora_replay_run(&r, &o, stored_pred, &s, out, &e), 0, "%s", e.msg);
	sora_safetensors *got = NULL;
	cr_assert_eq(sora_st_open(&got, out, &e), 0, "%s", e.msg);
	flow_expect_exact("step0.x_in", flow_f32(got, "step0.x_in", NX3),
			  flow_f32(ref, "denoise3.step0.x_in", NX3), NX3);
	sora_st_close(got);
	unlink(out);
	unlink(noise_file);
	sora_replay_free(&r);
	sora_st_close(ref);
}

Test(flow_replay, bad_inputs)
{
	char in[1024];
	sora_err e = {0};
	sora_replay r;
	flow_fixture(in, sizeof in, "flow_io.safetensors");
	cr_expect_eq(sora_replay_load(&r, in, "nothing.", &e), -1);
	cr_expect(strstr(e.msg, "nothing.noise missing"), "%s", e.msg);
	/* denoise12 stores no noise */
	cr_expect_eq(sora_replay_load(&r, in, "denoise12.", &e), -1);
	cr_expect_eq(sora_replay_load(&r, "/nonexistent/replay.safetensors", "P.", &e), -1);
	/* a 3-D noise, and masks without masked_ref */
	char bad[256];
	tmp_path(bad, sizeof bad, "bad");
	static float z[2 * 16 * 1 * 4 * 4];
	sora_tensor t[2];
	sora_tensor_view(&t[0], SORA_F32, 3, (int64_t[]){2, 16, 16}, z);
	sora_tensor_view(&t[1], SORA_F32, 5, (int64_t[]){1, 1, 2, 4, 4}, z);
	const char *names[] = {"A.noise", "B.masks"};
	cr_assert_eq(sora_st_write(bad, names, t, 2, NULL, &e), 0, "%s", e.msg);
	cr_expect_eq(sora_replay_load(&r, bad, "A.", &e), -1);
	cr_expect(strstr(e.msg, "A.noise has 3 dimensions, expected 5"), "%s", e.msg);
	sora_tensor_view(&t[0], SORA_F32, 5, (int64_t[]){1, 16, 2, 4, 4}, z);
	const char *names2[] = {"B.noise", "B.masks"};
	cr_assert_eq(sora_st_write(bad, names2, t, 2, NULL, &e), 0, "%s", e.msg);
	cr_expect_eq(sora_replay_load(&r, bad, "B.", &e), -1);
	cr_expect(strstr(e.msg, "go together"), "%s", e.msg);
	unlink(bad);
}
