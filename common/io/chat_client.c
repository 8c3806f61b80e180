#include "chat_client.h"

#include <cJSON.h>
#include <ctype.h>
#include <curl/curl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* A reply larger than this is not a caption; stop reading it. */
#define MAX_REPLY_BYTES (16u << 20)
/* Retry-After beyond this would park a worker for too long; such a server gets this long. */
#define MAX_RETRY_WAIT_SEC 120.0
#define MAX_BACKOFF_SEC    60.0

struct sora_chat {
	sora_chat_opts o;
	CURL *curl;
	struct curl_slist *headers;
	char errbuf[CURL_ERROR_SIZE];
	char *body;
	size_t len;
	int too_long;
	double retry_after; /* seconds from the last reply's Retry-After, or -1 */
	uint64_t rng;
	long requests;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	sora_chat *c = ud;
	size_t add = size * n;
	if (c->len + add > MAX_REPLY_BYTES) {
		c->too_long = 1;
		return 0;
	}
	char *b = realloc(c->body, c->len + add + 1);
	if (!b)
		return 0;
	memcpy(b + c->len, p, add);
	c->len += add;
	b[c->len] = '\0';
	c->body = b;
	return add;
}

/* Retry-After is either seconds or an HTTP date. */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	sora_chat *c = ud;
	size_t len = size * n;
	static const char name[] = "retry-after:";
	if (len > sizeof name && strncasecmp(p, name, sizeof name - 1) == 0) {
		char v[128];
		size_t k = len - (sizeof name - 1);
		k = k < sizeof v - 1 ? k : sizeof v - 1;
		memcpy(v, p + sizeof name - 1, k);
		v[k] = '\0';
		char *s = v + strspn(v, " \t"), *end;
		double secs = strtod(s, &end);
		if (end != s && (*end == '\0' || isspace((unsigned char)*end))) {
			c->retry_after = secs > 0 ? secs : 0;
		} else {
			time_t when = curl_getdate(s, NULL);
			if (when > 0)
				c->retry_after =
				    difftime(when, time(NULL)) > 0 ? difftime(when, time(NULL)) : 0;
		}
	}
	return len;
}

int sora_chat_open(sora_chat **out, const sora_chat_opts *o, sora_err *e)
{
	sora_chat *c = calloc(1, sizeof *c);
	char *auth = NULL;
	CHECK_ALLOC(e, c);
	c->o = *o;
	c->rng = (uint64_t)(uintptr_t)c ^ (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ULL;
	CHECK(e, c->curl = curl_easy_init(), "cannot start libcurl");
	CHECK_ALLOC(e, c->headers = curl_slist_append(NULL, "Content-Type: application/json"));
	if (o->api_key && o->api_key[0]) {
		size_t n = strlen(o->api_key) + 32;
		CHECK_ALLOC(e, auth = malloc(n));
		snprintf(auth, n, "Authorization: Bearer %s", o->api_key);
		struct curl_slist *h = curl_slist_append(c->headers, auth);
		CHECK_ALLOC(e, h);
		c->headers = h;
	}
	CURL *h = c->curl;
	long timeout_ms = (long)(o->timeout_sec * 1000);
	curl_easy_setopt(h, CURLOPT_URL, o->endpoint);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 30000 ? timeout_ms : 30000L);
	/* Worker threads: no SIGALRM-based DNS timeouts. */
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (auth) {
		memset(auth, 0, strlen(auth));
		free(auth);
	}
	*out = c;
	return 0;
fail:
	free(auth);
	sora_chat_close(c);
	return -1;
}

void sora_chat_close(sora_chat *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->headers);
	free(c->body);
	free(c);
}

long sora_chat_requests(const sora_chat *c)
{
	return c->requests;
}

static char *build_request(const sora_chat_opts *o, const char *instruction, char *const *b64, int n)
{
	cJSON *root = cJSON_CreateObject(), *messages, *msg, *content, *part, *url;
	char *text = NULL, *data_url = NULL;
	if (!root || !cJSON_AddStringToObject(root, "model", o->model) ||
	    !(messages = cJSON_AddArrayToObject(root, "messages")) || !(msg = cJSON_CreateObject()) ||
	    !cJSON_AddItemToArray(messages, msg) || !cJSON_AddStringToObject(msg, "role", "user") ||
	    !(content = cJSON_AddArrayToObject(msg, "content")) || !(part = cJSON_CreateObject()) ||
	    !cJSON_AddItemToArray(content, part) || !cJSON_AddStringToObject(part, "type", "text") ||
	    !cJSON_AddStringToObject(part, "text", instruction))
		goto done;
	for (int i = 0; i < n; i++) {
		size_t len = strlen(b64[i]) + 32;
		free(data_url);
		if (!(data_url = malloc(len)))
			goto done;
		snprintf(data_url, len, "data:image/jpeg;base64,%s", b64[i]);
		if (!(part = cJSON_CreateObject()) || !cJSON_AddItemToArray(content, part) ||
		    !cJSON_AddStringToObject(part, "type", "image_url") ||
		    !(url = cJSON_AddObjectToObject(part, "image_url")) ||
		    !cJSON_AddStringToObject(url, "url", data_url))
			goto done;
	}
	if (!cJSON_AddNumberToObject(root, "max_tokens", o->max_tokens) ||
	    !cJSON_AddNumberToObject(root, "temperature", o->temperature))
		goto done;
	text = cJSON_PrintUnformatted(root);
done:
	free(data_url);
	cJSON_Delete(root);
	return text;
}

