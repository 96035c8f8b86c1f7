/* json_util.h - tolerant JSON input for tunedfs-server: trailing commas accepted (as
 * Google's parser does), nesting and size limits, camelCase or snake_case field lookup,
 * numbers given as JSON numbers or strings, RFC 3339 timestamps. No resource mapping. */
#ifndef TUNEDFS_SERVER_JSON_UTIL_H
#define TUNEDFS_SERVER_JSON_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define SRV_JSON_MAX_DEPTH 64

/* Parses text (not necessarily NUL-terminated). Trailing commas before } or ] outside
 * strings are dropped. On failure returns -EINVAL and a message with the offset. */
int srv_json_parse(const char *text, size_t len, cJSON **out, char *why, size_t why_len);

/* The member named camel (e.g. "tuningTask") or its snake_case form ("tuning_task"),
 * or NULL; obj may be NULL or not an object. */
cJSON *srv_json_field(const cJSON *obj, const char *camel);
/* -EINVAL with the service's "Unknown name" message when obj (an object) has a member
 * that is none of the NULL-terminated camelCase names (or their snake_case forms); at
 * names the object's place, e.g. "tuning_task.hyperparameters" ("" for the top). */
int srv_json_known_fields(const cJSON *obj, const char *const *camel, const char *at, char *why,
			  size_t why_len);
/* snake_case of a camelCase name into buf. */
void srv_json_snake(const char *camel, char *buf, size_t len);

/* 0 and the value when item is a number or a numeric string (int64 style), -EINVAL else. */
int srv_json_int(const cJSON *item, int64_t *out);
int srv_json_double(const cJSON *item, double *out);
/* A count or a time kept in a record, o[key] as a JSON number: 0 when absent or not one. */
long srv_json_count(const cJSON *o, const char *key);

/* RFC 3339 UTC with nanoseconds ("2024-03-14T15:11:23.766989274Z"). */
void srv_json_time(int64_t ns, char *buf, size_t len);
/* Parses what srv_json_time writes (0 to 9 fraction digits); -EINVAL when malformed. */
int srv_json_parse_time(const char *s, int64_t *ns);

/* Indents compact JSON text the way the real service prints its answers (two spaces,
 * "key": value), so line tools such as grep see one field a line. Heap result. */
char *srv_json_pretty(const char *compact);

/* Length of the valid UTF-8 sequence at p (1 to 4 bytes, left > 0), 0 when invalid. */
size_t srv_utf8_len(const unsigned char *p, size_t left);

/* Calls line(ctx, object, why, why_len) on each non-blank line of JSONL text of len bytes,
 * in order, up to max lines. 0 when every line parsed and line returned 0; else -EINVAL
 * and "line N: reason" in why (N counts from 1, blank lines too). */
int srv_jsonl_each(const char *text, size_t len, size_t max,
		   int (*line)(void *ctx, const cJSON *j, char *why, size_t why_len), void *ctx,
		   char *why, size_t why_len);

/* cJSON_PrintUnformatted that aborts on out of memory. */
char *srv_json_print(const cJSON *item);

#endif
