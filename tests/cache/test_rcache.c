/* test_rcache.c - unit tests of cache/rcache.c: key framing, put/get, modes, LRU eviction
 * order and byte budget, reopen (entries and use order kept), corrupt or vanished entries
 * as misses, leftovers cleaned, many entries, and concurrent users. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/rcache.h"
#include "../check.h"

static char root[256];

static void entry_path(const char *dir, const char *key, char *out, size_t len)
{
	snprintf(out, len, "%s/%.2s/%s", dir, key, key);
}

static void key_of(int i, char out[RCACHE_KEY_HEX])
{
	char prompt[32];

	snprintf(prompt, sizeof(prompt), "prompt %d", i);
	rcache_key("tunedModels/m", "2024-01-01T00:00:00Z", "", prompt, out);
}

/* A response body of exactly len bytes (len >= 12) that names i. */
static char *body_of(int i, size_t len)
{
	char *s = malloc(len + 1);
	int n = snprintf(s, len + 1, "{\"i\":%d,\"p\":\"", i);

	memset(s + n, 'x', len - (size_t)n - 2);
	memcpy(s + len - 2, "\"}", 3);
	return s;
}

static int get_is(struct rcache *rc, const char *key, const char *want)
{
	char *json = NULL;
	size_t len = 0;
	int ok;

	if (rcache_get(rc, key, &json, &len) != 0)
		return 0;
	ok = len == strlen(want) && memcmp(json, want, len) == 0 && json[len] == '\0';
	free(json);
	return ok;
}

static void test_keys(void)
{
	char a[RCACHE_KEY_HEX], b[RCACHE_KEY_HEX];

	rcache_key("m", "t", "g", "p", a);
	rcache_key("m", "t", "g", "p", b);
	CHECK_STR(a, b);
	CHECK_INT(strlen(a), 64);
	CHECK_INT(strspn(a, "0123456789abcdef"), 64);
	/* Bytes shifted across any field boundary give another key. */
	rcache_key("ab", "c", "g", "p", a);
	rcache_key("a", "bc", "g", "p", b);
	CHECK(strcmp(a, b) != 0);
	rcache_key("m", "ab", "c", "p", a);
	rcache_key("m", "a", "bc", "p", b);
	CHECK(strcmp(a, b) != 0);
	rcache_key("m", "t", "ab", "c", a);
	rcache_key("m", "t", "a", "bc", b);
	CHECK(strcmp(a, b) != 0);
	rcache_key("m", "t", "", "p", a);
	rcache_key("m", "t", NULL, "p", b);
	CHECK(strcmp(a, b) != 0);
	rcache_key("m", "t", "g", "p", a);
	rcache_key("m", "t", "g", "p ", b);
	CHECK(strcmp(a, b) != 0);
}

static void test_put_get(void)
{
	char dir[300], path[400], k1[RCACHE_KEY_HEX], k2[RCACHE_KEY_HEX];
	struct rcache *rc;
	struct rcache_stats st;
	char *json;
	size_t len;
	mode_t old = umask(0277);

	snprintf(dir, sizeof(dir), "%s/cache/tunedfs/responses", root);
	CHECK_INT(rcache_open(dir, 1 << 20, &rc), 0);
	CHECK_INT(check_mode_of(dir), 0700);
	key_of(1, k1);
	key_of(2, k2);
	CHECK_INT(rcache_get(rc, k1, &json, &len), -ENOENT);
	CHECK(json == NULL);
	CHECK_INT(rcache_put(rc, k1, "{\"a\":1}", 7), 0);
	CHECK(get_is(rc, k1, "{\"a\":1}"));
	entry_path(dir, k1, path, sizeof(path));
	CHECK_INT(check_mode_of(path), 0600);
	path[strlen(dir) + 3] = '\0';
	CHECK_INT(check_mode_of(path), 0700);
	CHECK_INT(rcache_put(rc, k1, "{\"a\":12}", 8), 0);
	CHECK(get_is(rc, k1, "{\"a\":12}"));
	CHECK_INT(rcache_get(rc, k2, &json, &len), -ENOENT);
	CHECK_INT(rcache_get(rc, "not-a-key", &json, &len), -EINVAL);
	CHECK_INT(rcache_put(rc, "../../etc/x", "{}", 2), -EINVAL);
	CHECK_INT(rcache_put(rc, "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789",
			     "{}", 2),
		  -EINVAL);
	rcache_stats(rc, &st);
	CHECK_INT(st.entries, 1);
	CHECK_INT(st.bytes, 8);
	CHECK_INT(st.hits, 2);
	CHECK_INT(st.misses, 2);
	CHECK_INT(st.evictions, 0);
	rcache_close(rc);
	umask(old);
}