/* What the server said went wrong: {"error": {"message": ...}}, {"error": "..."}, {"message": ...}, or
 * the start of the body with control characters blanked. */
static void server_message(const char *body, size_t len, char *out, size_t n)
{
	cJSON *j = body ? cJSON_ParseWithLength(body, len) : NULL;
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error"), *m = NULL;
	if (cJSON_IsObject(err))
		m = cJSON_GetObjectItemCaseSensitive(err, "message");
	else if (cJSON_IsString(err))
		m = err;
	else
		m = cJSON_GetObjectItemCaseSensitive(j, "message");
	const char *s = cJSON_IsString(m) ? m->valuestring : body ? body : "";
	size_t k = 0;
	for (; k < 200 && k + 1 < n && s[k]; k++)
		out[k] = iscntrl((unsigned char)s[k]) ? ' ' : s[k];
	out[k] = '\0';
	if (!k)
		snprintf(out, n, "(empty body)");
	cJSON_Delete(j);
}

static int parse_reply(const sora_chat *c, char **reply, sora_err *e)
{
	cJSON *j = cJSON_ParseWithLength(c->body ? c->body : "", c->len);
	CHECK(e, cJSON_IsObject(j), "malformed JSON in the reply");
	const cJSON *choices = cJSON_GetObjectItemCaseSensitive(j, "choices");
	CHECK(e, cJSON_IsArray(choices) && cJSON_GetArraySize(choices) > 0, "the reply has no choices");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(choices, 0), "message");
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
	CHECK(e, cJSON_IsString(content), "the reply's first choice has no message content");
	CHECK_ALLOC(e, *reply = strdup(content->valuestring));
	cJSON_Delete(j);
	return 0;
fail:
	cJSON_Delete(j);
	return -1;
}

/* Transport failures worth another try; a bad URL or protocol is not. */
static int retryable_curl(CURLcode cc)
{
	switch (cc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_OUT_OF_MEMORY:
	case CURLE_FILESIZE_EXCEEDED:
	case CURLE_WRITE_ERROR:
		return 0;
	default:
		return 1;
	}
}

static double uniform(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (double)((*s * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static void pause_for(double sec)
{
	struct timespec ts = {(time_t)sec, (long)((sec - (double)(time_t)sec) * 1e9)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int sora_chat_ask(sora_chat *c, const char *instruction, char *const *jpeg_b64, int n, char **reply,
		  sora_err *e)
{
	char *req = build_request(&c->o, instruction, jpeg_b64, n);
	char why[320] = "";
	*reply = NULL;
	CHECK(e, req, "out of memory building the request");
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, req);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(req));
	for (int attempt = 0;; attempt++) {
		c->len = 0;
		c->too_long = 0;
		c->retry_after = -1;
		c->errbuf[0] = '\0';
		CURLcode cc = curl_easy_perform(c->curl);
		c->requests++;
		long status = 0;
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
		if (cc == CURLE_OK && status >= 200 && status < 300) {
			TRY(parse_reply(c, reply, e));
			break;
		}
		int retry;
		if (cc != CURLE_OK) {
			retry = retryable_curl(cc) && !c->too_long;
			snprintf(why, sizeof why, "%s",
				 c->too_long    ? "the reply is larger than 16 MiB"
				 : c->errbuf[0] ? c->errbuf
						: curl_easy_strerror(cc));
		} else {
			char msg[256];
			server_message(c->body, c->len, msg, sizeof msg);
			retry = status == 429 || status >= 500;
			snprintf(why, sizeof why, "HTTP %ld: %s", status, msg);
		}
		if (!retry || attempt >= c->o.max_retries) {
			if (attempt)
				SORA_FAIL(e, "%s (after %d retries)", why, attempt);
			else
				SORA_FAIL(e, "%s", why);
			goto fail;
		}
		double wait = c->retry_after >= 0
				  ? fmin(c->retry_after, MAX_RETRY_WAIT_SEC)
				  : fmin(c->o.retry_base_sec * (double)(1u << (attempt < 20 ? attempt : 20)) *
					     (1 + uniform(&c->rng)),
					 MAX_BACKOFF_SEC);
		pause_for(wait);
	}
	free(req);
	return 0;
fail:
	free(req);
	return -1;
}
