/* batch_reply.c - the helpers the families' batch routes share: building the items of a
 * create, submitting them and rendering the new batch, counts and times as strings.
 * No wire JSON of any family and no running of batches (server/batch.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "server/batch.h"
#include "server/batch_reply.h"
#include "server/json_util.h"
#include "server/reply.h"
#include "server/srv.h"

struct srv_batch_item *srv_batch_items_add(struct srv_batch_items *l, const char *key,
					   const cJSON *request, const cJSON *extra)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	struct srv_batch_item *it = memset(&l->v[l->n++], 0, sizeof(l->v[0]));
	it->key = xstrdup(key ? key : "");
	it->request = srv_json_print(request);
	it->extra = cJSON_IsObject(extra) ? srv_json_print(extra) : NULL;
	return it;
}

void srv_batch_items_free(struct srv_batch_items *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].request);
		free(l->v[i].extra);
	}
	free(l->v);
	*l = (struct srv_batch_items){0};
}

struct render_ctx {
	srv_batch_render_fn render;
	struct srv_reply *rep;
};

static void render_one(const struct srv_batch *b, void *ctx)
{
	struct render_ctx *rc = ctx;
	srv_reply_json(rc->rep, 200, rc->render(b));
}

int srv_batch_render(struct srv *s, const char *family, const char *id, srv_batch_render_fn render,
		     struct srv_reply *rep)
{
	struct render_ctx rc = {render, rep};
	return srv_batch_with(s->batches, family, id, render_one, &rc);
}

int srv_batch_submit_render(struct srv *s, const char *family, char *target, char *meta,
			    struct srv_batch_items *l, srv_batch_render_fn render,
			    struct srv_reply *rep)
{
	char id[48];
	int rc = srv_batch_submit(s->batches, family, target, meta, l->v, l->n, id);
	*l = (struct srv_batch_items){0};
	if (rc)
		return rc;
	srv_batch_render(s, family, id, render, rep);
	return 0;
}

void srv_batch_json_count(cJSON *o, const char *k, size_t v)
{
	char t[32];
	snprintf(t, sizeof(t), "%zu", v);
	cJSON_AddStringToObject(o, k, t);
}

void srv_batch_json_time(cJSON *o, const char *k, int64_t ns)
{
	char t[64];
	if (!ns)
		return;
	srv_json_time(ns, t, sizeof(t));
	cJSON_AddStringToObject(o, k, t);
}
