/* test_sse.c - the server-sent event reader of the streaming backends (api/sse.c), fed a
 * body as it would arrive, a byte at a time: the three separators, data: lines joined,
 * comments skipped, a bare JSON error, text offsets through a retry, and the end checks.
 * No network; the backends' own event readers are exercised by tests/fs/test_streaming. */
#include "api/sse.h"
#include "tests/check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static char seen[4096];	 /* every event's data, each followed by '|' */
static char texts[4096]; /* every on_text call as "AT:TEXT;" */

/* Test events: "T<text>" adds text, "F<reason>" finishes, "{...error...}" fails. */
static int event(struct sse_answer *a, const char *data, size_t len)
{
	strncat(seen, data, len);
	strcat(seen, "|");
	if (strstr(data, "\"error\"")) {
		snprintf(a->why, sizeof(a->why), "boom");
		return -EIO;
	}
	if (data[0] == 'T')
		sse_answer_text(a, data + 1, len - 1);
	if (data[0] == 'F')
		sse_answer_set(&a->finish, data + 1);
	return 0;
}

static void on_text(void *arg, size_t at, const char *text, size_t len)
{
	(void)arg;
	snprintf(texts + strlen(texts), sizeof(texts) - strlen(texts), "%zu:%.*s;", at, (int)len,
		 text);
}

/* Feeds body a byte at a time, as a slow stream arrives, then ends it. */
static int feed(struct sse_answer *a, const char *body, struct backend_error *err)
{
	size_t len = strlen(body);

	sse_answer_body(a, NULL, 0);
	for (size_t i = 1; i <= len; i++)
		sse_answer_body(a, body, i);
	return sse_answer_end(a, body, len, 200, err);
}

static void reset(void)
{
	seen[0] = texts[0] = 0;
}

int main(void)
{
	struct backend_error err = {0};
	struct sse_answer a;

	/* the three separators, joined data lines, a comment, fields without data */
	reset();
	sse_answer_init(&a, event, on_text, NULL);
	CHECK_INT(feed(&a,
		       "data: Tab\n\n: a comment\r\rdata:Tcd\r\n\r\nevent: x\nid: 1\n\n"
		       "data: Tx\ndata: y\n\ndata: Fstop\n\n",
		       &err),
		  0);
	CHECK_STR(seen, "Tab|Tcd|Tx\ny|Fstop|");
	CHECK_STR(texts, "0:ab;2:cd;4:x\ny;");
	CHECK_STR(a.text.data, "abcdx\ny");
	CHECK_STR(a.finish, "stop");
	sse_answer_clear(&a);

	/* [DONE] is not an event of the backend; the last event may lack its blank line */
	reset();
	sse_answer_init(&a, event, on_text, NULL);
	CHECK_INT(feed(&a, "data: Thi\n\ndata: [DONE]\n\ndata: Fend", &err), 0);
	CHECK_INT(a.done, 1);
	CHECK_STR(seen, "Thi|Fend|");
	sse_answer_clear(&a);

	/* a retry starts the text again at 0 */
	reset();
	sse_answer_init(&a, event, on_text, NULL);
	sse_answer_body(&a, NULL, 0);
	sse_answer_body(&a, "data: Tone\n\ndata: Ttw", 21);
	sse_answer_body(&a, NULL, 0);
	CHECK_INT(feed(&a, "data: Tone\n\ndata: Ttwo\n\ndata: Fstop\n\n", &err), 0);
	CHECK_STR(texts, "0:one;0:one;3:two;");
	CHECK_STR(a.text.data, "onetwo");
	sse_answer_clear(&a);

	/* a bare JSON error mid-stream, without data: framing, is the call's error */
	reset();
	sse_answer_init(&a, event, on_text, NULL);
	CHECK_INT(feed(&a, "data: Tpart\n\n{\"error\": {\"code\": 500}}\n\ndata: Fstop\n\n", &err),
		  -EIO);
	CHECK(strstr(err.message, "boom") != NULL);
	CHECK_STR(seen, "Tpart|{\"error\": {\"code\": 500}}|");
	sse_answer_clear(&a);

	/* a body that stops before the finish reason is not a complete answer */
	reset();
	sse_answer_init(&a, event, on_text, NULL);
	CHECK_INT(feed(&a, "data: Tpart\n\n", &err), -EIO);
	CHECK(strstr(err.message, "no finish reason") != NULL);
	sse_answer_clear(&a);
	return check_exit("test_sse");
}
