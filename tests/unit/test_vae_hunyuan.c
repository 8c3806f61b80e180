/* The HunyuanVideo VAE against the official Open-Sora code on every case of vae_tiny_io.safetensors
 * (encode, decode, image, spatial and temporal tiling, and the per-block activations), the released
 * checkpoint's header as a sparse file, and hostile inputs. Fixtures from $SORA_FIXTURES (default
 * ../shared/fixtures); without them each fixture test skips (fails under CI=true). */
#include "expect.h"
#include "io/safetensors.h"
#include "models/vae_hunyuan.h"

#include <cblas.h>
#include <fcntl.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* $SORA_FIXTURES/video/NAME; the test ends (skipped, or failed under CI=true) when it is absent. */
static const char *fixtures(char *buf, size_t n, const char *name)
{
	char rel[256];
	snprintf(rel, sizeof rel, "video/%s", name);
	return fixture_path(buf, n, rel);
}

static void need_fixtures(void)
{
	char p[1024];
	fixtures(p, sizeof p, "vae_tiny_io.safetensors");
}

static const sora_st_tensor *get(const sora_safetensors *st, const char *name)
{
	const sora_st_tensor *t = sora_st_find(st, name);
	cr_assert(t, "fixture tensor %s missing", name);
	cr_assert_str_eq(t->dtype, "F32", "%s", name);
	return t;
}

/* The README's bound: max |c − ref| ≤ 1e-4 · max |ref| per tensor. */
static void expect_close(const char *what, const float *c, int64_t n, const sora_st_tensor *ref)
{
	expect_cmp(what,
		   cmp_rel(cmp_f32(c, (size_t)n), cmp_f32(ref->data, ref->nbytes / sizeof(float)), 1e-4));
}

typedef struct probe_ctx {
	const sora_safetensors *io;
	const char *prefix;
	int compared;
} probe_ctx;

static void on_probe(void *ctx, const char *name, const float *x, int64_t n)
{
	probe_ctx *p = ctx;
	char key[160];
	snprintf(key, sizeof key, "%s.%s", p->prefix, name);
	const sora_st_tensor *t = sora_st_find(p->io, key);
	if (!t)
		return;
	expect_close(key, x, n, t);
	p->compared++;
}

static void load(sora_vae *m, sora_safetensors **io)
{
	char w[1024], c[1024], p[1024];
	sora_err e = {0};
	need_fixtures();
	cr_assert_eq(sora_vae_load(m, fixtures(w, sizeof w, "vae_tiny.safetensors"),
				   fixtures(c, sizeof c, "vae_tiny_config.json"), &e),
		     0, "%s", e.msg);
	cr_assert_eq(sora_st_open(io, fixtures(p, sizeof p, "vae_tiny_io.safetensors"), &e), 0, "%s", e.msg);
}

/* Encodes case.x and checks moments, mean, logvar, z (mean) and, when the case has them, std and the
 * sampled z with the stored noise. */
static void encode_case(const sora_vae *m, const sora_safetensors *io, const char *cs, const char *xname)
{
	char name[96];
	sora_err e = {0};
	snprintf(name, sizeof name, "%s.x", xname);
	const sora_st_tensor *x = get(io, name);
	float *mo = NULL;
	int ld[4];
	cr_assert_eq(
	    sora_vae_encode(m, x->data, (int)x->shape[2], (int)x->shape[3], (int)x->shape[4], &mo, ld, &e), 0,
	    "%s", e.msg);
	const int64_t n = (int64_t)ld[0] / 2 * ld[1] * ld[2] * ld[3];
	float *z = malloc(4 * n * sizeof *z), *mean = z + n, *lv = mean + n, *zs = lv + n;
	cr_assert(z);
	sora_vae_latent(m, mo, ld, NULL, z, mean, lv);
	snprintf(name, sizeof name, "%s.moments", cs);
	expect_close(name, mo, 2 * n, get(io, name));
	snprintf(name, sizeof name, "%s.z_mean_scaled", cs);
	if (sora_st_find(io, name))
		expect_close(name, z, n, get(io, name));
	snprintf(name, sizeof name, "%s.mean", cs);
	if (sora_st_find(io, name)) {
		expect_close(name, mean, n, get(io, name));
		snprintf(name, sizeof name, "%s.logvar", cs);
		expect_close(name, lv, n, get(io, name));
		for (int64_t i = 0; i < n; i++)
			lv[i] = expf(0.5f * lv[i]);
		snprintf(name, sizeof name, "%s.std", cs);
		expect_close(name, lv, n, get(io, name));
		snprintf(name, sizeof name, "%s.posterior_noise", cs);
		sora_vae_latent(m, mo, ld, get(io, name)->data, zs, NULL, NULL);
		snprintf(name, sizeof name, "%s.z_sample_scaled", cs);
		expect_close(name, zs, n, get(io, name));
	}
	free(z);
	free(mo);
}

