/* The MMDiT against the official forward of both tiny fixture models (mmdit_tiny_io, mmdit_tiny_flux_io:
 * the output and every stored intermediate within 1e-5·max|ref|), the released checkpoint's header written
 * as a sparse file (accepted without reading data, 11,891,390,528 parameters), and the errors of a wrong
 * name, shape or layout. Fixtures from $SORA_FIXTURES (default ../shared/fixtures); without them each
 * fixture test skips (fails under CI=true). */
#include "expect.h"
#include "io/safetensors.h"
#include "models/mmdit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	fixtures(p, sizeof p, "mmdit_tiny_io.safetensors");
}

/* A temporary file holding text; the caller unlinks it. */
static void write_text(char *path, const char *text)
{
	strcpy(path, "/tmp/sora-mmdit-XXXXXX");
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

typedef struct cmp {
	const sora_safetensors *io;
	int compared, failed;
	float *cos; /* the last pe.cos, for the interleaved rotation matrices */
} cmp;

static const float *ref_of(const cmp *c, const char *name, int64_t n)
{
	char key[200];
	snprintf(key, sizeof key, "fwd.%s", name);
	const sora_st_tensor *t = sora_st_find(c->io, key);
	if (!t)
		return NULL;
	cr_assert_eq((int64_t)(t->nbytes / sizeof(float)), n, "%s: %zu values, ours %lld", key,
		     t->nbytes / sizeof(float), (long long)n);
	return t->data;
}

/* max|c − ref| ≤ 1e-5·max|ref|, logged. */
static void check(cmp *c, const char *name, const float *got, const float *ref, int64_t n)
{
	cmp_report r = expect_cmp(name, cmp_rel(cmp_f32(got, (size_t)n), cmp_f32(ref, (size_t)n), 1e-5));
	c->compared++;
	c->failed += !r.ok;
}

static int on_tensor(void *ctx, const char *name, const float *d, int ndim, const int64_t *shape, sora_err *e)
{
	cmp *c = ctx;
	int64_t n = 1;
	for (int i = 0; i < ndim; i++)
		n *= shape[i];
	float *tmp = calloc((size_t)n * 4, sizeof *tmp);
	cr_assert(tmp);
	const float *ref;
	if (!strcmp(name, "pe.cos") || !strcmp(name, "pe.sin")) {
		/* Liger tables [B, L, D] repeat the D/2 angles twice; EmbedND stores [[cos, −sin], [sin,
		 * cos]]. */
		const int64_t rows = shape[0] * shape[1], half = shape[2];
		if ((ref = ref_of(c, name, 2 * n))) {
			for (int64_t r = 0; r < rows; r++)
				for (int64_t j = 0; j < 2 * half; j++)
					tmp[r * 2 * half + j] = d[r * half + j % half];
			check(c, name, tmp, ref, 2 * n);
		} else if (!strcmp(name, "pe.cos")) {
			free(c->cos);
			c->cos = malloc((size_t)n * sizeof *c->cos);
			cr_assert(c->cos);
			memcpy(c->cos, d, (size_t)n * sizeof *c->cos);
		} else if ((ref = ref_of(c, "pe.freqs_cis", 4 * n))) {
			for (int64_t i = 0; i < n; i++) {
				tmp[4 * i] = c->cos[i], tmp[4 * i + 1] = -d[i];
				tmp[4 * i + 2] = d[i], tmp[4 * i + 3] = c->cos[i];
			}
			check(c, "pe.freqs_cis", tmp, ref, 4 * n);
		}
	} else if ((ref = ref_of(c, name, n))) {
		/* The fused layout's QK-norm outputs are [B, H, L, D]; ours are [B, L, H, D]. */
		const sora_st_tensor *t = NULL;
		char key[200];
		snprintf(key, sizeof key, "fwd.%s", name);
		t = sora_st_find(c->io, key);
		if (ndim == 4 && t->shape[1] == shape[2] && t->shape[2] == shape[1] && shape[1] != shape[2]) {
			for (int64_t b = 0; b < shape[0]; b++)
				for (int64_t l = 0; l < shape[1]; l++)
					for (int64_t h = 0; h < shape[2]; h++)
						memcpy(tmp + ((b * shape[2] + h) * shape[1] + l) * shape[3],
						       d + ((b * shape[1] + l) * shape[2] + h) * shape[3],
						       (size_t)shape[3] * sizeof *tmp);
			check(c, name, tmp, ref, n);
		} else {
			check(c, name, d, ref, n);
		}
	}
	free(tmp);
	return 0;
}

static const float *input(const sora_safetensors *io, const char *name)
{
	const sora_st_tensor *t = sora_st_find(io, name);
	cr_assert(t, "fixture tensor %s missing", name);
	return t->data;
}

/* The fixture's whole forward; every fwd.* tensor of it must have been compared. */
static void run_fixture(const char *weights, const char *io_name, const char *config_text)
{
	char w[1024], p[1024], cfg[64];
	sora_mmdit m;
	sora_safetensors *io = NULL;
	sora_err e = {0};
	need_fixtures();
	write_text(cfg, config_text);
	int rc = sora_mmdit_load(&m, fixtures(w, sizeof w, weights), cfg, &e);
	unlink(cfg);
	cr_assert_eq(rc, 0, "%s", e.msg);
	cr_assert_eq(sora_st_open(&io, fixtures(p, sizeof p, io_name), &e), 0, "%s", e.msg);
	const sora_st_tensor *img = sora_st_find(io, "in.img"), *txt = sora_st_find(io, "in.txt");
	cr_assert(img && txt);
	sora_mmdit_input in = {.B = (int)img->shape[0],
			       .L = (int)img->shape[1],
			       .Lt = (int)txt->shape[1],
			       .img = img->data,
			       .img_ids = input(io, "in.img_ids"),
			       .txt = txt->data,
			       .txt_ids = input(io, "in.txt_ids"),
			       .timesteps = input(io, "in.timesteps"),
			       .y_vec = input(io, "in.y_vec"),
			       .cond = sora_st_find(io, "in.cond") ? input(io, "in.cond") : NULL,
			       .guidance = sora_st_find(io, "in.guidance") ? input(io, "in.guidance") : NULL};
	float *out = malloc((size_t)in.B * in.L * m.cfg.in_channels * sizeof *out);
	cr_assert(out);
	cmp c = {.io = io};
	sora_mmdit_hook hook = {on_tensor, &c};
	cr_assert_eq(sora_mmdit_forward(&m, &in, out, &hook, &e), 0, "%s", e.msg);
	int stored = 0;
	for (int i = 0; i < sora_st_count(io); i++)
		stored += !strncmp(sora_st_get(io, i)->name, "fwd.", 4);
	cr_log_info("%s: %d of %d stored intermediates compared, %d over the bound", io_name, c.compared,
		    stored, c.failed);
	cr_expect_eq(c.compared, stored, "%s: %d of %d fwd.* tensors compared", io_name, c.compared, stored);
	/* The same output without the hook. */
	float *again = malloc((size_t)in.B * in.L * m.cfg.in_channels * sizeof *again);
	cr_assert(again);
	cr_assert_eq(sora_mmdit_forward(&m, &in, again, NULL, &e), 0, "%s", e.msg);
	const size_t nout = (size_t)in.B * in.L * m.cfg.in_channels;
	expect_cmp("the same output without the hook", cmp_exact(cmp_f32(again, nout), cmp_f32(out, nout)));
	free(again);
	free(out);
	free(c.cos);
	sora_st_close(io);
	sora_mmdit_free(&m);
}

#define TINY_COMMON                                                                                          \
	"\"in_channels\": 64, \"vec_in_dim\": 32, \"context_in_dim\": 48, \"hidden_size\": 64, "             \
	"\"mlp_ratio\": 4.0, \"num_heads\": 2, \"depth\": 2, \"depth_single_blocks\": 2, "                   \
	"\"axes_dim\": [8, 12, 12], \"theta\": 10000, \"qkv_bias\": true, \"patch_size\": 2, "

Test(mmdit, forward_opensora_layout)
{
	run_fixture("mmdit_tiny.safetensors", "mmdit_tiny_io.safetensors",
		    "{" TINY_COMMON "\"guidance_embed\": false, \"cond_embed\": true, \"fused_qkv\": false, "
		    "\"use_liger_rope\": true}");
}

Test(mmdit, forward_flux_layout)
{
	run_fixture("mmdit_tiny_flux.safetensors", "mmdit_tiny_flux_io.safetensors",
		    "{" TINY_COMMON "\"guidance_embed\": true, \"cond_embed\": false, \"fused_qkv\": true, "
		    "\"use_liger_rope\": false}");
}

/* The config inferred from the weights alone (axes_dim from a one-key JSON). */
Test(mmdit, config_from_weights)
{
	char w[1024], cfg[64];
	sora_mmdit m;
	sora_err e = {0};
	need_fixtures();
	write_text(cfg, "{\"axes_dim\": [8, 12, 12]}");
	int rc = sora_mmdit_load(&m, fixtures(w, sizeof w, "mmdit_tiny.safetensors"), cfg, &e);
	unlink(cfg);
	cr_assert_eq(rc, 0, "%s", e.msg);
	const sora_mmdit_config *c = &m.cfg;
	cr_expect(c->hidden == 64 && c->heads == 2 && c->head_dim == 32 && c->mlp_hidden == 256);
	cr_expect(c->depth == 2 && c->depth_single == 2 && c->in_channels == 64 && c->vec_in_dim == 32 &&
		  c->context_in_dim == 48 && c->patch_size == 2);
	cr_expect(!c->fused_qkv && c->liger_rope && c->cond_embed && !c->guidance_embed && c->qkv_bias);
	cr_expect_eq(m.n_tensors, 106);
	cr_expect_eq(m.n_params, 474496);
	cr_expect_eq(m.quantize_t, 0);
	sora_mmdit_free(&m);
}

/* Loading `weights` with config `text` fails with a message containing `expect`; a temporary weights file
 * (`drop`) is removed before anything is asserted. */
static void load_fails_drop(const char *weights, const char *text, const char *expect, int drop)
{
	char cfg[64];
	sora_mmdit m;
	sora_err e = {0};
	if (text)
		write_text(cfg, text);
	int rc = sora_mmdit_load(&m, weights, text ? cfg : NULL, &e);
	if (text)
		unlink(cfg);
	if (drop)
		unlink(weights);
	if (rc == 0)
		sora_mmdit_free(&m);
	cr_assert_eq(rc, -1, "%s loaded", weights);
	cr_log_info("%s", e.msg);
	cr_expect(strstr(e.msg, expect), "message \"%s\" does not say \"%s\"", e.msg, expect);
}

static void load_fails(const char *weights, const char *text, const char *expect)
{
	load_fails_drop(weights, text, expect, 0);
}

Test(mmdit, config_other_layout)
{
	char w[1024];
	need_fixtures();
	load_fails(fixtures(w, sizeof w, "mmdit_tiny.safetensors"),
		   "{\"axes_dim\": [8, 12, 12], \"fused_qkv\": true}",
		   "fused_qkv is true but the checkpoint has the Open-Sora 2.0 layout");
	load_fails(fixtures(w, sizeof w, "mmdit_tiny_flux.safetensors"),
		   "{\"axes_dim\": [8, 12, 12], \"fused_qkv\": false}",
		   "fused_qkv is false but the checkpoint has the FLUX.1-dev layout");
	load_fails(fixtures(w, sizeof w, "mmdit_tiny_flux.safetensors"),
		   "{\"axes_dim\": [8, 12, 12], \"guidance_embed\": false}", "guidance_embed is false");
	load_fails(fixtures(w, sizeof w, "mmdit_tiny.safetensors"),
		   "{\"axes_dim\": [8, 12, 12], \"num_heads\": 4}",
		   "num_heads is 4 but the checkpoint has 2");
	load_fails(fixtures(w, sizeof w, "mmdit_tiny.safetensors"), NULL,
		   "axes_dim [16, 56, 56] does not sum");
	load_fails("/nonexistent/mmdit.safetensors", NULL, "/nonexistent/mmdit.safetensors");
}

/* ---- the released checkpoint's header, written sparse ---- */

typedef struct hdr {
	char *json;
	size_t len, cap;
	int64_t offset, params;
	int count;
} hdr;

static void add(hdr *h, const char *name, int ndim, const int64_t *shape)
{
	int64_t n = 1;
	char buf[512];
	int k =
	    snprintf(buf, sizeof buf, "%s\"%s\":{\"dtype\":\"BF16\",\"shape\":[", h->count ? "," : "", name);
	for (int i = 0; i < ndim; i++) {
		k += snprintf(buf + k, sizeof buf - (size_t)k, "%s%lld", i ? "," : "", (long long)shape[i]);
		n *= shape[i];
	}
	k += snprintf(buf + k, sizeof buf - (size_t)k, "],\"data_offsets\":[%lld,%lld]}",
		      (long long)h->offset, (long long)h->offset + 2 * (long long)n);
	if (h->len + (size_t)k + 2 > h->cap) {
		h->cap = 2 * h->cap + (size_t)k + 1024;
		h->json = realloc(h->json, h->cap);
		cr_assert(h->json);
	}
	memcpy(h->json + h->len, buf, (size_t)k + 1);
	h->len += (size_t)k;
	h->offset += 2 * n;
	h->params += n;
	h->count++;
}

static void lin(hdr *h, const char *prefix, int64_t out, int64_t in)
{
	char name[256];
	snprintf(name, sizeof name, "%s.weight", prefix);
	add(h, name, 2, (int64_t[]){out, in});
	snprintf(name, sizeof name, "%s.bias", prefix);
	add(h, name, 1, (int64_t[]){out});
}

/* spec §1.11; `bad` = 1 widens one linear2 by a column, 2 renames one tensor. */
static void released_header(hdr *h, int bad)
{
	const int64_t C = 3072, M = 12288, D = 128;
	char p[256];
	memset(h, 0, sizeof *h);
	h->json = malloc(1);
	h->json[0] = '\0';
	lin(h, "img_in", C, 64);
	lin(h, "time_in.in_layer", C, 256);
	lin(h, "time_in.out_layer", C, C);
	lin(h, "vector_in.in_layer", C, 768);
	lin(h, "vector_in.out_layer", C, C);
	lin(h, "cond_in", C, 68);
	lin(h, "txt_in", C, 4096);
	lin(h, "final_layer.linear", 64, C);
	lin(h, "final_layer.adaLN_modulation.1", 2 * C, C);
	for (int i = 0; i < 19; i++)
		for (int s = 0; s < 2; s++) {
			const char *k = s ? "txt" : "img";
#define P(fmt) (snprintf(p, sizeof p, "double_blocks.%d.%s_" fmt, i, k), p)
			lin(h, P("mod.lin"), 6 * C, C);
			lin(h, P("attn.q_proj"), C, C);
			lin(h, P("attn.k_proj"), C, C);
			lin(h, bad == 2 && i == 7 && s ? P("attn.vproj") : P("attn.v_proj"), C, C);
			add(h, P("attn.norm.query_norm.scale"), 1, (int64_t[]){D});
			add(h, P("attn.norm.key_norm.scale"), 1, (int64_t[]){D});
			lin(h, P("attn.proj"), C, C);
			lin(h, P("mlp.0"), M, C);
			lin(h, P("mlp.2"), C, M);
#undef P
		}
	for (int i = 0; i < 38; i++) {
#define P(fmt) (snprintf(p, sizeof p, "single_blocks.%d." fmt, i), p)
		lin(h, P("q_proj"), C, C);
		lin(h, P("k_proj"), C, C);
		lin(h, P("v_mlp"), C + M, C);
		lin(h, P("linear2"), C, bad == 1 && i == 5 ? C + M + 1 : C + M);
		add(h, P("norm.query_norm.scale"), 1, (int64_t[]){D});
		add(h, P("norm.key_norm.scale"), 1, (int64_t[]){D});
		lin(h, P("modulation.lin"), 3 * C, C);
#undef P
	}
}

/* The header in a sparse file of the full size (ftruncate: no data block is written). */
static void write_sparse(char *path, int bad, hdr *h)
{
	released_header(h, bad);
	strcpy(path, "/tmp/sora-mmdit-released-XXXXXX");
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	size_t n = h->len + 2;
	char *text = malloc(n + 8);
	cr_assert(text);
	text[0] = '{';
	memcpy(text + 1, h->json, h->len);
	text[n - 1] = '}';
	while (n % 8)
		text[n++] = ' ';
	uint64_t len = n;
	cr_assert_eq(write(fd, &len, 8), 8);
	cr_assert_eq(write(fd, text, n), (ssize_t)n);
	cr_assert_eq(ftruncate(fd, (off_t)(8 + n + (size_t)h->offset)), 0);
	close(fd);
	free(text);
}

Test(mmdit, released_header_sparse)
{
	char path[64];
	hdr h;
	sora_mmdit m;
	sora_err e = {0};
	write_sparse(path, 0, &h);
	struct stat sb;
	cr_assert_eq(stat(path, &sb), 0);
	int rc = sora_mmdit_load(&m, path, NULL, &e);
	cr_log_info("released header: %d tensors, %lld params, file %lld bytes, %lld on disk", h.count,
		    (long long)h.params, (long long)sb.st_size, (long long)sb.st_blocks * 512);
	unlink(path);
	free(h.json);
	cr_assert_eq(rc, 0, "%s", e.msg);
	cr_expect_eq(h.count, 1082);
	cr_expect_eq(m.n_tensors, 1082);
	cr_expect_eq(m.n_params, 11891390528LL);
	const sora_mmdit_config *c = &m.cfg;
	cr_expect(c->hidden == 3072 && c->heads == 24 && c->head_dim == 128 && c->mlp_hidden == 12288);
	cr_expect(c->depth == 19 && c->depth_single == 38 && c->in_channels == 64 && c->vec_in_dim == 768 &&
		  c->context_in_dim == 4096 && c->patch_size == 2);
	cr_expect(!c->fused_qkv && c->liger_rope && c->cond_embed && !c->guidance_embed);
	cr_expect(m.quantize_t && m.stored == SORA_BF16);
	sora_mmdit_free(&m);
}

Test(mmdit, released_header_wrong_shape)
{
	char path[64];
	hdr h;
	write_sparse(path, 1, &h);
	load_fails_drop(
	    path, NULL,
	    "shape of 'single_blocks.5.linear2.weight' is [3072, 15361], the model expects [3072, 15360]", 1);
	free(h.json);
}

Test(mmdit, released_header_wrong_name)
{
	char path[64];
	hdr h;
	write_sparse(path, 2, &h);
	load_fails_drop(path, NULL, "missing 'double_blocks.7.txt_attn.v_proj.weight' [3072, 3072]", 1);
	free(h.json);
}

/* A FLUX model without a guidance strength, and empty shapes: one clear error each. */
Test(mmdit, forward_bad_inputs)
{
	char w[1024], cfg[64];
	sora_mmdit m;
	sora_err e = {0};
	need_fixtures();
	write_text(cfg, "{\"axes_dim\": [8, 12, 12]}");
	int rc = sora_mmdit_load(&m, fixtures(w, sizeof w, "mmdit_tiny_flux.safetensors"), cfg, &e);
	unlink(cfg);
	cr_assert_eq(rc, 0, "%s", e.msg);
	float img[64] = {0}, ids[3] = {0}, txt[48] = {0}, t = 0.5f, y[32] = {0}, out[64];
	sora_mmdit_input in = {.B = 1,
			       .L = 1,
			       .Lt = 1,
			       .img = img,
			       .img_ids = ids,
			       .txt = txt,
			       .txt_ids = ids,
			       .timesteps = &t,
			       .y_vec = y};
	cr_expect_eq(sora_mmdit_forward(&m, &in, out, NULL, &e), -1);
	cr_expect(strstr(e.msg, "needs a guidance strength"), "%s", e.msg);
	in.B = 0;
	cr_expect_eq(sora_mmdit_forward(&m, &in, out, NULL, &e), -1);
	cr_expect(strstr(e.msg, "bad sizes"), "%s", e.msg);
	in.B = 1, in.guidance = &t, in.y_vec = NULL;
	cr_expect_eq(sora_mmdit_forward(&m, &in, out, NULL, &e), -1);
	cr_expect(strstr(e.msg, "missing"), "%s", e.msg);
	sora_mmdit_free(&m);
}

/* The tiny model's weights rounded to bf16, written as `dtype` (BF16: widened block by block into the
 * scratch buffer at each call; F32: used in place). */
static void write_rounded(char *path, const char *src, sora_dtype dtype)
{
	sora_safetensors *st = NULL;
	sora_err e = {0};
	cr_assert_eq(sora_st_open(&st, src, &e), 0, "%s", e.msg);
	int n = sora_st_count(st);
	const char **names = calloc((size_t)n, sizeof *names);
	sora_tensor *t = calloc((size_t)n, sizeof *t);
	cr_assert(names && t);
	for (int i = 0; i < n; i++) {
		const sora_st_tensor *s = sora_st_get(st, i);
		size_t k = s->nbytes / sizeof(float);
		names[i] = s->name;
		cr_assert_eq(sora_tensor_alloc(&t[i], dtype, s->ndim, s->shape, &e), 0, "%s", e.msg);
		uint16_t *h = malloc(k * sizeof *h + 1);
		cr_assert(h);
		cr_assert_eq(sora_from_f32(h, SORA_BF16, s->data, k, &e), 0);
		if (dtype == SORA_BF16)
			memcpy(t[i].data, h, k * sizeof *h);
		else
			cr_assert_eq(sora_to_f32(t[i].data, h, SORA_BF16, k, &e), 0);
		free(h);
	}
	strcpy(path, "/tmp/sora-mmdit-bf16-XXXXXX");
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	close(fd);
	cr_assert_eq(sora_st_write(path, names, t, n, NULL, &e), 0, "%s", e.msg);
	for (int i = 0; i < n; i++)
		sora_tensor_free(&t[i]);
	free(t);
	free(names);
	sora_st_close(st);
}

/* A bf16 checkpoint gives exactly the f32 model with the same (rounded) values, and stays within bf16's
 * precision of the official f32 output. */
Test(mmdit, bf16_checkpoint)
{
	char w[1024], p[1024], cfg[64], f16[64], f32[64];
	sora_mmdit mb, mf;
	sora_safetensors *io = NULL;
	sora_err e = {0};
	need_fixtures();
	fixtures(w, sizeof w, "mmdit_tiny.safetensors");
	write_rounded(f16, w, SORA_BF16);
	write_rounded(f32, w, SORA_F32);
	write_text(cfg, "{\"axes_dim\": [8, 12, 12]}");
	int rb = sora_mmdit_load(&mb, f16, cfg, &e), rf = rb ? -1 : sora_mmdit_load(&mf, f32, cfg, &e);
	unlink(cfg), unlink(f16), unlink(f32);
	cr_assert(rb == 0 && rf == 0, "%s", e.msg);
	cr_expect(mb.stored == SORA_BF16 && mb.quantize_t && mb.scratch && mb.scratch_n > 0);
	cr_expect(mf.stored == SORA_F32 && !mf.quantize_t && !mf.scratch);
	mb.quantize_t = 0; /* the same t on both sides */
	cr_assert_eq(sora_st_open(&io, fixtures(p, sizeof p, "mmdit_tiny_io.safetensors"), &e), 0, "%s",
		     e.msg);
	sora_mmdit_input in = {.B = 1,
			       .L = 48,
			       .Lt = 12,
			       .img = input(io, "in.img"),
			       .img_ids = input(io, "in.img_ids"),
			       .txt = input(io, "in.txt"),
			       .txt_ids = input(io, "in.txt_ids"),
			       .timesteps = input(io, "in.timesteps"),
			       .y_vec = input(io, "in.y_vec"),
			       .cond = input(io, "in.cond")};
	float ob[48 * 64], of[48 * 64];
	cr_assert_eq(sora_mmdit_forward(&mb, &in, ob, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_mmdit_forward(&mf, &in, of, NULL, &e), 0, "%s", e.msg);
	expect_cmp("bf16 checkpoint vs f32 of the same values",
		   cmp_exact(cmp_f32(ob, (size_t)48 * 64), cmp_f32(of, (size_t)48 * 64)));
	expect_cmp(
	    "bf16 weights vs the f32 reference",
	    cmp_rel(cmp_f32(ob, (size_t)48 * 64), cmp_f32(input(io, "fwd.output"), (size_t)48 * 64), 0.05));
	sora_st_close(io);
	sora_mmdit_free(&mb);
	sora_mmdit_free(&mf);
}
