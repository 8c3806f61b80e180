#include "util/cli.h"

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <string.h>

static int flag, count = 8;
static double ratio = 0.5;
static const char *name = "default-name";
static const sora_opt opts[] = {
    {"flag", 'f', SORA_OPT_FLAG, &flag, NULL, "a flag"},
    {"count", 'c', SORA_OPT_INT, &count, "N", "a count"},
    {"ratio", 0, SORA_OPT_DOUBLE, &ratio, "R", "a ratio"},
    {"name", 0, SORA_OPT_STR, &name, "S", "a name"},
    {0},
};
static const sora_cli cli = {.prog = "sora-test", .usage = "[files]", .summary = "Tests.", .opts = opts};

static int parse(int argc, char **argv, sora_common_opts *c, int *first)
{
	return sora_cli_parse(&cli, argc, argv, c, first);
}

Test(cli, common_and_program_options)
{
	char *argv[] = {
	    "sora-test", "-j",      "3",  "--shard", "2/5",     "--rejects", "r.csv",  "--max-rejects",
	    "10",        "-f",      "-c", "12",      "--ratio", "0.25",      "--name", "x",
	    "-o",        "out.csv", "-v", "a",       "b",       NULL};
	sora_common_opts c;
	int first;
	cr_assert_eq(parse(21, argv, &c, &first), SORA_CLI_OK);
	cr_assert_eq(c.threads, 3);
	cr_assert_eq(c.shard_i, 2);
	cr_assert_eq(c.shard_n, 5);
	cr_assert_str_eq(c.rejects, "r.csv");
	cr_assert_eq(c.max_rejects, 10);
	cr_assert_str_eq(c.output, "out.csv");
	cr_assert_eq(c.verbosity, 1);
	cr_assert_eq(flag, 1);
	cr_assert_eq(count, 12);
	cr_assert_float_eq(ratio, 0.25, 1e-12);
	cr_assert_str_eq(name, "x");
	cr_assert_eq(first, 19);
}

Test(cli, defaults)
{
	char *argv[] = {"sora-test", NULL};
	sora_common_opts c;
	int first;
	cr_assert_eq(parse(1, argv, &c, &first), SORA_CLI_OK);
	cr_assert_eq(c.threads, sora_cpu_count());
	cr_assert_eq(c.shard_i, 0);
	cr_assert_eq(c.shard_n, 1);
	cr_assert_eq(c.max_rejects, -1);
	cr_assert_null(c.rejects);
	cr_assert_eq(first, 1);
}

Test(cli, bad_values_are_usage_errors, .init = cr_redirect_stderr)
{
	char *bad[][3] = {{"sora-test", "--shard", "3/3"}, {"sora-test", "--shard", "x"},
			  {"sora-test", "-j", "0"},        {"sora-test", "--count", "1.5"},
			  {"sora-test", "--ratio", "abc"}, {"sora-test", "--max-rejects", "-2"}};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *argv[] = {bad[i][0], bad[i][1], bad[i][2], NULL};
		sora_common_opts c;
		int first;
		cr_assert_eq(parse(3, argv, &c, &first), SORA_CLI_USAGE, "%s %s", bad[i][1], bad[i][2]);
	}
}

Test(cli, help_lists_every_flag_with_its_default, .init = cr_redirect_stdout)
{
	char *argv[] = {"sora-test", "--help", NULL};
	sora_common_opts c;
	int first;
	cr_assert_eq(parse(2, argv, &c, &first), SORA_CLI_EXIT);
	fflush(stdout);
	char buf[8192] = {0};
	FILE *fp = cr_get_redirected_stdout();
	size_t n = fread(buf, 1, sizeof buf - 1, fp);
	buf[n] = '\0';
	const char *want[] = {"-f, --flag",  "(default: off)", "--count N",      "(default: 8)",
			      "--ratio R",   "(default: 0.5)", "--name S",       "(default: default-name)",
			      "--threads N", "--shard I/N",    "--rejects FILE", "--max-rejects N",
			      "--quiet",     "--verbose",      "--output FILE",  "--version",
			      "exit status"};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		cr_assert(strstr(buf, want[i]), "missing '%s' in:\n%s", want[i], buf);
}
