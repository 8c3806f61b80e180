#include "cli.h"

#include "log.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Long-only common options get codes above the byte range. */
enum { OPT_SHARD = 256, OPT_REJECTS, OPT_MAX_REJECTS, OPT_HELP, OPT_VERSION, OPT_PROGRAM_BASE = 512 };

int sora_cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

static void print_opt(const char *shortname, const char *name, const char *metavar, const char *help,
		      const char *dflt)
{
	char left[64];
	snprintf(left, sizeof left, "%s--%s%s%s", shortname, name, metavar ? " " : "",
		 metavar ? metavar : "");
	printf("  %-28s %s", left, help);
	if (dflt)
		printf(" (default: %s)", dflt);
	putchar('\n');
}

static void print_help(const sora_cli *cli, const sora_common_opts *c)
{
	printf("usage: %s [options] %s\n\n%s\n\noptions:\n", cli->prog, cli->usage, cli->summary);
	for (const sora_opt *o = cli->opts; o && o->name; o++) {
		char sh[8] = "", dflt[64];
		const char *d = dflt;
		if (o->short_name)
			snprintf(sh, sizeof sh, "-%c, ", o->short_name);
		switch (o->type) {
		case SORA_OPT_FLAG:
			d = *(int *)o->dest ? "on" : "off";
			break;
		case SORA_OPT_INT:
			snprintf(dflt, sizeof dflt, "%d", *(int *)o->dest);
			break;
		case SORA_OPT_DOUBLE:
			snprintf(dflt, sizeof dflt, "%g", *(double *)o->dest);
			break;
		case SORA_OPT_STR:
			d = *(const char **)o->dest ? *(const char **)o->dest : "none";
			break;
		}
		print_opt(sh, o->name, o->type == SORA_OPT_FLAG ? NULL : o->metavar, o->help, d);
	}
	char jobs[32];
	snprintf(jobs, sizeof jobs, "all cores: %d", c->threads);
	print_opt("-o, ", "output", "FILE", "write the CSV there instead of stdout", "stdout");
	print_opt("-j, ", "threads", "N", "rows processed at once, or a model's compute threads", jobs);
	print_opt("", "shard", "I/N", "process only input rows whose index % N == I (0 <= I < N)", "0/1");
	print_opt("", "rejects", "FILE", "write rejected rows there, with an `error` column", "none");
	print_opt("", "max-rejects", "N", "stop with exit status 3 after more than N rejects", "no limit");
	print_opt("-q, ", "quiet", NULL, "only errors and warnings on stderr; no progress, no summary", NULL);
	print_opt("-v, ", "verbose", NULL, "more detail on stderr (twice: FFmpeg's own messages too)", NULL);
	print_opt("-h, ", "help", NULL, "show this help and exit", NULL);
	print_opt("", "version", NULL, "print the version and exit", NULL);
	printf(
	    "\nexit status: 0 when every input row was processed or rejected with a reason, 1 on a fatal\n"
	    "error (unwritable output, unreadable input stream), 2 on a usage error, 3 when --max-rejects\n"
	    "was exceeded.\n");
}

static int parse_int(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_shard(const char *s, sora_common_opts *c)
{
	long long i, n;
	const char *slash = strchr(s, '/');
	char head[32];
	if (!slash || (size_t)(slash - s) >= sizeof head)
		return -1;
	memcpy(head, s, (size_t)(slash - s));
	head[slash - s] = '\0';
	if (parse_int(head, 0, INT_MAX, &i) < 0 || parse_int(slash + 1, 1, INT_MAX, &n) < 0 || i >= n)
		return -1;
	c->shard_i = (int)i;
	c->shard_n = (int)n;
	return 0;
}

static int usage_error(const sora_cli *cli, const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", cli->prog);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", cli->prog);
	return SORA_CLI_USAGE;
}

static int set_program_opt(const sora_cli *cli, const sora_opt *o, const char *arg)
{
	long long v;
	char *end;
	switch (o->type) {
	case SORA_OPT_FLAG:
		*(int *)o->dest = 1;
		return 0;
	case SORA_OPT_INT:
		if (parse_int(arg, INT_MIN, INT_MAX, &v) < 0)
			return usage_error(cli, "--%s wants an integer", o->name);
		*(int *)o->dest = (int)v;
		return 0;
	case SORA_OPT_DOUBLE:
		errno = 0;
		*(double *)o->dest = strtod(arg, &end);
		if (errno || end == arg || *end)
			return usage_error(cli, "--%s wants a number", o->name);
		return 0;
	case SORA_OPT_STR:
		*(const char **)o->dest = arg;
		return 0;
	}
	return 0;
}