static void decode_case(const sora_vae *m, const sora_safetensors *io, const char *cs, const char *zname)
{
	char name[96];
	sora_err e = {0};
	const sora_st_tensor *z = get(io, zname);
	const int zd[4] = {(int)z->shape[1], (int)z->shape[2], (int)z->shape[3], (int)z->shape[4]};
	float *v = NULL;
	int vd[4];
	cr_assert_eq(sora_vae_decode(m, z->data, zd, &v, vd, &e), 0, "%s", e.msg);
	cr_assert_eq(vd[1], 4 * (zd[1] - 1) + 1);
	snprintf(name, sizeof name, "%s.video", cs);
	expect_close(name, v, (int64_t)vd[0] * vd[1] * vd[2] * vd[3], get(io, name));
	free(v);
}

Test(vae, encode_video_and_blocks)
{
	sora_vae m;
	sora_safetensors *io = NULL;
	load(&m, &io);
	probe_ctx p = {.io = io, .prefix = "a"};
	m.probe = on_probe, m.probe_ctx = &p;
	encode_case(&m, io, "a", "a");
	cr_expect_eq(p.compared, 11, "%d of the 11 encoder checkpoints seen", p.compared);
	sora_vae_free(&m);
	sora_st_close(io);
}

Test(vae, decode_video_and_blocks)
{
	sora_vae m;
	sora_safetensors *io = NULL;
	load(&m, &io);
	probe_ctx p = {.io = io, .prefix = "b"};
	m.probe = on_probe, m.probe_ctx = &p;
	decode_case(&m, io, "b", "b.z");
	cr_expect_eq(p.compared, 9, "%d of the 9 decoder checkpoints seen", p.compared);
	sora_vae_free(&m);
	sora_st_close(io);
}

Test(vae, image)
{
	sora_vae m;
	sora_safetensors *io = NULL;
	load(&m, &io);
	encode_case(&m, io, "c", "c");
	decode_case(&m, io, "c", "c.z_mean_scaled");
	sora_vae_free(&m);
	sora_st_close(io);
}

Test(vae, spatial_tiling)
{
	sora_vae m;
	sora_safetensors *io = NULL;
	load(&m, &io);
	encode_case(&m, io, "d.untiled", "d");
	decode_case(&m, io, "d.untiled", "d.z");
	m.cfg.use_spatial_tiling = 1;
	m.cfg.sample_size = 64;
	encode_case(&m, io, "d64", "d");
	decode_case(&m, io, "d64", "d.z");
	m.cfg.sample_size = 32;
	encode_case(&m, io, "d32", "d");
	decode_case(&m, io, "d32", "d.z");
	sora_vae_free(&m);
	sora_st_close(io);
}

Test(vae, temporal_tiling)
{
	sora_vae m;
	sora_safetensors *io = NULL;
	load(&m, &io);
	encode_case(&m, io, "e.untiled", "e");
	decode_case(&m, io, "e.untiled", "e.z");
	m.cfg.use_temporal_tiling = 1;
	m.cfg.sample_tsize = 32;
	encode_case(&m, io, "e", "e");
	decode_case(&m, io, "e", "e.z");
	sora_vae_free(&m);
	sora_st_close(io);
}

Test(vae, bad_sizes)
{
	sora_vae m;
	sora_safetensors *io = NULL;
	sora_err e = {0};
	float *mo = NULL, x[3 * 8 * 8 * 8] = {0};
	int ld[4];
	load(&m, &io);
	cr_expect_eq(sora_vae_encode(&m, x, 8, 8, 8, &mo, ld, &e), -1);
	cr_expect(strstr(e.msg, "4k+1"), "%s", e.msg);
	cr_expect_eq(sora_vae_encode(&m, x, 1, 12, 8, &mo, ld, &e), -1);
	cr_expect(strstr(e.msg, "multiples of 8"), "%s", e.msg);
	const int zd[4] = {4, 1, 1, 1};
	cr_expect_eq(sora_vae_decode(&m, x, zd, &mo, ld, &e), -1);
	cr_expect(strstr(e.msg, "16 channels"), "%s", e.msg);
	sora_vae_free(&m);
	sora_st_close(io);
}

