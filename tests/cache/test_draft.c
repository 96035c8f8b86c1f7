/* test_draft.c - unit tests of cache/draft.c: create/write/read/list/remove/submitted,
 * modes whatever the umask, leftovers of interrupted writes ignored and cleaned, reopen,
 * concurrent writers, and a writer killed with SIGKILL leaving old or new content. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache/draft.h"
#include "../check.h"

static char root[256];

static void rm_rf(const char *path)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", path);
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void check_read(struct draft_store *ds, const char *name, const char *file, const char *want,
		       size_t want_len)
{
	char *data = NULL;
	size_t len = 0;

	CHECK_INT(draft_read(ds, name, file, &data, &len), 0);
	CHECK_INT(len, want_len);
	CHECK(data && memcmp(data, want, want_len) == 0);
	free(data);
}

static void test_basics(void)
{
	char dir[300], path[400];
	struct draft_store *ds;
	char **names, *data, *op;
	size_t n, len;
	mode_t old = umask(0277); /* would strip the owner's write bit without fchmod */

	snprintf(dir, sizeof(dir), "%s/data/tunedfs/drafts", root);
	CHECK_INT(draft_store_open(dir, &ds), 0);
	CHECK_INT(check_mode_of(dir), 0700);
	snprintf(path, sizeof(path), "%s/data", root);
	CHECK_INT(check_mode_of(path), 0700);

	CHECK_INT(draft_create(ds, "number-generator"), 0);
	CHECK_INT(draft_create(ds, "number-generator"), -EEXIST);
	snprintf(path, sizeof(path), "%s/number-generator", dir);
	CHECK_INT(check_mode_of(path), 0700);
	CHECK_INT(draft_exists(ds, "number-generator"), 1);
	CHECK_INT(draft_exists(ds, "absent"), 0);
	const char *bad[] = {
	    "",	       "..", "../x", "a/b",	  "A",
	    ".hidden", "x-", "1abc", "has_under", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(draft_create(ds, bad[i]), -EINVAL);
		CHECK_INT(draft_write(ds, bad[i], "config", "x", 1), -EINVAL);
		CHECK_INT(draft_remove(ds, bad[i]), -EINVAL);
		CHECK_INT(draft_exists(ds, bad[i]), 0);
	}

	CHECK_INT(draft_read(ds, "number-generator", "config", &data, &len), -ENOENT);
	CHECK_INT(draft_read(ds, "absent", "config", &data, &len), -ENOENT);
	CHECK_INT(draft_read(ds, "number-generator", "submitted", &data, &len), -EINVAL);
	CHECK_INT(draft_write(ds, "number-generator", "../config", "x", 1), -EINVAL);
	CHECK_INT(draft_write(ds, "absent", "config", "x", 1), -ENOENT);

	CHECK_INT(draft_write(ds, "number-generator", "config", "base_model = m\n", 15), 0);
	check_read(ds, "number-generator", "config", "base_model = m\n", 15);
	snprintf(path, sizeof(path), "%s/number-generator/config", dir);
	CHECK_INT(check_mode_of(path), 0600);
	CHECK_INT(draft_write(ds, "number-generator", "config", "v2", 2), 0);
	check_read(ds, "number-generator", "config", "v2", 2);
	CHECK_INT(draft_write(ds, "number-generator", "examples.jsonl", "a\0b", 3), 0);
	check_read(ds, "number-generator", "examples.jsonl", "a\0b", 3);
	CHECK_INT(draft_write(ds, "number-generator", "examples.jsonl", NULL, 0), 0);
	check_read(ds, "number-generator", "examples.jsonl", "", 0);

	CHECK_INT(draft_submitted(ds, "number-generator", &op), 0);
	CHECK(op == NULL);
	CHECK_INT(draft_mark_submitted(ds, "number-generator", "bad\nname"), -EINVAL);
	CHECK_INT(draft_mark_submitted(ds, "number-generator",
				       "tunedModels/number-generator/"
				       "operations/abc"),
		  0);
	CHECK_INT(draft_submitted(ds, "number-generator", &op), 1);
	CHECK_STR(op, "tunedModels/number-generator/operations/abc");
	free(op);
	CHECK_INT(draft_submitted(ds, "number-generator", NULL), 1);
	snprintf(path, sizeof(path), "%s/number-generator/submitted", dir);
	CHECK_INT(check_mode_of(path), 0600);

	/* The listing is sorted and shows only draft directories. */
	CHECK_INT(draft_create(ds, "b-model"), 0);
	CHECK_INT(draft_create(ds, "a1"), 0);
	umask(077);
	snprintf(path, sizeof(path), "%s/Not_A_Draft", dir);
	CHECK(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/stray-file", dir);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	CHECK_INT(draft_list(ds, &names, &n), 0);
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK_STR(names[0], "a1");
		CHECK_STR(names[1], "b-model");
		CHECK_STR(names[2], "number-generator");
	}
	free_names(names, n);

	CHECK_INT(draft_remove(ds, "b-model"), 0);
	CHECK_INT(draft_remove(ds, "b-model"), -ENOENT);
	CHECK_INT(draft_exists(ds, "b-model"), 0);
	CHECK_INT(draft_list(ds, &names, &n), 0);
	CHECK_INT(n, 2);
	free_names(names, n);
	/* A removed name can be made again, empty. */
	CHECK_INT(draft_write(ds, "a1", "config", "old", 3), 0);
	CHECK_INT(draft_remove(ds, "a1"), 0);
	CHECK_INT(draft_create(ds, "a1"), 0);
	CHECK_INT(draft_read(ds, "a1", "config", &data, &len), -ENOENT);
	draft_store_close(ds);

	/* Reopen: everything is still there. */
	CHECK_INT(draft_store_open(dir, &ds), 0);
	check_read(ds, "number-generator", "config", "v2", 2);
	CHECK_INT(draft_submitted(ds, "number-generator", NULL), 1);
	CHECK_INT(draft_exists(ds, "a1"), 1);
	draft_store_close(ds);
	umask(old);
}

