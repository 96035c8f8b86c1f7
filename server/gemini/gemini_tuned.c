/* gemini_tuned.c - the tunedModels routes of the Gemini family: list (paged in creation
 * order), create (returning the Operation and queueing the job), get, patch, delete, and
 * the operations of a model. Generation is gemini_models.c. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "base/dynbuf.h"
#include "server/gemini/gemini.h"
#include "server/gemini/gemini_json.h"
#include "server/ids.h"
#include "server/json_util.h"

static void not_found(struct srv_reply *rep, const char *id)
{
	srv_reply_error(rep, 404, "NOT_FOUND", "Tuned model tunedModels/%.64s does not exist.", id);
}

/* Case-insensitive match of every word of filter (operators like owner:me match all). */
static int filter_match(const struct srv_model *m, const char *filter)
{
	char word[128];
	const char *p = filter;
	while (*p) {
		while (isspace((unsigned char)*p))
			p++;
		size_t n = strcspn(p, " \t");
		if (n == 0)
			break;
		snprintf(word, sizeof(word), "%.*s", (int)(n < 127 ? n : 127), p);
		p += n;
		if (strchr(word, ':'))
			continue;
		if (!(m->display_name && strcasestr(m->display_name, word)) &&
		    !(m->description && strcasestr(m->description, word)))
			return 0;
	}
	return 1;
}

void srv_tuned_list(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		    struct srv_reply *rep)
{
	int size;
	unsigned long long pos;
	char filter[512];
	if (srv_page_params(req, 10, 1000, &size, &pos, rep))
		return;
	int hf = srv_query_get(req->query, "filter", filter, sizeof(filter));
	if (hf < 0) {
		srv_reply_error(rep, 400, "INVALID_ARGUMENT", "Invalid value at 'filter'.");
		return;
	}
	/* Built from each model's cached text: a page costs copies, not re-printing. */
	struct dynbuf t = DYNBUF_INIT;
	struct srv_store *st = s->store;
	int count = 0;
	dynbuf_append(&t, "{", 1);
	pthread_mutex_lock(&st->lock);
	size_t i = srv_store_seq_index_locked(st, pos);
	for (; i < st->n; i++) {
		struct srv_model *m = st->by_seq[i];
		if (strcmp(m->family, "gemini"))
			continue;
		if (hf == 1 && *filter && !filter_match(m, filter))
			continue;
		if (count == size)
			break;
		size_t len;
		const char *one = srv_json_model_text(m, &len);
		dynbuf_append(&t, count ? "," : "\"tunedModels\":[", count ? 1 : 15);
		dynbuf_append(&t, one, len);
		count++;
	}
	while (i < st->n && strcmp(st->by_seq[i]->family, "gemini"))
		i++;
	unsigned long long next = i < st->n ? st->by_seq[i]->seq : 0;
	pthread_mutex_unlock(&st->lock);
	if (count)
		dynbuf_append(&t, "]", 1);
	if (next) {
		char tok[64];
		int n = snprintf(tok, sizeof(tok), "%s\"nextPageToken\":\"", count ? "," : "");
		srv_page_token(next, tok + n, sizeof(tok) - (size_t)n);
		dynbuf_append(&t, tok, strlen(tok));
		dynbuf_append(&t, "\"", 1);
	}
	dynbuf_append(&t, "}", 1);
	srv_reply_text(rep, 200, t.data);
	dynbuf_free(&t);
}

/* Checks where the model is tuned from; fills rep and returns -1 when it cannot be. */
static int check_source(struct srv *s, struct srv_model *m, struct srv_reply *rep)
{
	if (!m->source_model) {
		if (!srv_base_model_known(m->base_model)) {
			srv_reply_error(rep, 404, "NOT_FOUND",
					"Base model %.200s not found (see GET /v1beta/models).",
					m->base_model);
			return -1;
		}
		return 0;
	}
	struct srv_model *src = srv_gemini_find(s, m->source_model + 12);
	if (!src) {
		srv_reply_error(
		    rep, 404, "NOT_FOUND",
		    "Invalid value at 'tuned_model_source.tuned_model': %.100s does not "
		    "exist.",
		    m->source_model);
		return -1;
	}
	pthread_mutex_lock(&s->store->lock);
	free(m->base_model);
	m->base_model = src->base_model ? xstrdup(src->base_model) : NULL;
	pthread_mutex_unlock(&s->store->lock);
	srv_model_put(s->store, src);
	return 0;
}

