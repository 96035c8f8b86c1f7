/* backend.c - the list of backends and the calls of backend.h: a backend is found by name
 * and each call goes through its ops table (an absent hook answers -ENOTSUP); listing every
 * page is done here once for all. The neutral types' life is backend_types.c's. */
#include "api/backend.h"
#include "api/backend_impl.h"
#include "api/http.h"
#include "base/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKEND_MAX_PAGES  100000 /* a service that never stops paging is a broken one */
#define BACKEND_MAX_MODELS 1000000

static const struct backend_ops *const backend_all[] = {
    &backend_gemini_ops,
    &backend_vertex_ops,
    &backend_openai_ops,
};
#define BACKEND_COUNT (sizeof(backend_all) / sizeof(backend_all[0]))

struct backend {
	const struct backend_ops *ops;
	void *impl;
};

static int backend_unsupported(const struct backend *b, const char *what, struct backend_error *err)
{
	http_error_set(err, 0, "", "%s: the %s backend cannot %s", b->ops->name, b->ops->name,
		       what);
	return -ENOTSUP;
}

int backend_open(const struct backend_options *o, struct backend **out, struct backend_error *err)
{
	const char *name = o && o->name && *o->name ? o->name : "gemini";
	const struct backend_ops *ops = NULL;
	void *impl = NULL;
	int rc;

	*out = NULL;
	for (size_t i = 0; i < BACKEND_COUNT; i++)
		if (strcmp(backend_all[i]->name, name) == 0)
			ops = backend_all[i];
	if (!ops) {
		char known[128] = "";
		for (size_t i = 0; i < BACKEND_COUNT; i++)
			snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
				 i ? ", " : "", backend_all[i]->name);
		http_error_set(err, 0, "", "-o backend=%.60s: unknown backend (known: %s)", name,
			       known);
		return -EINVAL;
	}
	rc = ops->open(o, &impl, err);
	if (rc < 0)
		return rc;
	*out = xcalloc(1, sizeof(**out));
	(*out)->ops = ops;
	(*out)->impl = impl;
	return 0;
}

void backend_close(struct backend *b)
{
	if (!b)
		return;
	b->ops->close(b->impl);
	free(b);
}

const char *backend_name(const struct backend *b)
{
	return b->ops->name;
}

unsigned backend_caps(const struct backend *b)
{
	return b->ops->caps;
}

const char *backend_credentials_kind(const struct backend *b)
{
	return b->ops->credentials_kind ? b->ops->credentials_kind(b->impl) : "none";
}

const char *backend_identity(const struct backend *b)
{
	return b->ops->identity(b->impl);
}

int backend_check_id(const struct backend *b, const char *id, char *why, size_t len)
{
	if (!id || !*id) {
		snprintf(why, len, "a model needs a name");
		return 0;
	}
	return b->ops->check_id ? b->ops->check_id(id, why, len) : 1;
}

int backend_check_request(const struct backend *b, const struct tuning_request *r, char *why,
			  size_t len)
{
	return b->ops->check_request ? b->ops->check_request(r, why, len) : 0;
}

int backend_list(struct backend *b, const char *page_token, struct model_page *out,
		 struct backend_cancel *c, struct backend_error *err)
{
	memset(out, 0, sizeof(*out));
	return b->ops->list(b->impl, page_token, out, c, err);
}

/* Appends one page's models to *v (taking them), growing *cap. */
static void backend_take_page(struct model_page *p, struct tuned_model **v, size_t *n, size_t *cap)
{
	if (p->n == 0) {
		free(p->v);
		p->v = NULL;
		return;
	}
	if (*n + p->n > *cap) {
		*cap = (*n + p->n) * 2;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	if (p->n)
		memcpy(*v + *n, p->v, p->n * sizeof(**v));
	*n += p->n;
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

int backend_list_all(struct backend *b, struct tuned_model **out, size_t *n,
		     struct backend_cancel *c, struct backend_error *err)
{
	struct tuned_model *v = NULL;
	size_t cap = 0, count = 0;
	char *token = NULL;
	int rc = 0, pages = 0;

	for (;;) {
		struct model_page p;
		rc = backend_list(b, token, &p, c, err);
		if (rc < 0)
			break;
		backend_take_page(&p, &v, &count, &cap);
		if (p.next && token && strcmp(p.next, token) == 0) {
			http_error_set(err, 0, "", "the service gave the same page token twice");
			rc = -EIO;
		} else if (p.next && (++pages >= BACKEND_MAX_PAGES || count > BACKEND_MAX_MODELS)) {
			http_error_set(err, 0, "", "the listing goes on past %d pages or %d models",
				       BACKEND_MAX_PAGES, BACKEND_MAX_MODELS);
			rc = -EIO;
		}
		free(token);
		token = p.next;
		p.next = NULL;
		model_page_clear(&p);
		if (rc < 0 || !token)
			break;
	}
	free(token);
	if (rc < 0) {
		tuned_models_free(v, count);
		return rc;
	}
	*out = v;
	*n = count;
	return 0;
}

int backend_get(struct backend *b, const char *id, struct tuned_model *out,
		struct backend_cancel *c, struct backend_error *err)
{
	memset(out, 0, sizeof(*out));
	return b->ops->get(b->impl, id, out, c, err);
}

int backend_create(struct backend *b, const struct tuning_request *r, struct tuned_model *out,
		   struct backend_cancel *c, struct backend_error *err)
{
	memset(out, 0, sizeof(*out));
	return b->ops->create(b->impl, r, out, c, err);
}

int backend_progress(struct backend *b, struct tuned_model *m, struct backend_cancel *c,
		     struct backend_error *err)
{
	return b->ops->progress(b->impl, m, c, err);
}

int backend_cancel(struct backend *b, const struct tuned_model *m, struct backend_cancel *c,
		   struct backend_error *err)
{
	if (!b->ops->cancel || !(b->ops->caps & BACKEND_CAN_CANCEL))
		return backend_unsupported(b, "cancel a tuning", err);
	return b->ops->cancel(b->impl, m, c, err);
}

int backend_remove(struct backend *b, const struct tuned_model *m, struct backend_cancel *c,
		   struct backend_error *err)
{
	return b->ops->remove(b->impl, m, c, err);
}

int backend_generate(struct backend *b, const struct tuned_model *m, const char *prompt,
		     const struct generation_settings *gs, struct generation_answer *out,
		     struct backend_cancel *c, struct backend_error *err)
{
	memset(out, 0, sizeof(*out));
	return b->ops->generate(b->impl, m, prompt, gs, out, c, err);
}

int backend_read_answer(const struct backend *b, const char *raw, size_t len,
			struct generation_answer *out)
{
	memset(out, 0, sizeof(*out));
	return b->ops->read_answer ? b->ops->read_answer(raw, len, out) : -ENOTSUP;
}

int backend_count_tokens(struct backend *b, const struct tuned_model *m, const char *text, long *n,
			 struct backend_cancel *c, struct backend_error *err)
{
	if (!b->ops->count_tokens || !(b->ops->caps & BACKEND_CAN_COUNT_TOKENS))
		return backend_unsupported(b, "count tokens", err);
	return b->ops->count_tokens(b->impl, m, text, n, c, err);
}

void backend_stats(struct backend *b, struct backend_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (b->ops->stats)
		b->ops->stats(b->impl, out);
}
