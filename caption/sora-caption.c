/* sora-caption: a caption per clip from an OpenAI-compatible vision-language model server, or imported. */
#include "caption/clean.h"
#include "caption/frames.h"
#include "caption/store.h"
#include "io/chat_client.h"
#include "util/base64.h"
#include "util/cli.h"
#include "util/clip_range.h"
#include "util/file.h"
#include "util/log.h"
#include "util/rowmap.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { C_TEXT, C_MODEL };
static const char *const columns[] = {"text", "caption_model", NULL};

/* Modelled on Open-Sora's captioning prompts: what a text-to-video model must learn from. */
static const char default_instruction[] =
    "These images are frames from one video clip, in order. Describe the video in one detailed paragraph "
    "for training a text-to-video model: the main subjects and their appearance, what they do and how they "
    "move, the camera motion (static, pan, tilt, zoom, tracking), the scene and background, the lighting, "
    "and the visual style. Write only the description, with no preamble such as \"The video shows\".";

typedef struct caption {
	/* options */
	const char *endpoint, *model, *key_env, *prompt_file, *cache_path, *from_path;
	int frames, size, max_tokens, max_retries, overwrite, no_clean;
	double temperature, timeout, retry_delay;
	/* state */
	char *instruction;
	sora_chat_opts chat_opts;
	sora_chat **clients; /* one per worker, opened on first use */
	int nclients;
	sora_caption_store *cache, *from;
	sora_range_cols range;
	int path_col, id_col, text_col;
} caption;

static int prepare(void *ctx, const sora_fields *h, sora_err *e)
{
	caption *c = ctx;
	c->path_col = sora_fields_find(h, "path");
	c->id_col = sora_fields_find(h, "id");
	c->text_col = sora_fields_find(h, "text");
	sora_range_cols_find(&c->range, h);
	if (c->path_col < 0 && !(c->from && c->id_col >= 0))
		return SORA_FAIL(e, "the input CSV has no 'path' column");
	return 0;
}

/* id when the rows have one (sora-split's clip id), else the path (with the clip's range when the rows
 * have one). */
static void row_key(const caption *c, const sora_fields *in, char *buf, size_t n)
{
	if (c->id_col >= 0 && in->v[c->id_col][0])
		snprintf(buf, n, "%s", in->v[c->id_col]);
	else if (c->range.start >= 0 || c->range.end >= 0)
		snprintf(buf, n, "%s#%s-%s", in->v[c->path_col],
			 c->range.start >= 0 ? in->v[c->range.start] : "",
			 c->range.end >= 0 ? in->v[c->range.end] : "");
	else
		snprintf(buf, n, "%s", in->v[c->path_col]);
}

static int ask_server(caption *c, int worker, const sora_fields *in, char **text, sora_err *e)
{
	sora_jpegs jp = {0};
	char **b64 = NULL;
	double start, end;
	int rc = -1;
	*text = NULL;
	TRY(sora_row_range(&c->range, in, &start, &end, e));
	TRY(sora_caption_frames(in->v[c->path_col], start, end, c->frames, c->size, &jp, e));
	CHECK_ALLOC(e, b64 = calloc((size_t)jp.n, sizeof *b64));
	for (int i = 0; i < jp.n; i++) {
		CHECK_ALLOC(e, b64[i] = malloc(sora_base64_len(jp.size[i]) + 1));
		sora_base64_encode(jp.data[i], jp.size[i], b64[i]);
	}
	if (!c->clients[worker])
		TRY(sora_chat_open(&c->clients[worker], &c->chat_opts, e));
	TRY(sora_chat_ask(c->clients[worker], c->instruction, b64, jp.n, text, e));
	rc = 0;
fail:
	for (int i = 0; b64 && i < jp.n; i++)
		free(b64[i]);
	free(b64);
	sora_jpegs_free(&jp);
	return rc;
}