static void set_mtime(const char *dir, const char *key, time_t t)
{
	char path[400];
	struct timespec ts[2] = {{t, 0}, {t, 0}};

	entry_path(dir, key, path, sizeof(path));
	CHECK(utimensat(AT_FDCWD, path, ts, 0) == 0);
}

static void test_lru(void)
{
	char dir[300], path[400], k[6][RCACHE_KEY_HEX];
	char *body[6];
	struct rcache *rc;
	struct rcache_stats st;

	snprintf(dir, sizeof(dir), "%s/lru", root);
	for (int i = 0; i < 6; i++) {
		key_of(100 + i, k[i]);
		body[i] = body_of(i, 40);
	}
	CHECK_INT(rcache_open(dir, 100, &rc), 0);
	CHECK_INT(rcache_put(rc, k[0], body[0], 40), 0);
	CHECK_INT(rcache_put(rc, k[1], body[1], 40), 0);
	CHECK(get_is(rc, k[0], body[0])); /* k1 is now the least recently used */
	CHECK_INT(rcache_put(rc, k[2], body[2], 40), 0);
	rcache_stats(rc, &st);
	CHECK_INT(st.entries, 2);
	CHECK_INT(st.bytes, 80);
	CHECK_INT(st.evictions, 1);
	CHECK(!get_is(rc, k[1], body[1]));
	entry_path(dir, k[1], path, sizeof(path));
	CHECK(!check_exists(path));
	CHECK(get_is(rc, k[0], body[0]));
	CHECK(get_is(rc, k[2], body[2]));
	/* Bigger than the whole budget: refused, nothing else evicted. */
	{
		char *big = body_of(9, 101);

		CHECK_INT(rcache_put(rc, k[3], big, 101), -EFBIG);
		free(big);
	}
	rcache_stats(rc, &st);
	CHECK_INT(st.entries, 2);
	/* One entry may push out several. */
	{
		char *b90 = body_of(3, 90);

		CHECK_INT(rcache_put(rc, k[3], b90, 90), 0);
		rcache_stats(rc, &st);
		CHECK_INT(st.entries, 1);
		CHECK_INT(st.bytes, 90);
		CHECK_INT(st.evictions, 3);
		CHECK(get_is(rc, k[3], b90));
		free(b90);
	}
	rcache_close(rc);
	for (int i = 0; i < 6; i++)
		free(body[i]);
}