/* Leftovers of a write or remove cut short are invisible and cleaned at open. */
static void test_leftovers(void)
{
	char dir[300], tmp[400], rmdir_path[400], inner[500];
	struct draft_store *ds;
	char **names;
	size_t n;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/leftovers", root);
	CHECK_INT(draft_store_open(dir, &ds), 0);
	CHECK_INT(draft_create(ds, "m"), 0);
	CHECK_INT(draft_write(ds, "m", "config", "good", 4), 0);
	snprintf(tmp, sizeof(tmp), "%s/m/.config.tmp.123abc", dir);
	f = fopen(tmp, "w");
	fputs("half wri", f);
	fclose(f);
	snprintf(rmdir_path, sizeof(rmdir_path), "%s/.gone.rm.abcdef", dir);
	CHECK(mkdir(rmdir_path, 0700) == 0);
	snprintf(inner, sizeof(inner), "%s/config", rmdir_path);
	f = fopen(inner, "w");
	fclose(f);

	check_read(ds, "m", "config", "good", 4);
	CHECK_INT(draft_list(ds, &names, &n), 0);
	CHECK_INT(n, 1);
	free_names(names, n);
	draft_store_close(ds);

	CHECK_INT(draft_store_open(dir, &ds), 0);
	CHECK(!check_exists(tmp));
	CHECK(!check_exists(rmdir_path));
	check_read(ds, "m", "config", "good", 4);
	draft_store_close(ds);
}

struct writer {
	struct draft_store *ds;
	int id;
	int torn;
};

static void *writer_run(void *arg)
{
	struct writer *w = arg;
	char buf[8192], *data;
	size_t len;

	for (int i = 0; i < 15; i++) {
		memset(buf, 'a' + (w->id + i) % 26, sizeof(buf));
		if (draft_write(w->ds, "shared", "examples.jsonl", buf, sizeof(buf)) != 0)
			w->torn++;
		if (draft_read(w->ds, "shared", "examples.jsonl", &data, &len) != 0) {
			w->torn++;
			continue;
		}
		for (size_t k = 0; k < len; k++)
			if (data[k] != data[0] || len != sizeof(buf)) {
				w->torn++;
				break;
			}
		free(data);
	}
	return NULL;
}

static void test_threads(void)
{
	char dir[300];
	struct draft_store *ds;
	pthread_t t[4];
	struct writer w[4];

	snprintf(dir, sizeof(dir), "%s/threads", root);
	CHECK_INT(draft_store_open(dir, &ds), 0);
	CHECK_INT(draft_create(ds, "shared"), 0);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct writer){ds, i, 0};
		pthread_create(&t[i], NULL, writer_run, &w[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_INT(w[i].torn, 0);
	}
	draft_store_close(ds);
}

struct churn {
	struct draft_store *ds;
	int remover;
};

/* One thread writes while another removes and re-creates the same draft. */
static void *churn_run(void *arg)
{
	struct churn *c = arg;

	for (int i = 0; i < 40; i++) {
		if (c->remover) {
			draft_remove(c->ds, "churn");
			draft_create(c->ds, "churn");
		} else {
			int rc = draft_write(c->ds, "churn", "config", "base_model = m\n", 15);

			if (rc != 0 && rc != -ENOENT)
				CHECK_INT(rc, 0);
		}
	}
	return NULL;
}