static int caption_row(void *ctx, int worker, const sora_fields *in, sora_out *out, sora_err *e)
{
	caption *c = ctx;
	char key[4096], *raw = NULL, *clean = NULL;
	const char *text, *model = c->model;
	if (c->text_col >= 0 && in->v[c->text_col][0] && !c->overwrite) {
		sora_out_add(out);
		return 0;
	}
	CHECK(e, c->path_col < 0 || in->v[c->path_col][0] || c->from, "empty path");
	row_key(c, in, key, sizeof key);
	/* A cached caption was paid for in an earlier run (and cleaned then). */
	text = c->cache ? sora_caption_store_get(c->cache, key) : NULL;
	if (!text) {
		if (c->from) {
			const char *got = sora_caption_store_get(c->from, key);
			if (!got && c->path_col >= 0)
				got = sora_caption_store_get(c->from, in->v[c->path_col]);
			CHECK(e, got, "no caption for '%s' in %s", key, c->from_path);
			CHECK_ALLOC(e, raw = strdup(got));
			model = "import";
		} else {
			TRY(ask_server(c, worker, in, &raw, e));
		}
		text = raw;
		if (!c->no_clean) {
			CHECK_ALLOC(e, clean = sora_caption_clean(raw));
			text = clean;
		}
		CHECK(e, text[0], "the caption is empty");
		if (c->cache)
			TRY(sora_caption_store_put(c->cache, key, text, e));
	}
	sora_out_add(out);
	sora_out_set(out, C_TEXT, text);
	sora_out_set(out, C_MODEL, model);
	free(raw);
	free(clean);
	return 0;
fail:
	free(raw);
	free(clean);
	return -1;
}

/* Checks the options and opens what they name. Returns an exit status, or -1 to go on. */
static int setup(caption *c, int threads)
{
	sora_err e = {0};
	const char *key = NULL;
	if (!c->from_path && (!c->endpoint || !c->model)) {
		log_error("--endpoint and --model are needed (or --from FILE to import captions)");
		return SORA_EXIT_USAGE;
	}
	if (c->frames < 1 || c->frames > 64 || c->size < 16 || c->max_retries < 0 || c->timeout <= 0 ||
	    c->retry_delay < 0 || c->max_tokens < 1) {
		log_error("--frames must be 1..64, --size >= 16, --max-retries >= 0, --timeout > 0, "
			  "--retry-delay >= 0, "
			  "--max-tokens >= 1");
		return SORA_EXIT_USAGE;
	}
	if (c->key_env && !((key = getenv(c->key_env)) && key[0])) {
		log_error("--api-key-env %s: that environment variable is not set", c->key_env);
		return SORA_EXIT_USAGE;
	}
	if (c->prompt_file ? !(c->instruction = sora_read_file(c->prompt_file, 1 << 20, "prompt", NULL, &e))
			   : !(c->instruction = strdup(default_instruction))) {
		log_error("--prompt-file %s", e.msg[0] ? e.msg : "out of memory");
		return SORA_EXIT_USAGE;
	}
	if (c->from_path && sora_caption_store_open(&c->from, c->from_path, 0, &e) < 0) {
		log_error("--from %s", e.msg);
		return SORA_EXIT_USAGE;
	}
	if (c->cache_path && sora_caption_store_open(&c->cache, c->cache_path, 1, &e) < 0) {
		log_error("--cache %s", e.msg);
		return SORA_EXIT_FAIL;
	}
	if (c->cache) {
		log_info("cache %s: %lld captions", c->cache_path,
			 (long long)sora_caption_store_count(c->cache));
		if (sora_caption_store_skipped(c->cache))
			log_warn("cache %s: %lld unreadable lines skipped (an interrupted write?)",
				 c->cache_path, (long long)sora_caption_store_skipped(c->cache));
	}
	c->chat_opts = (sora_chat_opts){.endpoint = c->endpoint,
					.model = c->model,
					.api_key = key,
					.max_tokens = c->max_tokens,
					.temperature = c->temperature,
					.timeout_sec = c->timeout,
					.max_retries = c->max_retries,
					.retry_base_sec = c->retry_delay};
	c->nclients = threads;
	if (!(c->clients = calloc((size_t)threads, sizeof(sora_chat *)))) {
		log_error("out of memory");
		return SORA_EXIT_FAIL;
	}
	return -1;
}