/* Inserts m under the id asked for, or one made from its display name; fills rep on
 * failure. */
static int insert_with_id(struct srv *s, struct srv_model *m, const char *wanted,
			  struct srv_reply *rep)
{
	for (int attempt = 0; attempt < 8; attempt++) {
		if (wanted)
			snprintf(m->id, sizeof(m->id), "%.40s", wanted);
		else
			srv_id_from_display(m->display_name, m->id, sizeof(m->id));
		int rc = srv_store_insert(s->store, m);
		if (rc == 0)
			return 0;
		if (rc == -EEXIST && wanted) {
			srv_reply_error(rep, 409, "ALREADY_EXISTS",
					"Tuned model tunedModels/%s already exists.", wanted);
			return rc;
		}
		if (rc != -EEXIST) {
			srv_reply_error(rep, 500, "INTERNAL", "Cannot store the tuned model: %s.",
					strerror(-rc));
			return rc;
		}
	}
	srv_reply_error(rep, 500, "INTERNAL", "Cannot find a free tuned model id.");
	return -EEXIST;
}

void srv_tuned_create(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		      struct srv_reply *rep)
{
	char wanted[128], why[512];
	int has_id = srv_query_get(req->query, "tunedModelId", wanted, sizeof(wanted));
	if (has_id < 0 || (has_id == 1 && !srv_id_valid(wanted))) {
		srv_reply_error(rep, 400, "INVALID_ARGUMENT",
				"Invalid value at 'tuned_model_id': must match "
				"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$ (1 to 40 lowercase letters, "
				"digits or '-', starting with a letter).");
		return;
	}
	cJSON *body;
	if (srv_body_json(req, 0, &body, rep))
		return;
	struct srv_model *m = srv_model_new();
	struct srv_example *ex = NULL;
	size_t n_ex = 0;
	int rc = srv_json_create_request(body, m, &ex, &n_ex, why, sizeof(why));
	cJSON_Delete(body);
	if (rc) {
		srv_reply_error(rep, 400, "INVALID_ARGUMENT", "%s", why);
		goto out;
	}
	if (check_source(s, m, rep))
		goto out;
	srv_id_random(m->op_id, 12);
	m->state = SRV_STATE_CREATING;
	snprintf(m->family, sizeof(m->family), "gemini");
	m->create_ns = m->update_ns = srv_now_ns();
	if (insert_with_id(s, m, has_id == 1 ? wanted : NULL, rep))
		goto out;
	srv_jobs_submit(s->jobs, m, ex, n_ex); /* persists m */
	ex = NULL;
	pthread_mutex_lock(&s->store->lock);
	cJSON *op = srv_json_operation(m);
	pthread_mutex_unlock(&s->store->lock);
	srv_reply_json(rep, 200, op);
out:
	srv_examples_free(ex, n_ex);
	srv_model_put(s->store, m);
}

void srv_tuned_get(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		   struct srv_reply *rep)
{
	const char *id = srv_param(p, "id");
	pthread_mutex_lock(&s->store->lock);
	struct srv_model *m = srv_gemini_lookup_locked(s, id);
	size_t len;
	char *text = m ? xstrdup(srv_json_model_text(m, &len)) : NULL;
	pthread_mutex_unlock(&s->store->lock);
	if (text)
		srv_reply_text(rep, 200, text);
	else
		not_found(rep, id);
	free(text);
}