static void test_reopen(void)
{
	char dir[300], path[400], k[4][RCACHE_KEY_HEX];
	char *body[4];
	struct rcache *rc;
	struct rcache_stats st;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/reopen", root);
	CHECK_INT(rcache_open(dir, 1000, &rc), 0);
	for (int i = 0; i < 4; i++) {
		key_of(200 + i, k[i]);
		body[i] = body_of(i, 50);
		CHECK_INT(rcache_put(rc, k[i], body[i], 50), 0);
	}
	rcache_close(rc);
	/* Last use is the file time: make k2 the oldest, k0 the newest. */
	set_mtime(dir, k[0], 1700000400);
	set_mtime(dir, k[1], 1700000300);
	set_mtime(dir, k[2], 1700000100);
	set_mtime(dir, k[3], 1700000200);
	/* Leftovers and strangers. */
	snprintf(path, sizeof(path), "%s/%.2s/.%s.tmp.abcdef", dir, k[0], k[0]);
	f = fopen(path, "w");
	fputs("{\"half", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/README", dir);
	f = fopen(path, "w");
	fclose(f);

	CHECK_INT(rcache_open(dir, 150, &rc), 0); /* budget for three: the oldest goes */
	rcache_stats(rc, &st);
	CHECK_INT(st.entries, 3);
	CHECK_INT(st.bytes, 150);
	CHECK_INT(st.evictions, 1);
	CHECK(!get_is(rc, k[2], body[2]));
	snprintf(path, sizeof(path), "%s/%.2s/.%s.tmp.abcdef", dir, k[0], k[0]);
	CHECK(!check_exists(path));
	snprintf(path, sizeof(path), "%s/README", dir);
	CHECK(check_exists(path));
	/* Order after reopen: k3 is now least recent, then k1, then k0. */
	{
		char k9[RCACHE_KEY_HEX], *b9 = body_of(9, 50);

		key_of(209, k9);
		CHECK_INT(rcache_put(rc, k9, b9, 50), 0);
		CHECK(!get_is(rc, k[3], body[3]));
		CHECK(get_is(rc, k[1], body[1]));
		CHECK(get_is(rc, k[0], body[0]));
		CHECK(get_is(rc, k9, b9));
		free(b9);
	}

	/* Corrupt, truncated and vanished entries read as misses and are dropped. */
	entry_path(dir, k[1], path, sizeof(path));
	f = fopen(path, "w");
	fputs("{\"i\":1,\"p\":\"xxx", f);
	fclose(f);
	CHECK(!get_is(rc, k[1], body[1]));
	CHECK(!check_exists(path));
	entry_path(dir, k[0], path, sizeof(path));
	CHECK(truncate(path, 0) == 0);
	CHECK(!get_is(rc, k[0], body[0]));
	CHECK(!check_exists(path));
	rcache_stats(rc, &st);
	CHECK_INT(st.entries, 1);
	CHECK_INT(st.bytes, 50);
	rcache_close(rc);

	CHECK_INT(rcache_open(dir, 150, &rc), 0);
	rcache_stats(rc, &st);
	CHECK_INT(st.entries, 1);
	rcache_close(rc);
	for (int i = 0; i < 4; i++)
		free(body[i]);
}

/* Thousands of entries: all indexed, all found, the budget enforced on reopen. */
static void test_many(void)
{
	enum { N = 12000 };
	char dir[300], key[RCACHE_KEY_HEX];
	struct rcache *rc;
	struct rcache_stats st;

	snprintf(dir, sizeof(dir), "%s/many", root);
	CHECK_INT(rcache_open(dir, 64u << 20, &rc), 0);
	for (int i = 0; i < N; i++) {
		char *b = body_of(i, 32);

		key_of(i, key);
		if (rcache_put(rc, key, b, 32) != 0)
			CHECK(!"put failed");
		free(b);
	}
	rcache_stats(rc, &st);
	CHECK_INT(st.entries, N);
	CHECK_INT(st.bytes, (size_t)N * 32);
	rcache_close(rc);

	CHECK_INT(rcache_open(dir, 64u << 20, &rc), 0);
	rcache_stats(rc, &st);
	CHECK_INT(st.entries, N);
	for (int i = 0; i < N; i += 97) {
		char *b = body_of(i, 32);

		key_of(i, key);
		if (!get_is(rc, key, b))
			CHECK(!"entry lost after reopen");
		free(b);
	}
	rcache_close(rc);
	CHECK_INT(rcache_open(dir, 32 * 1000, &rc), 0);
	rcache_stats(rc, &st);
	CHECK_INT(st.entries, 1000);
	CHECK_INT(st.evictions, N - 1000);
	/* The index stays exact through thousands of deletions: every key left is found. */
	{
		int found = 0;

		for (int i = 0; i < N; i++) {
			char *b = body_of(i, 32);

			key_of(i, key);
			found += get_is(rc, key, b);
			free(b);
		}
		CHECK_INT(found, 1000);
	}
	rcache_close(rc);
}

struct worker {
	struct rcache *rc;
	int id, wrong;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < 400; i++) {
		int n = (i * 7 + w->id * 13) % 60;
		char key[RCACHE_KEY_HEX], *want = body_of(n, 30 + (size_t)n), *json;
		size_t len;

		key_of(1000 + n, key);
		if (i % 3 == 0)
			rcache_put(w->rc, key, want, strlen(want));
		else if (rcache_get(w->rc, key, &json, &len) == 0) {
			if (len != strlen(want) || memcmp(json, want, len) != 0)
				w->wrong++;
			free(json);
		}
		free(want);
	}
	return NULL;
}

