/* Command lines: every program declares its own options in a table; the common ones (-j, -q, -v,
 * --shard, --rejects, --max-rejects, -o, --help, --version) are added here, so every --help lists
 * every flag with its default in the same way. */
#ifndef SORA_CLI_H
#define SORA_CLI_H

#include <stdint.h>

typedef enum { SORA_OPT_FLAG, SORA_OPT_INT, SORA_OPT_DOUBLE, SORA_OPT_STR } sora_opt_type;

typedef struct sora_opt {
	const char *name; /* long name without dashes */
	int short_name;   /* 0 for none */
	sora_opt_type type;
	void *dest;          /* int*, int*, double*, const char**; its value before parsing is the default */
	const char *metavar; /* for options with an argument: "N", "FILE", ... */
	const char *help;
} sora_opt;

typedef struct sora_common_opts {
	int threads;   /* -j: rows processed at once, or a model's compute threads; default: all cores */
	int verbosity; /* -q: -1, default 0, -v: 1, -vv: 2 */
	int shard_i, shard_n; /* --shard i/n: keep input rows with index % n == i; default 0/1 */
	const char *rejects;  /* --rejects FILE */
	int64_t max_rejects;  /* --max-rejects N: -1 = no limit */
	const char *output;   /* -o FILE: default stdout */
} sora_common_opts;

typedef struct sora_cli {
	const char *prog;     /* "sora-probe" */
	const char *usage;    /* "[files | dirs]...  (or a CSV with a path column on stdin)" */
	const char *summary;  /* one paragraph for --help */
	const sora_opt *opts; /* terminated by an entry with name == NULL; may be NULL */
} sora_cli;

enum { SORA_CLI_OK = 0, SORA_CLI_EXIT = 1, SORA_CLI_USAGE = 2 };

/* Parses argv. Returns SORA_CLI_OK with *first_arg set to the index of the first operand,
 * SORA_CLI_EXIT after printing --help or --version (exit 0), or SORA_CLI_USAGE after printing
 * the problem (exit 2). Also starts logging at the chosen level. */
int sora_cli_parse(const sora_cli *cli, int argc, char **argv, sora_common_opts *common, int *first_arg);

/* Exit codes shared by every program. */
enum { SORA_EXIT_OK = 0, SORA_EXIT_FAIL = 1, SORA_EXIT_USAGE = 2, SORA_EXIT_MAX_REJECTS = 3 };

int sora_cpu_count(void);

#endif
