/* google_rpc.h - how Google's APIs (Gemini, Vertex AI, Cloud Storage) say why a call failed:
 * the {"error": {code, message, status, details}} envelope, the google.rpc status names and
 * the RetryInfo delay, and proto3 JSON numbers. Used by the Google backends (the error
 * reader as the transport's read_error hook); the transport itself knows none of it. */
#ifndef TUNEDFS_GOOGLE_RPC_H
#define TUNEDFS_GOOGLE_RPC_H

#include "api/backend.h"

#include <cjson/cJSON.h>

struct http_response;

/* The errno of an answer from its HTTP status and google.rpc status name, DESIGN.md's
 * table; http_status 0 looks the name up alone (an Operation.error has no HTTP code). */
int google_rpc_errno(long http_status, const char *status);
/* The contract's kind of the same answer (RESOURCE_EXHAUSTED rate limited, UNAVAILABLE and
 * INTERNAL unavailable, UNAUTHENTICATED credentials, ...), by the same rows. */
enum backend_error_kind google_rpc_kind(long http_status, const char *status);

/* The read_error hook of http_options: fills err from an error answer (code = the status
 * name, or the canonical name of the HTTP status when the body has none; kind by
 * google_rpc_kind) and returns its errno; *asked_ms gets RetryInfo.retryDelay in
 * milliseconds, untouched when absent. */
int google_rpc_read_error(const struct http_response *resp, long *asked_ms,
			  struct backend_error *err);

/* A protobuf Duration ("22s", "0.5s") in milliseconds, rounded up. -EINVAL if malformed. */
int google_rpc_duration_ms(const char *s, long *ms);

/* A proto3 JSON number o[key]: a JSON number, or a string holding one (int64 fields are
 * written as strings, doubles may be "NaN"). 1 and *out when present and whole, else 0. */
int google_json_number(const cJSON *o, const char *key, double *out);
/* An int64 count o[key] (proto3 JSON writes it as a string): >= 0, or -1 when absent or
 * not a count. */
long google_json_count(const cJSON *o, const char *key);

#endif