static void test_threads(void)
{
	char dir[300];
	struct rcache *rc;
	struct rcache_stats st;
	pthread_t t[4];
	struct worker w[4];

	snprintf(dir, sizeof(dir), "%s/threads", root);
	CHECK_INT(rcache_open(dir, 1500, &rc), 0);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){rc, i, 0};
		pthread_create(&t[i], NULL, worker_run, &w[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_INT(w[i].wrong, 0);
	}
	rcache_stats(rc, &st);
	CHECK(st.bytes <= 1500);
	CHECK(st.evictions > 0);
	rcache_close(rc);
	/* What survived the races reads back whole after a reopen. */
	CHECK_INT(rcache_open(dir, 1500, &rc), 0);
	for (int n = 0; n < 60; n++) {
		char key[RCACHE_KEY_HEX], *want = body_of(n, 30 + (size_t)n), *json;
		size_t len;

		key_of(1000 + n, key);
		if (rcache_get(rc, key, &json, &len) == 0) {
			CHECK(len == strlen(want) && memcmp(json, want, len) == 0);
			free(json);
		}
		free(want);
	}
	rcache_close(rc);
}

/* An entry holds its key and checksum: one copied under another key's name, or edited,
 * is a miss and is removed; a symlinked "ab" directory is neither read nor written. */
static void test_verified(void)
{
	char dir[300], a[400], b[400], k[3][RCACHE_KEY_HEX], cmd[1000];
	char *b0 = body_of(0, 60), *b1 = body_of(1, 60);
	struct rcache *rc;

	snprintf(dir, sizeof(dir), "%s/verified", root);
	CHECK_INT(rcache_open(dir, 1 << 20, &rc), 0);
	key_of(300, k[0]);
	key_of(301, k[1]);
	CHECK_INT(rcache_put(rc, k[0], b0, 60), 0);
	CHECK_INT(rcache_put(rc, k[1], b1, 60), 0);
	entry_path(dir, k[0], a, sizeof(a));
	entry_path(dir, k[1], b, sizeof(b));
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", a, b);
	CHECK_INT(system(cmd), 0);
	CHECK(!get_is(rc, k[1], b0));
	CHECK(!check_exists(b));
	snprintf(cmd, sizeof(cmd), "sed -i 's/\"i\":0/\"i\":7/' '%s'", a);
	CHECK_INT(system(cmd), 0);
	CHECK(!get_is(rc, k[0], b0));
	CHECK(!check_exists(a));
	/* a symlink where an "ab" directory goes: the write fails, nothing lands outside */
	for (int i = 302;; i++) {
		key_of(i, k[2]);
		if (strncmp(k[2], k[0], 2) != 0 && strncmp(k[2], k[1], 2) != 0)
			break;
	}
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/out' && ln -s '%s/out' '%s/%.2s'", root, root, dir,
		 k[2]);
	CHECK_INT(system(cmd), 0);
	CHECK(rcache_put(rc, k[2], b0, 60) < 0);
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s/out')\"", root);
	CHECK_INT(system(cmd), 0);
	rcache_close(rc);
	free(b0);
	free(b1);
}

int main(void)
{
	snprintf(root, sizeof(root), "%s/tunedfs-test-rcache.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 99;
	}
	test_keys();
	test_put_get();
	test_lru();
	test_reopen();
	test_many();
	test_threads();
	test_verified();
	{
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", root);
	}
	return check_exit("test_rcache");
}
