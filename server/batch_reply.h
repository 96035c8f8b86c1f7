/* batch_reply.h - what the families' batch routes share on top of the neutral batch core:
 * the growing list of items a create builds, submit-then-render of a new batch, and the
 * string fields of counts and times. No wire shape of its own: each family names its
 * fields, renders its record and writes its own errors. */
#ifndef TUNEDFS_SERVER_BATCH_REPLY_H
#define TUNEDFS_SERVER_BATCH_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct srv;
struct srv_batch;
struct srv_batch_item;
struct srv_reply;

/* The items a create builds before it submits them. */
struct srv_batch_items {
	struct srv_batch_item *v;
	size_t n, cap;
};

/* A family's rendering of one batch record (a new object the reply takes). */
typedef cJSON *(*srv_batch_render_fn)(const struct srv_batch *b);

/* Appends an item: a copy of key ("" when NULL), request's compact JSON and extra's
 * when it is an object (else no extra). Returns the new item. */
struct srv_batch_item *srv_batch_items_add(struct srv_batch_items *l, const char *key,
					   const cJSON *request, const cJSON *extra);
/* Frees the items and empties l. */
void srv_batch_items_free(struct srv_batch_items *l);

/* Submits l's items as a new batch of family (taking target, meta and the items, which
 * leaves l empty) and replies 200 with render's JSON of it. On failure returns -errno
 * and replies nothing: the family writes its own 500. */
int srv_batch_submit_render(struct srv *s, const char *family, char *target, char *meta,
			    struct srv_batch_items *l, srv_batch_render_fn render,
			    struct srv_reply *rep);
/* Replies 200 with render's JSON of batch id of family; -ENOENT (nothing replied). */
int srv_batch_render(struct srv *s, const char *family, const char *id, srv_batch_render_fn render,
		     struct srv_reply *rep);

/* o[k] = v as a decimal string (Google's int64 on the wire). */
void srv_batch_json_count(cJSON *o, const char *k, size_t v);
/* o[k] = RFC 3339 time of ns; nothing when ns is 0. */
void srv_batch_json_time(cJSON *o, const char *k, int64_t ns);

#endif
