/* sse.h - an answer that arrives as server-sent events, for the backends that stream: the
 * framing (events end at "\n\n", "\r\r" or "\r\n\r\n"; the data: lines of one event joined
 * with "\n"), the answer's text handed on as it grows, the checks at its end, and the one
 * streamed call (sse_call). What one event means, and the whole answer put back together,
 * are the backend's (sse_event_fn, sse_whole_fn). */
#ifndef TUNEDFS_SSE_H
#define TUNEDFS_SSE_H

#include "api/backend.h"
#include "base/dynbuf.h"

#include <stddef.h>

struct sse_answer;
struct http_client;

/* Reads one event's data (a NUL-terminated copy of len bytes): adds text with
 * sse_answer_text, sets finish / block / tokens / last. 0, or -EIO with why filled. */
typedef int (*sse_event_fn)(struct sse_answer *a, const char *data, size_t len);

struct sse_answer {
	sse_event_fn event;
	backend_text_fn on_text;
	void *arg;
	size_t parsed;	    /* bytes of this attempt's body read as events */
	size_t scanned;	    /* where the search for the next event's end goes on */
	struct dynbuf text; /* this attempt's answer text so far */
	char *finish, *block;
	long in_tokens, out_tokens; /* the last event's counts (never summed); -1 unsaid */
	char *last;		    /* the last event's JSON that carried an answer */
	int done;		    /* the backend's end marker came ([DONE]) */
	int failed;		    /* an error event came; why says what */
	char why[400];
};

void sse_answer_init(struct sse_answer *a, sse_event_fn event, backend_text_fn on_text, void *arg);
void sse_answer_clear(struct sse_answer *a);
/* The http_call_options.on_body hook: arg is the sse_answer. */
void sse_answer_body(void *arg, const char *body, size_t len);
/* Adds text to the answer and passes it to on_text. */
void sse_answer_text(struct sse_answer *a, const char *text, size_t len);
/* Sets *slot to a copy of s (replacing what it held). */
void sse_answer_set(char **slot, const char *s);
/* After the call returned 0 with the whole body: reads what is left, then 0 when the answer
 * is complete (finish reason seen), else -EIO with err filled (status is the answer's). */
int sse_answer_end(struct sse_answer *a, const char *body, size_t len, long status,
		   struct backend_error *err);

/* Reads the answer the events made (a complete one: sse_answer_end passed) into out;
 * 0, or -EIO when it does not add up. */
typedef int (*sse_whole_fn)(const struct sse_answer *a, struct generation_answer *out);

/* POSTs body to path on hc with the long timeout, reads the events as they come with event
 * (text to on_text), and fills out through whole. 0, or -errno with err filled. */
int sse_call(struct http_client *hc, const char *path, const char *body, sse_event_fn event,
	     sse_whole_fn whole, backend_text_fn on_text, void *arg, struct backend_cancel *cancel,
	     struct generation_answer *out, struct backend_error *err);

#endif
