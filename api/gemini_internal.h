/* gemini_internal.h - what the gemini_*.c files share inside api/, not a public contract:
 * cJSON readers and the list/page parsers gemini.c needs. */
#ifndef TUNEDFS_GEMINI_INTERNAL_H
#define TUNEDFS_GEMINI_INTERNAL_H

#include "api/gemini.h"
#include "base/xalloc.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stddef.h>

struct http_client;
struct http_response;

struct gemini_client {
	struct http_client *http;
	pthread_mutex_t lock; /* guards tried */
	char **tried;	      /* ids whose create ended without a known outcome */
	size_t n_tried;
	size_t batch_inline_max; /* bigger batches go as a JSONL file; 0: 20 MB */
};

/* Parses text into a cJSON tree; NULL when malformed or not one JSON value. */
cJSON *gemini_json_parse(const char *json, size_t len);
/* Prints a cJSON tree without spaces; aborts on out of memory. */
char *gemini_json_print(const cJSON *v);

/* Fills m from a TunedModel object; raw/raw_len is the object's own text (m->json). */
void gemini_model_from_json(const cJSON *o, const char *raw, size_t raw_len,
			    struct gemini_tuned_model *m);
void gemini_operation_from_json(const cJSON *o, struct gemini_operation *op);

/* One page of tunedModels.list: models appended to *v (n/cap grown), *next_token set to
 * the nextPageToken (heap) or NULL. Each model's json is its exact text in the page. */
int gemini_parse_model_page(const char *json, size_t len, struct gemini_tuned_model **v, size_t *n,
			    size_t *cap, char **next_token);
/* The same without the copy, for text whose json[len] is a NUL (an HTTP answer's body). */
int gemini_parse_model_page_nul(const char *json, size_t len, struct gemini_tuned_model **v,
				size_t *n, size_t *cap, char **next_token);
/* The nextPageToken of a page of tunedModels.list found by a quick look (the last such
 * member's string, no parse of the page): a guess, heap, or NULL when none is seen. */
char *gemini_scan_next_token(const char *json, size_t len);
/* GETs one page of tunedModels.list (token NULL: the first) into resp. */
int gemini_list_request(struct gemini_client *gc, const char *token, struct backend_cancel *cancel,
			struct http_response *resp, struct backend_error *err);
/* One page of models.list (base models). */
int gemini_parse_base_model_page(const char *json, size_t len, struct base_model **v, size_t *n,
				 size_t *cap, char **next_token);
/* One page of operations.list: the chosen operation so far is kept in *best. */
int gemini_parse_operation_page(const char *json, size_t len, struct gemini_operation *best,
				int *have_best, char **next_token);

/* The PATCH body: only the fields named in update_mask. -EINVAL for an unknown path. */
int gemini_patch_body(const struct gemini_tuned_model *fields, const char *update_mask, char **out);

struct http_response;

/* "tunedModels/ID" or a bare ID -> "tunedModels/ID" in buf; -EINVAL (err filled) when the
 * id breaks the tunedModelId rule, since names go into URL paths verbatim. */
int gemini_model_name(const char *name, char *buf, size_t cap, struct backend_error *err);
/* Fills err for a 2xx answer whose body is not what was asked for; returns -EIO. */
int gemini_malformed(const struct http_response *resp, const char *what, struct backend_error *err);

/* The Gemini client of an open gemini backend (gemini_backend.c's impl). */
struct gemini_client *gemini_backend_client(void *impl);
/* gemini_batch.c */
struct backend_batch_ops;
extern const struct backend_batch_ops gemini_batch_ops;

/* Uploads data (a JSONL batch input) through the Files API's resumable protocol; the
 * new file's name (files/ID) in *name. */
int gemini_file_upload(struct gemini_client *gc, const char *display_name, const char *data,
		       size_t len, char **name, struct backend_cancel *c,
		       struct backend_error *err);
/* Deletes files/ID; a failure is only logged. */
void gemini_file_delete(struct gemini_client *gc, const char *name, struct backend_cancel *c);

#endif
