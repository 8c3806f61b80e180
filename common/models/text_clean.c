#include "text_clean.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

int sora_u32_push(sora_u32 *s, int32_t cp)
{
	if (s->n == s->cap) {
		int cap = s->cap * 2 + 32;
		int32_t *v = realloc(s->v, (size_t)cap * sizeof *v);
		if (!v)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = cp;
	return 0;
}

void sora_u32_free(sora_u32 *s)
{
	free(s->v);
	memset(s, 0, sizeof *s);
}

int sora_u32_from_utf8(sora_u32 *s, const char *text, size_t len, sora_err *e)
{
	for (size_t i = 0; i < len;) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k =
		    utf8proc_iterate((const utf8proc_uint8_t *)text + i, (utf8proc_ssize_t)(len - i), &cp);
		CHECK(e, k > 0, "invalid UTF-8 at byte %zu", i);
		CHECK_ALLOC(e, sora_u32_push(s, cp) == 0);
		i += (size_t)k;
	}
	return 0;
fail:
	return -1;
}

int sora_utf8_check(const char *text, size_t len, sora_err *e)
{
	for (size_t i = 0; i < len;) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k =
		    utf8proc_iterate((const utf8proc_uint8_t *)text + i, (utf8proc_ssize_t)(len - i), &cp);
		if (k <= 0)
			return SORA_FAIL(e, "invalid UTF-8 at byte %zu", i);
		i += (size_t)k;
	}
	return 0;
}

char *sora_u32_to_utf8(const sora_u32 *s)
{
	char *out = malloc((size_t)s->n * 4 + 1);
	size_t k = 0;
	if (!out)
		return NULL;
	for (int i = 0; i < s->n; i++)
		k += (size_t)utf8proc_encode_char(s->v[i], (utf8proc_uint8_t *)out + k);
	out[k] = '\0';
	return out;
}

/* Replaces s by out (a string built by a step). */
static void swap_in(sora_u32 *s, sora_u32 *out)
{
	sora_u32_free(s);
	*s = *out;
	memset(out, 0, sizeof *out);
}

/* Windows-1252 for bytes 0x80..0x9f; 0 where it has no character ("sloppy": the byte stands for the
 * C1 control of the same number, as ftfy's sloppy-windows-1252 does). */
static const uint16_t cp1252[32] = {
    0x20ac, 0,      0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017d, 0,      0,      0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
    0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0,      0x017e, 0x0178,
};

static int32_t sloppy_1252_decode(int b)
{
	return b >= 0x80 && b < 0xa0 && cp1252[b - 0x80] ? cp1252[b - 0x80] : b;
}

/* The byte a code point encodes to in sloppy Windows-1252, or -1. */
static int sloppy_1252_encode(int32_t cp)
{
	if (cp < 0x80 || (cp >= 0xa0 && cp < 0x100))
		return cp;
	for (int i = 0; i < 32; i++)
		if (cp1252[i] ? cp1252[i] == cp : cp == 0x80 + i)
			return 0x80 + i;
	return -1;
}

/* The HTML5 entities that occur in prompts; ftfy also takes the all-upper-case spelling of a lower-case
 * name ("&AMP;"). */
static const struct {
	const char *name;
	int32_t cp;
} entities[] = {
    {"amp", '&'},      {"lt", '<'},       {"gt", '>'},       {"quot", '"'},     {"apos", '\''},
    {"nbsp", 0xa0},    {"copy", 0xa9},    {"reg", 0xae},     {"trade", 0x2122}, {"hellip", 0x2026},
    {"mdash", 0x2014}, {"ndash", 0x2013}, {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"ldquo", 0x201c},
    {"rdquo", 0x201d}, {"laquo", 0xab},   {"raquo", 0xbb},   {"deg", 0xb0},     {"middot", 0xb7},
    {"bull", 0x2022},  {"times", 0xd7},   {"divide", 0xf7},  {"euro", 0x20ac},  {"pound", 0xa3},
    {"yen", 0xa5},     {"cent", 0xa2},    {"sect", 0xa7},    {"para", 0xb6},    {"eacute", 0xe9},
    {"egrave", 0xe8},  {"aacute", 0xe1},  {"agrave", 0xe0},  {"ccedil", 0xe7},  {"ntilde", 0xf1},
    {"ouml", 0xf6},    {"uuml", 0xfc},    {"auml", 0xe4},    {"szlig", 0xdf},   {"iexcl", 0xa1},
    {"iquest", 0xbf},  {"shy", 0xad},     {"plusmn", 0xb1},  {"micro", 0xb5},   {"frac12", 0xbd},
};

