/* test_model_text.c - unit tests of cache/model_text.c: thousands of texts put and read
 * back, from the tail not written yet and from the file; a text replaced in its slot
 * both before and after the tail is written; slots outgrown until the file is mostly
 * dead, then its rewrite, every text read back after each step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/model_text.h"
#include "../check.h"

#define N 3000

static void text_of(int i, int version, char *buf, size_t cap)
{
	/* lengths from 1 to about 700 bytes, as a model's resource text varies; each version
	 * 100 bytes longer, past its slot's room to grow */
	int len = 1 + (i * 37) % 700 + version * 100;

	for (int k = 0; k < len && k < (int)cap - 1; k++)
		buf[k] = (char)('a' + (i + k + version) % 26);
	buf[len < (int)cap - 1 ? len : (int)cap - 1] = 0;
}

static int all_read(struct model_text *s, struct model_text_ref *r, const int *version)
{
	char want[2200];
	int bad = 0;

	for (int i = 0; i < N; i++) {
		char *got = model_text_get(s, &r[i]);
		text_of(i, version[i], want, sizeof want);
		if (!got || strcmp(got, want) != 0)
			bad++;
		free(got);
	}
	return bad;
}

static void test_many(void)
{
	struct model_text *s = model_text_open(NULL);
	struct model_text_ref *r = calloc(N, sizeof *r);
	int *version = calloc(N, sizeof *version);
	char buf[2200];
	uint64_t *off = calloc(N, sizeof *off);
	int ok = 1;

	CHECK(s != NULL);
	for (int i = 0; i < N; i++) {
		text_of(i, 0, buf, sizeof buf);
		CHECK_INT(model_text_put(s, &r[i], buf, strlen(buf)), 0);
		if (i == 10) /* read back while still in the tail */
			CHECK_INT(all_read(s, r, version), N - 11);
	}
	CHECK_INT(all_read(s, r, version), 0);
	/* the newest (in the tail) and the oldest (in the file) replaced in their slots */
	for (int i = 0; i < N; i += N - 1) {
		char *cur = model_text_get(s, &r[i]);
		size_t fit = strlen(cur);
		free(cur);
		memset(buf, 'Z', fit);
		buf[fit] = 0;
		CHECK_INT(model_text_put(s, &r[i], buf, fit), 0);
		cur = model_text_get(s, &r[i]);
		CHECK_STR(cur, buf);
		free(cur);
		text_of(i, 0, buf, sizeof buf);
		CHECK_INT(model_text_put(s, &r[i], buf, strlen(buf)), 0);
	}
	CHECK_INT(all_read(s, r, version), 0);
	/* every text a new version in a new slot, twelve times: the old ones die, until the
	 * dead bytes ask for a rewrite */
	for (int round = 1; round <= 12; round++)
		for (int i = 0; i < N; i++) {
			version[i] = round;
			text_of(i, round, buf, sizeof buf);
			CHECK_INT(model_text_put(s, &r[i], buf, strlen(buf)), 0);
		}
	CHECK_INT(all_read(s, r, version), 0);
	CHECK(model_text_wants_compaction(s));
	{
		CHECK_INT(model_text_begin(s), 0);
		for (int i = 0; i < N && ok; i++)
			ok = model_text_move(s, &r[i], &off[i]) == 0;
		model_text_end(s, ok);
		CHECK(ok);
		for (int i = 0; i < N; i++)
			r[i].off = off[i];
	}
	CHECK_INT(all_read(s, r, version), 0);
	for (int i = 0; i < N; i += 2)
		model_text_drop(s, &r[i]);
	CHECK(model_text_get(s, &r[0]) == NULL);
	model_text_close(s);
	free(r);
	free(version);
	free(off);
}

int main(void)
{
	test_many();
	return check_exit("model_text");
}