/* Collects streamed frames into a [C, T, H, W] video, checking they come in order. */
typedef struct collect {
	float *v;
	int T, next, chunks;
} collect;

static int on_frames(void *ctx, const float *f, int n, int first, int C, int H, int W, sora_err *e)
{
	collect *c = ctx;
	cr_assert_eq(first, c->next, "frames %d.. came before %d..", first, c->next);
	cr_assert_leq(first + n, c->T);
	const size_t plane = (size_t)H * W;
	for (int ch = 0; ch < C; ch++)
		memcpy(c->v + ((size_t)ch * c->T + first) * plane, f + (size_t)ch * n * plane,
		       n * plane * sizeof *f);
	c->next += n, c->chunks++;
	(void)e;
	return 0;
}

Test(vae, streaming_equals_one_shot)
{
	sora_vae m;
	sora_safetensors *io = NULL;
	sora_err e = {0};
	/* Hundreds of tiny ops in ~26 passes: thread hand-offs would cost more than the arithmetic. */
	omp_set_num_threads(1);
	openblas_set_num_threads(1);
	load(&m, &io);
	const int zd[4] = {16, 3, 2, 3};
	float z[16 * 3 * 2 * 3], *v = NULL;
	int vd[4];
	sora_vae_gaussian(z, sizeof z / sizeof *z, 11);
	cr_assert_eq(sora_vae_decode(&m, z, zd, &v, vd, &e), 0, "%s", e.msg);
	const int64_t n = (int64_t)vd[0] * vd[1] * vd[2] * vd[3];
	sora_st_tensor ref = {.data = v, .nbytes = (size_t)n * sizeof *v};
	for (int chunk = 1; chunk <= 2; chunk++) {
		collect c = {.v = calloc((size_t)n, sizeof *v), .T = vd[1]};
		char what[64];
		cr_assert_eq(sora_vae_decode_stream(&m, z, zd, chunk, on_frames, &c, &e), 0, "%s", e.msg);
		cr_expect_eq(c.next, 9, "%d frames streamed", c.next);
		cr_expect_eq(c.chunks, (3 + chunk - 1) / chunk);
		snprintf(what, sizeof what, "stream (chunk %d) vs one shot", chunk);
		expect_close(what, c.v, n, &ref);
		free(c.v);
	}
	free(v);
	sora_vae_free(&m);
	sora_st_close(io);
}

/* ---- the released checkpoint's header (spec §2.8), written as a sparse file ---- */

typedef struct header {
	char *json;
	size_t len, cap;
	int64_t offset, count, params;
	const char *bad; /* this 1-D tensor [n] gets the shape [4, n/4]: same bytes, wrong shape */
	const char *old_name, *new_name; /* a renamed tensor */
} header;

static void add(header *h, const char *name, int ndim, const int64_t *shape)
{
	int64_t n = 1, bad[2];
	char dims[128] = "";
	if (h->old_name && !strcmp(name, h->old_name))
		name = h->new_name;
	if (h->bad && !strcmp(name, h->bad) && ndim == 1) {
		bad[0] = 4, bad[1] = shape[0] / 4;
		ndim = 2, shape = bad;
	}
	for (int i = 0; i < ndim; i++) {
		n *= shape[i];
		snprintf(dims + strlen(dims), sizeof dims - strlen(dims), "%s%lld", i ? "," : "",
			 (long long)shape[i]);
	}
	if (h->len + 512 > h->cap) {
		h->cap = h->cap * 2 + 4096;
		h->json = realloc(h->json, h->cap);
		cr_assert(h->json);
	}
	h->len += (size_t)snprintf(h->json + h->len, h->cap - h->len,
				   "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%s],\"data_offsets\":[%lld,%lld]}",
				   h->count ? "," : "{", name, dims, (long long)h->offset,
				   (long long)h->offset + 4 * (long long)n);
	h->offset += 4 * n;
	h->count++;
	h->params += n;
}