void srv_tuned_patch(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		     struct srv_reply *rep)
{
	const char *id = srv_param(p, "id");
	char mask[512], why[512];
	int has_mask = srv_query_get(req->query, "updateMask", mask, sizeof(mask));
	if (has_mask < 0) {
		srv_reply_error(rep, 400, "INVALID_ARGUMENT", "Invalid value at 'update_mask'.");
		return;
	}
	cJSON *body;
	if (srv_body_json(req, 0, &body, rep))
		return;
	struct srv_model *m = srv_gemini_find(s, id);
	if (!m) {
		cJSON_Delete(body);
		not_found(rep, id);
		return;
	}
	pthread_mutex_lock(&s->store->lock);
	int rc = srv_json_patch(body, has_mask == 1 ? mask : NULL, m, why, sizeof(why));
	cJSON *o = NULL;
	if (rc == 0) {
		m->update_ns = srv_now_ns();
		o = srv_json_model(m);
	}
	pthread_mutex_unlock(&s->store->lock);
	cJSON_Delete(body);
	if (rc == 0) {
		srv_store_persist(s->store, m);
		srv_reply_json(rep, 200, o);
	} else {
		srv_reply_error(rep, 400, "INVALID_ARGUMENT", "%s", why);
	}
	srv_model_put(s->store, m);
}

void srv_tuned_delete(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		      struct srv_reply *rep)
{
	const char *id = srv_param(p, "id");
	struct srv_model *m = srv_gemini_find(s, id);
	srv_model_put(s->store, m);
	if (!m || srv_store_remove(s->store, id) != 0)
		not_found(rep, id);
	else
		srv_reply_json(rep, 200, cJSON_CreateObject());
}

void srv_op_get(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		struct srv_reply *rep)
{
	const char *id = srv_param(p, "id"), *op = srv_param(p, "op");
	pthread_mutex_lock(&s->store->lock);
	struct srv_model *m = srv_gemini_lookup_locked(s, id);
	cJSON *o = m && !strcmp(m->op_id, op) ? srv_json_operation(m) : NULL;
	pthread_mutex_unlock(&s->store->lock);
	if (o)
		srv_reply_json(rep, 200, o);
	else
		srv_reply_error(rep, 404, "NOT_FOUND",
				"Operation tunedModels/%.64s/operations/%.64s does not exist.", id,
				op);
}

void srv_op_cancel(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		   struct srv_reply *rep)
{
	const char *id = srv_param(p, "id"), *op = srv_param(p, "op");
	pthread_mutex_lock(&s->store->lock);
	struct srv_model *m = srv_gemini_lookup_locked(s, id);
	int found = m && !strcmp(m->op_id, op);
	/* Cancelling a finished operation changes nothing, as google.longrunning says. */
	if (found && m->state == SRV_STATE_CREATING)
		m->cancel_requested = 1;
	pthread_mutex_unlock(&s->store->lock);
	if (found)
		srv_reply_json(rep, 200, cJSON_CreateObject());
	else
		srv_reply_error(rep, 404, "NOT_FOUND",
				"Operation tunedModels/%.64s/operations/%.64s does not exist.", id,
				op);
}

void srv_op_list(struct srv *s, const struct srv_request *req, const struct srv_params *p,
		 struct srv_reply *rep)
{
	const char *id = srv_param(p, "id");
	int size;
	unsigned long long pos;
	if (srv_page_params(req, 10, 1000, &size, &pos, rep))
		return;
	pthread_mutex_lock(&s->store->lock);
	struct srv_model *m = srv_gemini_lookup_locked(s, id);
	/* A model has one operation, its create: position 0 is it, anything later is empty. */
	cJSON *op = m && pos == 0 ? srv_json_operation(m) : NULL;
	pthread_mutex_unlock(&s->store->lock);
	if (!m) {
		not_found(rep, id);
		return;
	}
	cJSON *out = cJSON_CreateObject();
	if (op)
		cJSON_AddItemToArray(cJSON_AddArrayToObject(out, "operations"), op);
	srv_reply_json(rep, 200, out);
}
