/* Both tokenizers against transformers on every case of tokenize_cases.json (read from $SORA_FIXTURES,
 * default ../shared/fixtures; without it those tests skip, or fail under CI=true). */
#include "expect.h"
#include "models/text_clean.h"
#include "models/tokenizer_clip.h"
#include "models/tokenizer_t5.h"
#include "util/json.h"

/* $SORA_FIXTURES/text/NAME; the test ends (skipped, or failed under CI=true) when it is absent. */
static const char *fixtures(char *buf, size_t n, const char *name)
{
	char rel[256];
	snprintf(rel, sizeof rel, "text/%s", name);
	return fixture_path(buf, n, rel);
}

typedef int (*encode_fn)(const void *tok, const char *text, int max_len, int *ids, int *num_tokens,
			 sora_err *e);

static int t5_encode(const void *t, const char *text, int max_len, int *ids, int *n, sora_err *e)
{
	return sora_t5_tok_encode(t, text, max_len, ids, n, e);
}

static int clip_encode(const void *t, const char *text, int max_len, int *ids, int *n, sora_err *e)
{
	return sora_clip_tok_encode(t, text, max_len, ids, n, e);
}

/* Every case: the ids, all max_len of them, and num_tokens. */
static void run_cases(const char *key, const void *tok, encode_fn encode, int max_len)
{
	char p[1024];
	sora_json j;
	sora_err e = {0};
	cr_assert_eq(sora_json_load(&j, fixtures(p, sizeof p, "tokenize_cases.json"), &e), 0, "%s", e.msg);
	const cJSON *cases = sora_json_find(&j, "cases");
	int total = 0, exact = 0;
	int *ids = malloc((size_t)max_len * sizeof *ids);
	for (const cJSON *c = cases->child; c; c = c->next, total++) {
		const cJSON *text = cJSON_GetObjectItem(c, "text"), *id = cJSON_GetObjectItem(c, "id");
		const cJSON *want = cJSON_GetObjectItem(cJSON_GetObjectItem(c, key), "input_ids");
		const cJSON *wantn = cJSON_GetObjectItem(cJSON_GetObjectItem(c, key), "num_tokens");
		int n = -1, ok = encode(tok, text->valuestring, max_len, ids, &n, &e) == 0;
		cr_expect(ok, "case %d: %s", id->valueint, e.msg);
		ok = ok && cJSON_GetArraySize(want) == max_len && n == wantn->valueint;
		int k = 0;
		for (const cJSON *w = want->child; ok && w; w = w->next, k++)
			ok = ids[k] == w->valueint;
		cr_expect(ok, "%s case %d (%s): ids differ at position %d (got %d)", key, id->valueint,
			  text->valuestring, k - 1, k ? ids[k - 1] : n);
		exact += ok;
	}
	cr_log_info("%s: %d of %d tokenize_cases.json cases exact", key, exact, total);
	printf("%s: %d of %d tokenize_cases.json cases exact\n", key, exact, total);
	cr_assert_eq(exact, total);
	cr_assert_eq(total, 162);
	free(ids);
	sora_json_free(&j);
}

Test(tokenizers, t5_matches_transformers)
{
	char p[1024];
	sora_t5_tok *t;
	sora_err e = {0};
	cr_assert_eq(sora_t5_tok_load(&t, fixtures(p, sizeof p, "tokenizers/t5"), &e), 0, "%s", e.msg);
	run_cases("t5", t, t5_encode, SORA_T5_MAX_LENGTH);
	sora_t5_tok_free(t);
}

Test(tokenizers, clip_matches_transformers)
{
	char p[1024];
	sora_clip_tok *t;
	sora_err e = {0};
	cr_assert_eq(sora_clip_tok_load(&t, fixtures(p, sizeof p, "tokenizers/clip"), &e), 0, "%s", e.msg);
	run_cases("clip", t, clip_encode, SORA_CLIP_MAX_LENGTH);
	sora_clip_tok_free(t);
}

Test(tokenizers, clip_clean_up_steps)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"Fish &amp;amp; chips", "fish & chips"},
	    {"&AMP; &#x263a; &#65;&#12ab;", "& \xe2\x98\xba a&#12ab;"},
	    {"<b>&amp;</b>", "<b>&amp;</b>"},
	    {"caf\xc3\x83\xc2\xa9", "caf\xc3\xa9"},
	    {"\xef\xac\x81 \xe2\x80\x9cq\xe2\x80\x9d", "fi \"q\""},
	    {"a\x1b[31mred\x1b[0m\r\nb", "ared b"},
	    {"\xc4\xb0 \xce\x9f\xce\xa3 \xce\xa3\xce\x9f", "i\xcc\x87 \xce\xbf\xcf\x82 \xcf\x83\xce\xbf"},
	    {"  \xe3\x80\x80 x \xc2\xa0 ", "x"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		sora_u32 s = {0};
		sora_err e = {0};
		cr_assert_eq(sora_u32_from_utf8(&s, cases[i].in, strlen(cases[i].in), &e), 0);
		cr_assert_eq(sora_ftfy_fix(&s, &e), 0);
		cr_assert_eq(sora_clip_normalize(&s, &e), 0);
		char *got = sora_u32_to_utf8(&s);
		cr_expect_str_eq(got, cases[i].want, "clean-up of '%s'", cases[i].in);
		free(got);
		sora_u32_free(&s);
	}
}

Test(tokenizers, invalid_utf8_is_an_error)
{
	sora_u32 s = {0};
	sora_err e = {0};
	cr_assert_lt(sora_u32_from_utf8(&s, "ab\xff", 3, &e), 0);
	cr_assert(strstr(e.msg, "invalid UTF-8 at byte 2"), "%s", e.msg);
	sora_u32_free(&s);
}