static void conv(header *h, const char *base, int cout, int cin, int k)
{
	char n[200];
	snprintf(n, sizeof n, "%s.weight", base);
	add(h, n, 5, (int64_t[]){cout, cin, k, k, k});
	snprintf(n, sizeof n, "%s.bias", base);
	add(h, n, 1, (int64_t[]){cout});
}

static void norm(header *h, const char *base, int c)
{
	char n[200];
	snprintf(n, sizeof n, "%s.weight", base);
	add(h, n, 1, (int64_t[]){c});
	snprintf(n, sizeof n, "%s.bias", base);
	add(h, n, 1, (int64_t[]){c});
}

static void resnet(header *h, const char *base, int cin, int cout)
{
	char n[200];
	snprintf(n, sizeof n, "%s.norm1", base);
	norm(h, n, cin);
	snprintf(n, sizeof n, "%s.conv1.conv", base);
	conv(h, n, cout, cin, 3);
	snprintf(n, sizeof n, "%s.norm2", base);
	norm(h, n, cout);
	snprintf(n, sizeof n, "%s.conv2.conv", base);
	conv(h, n, cout, cout, 3);
	if (cin != cout) {
		snprintf(n, sizeof n, "%s.conv_shortcut.conv", base);
		conv(h, n, cout, cin, 1);
	}
}

static void mid(header *h, const char *side)
{
	char n[200];
	static const char *const proj[] = {"to_q", "to_k", "to_v", "to_out.0"};
	for (int j = 0; j < 2; j++) {
		snprintf(n, sizeof n, "%s.mid_block.resnets.%d", side, j);
		resnet(h, n, 512, 512);
	}
	snprintf(n, sizeof n, "%s.mid_block.attentions.0.group_norm", side);
	norm(h, n, 512);
	for (int i = 0; i < 4; i++) {
		snprintf(n, sizeof n, "%s.mid_block.attentions.0.%s.weight", side, proj[i]);
		add(h, n, 2, (int64_t[]){512, 512});
		snprintf(n, sizeof n, "%s.mid_block.attentions.0.%s.bias", side, proj[i]);
		add(h, n, 1, (int64_t[]){512});
	}
}

/* Writes the released header (bad_name, when given, misshapen; old_name, when given, renamed to new_name)
 * and a hole for the data. */
static int64_t write_released(const char *path, const char *bad_name, const char *old_name,
			      const char *new_name)
{
	header h = {.bad = bad_name, .old_name = old_name, .new_name = new_name};
	char n[200];
	static const int enc_in[] = {128, 128, 256, 512}, enc_out[] = {128, 256, 512, 512};
	static const int dec_in[] = {512, 512, 512, 256}, dec_out[] = {512, 512, 256, 128};
	conv(&h, "encoder.conv_in.conv", 128, 3, 3);
	for (int i = 0; i < 4; i++) {
		for (int j = 0; j < 2; j++) {
			snprintf(n, sizeof n, "encoder.down_blocks.%d.resnets.%d", i, j);
			resnet(&h, n, j ? enc_out[i] : enc_in[i], enc_out[i]);
		}
		if (i < 3) {
			snprintf(n, sizeof n, "encoder.down_blocks.%d.downsamplers.0.conv.conv", i);
			conv(&h, n, enc_out[i], enc_out[i], 3);
		}
	}
	mid(&h, "encoder");
	norm(&h, "encoder.conv_norm_out", 512);
	conv(&h, "encoder.conv_out.conv", 32, 512, 3);
	conv(&h, "quant_conv", 32, 32, 1);
	conv(&h, "post_quant_conv", 16, 16, 1);
	conv(&h, "decoder.conv_in.conv", 512, 16, 3);
	mid(&h, "decoder");
	for (int i = 0; i < 4; i++) {
		for (int j = 0; j < 3; j++) {
			snprintf(n, sizeof n, "decoder.up_blocks.%d.resnets.%d", i, j);
			resnet(&h, n, j ? dec_out[i] : dec_in[i], dec_out[i]);
		}
		if (i < 3) {
			snprintf(n, sizeof n, "decoder.up_blocks.%d.upsamplers.0.conv.conv", i);
			conv(&h, n, dec_out[i], dec_out[i], 3);
		}
	}
	norm(&h, "decoder.conv_norm_out", 128);
	conv(&h, "decoder.conv_out.conv", 3, 128, 3);
	cr_assert_eq(h.count, 248);
	h.json[h.len++] = '}';
	FILE *f = fopen(path, "wb");
	cr_assert(f);
	uint64_t hl = h.len;
	cr_assert_eq(fwrite(&hl, 8, 1, f), 1);
	cr_assert_eq(fwrite(h.json, 1, h.len, f), h.len);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(truncate(path, (off_t)(8 + h.len + h.offset)), 0);
	free(h.json);
	return h.params;
}

