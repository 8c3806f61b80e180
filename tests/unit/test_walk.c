#include "util/walk.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[] = "/tmp/sora-walk-XXXXXX";

static void touch(const char *rel)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", root, rel);
	FILE *fp = fopen(p, "w");
	cr_assert(fp, "%s", p);
	fclose(fp);
}

static void mkd(const char *rel)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", root, rel);
	cr_assert_eq(mkdir(p, 0755), 0);
}

static void setup(void)
{
	cr_assert(mkdtemp(root));
	mkd("b");
	mkd("b/deeper");
	mkd("a");
	touch("z.MP4");
	touch("notes.txt");
	touch("a/2.mkv");
	touch("a/10.mov");
	touch("b/deeper/x.webm");
	touch("b/no_ext");
	char link[256], target[256];
	snprintf(link, sizeof link, "%s/loop", root);
	snprintf(target, sizeof target, "%s", root);
	cr_assert_eq(symlink(target, link), 0);
}

static void teardown(void)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(walk, .init = setup, .fini = teardown);

Test(walk, recursive_sorted_filtered_no_symlink_loops)
{
	char extra[] = "/named/explicitly.txt";
	char *args[] = {root, extra};
	sora_walk *w;
	sora_err e = {0};
	cr_assert_eq(sora_walk_open(&w, args, 2, sora_video_exts, &e), 0);
	const char *want[] = {"a/10.mov", "a/2.mkv", "b/deeper/x.webm", "z.MP4"};
	char *path, *problem;
	for (size_t i = 0; i < 4; i++) {
		cr_assert_eq(sora_walk_next(w, &path, &problem), 1);
		cr_assert_null(problem);
		char full[256];
		snprintf(full, sizeof full, "%s/%s", root, want[i]);
		cr_assert_str_eq(path, full);
		free(path);
	}
	/* Files named on the command line are listed whatever their extension. */
	cr_assert_eq(sora_walk_next(w, &path, &problem), 1);
	cr_assert_str_eq(path, extra);
	free(path);
	cr_assert_eq(sora_walk_next(w, &path, &problem), 0);
	/* notes.txt, b/no_ext and the symlinked directory "loop" are not listed. */
	cr_assert_eq(sora_walk_skipped(w), 3);
	sora_walk_close(w);
}

Test(walk, unreadable_directory_is_reported_as_a_problem)
{
	if (geteuid() == 0) {
		teardown(); /* a skipped test gets no .fini */
		cr_skip_test("root reads every directory");
	}
	char p[256];
	snprintf(p, sizeof p, "%s/a", root);
	chmod(p, 0);
	char *args[] = {root};
	sora_walk *w;
	sora_err e = {0};
	cr_assert_eq(sora_walk_open(&w, args, 1, sora_video_exts, &e), 0);
	char *path, *problem;
	cr_assert_eq(sora_walk_next(w, &path, &problem), 1);
	cr_assert_str_eq(path, p);
	cr_assert(problem && strstr(problem, "Permission denied"));
	free(path);
	free(problem);
	sora_walk_close(w);
	chmod(p, 0755);
}
