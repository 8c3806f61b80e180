/* An OpenAI-compatible chat-completions client (vLLM, SGLang, llama-server, Ollama, hosted APIs) on
 * libcurl: one request with a text part and images, retried with exponential backoff and jitter on
 * connection errors, timeouts, 429 and 5xx, honouring Retry-After. One client per thread: its curl
 * handle keeps the connection alive between requests. */
#ifndef SORA_CHAT_CLIENT_H
#define SORA_CHAT_CLIENT_H

#include "../util/err.h"

typedef struct sora_chat_opts {
	const char *endpoint; /* full URL of the chat-completions route */
	const char *model;
	const char *api_key; /* sent as "Authorization: Bearer"; never in a message; may be NULL */
	int max_tokens;
	double temperature;
	double timeout_sec;    /* whole request */
	int max_retries;       /* after the first try */
	double retry_base_sec; /* backoff: a random delay in [b, 2b] x 2^attempt, at most 60 s */
} sora_chat_opts;

typedef struct sora_chat sora_chat;

/* Call curl_global_init once before the first client (main does, before threads start). */
int sora_chat_open(sora_chat **out, const sora_chat_opts *o, sora_err *e);
void sora_chat_close(sora_chat *c);

/* Sends the instruction and n JPEG images (base64, shown as data: URLs); *reply is the first choice's
 * message content (malloc'd). A failure says what the server said: "HTTP 500 after 3 retries: <its
 * error message>", "malformed JSON in the reply", "the reply has no choices", "timed out ...". */
int sora_chat_ask(sora_chat *c, const char *instruction, char *const *jpeg_b64, int n, char **reply,
		  sora_err *e);

/* Requests sent so far, retries included (for the summary). */
long sora_chat_requests(const sora_chat *c);

#endif