int sora_cli_parse(const sora_cli *cli, int argc, char **argv, sora_common_opts *c, int *first_arg)
{
	*c = (sora_common_opts){.threads = sora_cpu_count(), .shard_n = 1, .max_rejects = -1};
	int nprog = 0;
	while (cli->opts && cli->opts[nprog].name)
		nprog++;

	struct option *lo = calloc((size_t)nprog + 12, sizeof *lo);
	char shortopts[128] = "+o:j:qvh";
	int k = 0, rc = SORA_CLI_OK;
	if (!lo) {
		fprintf(stderr, "%s: out of memory\n", cli->prog);
		return SORA_CLI_USAGE;
	}
	lo[k++] = (struct option){"output", required_argument, NULL, 'o'};
	lo[k++] = (struct option){"threads", required_argument, NULL, 'j'};
	lo[k++] = (struct option){"quiet", no_argument, NULL, 'q'};
	lo[k++] = (struct option){"verbose", no_argument, NULL, 'v'};
	lo[k++] = (struct option){"help", no_argument, NULL, 'h'};
	lo[k++] = (struct option){"shard", required_argument, NULL, OPT_SHARD};
	lo[k++] = (struct option){"rejects", required_argument, NULL, OPT_REJECTS};
	lo[k++] = (struct option){"max-rejects", required_argument, NULL, OPT_MAX_REJECTS};
	lo[k++] = (struct option){"version", no_argument, NULL, OPT_VERSION};
	for (int i = 0; i < nprog; i++) {
		const sora_opt *o = &cli->opts[i];
		int has = o->type == SORA_OPT_FLAG ? no_argument : required_argument;
		lo[k++] = (struct option){o->name, has, NULL, OPT_PROGRAM_BASE + i};
		if (o->short_name) {
			size_t len = strlen(shortopts);
			shortopts[len] = (char)o->short_name;
			shortopts[len + 1] = has == required_argument ? ':' : '\0';
			shortopts[len + 2] = '\0';
		}
	}

	long long v;
	int opt;
	optind = 1;
	while (rc == SORA_CLI_OK && (opt = getopt_long(argc, argv, shortopts, lo, NULL)) != -1) {
		switch (opt) {
		case 'o':
			c->output = optarg;
			break;
		case 'j':
			if (parse_int(optarg, 1, 4096, &v) < 0)
				rc = usage_error(cli, "-j wants a thread count from 1 to 4096, not '%s'",
						 optarg);
			else
				c->threads = (int)v;
			break;
		case 'q':
			c->verbosity = -1;
			break;
		case 'v':
			c->verbosity = c->verbosity < 0 ? 1 : c->verbosity + 1;
			break;
		case 'h':
			print_help(cli, c);
			rc = SORA_CLI_EXIT;
			break;
		case OPT_VERSION:
			printf("%s (sora.c) %s\n", cli->prog, SORA_VERSION);
			rc = SORA_CLI_EXIT;
			break;
		case OPT_SHARD:
			if (parse_shard(optarg, c) < 0)
				rc = usage_error(cli, "--shard wants I/N with 0 <= I < N, not '%s'", optarg);
			break;
		case OPT_REJECTS:
			c->rejects = optarg;
			break;
		case OPT_MAX_REJECTS:
			if (parse_int(optarg, 0, INT64_MAX, &v) < 0)
				rc = usage_error(cli, "--max-rejects wants a count >= 0, not '%s'", optarg);
			else
				c->max_rejects = v;
			break;
		case '?': /* getopt_long has said what was wrong */
			fprintf(stderr, "Try '%s --help' for more information.\n", cli->prog);
			rc = SORA_CLI_USAGE;
			break;
		default: {
			const sora_opt *o = NULL;
			for (int i = 0; i < nprog && !o; i++)
				if (opt == OPT_PROGRAM_BASE + i || opt == cli->opts[i].short_name)
					o = &cli->opts[i];
			if (o)
				rc = set_program_opt(cli, o, optarg);
		}
		}
	}
	free(lo);
	*first_arg = optind;
	if (rc == SORA_CLI_OK) {
		int level = c->verbosity < 0 ? SORA_LOG_WARN : SORA_LOG_INFO + c->verbosity;
		sora_log_init(cli->prog, level > SORA_LOG_TRACE ? SORA_LOG_TRACE : level);
	}
	return rc;
}
