/* test_eval.c - unit tests of cache/eval_score.c and cache/eval.c: the similarity (edit
 * distance over code points), the normalised match, the parse of an eval file (blank
 * lines, native turns, the failing line named), the score files, and the store's results
 * kept under their key. The mount tests are tests/fs/test_eval.py. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/eval.h"
#include "../check.h"

static void test_similarity(void)
{
	CHECK(fabs(eval_similarity("", "") - 1.0) < 1e-9);
	CHECK(fabs(eval_similarity("abc", "abc") - 1.0) < 1e-9);
	CHECK(fabs(eval_similarity("abc", "") - 0.0) < 1e-9);
	CHECK(fabs(eval_similarity("kitten", "sitting") - (1.0 - 3.0 / 7.0)) < 1e-9);
	/* one code point each, not two bytes */
	CHECK(fabs(eval_similarity("\xc3\xa9", "e") - 0.0) < 1e-9);
	CHECK(fabs(eval_similarity("a\xc3\xa9", "ae") - 0.5) < 1e-9);
	CHECK(eval_normal_equal("  Yes\n", "yes"));
	CHECK(!eval_normal_equal("yes", "yes!"));
	CHECK(eval_normal_equal("", " \t"));
}

static void test_parse(void)
{
	const char *text = "\n{\"text_input\": \"1\", \"output\": \"2\"}\n\n"
			   "{\"contents\": [{\"role\": \"user\", \"parts\": [{\"text\": \"3\"}]},"
			   " {\"role\": \"model\", \"parts\": [{\"text\": \"4\"}]}]}\n"
			   "{\"messages\": [{\"role\": \"user\", \"content\": \"5\"},"
			   " {\"role\": \"assistant\", \"content\": \"6\"}]}\n";
	struct eval_item *v;
	char msg[300];
	size_t n;

	CHECK_INT(eval_parse("a.jsonl", text, strlen(text), &v, &n, msg, sizeof msg), 0);
	CHECK_INT(n, 3);
	CHECK_INT(v[0].line, 2);
	CHECK_STR(v[1].input, "3");
	CHECK_STR(v[1].expected, "4");
	CHECK_INT(v[1].line, 4);
	CHECK_STR(v[2].input, "5");
	CHECK_STR(v[2].expected, "6");
	eval_items_free(v, n);
	CHECK_INT(eval_parse("e.jsonl", "\n \n", 3, &v, &n, msg, sizeof msg), 0);
	CHECK_INT(n, 0);
	text = "{\"text_input\": \"1\", \"output\": \"2\"}\n{\"text_input\": \"3\"}\n";
	CHECK_INT(eval_parse("b.jsonl", text, strlen(text), &v, &n, msg, sizeof msg), -EINVAL);
	CHECK(strncmp(msg, "eval/b.jsonl: line 2: ", 22) == 0);
	CHECK(eval_valid_name("x.jsonl") && !eval_valid_name("x.out.jsonl") &&
	      !eval_valid_name(".x.jsonl") && !eval_valid_name("x.txt"));
}

static void test_score(void)
{
	const char *text = "{\"text_input\": \"1\", \"output\": \"2\"}\n"
			   "{\"text_input\": \"2\", \"output\": \"Three\"}\n"
			   "{\"text_input\": \"3\", \"output\": \"4\"}\n";
	struct eval_item *v;
	char msg[300], *r, *l;
	size_t n, rl, ll;

	CHECK_INT(eval_parse("s.jsonl", text, strlen(text), &v, &n, msg, sizeof msg), 0);
	v[0].got = strdup("2");
	v[1].got = strdup(" three\n");
	v[2].got = strdup("5");
	eval_score(v, n, &r, &rl, &l, &ll);
	CHECK(strstr(r, "examples: 3\nexact_match: 1\nexact_match_rate: 0.3333\n"
			"normalised_match: 2\nnormalised_match_rate: 0.6667\n") == r);
	CHECK(strstr(r, "worst: 2\nline 3: similarity 0.0000\n") != NULL);
	CHECK(strstr(l, "{\"line\":1,\"input\":\"1\",\"expected\":\"2\",\"got\":\"2\","
			"\"match\":true,\"normalised_match\":true,\"similarity\":1.0000}\n") == l);
	CHECK_INT(rl, strlen(r));
	CHECK_INT(ll, strlen(l));
	free(r);
	free(l);
	eval_items_free(v, n);
}

static void test_store(void)
{
	char dir[] = "/tmp/tunedfs-eval-XXXXXX", *r, *l, *d, *cmd;
	struct eval_store *s;
	size_t rl, ll, dl;

	CHECK(mkdtemp(dir) != NULL);
	CHECK_INT(eval_store_open(dir, &s), 0);
	CHECK_INT(eval_store_write(s, "m", "a.jsonl", "x\n", 2), 0);
	CHECK_INT(eval_store_put_result(s, "m", "a.jsonl", "k1", "R\n", 2, "L\n", 2), 0);
	CHECK_INT(eval_store_result(s, "m", "a.jsonl", "k2", &r, &rl, &l, &ll), -ENOENT);
	CHECK_INT(eval_store_result(s, "m", "a.jsonl", "k1", &r, &rl, &l, &ll), 0);
	CHECK_STR(r, "R\n");
	CHECK_STR(l, "L\n");
	free(r);
	free(l);
	/* a new content drops the results of the old one */
	CHECK_INT(eval_store_write(s, "m", "a.jsonl", "y\n", 2), 0);
	CHECK_INT(eval_store_result(s, "m", "a.jsonl", "k1", &r, &rl, &l, &ll), -ENOENT);
	CHECK_INT(eval_store_read(s, "m", "a.jsonl", &d, &dl), 0);
	CHECK_STR(d, "y\n");
	free(d);
	CHECK_INT(eval_store_unlink(s, "m", "a.jsonl"), 0);
	CHECK_INT(eval_store_read(s, "m", "a.jsonl", &d, &dl), -ENOENT);
	eval_store_close(s);
	cmd = malloc(strlen(dir) + 16);
	sprintf(cmd, "rm -rf %s", dir);
	CHECK_INT(system(cmd), 0);
	free(cmd);
}

int main(void)
{
	test_similarity();
	test_parse();
	test_score();
	test_store();
	return check_exit("test_eval");
}
