/* openai_internal.h - what the openai*.c files share inside api/, not a public contract:
 * the error envelope reader, the fine-tuning job mapping, request bodies, training lines,
 * events and chat completions (openai_json.c, openai_chat.c) and the Files API calls. */
#ifndef TUNEDFS_OPENAI_INTERNAL_H
#define TUNEDFS_OPENAI_INTERNAL_H

#include "api/backend.h"

#include <cjson/cJSON.h>
#include <stddef.h>

struct http_client;
struct http_response;

/* The metadata keys a job made here carries: its directory name, and a digest of what
 * it was asked to learn (a retried create knows its own job by both). */
#define OPENAI_NAME_KEY "tunedfs-name"
#define OPENAI_DATA_KEY "tunedfs-data"

/* openai_error.c: the read_error hook for {"error": {message, type, param, code}},
 * honouring x-ratelimit-reset-requests / -tokens on a 429; the headers it reads. */
int openai_read_error(const struct http_response *resp, long *asked_ms, struct backend_error *err);
extern const char *const openai_kept_headers[];
/* The errno and the contract's kind of an error answer from its HTTP status and the
 * envelope's word (its code, else its type): "invalid_api_key" credentials,
 * "rate_limit_exceeded" and "insufficient_quota" rate limited, "server_error" unavailable;
 * other words say no more than the status. */
int openai_errno(long status, const char *word);
enum backend_error_kind openai_error_kind(long status, const char *word);
/* "1s", "6m0s", "20ms", "1h2m3.5s" in milliseconds, rounded up; -EINVAL if malformed. */
int openai_duration_ms(const char *s, long *ms);

/* openai_json.c */
/* A count o[key] (usage tokens, a batch's request counts): >= 0, or -1 when absent or not
 * a count. */
long openai_json_count(const cJSON *o, const char *key);
/* 1 when s can be a directory name and a job's suffix: 1-64 of A-Z a-z 0-9 . _ -, not
 * starting with '.'. */
int openai_name_ok(const char *s);
/* One fine_tuning.job into the neutral model: 0, or -EINVAL when it is not a job. */
int openai_parse_job(const char *json, size_t len, struct tuned_model *out);
/* One page of the job list; out->next is the last job's id when the service has more. */
int openai_parse_page(const char *json, size_t len, struct model_page *out);
/* A string member of the job's JSON ("training_file", "fine_tuned_model", "status"), or
 * of its metadata when meta is set; heap, NULL when absent. */
char *openai_job_string(const char *raw_json, const char *key, int meta);
/* The fine_tuning/jobs create body. */
char *openai_create_body(const struct tuning_request *r, const char *file_id, const char *digest);
/* The same naming a validation file too (none when validation_id is NULL). */
char *openai_create_body_val(const struct tuning_request *r, const char *file_id,
			     const char *validation_id, const char *digest);
/* examples as chat lines ({"messages": [system?, user, assistant]}), native lines checked
 * and passed through: 0, or -EINVAL with the example's file and line in why. */
int openai_training_lines(const struct tuning_request *r, char **out, size_t *len, char *why,
			  size_t why_len);
/* r's validation set as the same chat JSONL (why names r->validation_file). */
int openai_validation_lines(const struct tuning_request *r, char **out, size_t *len, char *why,
			    size_t why_len);
/* Adds the metrics events of one events page (newest first) to m's snapshots (and
 * total_steps), stopping at the event whose id is known; *more and *last say whether and
 * after what the next page comes, *first (when NULL so far) gets the newest id read.
 * Strings are heap. -EINVAL if malformed. */
int openai_parse_events(const char *json, size_t len, const char *known, struct tuned_model *m,
			int *more, char **last, char **first);
/* Adds the checkpoints of one page to m's snapshots, where no event gave that step. */
int openai_parse_checkpoints(const char *json, size_t len, struct tuned_model *m);
/* Sorts m's snapshots by step, drops repeats, and fills steps, epochs and percent. */
void openai_finish_progress(struct tuned_model *m);

/* openai_events.c: what the events of each job in training showed so far, so that a poll
 * reads only the new ones. */
struct openai_seen;
struct openai_seen *openai_seen_new(void);
void openai_seen_free(struct openai_seen *s);
/* Fills m's snapshots, steps and percent from the job's events and, once it succeeded,
 * its checkpoints. */
int openai_progress_of(struct http_client *hc, const char *prefix, struct openai_seen *seen,
		       struct tuned_model *m, struct backend_cancel *c, struct backend_error *err);

/* openai_chat.c */
/* The chat/completions body, or NULL and why naming a setting the service lacks. */
char *openai_chat_body(const char *model, const char *prompt, const struct generation_settings *gs,
		       char *why, size_t why_len);
/* A chat.completion: choices[0].message.content, finish_reason, refusal, usage. */
int openai_parse_completion(const char *json, size_t len, struct generation_answer *out);
/* POSTs body (openai_chat_body's) to path with "stream": true; on_text sees the text as it
 * comes, out is the chat.completion the chunks add up to (see backend_generate_stream). */
int openai_chat_stream(struct http_client *hc, const char *path, const char *body,
		       backend_text_fn on_text, void *arg, struct backend_cancel *cancel,
		       struct generation_answer *out, struct backend_error *err);

/* openai_files.c: the Files API under prefix ("/v1" or ""). */
int openai_file_upload(struct http_client *hc, const char *prefix, const char *purpose,
		       const char *filename, const char *data, size_t len, char **file_id,
		       struct backend_cancel *c, struct backend_error *err);
/* A file's content (GET /files/ID/content) in *resp. */
int openai_file_content(struct http_client *hc, const char *prefix, const char *file_id,
			struct http_response *resp, struct backend_cancel *c,
			struct backend_error *err);
/* One already gone is not an error. */
int openai_file_delete(struct http_client *hc, const char *prefix, const char *file_id,
		       struct backend_cancel *c, struct backend_error *err);

/* The transport and path prefix of an open openai backend (openai.c's impl). */
struct http_client *openai_backend_http(void *impl, const char **prefix);
/* openai_batch.c: the Batch API over /v1/chat/completions */
struct backend_batch_ops;
extern const struct backend_batch_ops openai_batch_ops;

#endif
