/* sse.c - reading a streamed answer (see sse.h): events found in the body as it grows,
 * their data handed to the backend's reader, the text passed on, and the end checked: a
 * complete answer has its finish reason; what is left unread, an error event, or a body
 * that stopped early make it -EIO. sse_call runs the one POST that brings them. */
#include "api/sse.h"
#include "api/http.h"
#include "base/xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void sse_answer_init(struct sse_answer *a, sse_event_fn event, backend_text_fn on_text, void *arg)
{
	memset(a, 0, sizeof(*a));
	a->event = event;
	a->on_text = on_text;
	a->arg = arg;
	a->in_tokens = a->out_tokens = -1;
}

/* Back to nothing read: a new attempt begins. */
static void sse_answer_reset(struct sse_answer *a)
{
	sse_event_fn event = a->event;
	backend_text_fn on_text = a->on_text;
	void *arg = a->arg;

	sse_answer_clear(a);
	sse_answer_init(a, event, on_text, arg);
}

void sse_answer_clear(struct sse_answer *a)
{
	dynbuf_free(&a->text);
	free(a->finish);
	free(a->block);
	free(a->last);
	a->finish = a->block = a->last = NULL;
}

void sse_answer_set(char **slot, const char *s)
{
	free(*slot);
	*slot = s ? xstrdup(s) : NULL;
}

void sse_answer_text(struct sse_answer *a, const char *text, size_t len)
{
	size_t at = a->text.len;

	if (!len)
		return;
	dynbuf_append(&a->text, text, len);
	if (a->on_text)
		a->on_text(a->arg, at, text, len);
}

/* Where the separator after the event goes on from i starts (its length in *sep), or
 * SSE_NONE when the body does not hold it yet. */
#define SSE_NONE ((size_t)-1)
static size_t sse_event_end(const char *b, size_t i, size_t len, size_t *sep)
{
	for (; i + 1 < len; i++) {
		if ((b[i] == '\n' && b[i + 1] == '\n') || (b[i] == '\r' && b[i + 1] == '\r')) {
			*sep = 2;
			return i;
		}
		if (b[i] == '\r' && b[i + 1] == '\n' && i + 3 < len && b[i + 2] == '\r' &&
		    b[i + 3] == '\n') {
			*sep = 4;
			return i;
		}
	}
	return SSE_NONE;
}

/* The data of one event: its data: lines joined with "\n"; a bare JSON object (an error
 * some services send mid-stream without framing) as it is. NULL when it has none. */
static char *sse_event_data(const char *ev, size_t len, size_t *out_len)
{
	struct dynbuf d = DYNBUF_INIT;
	int any = 0;

	for (size_t i = 0; i < len;) {
		size_t e = i;
		while (e < len && ev[e] != '\n' && ev[e] != '\r')
			e++;
		if (e - i >= 5 && memcmp(ev + i, "data:", 5) == 0) {
			size_t v = i + 5 + (i + 5 < e && ev[i + 5] == ' ');
			if (any)
				dynbuf_append(&d, "\n", 1);
			dynbuf_append(&d, ev + v, e - v);
			any = 1;
		}
		i = e + (e < len && ev[e] == '\r' && e + 1 < len && ev[e + 1] == '\n' ? 2 : 1);
	}
	if (!any) {
		size_t i = 0;
		while (i < len && (ev[i] == ' ' || ev[i] == '\n' || ev[i] == '\r' || ev[i] == '\t'))
			i++;
		if (i == len || ev[i] != '{')
			return NULL;
		dynbuf_append(&d, ev + i, len - i);
	}
	return dynbuf_take(&d, out_len);
}

static void sse_one(struct sse_answer *a, const char *ev, size_t len)
{
	size_t n;
	char *data;

	if (a->failed)
		return;
	data = sse_event_data(ev, len, &n);
	if (!data)
		return; /* a comment, or fields without data */
	if (strcmp(data, "[DONE]") == 0)
		a->done = 1;
	else if (a->event(a, data, n) < 0)
		a->failed = 1;
	free(data);
}

void sse_answer_body(void *arg, const char *body, size_t len)
{
	struct sse_answer *a = arg;
	size_t end, sep;

	if (!body) {
		sse_answer_reset(a);
		return;
	}
	if (a->scanned < a->parsed)
		a->scanned = a->parsed;
	/* a separator may straddle what came before and what came now: look 3 bytes back */
	while (a->parsed < len &&
	       (end = sse_event_end(body, a->scanned > a->parsed + 3 ? a->scanned - 3 : a->parsed,
				    len, &sep)) != SSE_NONE) {
		sse_one(a, body + a->parsed, end - a->parsed);
		a->parsed = a->scanned = end + sep;
	}
	if (a->parsed < len)
		a->scanned = len;
}

int sse_answer_end(struct sse_answer *a, const char *body, size_t len, long status,
		   struct backend_error *err)
{
	size_t i;

	sse_answer_body(a, body, len);
	for (i = a->parsed; i < len; i++)
		if (body[i] != '\n' && body[i] != '\r' && body[i] != ' ')
			break;
	if (i < len) /* the last event without its blank line */
		sse_one(a, body + i, len - i);
	if (a->failed) {
		http_error_set(err, status, "",
			       "unusable answer from the service: the stream carried an error: %s",
			       a->why);
		return -EIO;
	}
	if (!a->finish && !a->block) {
		http_error_set(err, status, "",
			       "unusable answer from the service: the stream ended before the "
			       "answer did (no finish reason after %zu bytes of text)",
			       a->text.len);
		return -EIO;
	}
	return 0;
}

int sse_call(struct http_client *hc, const char *path, const char *body, sse_event_fn event,
	     sse_whole_fn whole, backend_text_fn on_text, void *arg, struct backend_cancel *cancel,
	     struct generation_answer *out, struct backend_error *err)
{
	struct http_call_options o = {.long_timeout = 1, .on_body = sse_answer_body};
	struct http_response resp = {0};
	struct sse_answer a;
	int rc;

	memset(out, 0, sizeof(*out));
	sse_answer_init(&a, event, on_text, arg);
	o.on_body_arg = &a;
	rc = http_call(hc, HTTP_POST, path, body, &o, cancel, &resp, err);
	if (rc == 0)
		rc = sse_answer_end(&a, resp.body, resp.len, resp.status, err);
	if (rc == 0 && whole(&a, out) < 0) {
		generation_answer_clear(out);
		http_error_set(err, resp.status, "", "the streamed answer does not add up");
		rc = -EIO;
	}
	http_response_clear(&resp);
	sse_answer_clear(&a);
	return rc;
}