/* What html.unescape makes of a numeric reference's value. */
static int32_t charref(long long v)
{
	if (v == 0 || (v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff)
		return 0xfffd;
	if (v >= 0x80 && v < 0xa0)
		return sloppy_1252_decode((int)v);
	if ((v >= 1 && v <= 8) || v == 0xb || (v >= 0xe && v <= 0x1f) || v == 0x7f ||
	    (v >= 0xfdd0 && v <= 0xfdef) || (v & 0xfffe) == 0xfffe)
		return -1; /* dropped */
	return (int32_t)v;
}

static int is_alnum_ascii(int32_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* ftfy's unescape_html: `&#?[0-9A-Za-z]{1,24};` replaced when it names a character. */
static int unescape_html(sora_u32 *s)
{
	sora_u32 out = {0};
	for (int i = 0; i < s->n; i++) {
		int j = i + 1, hash = 0;
		if (s->v[i] == '&') {
			if (j < s->n && s->v[j] == '#')
				hash = 1, j++;
			int k = j;
			while (k < s->n && k - j < 25 && is_alnum_ascii(s->v[k]))
				k++;
			int32_t rep = -2; /* -2: keep the text, -1: drop it */
			if (k > j && k - j <= 24 && k < s->n && s->v[k] == ';') {
				char name[32];
				for (int m = j; m < k; m++)
					name[m - j] = (char)s->v[m];
				name[k - j] = '\0';
				if (hash) {
					char *end;
					int hex = name[0] == 'x' || name[0] == 'X';
					long long v = strtoll(name + hex, &end, hex ? 16 : 10);
					if (!*end && end > name + hex && (hex || name[0] != '+'))
						rep = charref(strlen(name) > 9 ? 0x110000 : v);
				}
				for (size_t t = 0;
				     !hash && t < sizeof entities / sizeof *entities && rep == -2; t++) {
					if (!strcmp(name, entities[t].name))
						rep = entities[t].cp;
					else if (!strcasecmp(name, entities[t].name) && name[0] >= 'A' &&
						 name[0] <= 'Z' &&
						 (name[1] == '\0' || (name[1] >= 'A' && name[1] <= 'Z')))
						rep = (int32_t)utf8proc_toupper(entities[t].cp);
				}
				if (rep != -2) {
					if (rep >= 0 && sora_u32_push(&out, rep) < 0)
						goto oom;
					i = k;
					continue;
				}
			}
		}
		if (sora_u32_push(&out, s->v[i]) < 0)
			goto oom;
	}
	swap_in(s, &out);
	return 0;
oom:
	sora_u32_free(&out);
	return -1;
}

/* ftfy's fix_encoding for the common case: the whole text is UTF-8 that was decoded as Latin-1 or
 * Windows-1252 ("cafÃ©" → "café"); it is re-encoded and decoded again when that gives valid UTF-8. */
static int fix_encoding(sora_u32 *s)
{
	unsigned char *bytes = malloc((size_t)s->n + 1);
	int high = 0;
	if (!bytes)
		return -1;
	for (int pass = 0; pass < 2; pass++) { /* Latin-1 first, then sloppy Windows-1252 */
		int ok = 1;
		for (int i = 0; i < s->n && ok; i++) {
			int b = pass ? sloppy_1252_encode(s->v[i]) : (s->v[i] < 0x100 ? s->v[i] : -1);
			ok = b >= 0;
			bytes[i] = (unsigned char)b;
			high |= b >= 0x80;
		}
		if (!ok || !high)
			continue;
		sora_u32 out = {0};
		sora_err e;
		if (sora_u32_from_utf8(&out, (const char *)bytes, (size_t)s->n, &e) == 0 && out.n < s->n) {
			swap_in(s, &out);
			break;
		}
		sora_u32_free(&out);
	}
	free(bytes);
	return 0;
}

/* ftfy's fix_character_width: the NFKC form of full- and half-width characters, U+3000 → " ". */
static int push_width(sora_u32 *out, int32_t cp)
{
	if (cp == 0x3000)
		return sora_u32_push(out, ' ');
	utf8proc_uint8_t one[8] = {0};
	utf8proc_encode_char(cp, one);
	utf8proc_uint8_t *k = utf8proc_NFKC(one);
	sora_err e;
	int rc = k ? sora_u32_from_utf8(out, (const char *)k, strlen((const char *)k), &e) : -1;
	free(k);
	return rc;
}

static int push_utf8(sora_u32 *out, const char *s)
{
	sora_err e;
	return sora_u32_from_utf8(out, s, strlen(s), &e);
}

static const char *ligature(int32_t cp)
{
	switch (cp) {
	case 0x0132:
		return "IJ";
	case 0x0133:
		return "ij";
	case 0x0149:
		return "\xca\xbcn";
	case 0x01c4:
		return "D\xc5\xbd";
	case 0x01c5:
		return "D\xc5\xbe";
	case 0x01c6:
		return "d\xc5\xbe";
	case 0x01c7:
		return "LJ";
	case 0x01c8:
		return "Lj";
	case 0x01c9:
		return "lj";
	case 0x01ca:
		return "NJ";
	case 0x01cb:
		return "Nj";
	case 0x01cc:
		return "nj";
	case 0x01f1:
		return "DZ";
	case 0x01f2:
		return "Dz";
	case 0x01f3:
		return "dz";
	case 0xfb00:
		return "ff";
	case 0xfb01:
		return "fi";
	case 0xfb02:
		return "fl";
	case 0xfb03:
		return "ffi";
	case 0xfb04:
		return "ffl";
	case 0xfb05:
		return "\xc5\xbft";
	case 0xfb06:
		return "st";
	}
	return NULL;
}

static int is_removed_control(int32_t c)
{
	return (c >= 0 && c <= 8) || c == 0xb || (c >= 0xe && c <= 0x1f) || c == 0x7f ||
	       (c >= 0x206a && c <= 0x206f) || c == 0xfeff || (c >= 0xfff9 && c <= 0xfffc) ||
	       (c >= 0x1d173 && c <= 0x1d17a) || (c >= 0xe0000 && c <= 0xe007f);
}

/* The character-level steps of fix_and_explain, in ftfy's order: C1 controls, ligatures, width,
 * quotes, line breaks, terminal escapes, control characters. */
static int fix_chars(sora_u32 *s)
{
	sora_u32 out = {0};
	for (int i = 0; i < s->n; i++) {
		int32_t c = s->v[i];
		if (c >= 0x80 && c < 0xa0)
			c = sloppy_1252_decode(c);
		const char *lig = ligature(c);
		if (lig ? push_utf8(&out, lig) < 0 : 0)
			goto oom;
		if (lig)
			continue;
		if ((c >= 0xff01 && c <= 0xffef) || c == 0x3000) {
			if (push_width(&out, c) < 0)
				goto oom;
			continue;
		}
		if (c == 0x2bc || (c >= 0x2018 && c <= 0x201b))
			c = '\'';
		else if (c >= 0x201c && c <= 0x201f)
			c = '"';
		if (c == '\r' && i + 1 < s->n && s->v[i + 1] == '\n')
			continue; /* "\r\n" → "\n" */
		if (c == '\r' || c == 0x2028 || c == 0x2029 || c == 0x85)
			c = '\n';
		if (c == 0x1b && i + 1 < s->n && s->v[i + 1] == '[') { /* \033[ [0-9;]* [A-Za-z] */
			int k = i + 2;
			while (k < s->n && ((s->v[k] >= '0' && s->v[k] <= '9') || s->v[k] == ';'))
				k++;
			if (k < s->n && ((s->v[k] | 0x20) >= 'a' && (s->v[k] | 0x20) <= 'z')) {
				i = k;
				continue;
			}
		}
		if (is_removed_control(c))
			continue;
		if (sora_u32_push(&out, c) < 0)
			goto oom;
	}
	swap_in(s, &out);
	return 0;
oom:
	sora_u32_free(&out);
	return -1;
}

static int nfc(sora_u32 *s)
{
	char *u = sora_u32_to_utf8(s);
	utf8proc_uint8_t *c = u ? utf8proc_NFC((const utf8proc_uint8_t *)u) : NULL;
	sora_u32 out = {0};
	sora_err e;
	int rc = c && sora_u32_from_utf8(&out, (const char *)c, strlen((const char *)c), &e) == 0 ? 0 : -1;
	if (rc == 0)
		swap_in(s, &out);
	sora_u32_free(&out);
	free(u);
	free(c);
	return rc;
}

/* One line of text through ftfy's steps until nothing changes. */
static int fix_segment(sora_u32 *s, int unescape)
{
	for (int round = 0; round < 16; round++) {
		sora_u32 before = {0};
		for (int i = 0; i < s->n; i++)
			if (sora_u32_push(&before, s->v[i]) < 0)
				return -1;
		int rc = (unescape ? unescape_html(s) : 0) | fix_encoding(s) | fix_chars(s) | nfc(s);
		int same = before.n == s->n && !memcmp(before.v, s->v, (size_t)s->n * sizeof *s->v);
		sora_u32_free(&before);
		if (rc < 0)
			return -1;
		if (same)
			break;
	}
	return 0;
}

int sora_ftfy_fix(sora_u32 *s, sora_err *e)
{
	sora_u32 out = {0}, line = {0};
	int unescape = 1;
	for (int i = 0; i < s->n;) {
		/* ftfy works a line (through its "\n") at a time, and stops unescaping HTML for good once a
		 * line holds "<". */
		int j = i;
		while (j < s->n && s->v[j] != '\n')
			j++;
		j += j < s->n;
		line.n = 0;
		for (int k = i; k < j; k++) {
			CHECK_ALLOC(e, sora_u32_push(&line, s->v[k]) == 0);
			unescape &= s->v[k] != '<';
		}
		CHECK_ALLOC(e, fix_segment(&line, unescape) == 0);
		for (int k = 0; k < line.n; k++)
			CHECK_ALLOC(e, sora_u32_push(&out, line.v[k]) == 0);
		i = j;
	}
	sora_u32_free(&line);
	swap_in(s, &out);
	return 0;
fail:
	sora_u32_free(&line);
	sora_u32_free(&out);
	return -1;
}

int sora_is_space(int32_t c)
{
	return (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
	       c == 0x3000;
}

static int is_cased(int32_t c)
{
	utf8proc_category_t k = utf8proc_category(c);
	return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT;
}

static int is_case_ignorable(int32_t c)
{
	utf8proc_category_t k = utf8proc_category(c);
	return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_ME || k == UTF8PROC_CATEGORY_CF ||
	       k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_SK || c == '\'' || c == '.' || c == ':';
}

/* Python's Final_Sigma rule: Σ after a cased letter and not before one lower-cases to ς. */
static int final_sigma(const sora_u32 *s, int i)
{
	int j = i - 1;
	while (j >= 0 && is_case_ignorable(s->v[j]))
		j--;
	if (j < 0 || !is_cased(s->v[j]))
		return 0;
	j = i + 1;
	while (j < s->n && is_case_ignorable(s->v[j]))
		j++;
	return j >= s->n || !is_cased(s->v[j]);
}

int sora_clip_normalize(sora_u32 *s, sora_err *e)
{
	sora_u32 out = {0};
	int pending = 0;
	for (int i = 0; i < s->n; i++) {
		int32_t c = s->v[i];
		if (sora_is_space(c)) {
			pending = 1;
			continue;
		}
		if (pending && out.n)
			CHECK_ALLOC(e, sora_u32_push(&out, ' ') == 0);
		pending = 0;
		if (c == 0x130) { /* İ: the one unconditional multi-character lower-case mapping */
			CHECK_ALLOC(e, sora_u32_push(&out, 'i') == 0 && sora_u32_push(&out, 0x307) == 0);
			continue;
		}
		c = c == 0x3a3 && final_sigma(s, i) ? 0x3c2 : utf8proc_tolower(c);
		CHECK_ALLOC(e, sora_u32_push(&out, c) == 0);
	}
	swap_in(s, &out);
	return 0;
fail:
	sora_u32_free(&out);
	return -1;
}
