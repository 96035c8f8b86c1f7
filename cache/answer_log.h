/* answer_log.h - log.jsonl of each model: one JSON line per answer given in this mount,
 * appended under the data directory (DIR/ID/log.jsonl, the generation before it
 * log.jsonl.1), read back at any offset. Its own lock; no model table, no FUSE. */
#ifndef TUNEDFS_ANSWER_LOG_H
#define TUNEDFS_ANSWER_LOG_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "api/backend.h"

#define ANSWER_LOG_DEFAULT_SIZE ((size_t)16 << 20)

/* One answer. Token counts are -1 when the service did not say them. */
struct answer_log_record {
	struct timespec at; /* when the answer completed (CLOCK_REALTIME) */
	const char *prompt; /* as sent */
	size_t prompt_len;
	size_t answer_len;	   /* bytes of the answer's text */
	const char *finish_reason; /* NULL when the service gave none */
	long prompt_tokens, output_tokens, total_tokens;
	long latency_ms;
	int cached; /* from the response cache, not the service */
};

struct answer_log;

/* dir: created (0700) when missing. max_size: a log past it starts again, the old one
 * kept as log.jsonl.1 (0: the default). hash_prompts: the prompt's SHA-256 instead of it. */
int answer_log_open(const char *dir, size_t max_size, int hash_prompts, struct answer_log **out);
void answer_log_close(struct answer_log *l);

/* The line of r, newline included: heap text. */
char *answer_log_line(const struct answer_log_record *r, int hash_prompts, size_t *len);

/* Appends r's line to id's log (rotating first when it would pass the size). */
int answer_log_add(struct answer_log *l, const char *id, const struct answer_log_record *r);

/* The same for a generated answer a (its text's length, finish reason and usage), now. */
int answer_log_answer(struct answer_log *l, const char *id, const char *prompt, size_t len,
		      const struct generation_answer *a, long latency_ms, int cached);

/* The current log of id: its size (0 when none yet), and up to size bytes from off (the
 * count; 0 at or past the end). */
int answer_log_size(struct answer_log *l, const char *id, size_t *size);
ssize_t answer_log_read(struct answer_log *l, const char *id, char *buf, size_t size, off_t off);

/* The model is gone: its logs go too. */
void answer_log_remove(struct answer_log *l, const char *id);

#endif