static void test_remove_while_writing(void)
{
	char dir[300], cmd[400];
	struct draft_store *ds;
	struct churn c[2];
	pthread_t t[2];
	char **names, *data;
	size_t n, len;

	snprintf(dir, sizeof(dir), "%s/churn", root);
	CHECK_INT(draft_store_open(dir, &ds), 0);
	CHECK_INT(draft_create(ds, "churn"), 0);
	for (int i = 0; i < 2; i++) {
		c[i] = (struct churn){ds, i};
		pthread_create(&t[i], NULL, churn_run, &c[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK_INT(draft_list(ds, &names, &n), 0);
	CHECK_INT(n, 1);
	free_names(names, n);
	if (draft_read(ds, "churn", "config", &data, &len) == 0) {
		CHECK(len == 15 && memcmp(data, "base_model = m\n", 15) == 0);
		free(data);
	}
	draft_store_close(ds);
	/* After a reopen only the draft itself is left in the store. */
	CHECK_INT(draft_store_open(dir, &ds), 0);
	draft_store_close(ds);
	snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 1", dir);
	CHECK(system(cmd) == 0);
}

/* A writer process killed at an arbitrary moment leaves a whole file, old or new. */
static void test_kill9(void)
{
	char dir[300];
	static char a[65536], b[65536];
	struct draft_store *ds;

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	snprintf(dir, sizeof(dir), "%s/kill9", root);
	CHECK_INT(draft_store_open(dir, &ds), 0);
	CHECK_INT(draft_create(ds, "victim"), 0);
	CHECK_INT(draft_write(ds, "victim", "config", a, sizeof(a)), 0);
	draft_store_close(ds);
	for (int round = 0; round < 6; round++) {
		pid_t pid = fork();
		char *data;
		size_t len;
		int status;

		if (pid == 0) {
			struct draft_store *cds;

			if (draft_store_open(dir, &cds) != 0)
				_exit(1);
			for (int i = 0;; i++)
				draft_write(cds, "victim", "config", i % 2 ? a : b, sizeof(a));
		}
		struct timespec ts = {0, 2000000L * (round + 1)};
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		CHECK_INT(draft_store_open(dir, &ds), 0);
		data = NULL;
		CHECK_INT(draft_read(ds, "victim", "config", &data, &len), 0);
		CHECK_INT(len, sizeof(a));
		CHECK(data && (memcmp(data, a, sizeof(a)) == 0 || memcmp(data, b, sizeof(b)) == 0));
		free(data);
		draft_store_close(ds);
	}
}

/* A draft's file exists once written, even empty, and goes with draft_unlink. */
static void test_has_and_unlink(void)
{
	char dir[300];
	struct draft_store *ds;
	char *data = NULL;
	size_t len;

	snprintf(dir, sizeof(dir), "%s/has/drafts", root);
	CHECK_INT(draft_store_open(dir, &ds), 0);
	CHECK_INT(draft_create(ds, "fresh"), 0);
	CHECK_INT(draft_has(ds, "fresh", "config"), 0);
	CHECK_INT(draft_unlink(ds, "fresh", "config"), -ENOENT);
	CHECK_INT(draft_write(ds, "fresh", "config", "", 0), 0);
	CHECK_INT(draft_has(ds, "fresh", "config"), 1);
	CHECK_INT(draft_has(ds, "fresh", "examples.jsonl"), 0);
	CHECK_INT(draft_has(ds, "fresh", "submitted"), 0);
	CHECK_INT(draft_has(ds, "../fresh", "config"), 0);
	CHECK_INT(draft_unlink(ds, "fresh", "submitted"), -EINVAL);
	CHECK_INT(draft_unlink(ds, "fresh", "config"), 0);
	CHECK_INT(draft_has(ds, "fresh", "config"), 0);
	CHECK_INT(draft_read(ds, "fresh", "config", &data, &len), -ENOENT);
	CHECK_INT(draft_exists(ds, "fresh"), 1); /* the draft itself stays */
	draft_store_close(ds);
}

int main(void)
{
	snprintf(root, sizeof(root), "%s/tunedfs-test-draft.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 99;
	}
	test_basics();
	test_leftovers();
	test_threads();
	test_remove_while_writing();
	test_kill9();
	test_has_and_unlink();
	rm_rf(root);
	return check_exit("test_draft");
}