int main(int argc, char **argv)
{
	caption c = {.frames = 4,
		     .size = 336,
		     .max_tokens = 512,
		     .temperature = 0.2,
		     .timeout = 120,
		     .max_retries = 5,
		     .retry_delay = 1.0};
	const sora_opt opts[] = {
	    {"endpoint", 0, SORA_OPT_STR, &c.endpoint, "URL",
	     "the chat-completions URL, e.g. http://host:8000/v1/chat/completions"},
	    {"model", 0, SORA_OPT_STR, &c.model, "NAME", "the model name the server knows"},
	    {"api-key-env", 0, SORA_OPT_STR, &c.key_env, "VAR",
	     "read the API key from this environment variable"},
	    {"prompt-file", 0, SORA_OPT_STR, &c.prompt_file, "FILE",
	     "the captioning instruction (default: built in)"},
	    {"frames", 0, SORA_OPT_INT, &c.frames, "N", "frames per clip, evenly spread"},
	    {"size", 0, SORA_OPT_INT, &c.size, "N", "short side of the frames sent (never upscaled)"},
	    {"max-tokens", 0, SORA_OPT_INT, &c.max_tokens, "N", "max_tokens of the request"},
	    {"temperature", 0, SORA_OPT_DOUBLE, &c.temperature, "T", "temperature of the request"},
	    {"timeout", 0, SORA_OPT_DOUBLE, &c.timeout, "SEC", "time limit of one request"},
	    {"max-retries", 0, SORA_OPT_INT, &c.max_retries, "N",
	     "retries after connection errors, timeouts, 429 and 5xx"},
	    {"retry-delay", 0, SORA_OPT_DOUBLE, &c.retry_delay, "SEC",
	     "first backoff; doubles per retry, with jitter (Retry-After wins)"},
	    {"overwrite", 0, SORA_OPT_FLAG, &c.overwrite, NULL, "caption rows that already have text"},
	    {"cache", 0, SORA_OPT_STR, &c.cache_path, "FILE",
	     "JSONL of captions: read first, appended per caption"},
	    {"from", 0, SORA_OPT_STR, &c.from_path, "FILE",
	     "import captions from a CSV or JSONL keyed by id or path, no server"},
	    {"no-clean", 0, SORA_OPT_FLAG, &c.no_clean, NULL, "keep the model's text as it is"},
	    {0},
	};
	const sora_cli cli = {
	    .prog = "sora-caption",
	    .usage = "--endpoint URL --model NAME [csv files]...",
	    .summary =
		"Captions clip rows (path, optional start_sec/end_sec, id) with a vision-language model "
		"behind\n"
		"an OpenAI-compatible chat-completions server (vLLM, SGLang, llama-server, Ollama, ...),\n"
		"or imports captions with --from. Writes `text` and `caption_model`. -j is the number of\n"
		"requests in flight.",
	    .opts = opts,
	};
	sora_common_opts co;
	int first;
	int rc = sora_cli_parse(&cli, argc, argv, &co, &first);
	if (rc != SORA_CLI_OK)
		return rc == SORA_CLI_EXIT ? SORA_EXIT_OK : SORA_EXIT_USAGE;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("cannot start libcurl");
		return SORA_EXIT_FAIL;
	}
	int status = setup(&c, co.threads);
	if (status < 0) {
		const sora_rowmap_spec spec = {
		    .input = SORA_INPUT_CSV,
		    .columns = columns,
		    .unit = "clips",
		    .ctx = &c,
		    .prepare = prepare,
		    .process = caption_row,
		};
		status = sora_rowmap_run(&spec, &co, argc - first, argv + first);
		long requests = 0;
		for (int i = 0; i < c.nclients; i++)
			requests += c.clients[i] ? sora_chat_requests(c.clients[i]) : 0;
		if (!c.from)
			log_info("%ld requests sent (retries included)", requests);
	}
	for (int i = 0; i < c.nclients; i++)
		sora_chat_close(c.clients[i]);
	free(c.clients);
	free(c.instruction);
	sora_caption_store_close(c.cache);
	sora_caption_store_close(c.from);
	curl_global_cleanup();
	return status;
}