static long minor_faults(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt + ru.ru_majflt;
}

Test(vae, released_header_sparse)
{
	char dir[] = "/tmp/sora-vae-XXXXXX", path[256];
	sora_err e = {0};
	int64_t params = 0;
	struct stat sb;
	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/hunyuan_vae.safetensors", dir);
	int64_t listed = write_released(path, NULL, NULL, NULL);
	cr_assert_eq(listed, 246478803);
	cr_assert_eq(stat(path, &sb), 0);
	cr_log_info("sparse file: %lld bytes, %lld allocated", (long long)sb.st_size,
		    (long long)sb.st_blocks * 512);
	long before = minor_faults();
	cr_assert_eq(sora_vae_check(path, NULL, &params, &e), 0, "%s", e.msg);
	long faults = minor_faults() - before;
	/* Reading the 986 MB of data would fault in ~240 000 pages. */
	fprintf(stderr, "  released header: %lld parameters, %ld page faults during the check\n",
		(long long)params, faults);
	cr_expect_eq(params, 246478803);
	cr_expect_lt(faults, 5000, "%ld page faults: the data was read", faults);
	unlink(path);
	rmdir(dir);
}

Test(vae, released_header_wrong_shape_or_name)
{
	char dir[] = "/tmp/sora-vae-XXXXXX", path[256];
	sora_err e = {0};
	int64_t params = 0;
	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/hunyuan_vae.safetensors", dir);
	write_released(path, "decoder.mid_block.attentions.0.to_k.bias", NULL, NULL);
	int rc = sora_vae_check(path, NULL, &params, &e);
	cr_expect_eq(rc, -1);
	cr_log_info("%s", e.msg);
	cr_expect(strstr(e.msg, "1 problem") && strstr(e.msg, "decoder.mid_block.attentions.0.to_k.bias"),
		  "%s", e.msg);
	/* a renamed tensor: both the missing and the unexpected name are reported */
	write_released(path, NULL, "encoder.mid_block.attentions.0.to_out.0.weight",
		       "encoder.mid_block.attentions.0.proj_out.weight");
	cr_expect_eq(sora_vae_check(path, NULL, &params, &e), -1);
	cr_log_info("%s", e.msg);
	cr_expect(strstr(e.msg, "missing 'encoder.mid_block.attentions.0.to_out.0.weight'") &&
		      strstr(e.msg, "unexpected 'encoder.mid_block.attentions.0.proj_out.weight'"),
		  "%s", e.msg);
	unlink(path);
	rmdir(dir);
}

Test(vae, hostile_files)
{
	char dir[] = "/tmp/sora-vae-XXXXXX", path[256], w[1024];
	sora_vae m;
	sora_err e = {0};
	/* before the temporary folder, which a skip would leave behind */
	fixtures(w, sizeof w, "vae_tiny.safetensors");
	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/missing.safetensors", dir);
	cr_expect_eq(sora_vae_load(&m, path, NULL, &e), -1);
	cr_expect(strstr(e.msg, "missing.safetensors"), "%s", e.msg);
	/* a config that is not JSON */
	snprintf(path, sizeof path, "%s/bad.json", dir);
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs("{\"AutoEncoder3DConfig\": {\"norm_num_groups\": \"four\"}}", f);
	fclose(f);
	cr_expect_eq(sora_vae_load(&m, w, path, &e), -1);
	cr_expect(strstr(e.msg, "norm_num_groups"), "%s", e.msg);
	/* the tiny weights with the released 32 groups: 8 channels are not a multiple */
	cr_expect_eq(sora_vae_load(&m, w, NULL, &e), -1);
	cr_expect(strstr(e.msg, "norm_num_groups"), "%s", e.msg);
	unlink(path);
	rmdir(dir);
}
