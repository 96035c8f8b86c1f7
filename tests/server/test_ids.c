/* test_ids.c - tuned model id validation and generation (server/ids.c). */
#include <string.h>

#include "../check.h"
#include "server/ids.h"

static void test_valid(void)
{
	const char *good[] = {"a",
			      "ab",
			      "a1",
			      "a-b",
			      "number-generator",
			      "x0123456789",
			      "abcdefghijabcdefghijabcdefghijabcdefghi9"};
	const char *bad[] = {
	    "",	   "1abc", "-abc", "abc-", "Abc",
	    "a_b", "a.b",  "a b",  "é",	   "abcdefghijabcdefghijabcdefghijabcdefghij1"};
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		CHECK(srv_id_valid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		CHECK(!srv_id_valid(bad[i]));
	CHECK(!srv_id_valid(NULL));
}

static void test_from_display(void)
{
	char id[SRV_ID_MAX + 1];
	srv_id_from_display("Sentence Translator", id, sizeof(id));
	CHECK(srv_id_valid(id));
	CHECK(!strncmp(id, "sentence-translator-", 20));
	CHECK(strlen(id) > 20);

	srv_id_from_display("number generator model", id, sizeof(id));
	CHECK(srv_id_valid(id));
	CHECK(!strncmp(id, "number-generator-model-", 23));

	/* No leading digits, punctuation collapsed, long names cut to fit 40. */
	srv_id_from_display("  42 Über--Model!! v2 ", id, sizeof(id));
	CHECK(srv_id_valid(id));
	CHECK(id[0] >= 'a' && id[0] <= 'z');
	srv_id_from_display("a very long display name that goes on and on and on", id, sizeof(id));
	CHECK(srv_id_valid(id));
	CHECK(strlen(id) <= SRV_ID_MAX);

	/* Nothing usable: fully random, still valid. */
	const char *empty[] = {"", NULL, "123", "!!!", "日本語"};
	for (size_t i = 0; i < sizeof(empty) / sizeof(*empty); i++) {
		srv_id_from_display(empty[i], id, sizeof(id));
		CHECK(srv_id_valid(id));
	}

	/* Random suffixes differ. */
	char other[SRV_ID_MAX + 1];
	srv_id_from_display("same name", id, sizeof(id));
	srv_id_from_display("same name", other, sizeof(other));
	CHECK(strcmp(id, other) != 0);
}

static void test_random(void)
{
	char id[16];
	for (int i = 0; i < 200; i++) {
		srv_id_random(id, 12);
		CHECK(strlen(id) == 12);
		CHECK(srv_id_valid(id));
	}
}

int main(void)
{
	test_valid();
	test_from_display();
	test_random();
	return check_exit(__FILE__);
}
