#include "util/json.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[] = "/tmp/sora-json-XXXXXX";

static void write_file(const char *text)
{
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	FILE *fp = fdopen(fd, "w");
	fputs(text, fp);
	fclose(fp);
}

static void cleanup(void)
{
	unlink(path);
}

TestSuite(json, .fini = cleanup);

Test(json, typed_getters_and_dotted_keys)
{
	write_file(
	    "{\"model\": {\"depth\": 19, \"theta\": 10000.5, \"name\": \"mmdit\", \"guidance\": true}}");
	sora_json j;
	sora_err e = {0};
	cr_assert_eq(sora_json_load(&j, path, &e), 0, "%s", e.msg);
	int64_t depth, heads;
	double theta;
	const char *name;
	int g;
	cr_assert_eq(sora_json_int(&j, "model.depth", 1, 100, &depth, &e), 0);
	cr_assert_eq(depth, 19);
	cr_assert_eq(sora_json_int_or(&j, "model.heads", 1, 100, 24, &heads, &e), 0);
	cr_assert_eq(heads, 24);
	cr_assert_eq(sora_json_double(&j, "model.theta", &theta, &e), 0);
	cr_assert_float_eq(theta, 10000.5, 1e-9);
	cr_assert_eq(sora_json_string(&j, "model.name", &name, &e), 0);
	cr_assert_str_eq(name, "mmdit");
	cr_assert_eq(sora_json_bool_or(&j, "model.guidance", 0, &g, &e), 0);
	cr_assert_eq(g, 1);
	sora_json_free(&j);
}

Test(json, errors_name_the_file_and_key)
{
	write_file("{\"model\": {\"depth\": 1.5, \"name\": 3}}");
	sora_json j;
	sora_err e = {0};
	cr_assert_eq(sora_json_load(&j, path, &e), 0);
	int64_t v;
	const char *s;
	cr_assert_lt(sora_json_int(&j, "model.depth", 0, 10, &v, &e), 0);
	cr_assert(strstr(e.msg, path) && strstr(e.msg, "'model.depth'") && strstr(e.msg, "integer"), "%s",
		  e.msg);
	cr_assert_lt(sora_json_string(&j, "model.name", &s, &e), 0);
	cr_assert(strstr(e.msg, "'model.name'"), "%s", e.msg);
	cr_assert_lt(sora_json_int(&j, "model.missing", 0, 10, &v, &e), 0);
	cr_assert(strstr(e.msg, "missing key 'model.missing'"), "%s", e.msg);
	sora_json_free(&j);
}

Test(json, syntax_error_names_line)
{
	write_file("{\n  \"a\": 1,\n  \"b\": oops\n}\n");
	sora_json j;
	sora_err e = {0};
	cr_assert_lt(sora_json_load(&j, path, &e), 0);
	cr_assert(strstr(e.msg, ":3:"), "%s", e.msg);
}

Test(json, missing_file)
{
	sora_json j;
	sora_err e = {0};
	cr_assert_lt(sora_json_load(&j, "/nonexistent/x.json", &e), 0);
	cr_assert(strstr(e.msg, "/nonexistent/x.json") && strstr(e.msg, "No such file"), "%s", e.msg);
}
