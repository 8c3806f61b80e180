#include "caption/clean.h"
#include "caption/store.h"
#include "util/base64.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

Test(base64, rfc4648_vectors)
{
	const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	for (int i = 0; i < 7; i++) {
		char out[16];
		size_t n = strlen(in[i]);
		cr_assert_eq(sora_base64_len(n), strlen(want[i]));
		sora_base64_encode((const uint8_t *)in[i], n, out);
		cr_assert_str_eq(out, want[i]);
	}
}

static void expect_clean(const char *in, const char *want)
{
	char *got = sora_caption_clean(in);
	cr_assert_str_eq(got, want, "clean(\"%s\")", in);
	free(got);
}

Test(caption, clean_like_open_sora_datautil)
{
	expect_clean("The video shows a cat on a sofa.", "A cat on a sofa.");
	expect_clean("the video shows a cat.", "A cat.");
	expect_clean("In the video, a dog runs.", "A dog runs.");
	expect_clean("The image portrays  a\n\nquiet   lake.", "A quiet lake.");
	expect_clean("  \"The video captures waves.\"  ", "Waves.");
	expect_clean("\u201cA red car.\u201d", "A red car.");
	expect_clean("The video is about a bird.", "About a bird.");
	expect_clean("A video that shows the video shows.", "A video that shows the video shows.");
	expect_clean("The VIDEO shows uppercase.", "The VIDEO shows uppercase.");
	expect_clean("   ", "");
	expect_clean("The video shows", "");
	expect_clean("雨が海に降る 🌧️", "雨が海に降る 🌧️");
}

Test(caption, store_appends_reloads_and_skips_a_torn_line)
{
	char path[] = "/tmp/sora-cache-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	unlink(path);
	sora_caption_store *s;
	sora_err e = {0};
	cr_assert_eq(sora_caption_store_open(&s, path, 1, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_caption_store_put(s, "a", "first, with \"quotes\"\nand a newline", &e), 0);
	cr_assert_eq(sora_caption_store_put(s, "b", "second", &e), 0);
	cr_assert_eq(sora_caption_store_put(s, "a", "replaced", &e), 0);
	cr_assert_str_eq(sora_caption_store_get(s, "a"), "replaced");
	sora_caption_store_close(s);
	FILE *fp = fopen(path, "a");
	fputs("{\"id\": \"c\", \"te", fp); /* a write cut short by kill -9 */
	fclose(fp);
	cr_assert_eq(sora_caption_store_open(&s, path, 0, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_caption_store_count(s), 2);
	cr_assert_eq(sora_caption_store_skipped(s), 1);
	cr_assert_str_eq(sora_caption_store_get(s, "a"), "replaced");
	cr_assert_str_eq(sora_caption_store_get(s, "b"), "second");
	cr_assert_null(sora_caption_store_get(s, "c"));
	sora_caption_store_close(s);
	unlink(path);
}

Test(caption, store_many_keys)
{
	char path[] = "/tmp/sora-cache-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	sora_caption_store *s;
	sora_err e = {0};
	cr_assert_eq(sora_caption_store_open(&s, path, 1, &e), 0);
	char k[32], v[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(k, sizeof k, "clip-%d", i);
		snprintf(v, sizeof v, "caption %d", i);
		cr_assert_eq(sora_caption_store_put(s, k, v, &e), 0);
	}
	cr_assert_eq(sora_caption_store_count(s), 5000);
	cr_assert_str_eq(sora_caption_store_get(s, "clip-4321"), "caption 4321");
	sora_caption_store_close(s);
	unlink(path);
}

Test(caption, missing_import_file_is_an_error)
{
	sora_caption_store *s;
	sora_err e = {0};
	cr_assert_lt(sora_caption_store_open(&s, "/nonexistent/captions.jsonl", 0, &e), 0);
	cr_assert(strstr(e.msg, "No such file"), "%s", e.msg);
}
