/* test_base.c - the leaf helpers of base/: buffers, timestamps, the loopback rule, deadlines,
 * the string set, numbers from JSON. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/dynbuf.h"
#include "base/loopback.h"
#include "base/num.h"
#include "base/rfc3339.h"
#include "base/strset.h"
#include "base/xalloc.h"
#include "../check.h"

static void test_dynbuf(void)
{
	struct dynbuf b = DYNBUF_INIT;
	size_t len;
	for (int i = 0; i < 1000; i++)
		dynbuf_printf(&b, "%d,", i);
	CHECK_INT(b.len, strlen(b.data));
	CHECK(strncmp(b.data, "0,1,2,", 6) == 0);
	CHECK(strcmp(b.data + b.len - 4, "999,") == 0);
	dynbuf_append(&b, "\0x", 2);
	char *s = dynbuf_take(&b, &len);
	CHECK_INT(len, strlen(s) + 2);
	CHECK(b.data == NULL && b.len == 0);
	free(s);
	s = dynbuf_take(&b, &len);
	CHECK_STR(s, "");
	CHECK_INT(len, 0);
	free(s);
	char *p = xasprintf("%s-%d", "a", 7);
	CHECK_STR(p, "a-7");
	free(p);
}

static void test_rfc3339(void)
{
	char buf[40];
	CHECK_INT(rfc3339_parse("1970-01-01T00:00:10Z"), 10);
	CHECK_INT(rfc3339_parse("2024-05-01T12:00:00.123456Z"), 1714564800);
	CHECK_INT(rfc3339_parse("2024-05-01T14:00:00+02:00"), 1714564800);
	CHECK_INT(rfc3339_parse("2024-05-01T11:30:00.5-00:30"), 1714564800);
	CHECK_INT(rfc3339_parse("yesterday"), 0);
	CHECK_INT(rfc3339_parse(NULL), 0);
	CHECK_STR(rfc3339_format(1714564800, 42, buf, sizeof buf), "2024-05-01T12:00:00.000042Z");
}

static void test_loopback(void)
{
	CHECK(loopback_url("http://127.0.0.1:8080/v1beta"));
	CHECK(loopback_url("http://127.9.9.9"));
	CHECK(loopback_url("http://localhost/"));
	CHECK(loopback_url("http://[::1]:99/x"));
	CHECK(loopback_url("unix:/run/x.sock"));
	CHECK(!loopback_url("http://127.example.com/"));
	CHECK(!loopback_url("http://user@127.0.0.1@evil.example/"));
	CHECK(!loopback_url("http://10.0.0.1/"));
	CHECK(!loopback_url("https://[::2]/"));
	CHECK(!loopback_url("localhost"));
	CHECK(loopback_host("127.0.0.1"));
	CHECK(!loopback_host("128.0.0.1"));
}

static void test_clock(void)
{
	int64_t a = clock_now_ms();
	struct timespec d = clock_deadline_in(1500);
	int64_t at = (int64_t)d.tv_sec * 1000 + d.tv_nsec / 1000000;
	CHECK(at - a >= 1500 && at - a < 1600);
	CHECK(d.tv_nsec >= 0 && d.tv_nsec < 1000000000);
	d = clock_deadline_at(12345);
	CHECK_INT(d.tv_sec, 12);
	CHECK_INT(d.tv_nsec, 345000000);
}

static void test_strset(void)
{
	struct strset s = STRSET_INIT;
	char k[32];

	CHECK(!strset_has(&s, "a"));
	CHECK(!strset_drop(&s, "a"));
	for (int i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "job-%d", i);
		CHECK_INT(strset_add(&s, k), 1);
	}
	CHECK_INT(strset_add(&s, "job-17"), 0);
	CHECK_INT(s.n, 5000);
	/* drop and add again, many times over: dropped slots are swept, never fill the table */
	for (int round = 0; round < 20; round++)
		for (int i = 0; i < 5000; i += 2) {
			snprintf(k, sizeof(k), "job-%d", i);
			CHECK_INT(strset_drop(&s, k), 1);
			CHECK(!strset_has(&s, k));
			CHECK_INT(strset_add(&s, k), 1);
		}
	for (int i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "job-%d", i);
		CHECK(strset_has(&s, k));
		if (i % 3 == 0)
			CHECK_INT(strset_drop(&s, k), 1);
	}
	CHECK_INT(s.n, 5000 - 1667);
	CHECK(!strset_has(&s, "job-3") && strset_has(&s, "job-4") && !strset_has(&s, "job-"));
	CHECK(s.cap <= 32768); /* 4 slots a key at most: re-adds swept, not grown */
	strset_free(&s);
	CHECK(!strset_has(&s, "job-4"));
	strset_free(&s);
}

static void test_num(void)
{
	long n = 7;
	int i = 7;

	CHECK(num_whole(42.9, &n) && n == 42);
	CHECK(num_whole(-42.9, &n) && n == -42);
	CHECK(num_whole(9.2e18, &n) && n == 9200000000000000000L);
	CHECK(num_whole(-9223372036854775808.0, &n) && n == LONG_MIN);
	n = 7;
	CHECK(!num_whole(9223372036854775808.0, &n) && n == 7);
	CHECK(!num_whole(-1e19, &n) && n == 7);
	CHECK(!num_whole(HUGE_VAL, &n) && !num_whole(-HUGE_VAL, &n) && !num_whole(NAN, &n));
	CHECK(n == 7);
	CHECK(num_count(0, &n) && n == 0);
	CHECK(!num_count(-1, &n) && n == 0);
	CHECK(num_int(2147483647.0, &i) && i == INT_MAX);
	CHECK(!num_int(2147483648.0, &i) && i == INT_MAX);
	CHECK(!num_int(-2147483649.0, &i) && num_int(-2147483648.0, &i) && i == INT_MIN);
}

int main(void)
{
	test_dynbuf();
	test_rfc3339();
	test_loopback();
	test_clock();
	test_strset();
	test_num();
	return check_exit("test_base");
}
