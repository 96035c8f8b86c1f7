/* backend.c - the list of backends and the calls of backend.h: a backend is found by name
 * and each call goes through its ops table (an absent hook answers -ENOTSUP); listing every
 * page is done here once for all. The neutral types' life is backend_types.c's. */
#include "api/backend.h"
#include "api/backend_impl.h"
#include "api/backend_list.h"
#include "api/http.h"
#include "base/bytes.h"
#include "base/xalloc.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

/* A service that never stops paging is a broken one: a listing ends at these, so that its
 * memory stays bounded whatever the pages say. */
#define BACKEND_MAX_PAGES     10000
#define BACKEND_MAX_MODELS    200000
#define BACKEND_MAX_BYTES     (512UL * 1024 * 1024) /* of the models' JSON kept */
#define BACKEND_MAX_TOKEN_LEN 8192
#define BACKEND_LOG_REFUSED   5 /* refused names logged per page; the rest are counted */

static void (*backend_log_fn)(int prio, const char *line);

void backend_set_log(void (*fn)(int prio, const char *line))
{
	backend_log_fn = fn;
}

void backend_logf(int prio, const char *fmt, ...)
{
	char line[768];
	va_list ap;

	if (!backend_log_fn)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	backend_log_fn(prio, line);
}

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
	http_set_inflight_limit(o ? o->max_inflight_bytes : 0);
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
	return b->ops->caps | (b->ops->batch ? BACKEND_CAN_BATCH : 0);
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

/* 1 when the model may be shown: its id keeps the backend's rule and no NUL hides in its
 * JSON (a C string would cut the name there and show another one). */
static int backend_model_ok(const struct backend *b, const struct tuned_model *m, char *why,
			    size_t len)
{
	if (m->raw_json && strstr(m->raw_json, "\\u0000")) {
		snprintf(why, len, "its JSON holds a NUL character");
		return 0;
	}
	return backend_check_id(b, m->id, why, len);
}

/* Drops (and logs) the models whose names cannot be shown as they are. */
static void backend_filter_page(const struct backend *b, struct model_page *p)
{
	size_t kept = 0, refused = 0;
	char why[160], shown[80];

	for (size_t i = 0; i < p->n; i++) {
		if (backend_model_ok(b, &p->v[i], why, sizeof(why))) {
			p->v[kept++] = p->v[i];
			continue;
		}
		if (refused++ < BACKEND_LOG_REFUSED) {
			http_copy_line(shown, sizeof(shown), p->v[i].id ? p->v[i].id : "");
			backend_logf(LOG_WARNING, "%s: listed model \"%s\" refused: %s",
				     b->ops->name, shown, why);
		}
		tuned_model_clear(&p->v[i]);
	}
	if (refused > BACKEND_LOG_REFUSED)
		backend_logf(LOG_WARNING, "%s: %zu listed models refused in one page", b->ops->name,
			     refused);
	p->n = kept;
}

int backend_list(struct backend *b, const char *page_token, struct model_page *out,
		 struct backend_cancel *c, struct backend_error *err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = b->ops->list(b->impl, page_token, out, c, err);
	if (rc == 0)
		backend_filter_page(b, out);
	return rc;
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

/* The tokens a listing was given, as 64-bit hashes in an open-addressing table: a token
 * seen before means the service pages in a circle. */
struct backend_seen {
	uint64_t *slot; /* 0: empty */
	size_t cap;
};

static uint64_t backend_token_hash(const char *t)
{
	uint64_t h = bytes_fnv1a64_more(BYTES_FNV1A64_BASIS, t, strlen(t));

	return h ? h : 1;
}

/* 1 when t was seen already; else remembers it and returns 0. */
static int backend_seen_add(struct backend_seen *s, const char *t)
{
	uint64_t h = backend_token_hash(t);
	size_t i;

	if (!s->cap) {
		s->cap = 4 * BACKEND_MAX_PAGES;
		s->slot = xcalloc(s->cap, sizeof(*s->slot));
	}
	for (i = h % s->cap; s->slot[i]; i = (i + 1) % s->cap)
		if (s->slot[i] == h)
			return 1;
	s->slot[i] = h;
	return 0;
}

static size_t backend_model_bytes(const struct tuned_model *v, size_t n)
{
	size_t bytes = 0;

	for (size_t i = 0; i < n; i++)
		bytes += sizeof(*v) + (v[i].raw_json ? strlen(v[i].raw_json) : 0);
	return bytes;
}

/* Whether the listing may go on to next: 0, or -EIO with err said. */
static int backend_page_check(struct backend_seen *seen, const char *next, int pages, size_t count,
			      size_t bytes, struct backend_error *err)
{
	if (strlen(next) > BACKEND_MAX_TOKEN_LEN)
		http_error_set(err, 0, "", "the service gave a page token of over %d bytes",
			       BACKEND_MAX_TOKEN_LEN);
	else if (backend_seen_add(seen, next))
		http_error_set(err, 0, "",
			       "the service gave a page token it had given before (the listing "
			       "goes in a circle); stopped after %d pages",
			       pages);
	else if (pages >= BACKEND_MAX_PAGES || count > BACKEND_MAX_MODELS ||
		 bytes > BACKEND_MAX_BYTES)
		http_error_set(err, 0, "",
			       "the listing goes on past %d pages, %d models or %lu MiB; stopped",
			       BACKEND_MAX_PAGES, BACKEND_MAX_MODELS, BACKEND_MAX_BYTES >> 20);
	else
		return 0;
	return -EIO;
}

int backend_list_all(struct backend *b, struct tuned_model **out, size_t *n,
		     struct backend_cancel *c, struct backend_error *err)
{
	struct backend_lister *l = backend_lister_new(b->ops, b->impl, c, BACKEND_MAX_TOKEN_LEN);
	struct backend_seen seen = {0};
	struct tuned_model *v = NULL;
	size_t cap = 0, count = 0, bytes = 0, last_n = 0, last_bytes = 0;
	char *token = NULL;
	int rc = 0, pages = 0;

	for (;;) {
		struct model_page p;
		/* the next page is asked for early only if, as large as this one, it keeps
		 * within the caps below: a stopped listing asks for nothing more */
		int ahead = pages + 1 < BACKEND_MAX_PAGES && count + last_n <= BACKEND_MAX_MODELS &&
			    bytes + last_bytes <= BACKEND_MAX_BYTES;
		rc = backend_lister_page(l, token, ahead, &p, err);
		if (rc < 0)
			break;
		backend_filter_page(b, &p);
		last_n = p.n;
		last_bytes = backend_model_bytes(p.v, p.n);
		bytes += last_bytes;
		backend_take_page(&p, &v, &count, &cap);
		pages++;
		if (p.next)
			rc = backend_page_check(&seen, p.next, pages, count, bytes, err);
		free(token);
		token = p.next;
		p.next = NULL;
		model_page_clear(&p);
		if (rc < 0)
			backend_logf(LOG_ERR, "%s: listing stopped: %s", b->ops->name,
				     err->message);
		if (rc < 0 || !token)
			break;
	}
	backend_lister_free(l);
	free(token);
	free(seen.slot);
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
	char shown[80], why[160];
	int rc;

	memset(out, 0, sizeof(*out));
	rc = b->ops->get(b->impl, id, out, c, err);
	if (rc < 0)
		return rc;
	/* An answer about another model (or none) must not become a directory named id. */
	if (!out->id || strcmp(out->id, id) != 0 || !backend_model_ok(b, out, why, sizeof(why))) {
		http_copy_line(shown, sizeof(shown), out->id ? out->id : "");
		if (!out->id || strcmp(out->id, id) != 0)
			snprintf(why, sizeof(why), "the answer is about \"%s\"", shown);
		http_error_set(err, 200, "", "asked the service for model %s: %s", id, why);
		backend_logf(LOG_WARNING, "%s: %s", b->ops->name, err->message);
		tuned_model_clear(out);
		memset(out, 0, sizeof(*out));
		return -EIO;
	}
	return 0;
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

int backend_generate_stream(struct backend *b, const struct tuned_model *m, const char *prompt,
			    const struct generation_settings *gs, backend_text_fn on_text,
			    void *arg, struct generation_answer *out, struct backend_cancel *c,
			    struct backend_error *err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (b->ops->generate_stream && (b->ops->caps & BACKEND_CAN_STREAM))
		return b->ops->generate_stream(b->impl, m, prompt, gs, on_text, arg, out, c, err);
	rc = b->ops->generate(b->impl, m, prompt, gs, out, c, err);
	if (rc == 0 && on_text && out->text && *out->text)
		on_text(arg, 0, out->text, strlen(out->text));
	return rc;
}

int backend_read_answer(const struct backend *b, const char *raw, size_t len,
			struct generation_answer *out)
{
	memset(out, 0, sizeof(*out));
	return b->ops->read_answer ? b->ops->read_answer(raw, len, out) : -ENOTSUP;
}

int backend_count_tokens_many(struct backend *b, const struct tuned_model *m,
			      const char *const *texts, size_t n_texts, long *n,
			      struct backend_cancel *c, struct backend_error *err)
{
	if (!b->ops->count_tokens || !(b->ops->caps & BACKEND_CAN_COUNT_TOKENS))
		return backend_unsupported(b, "count tokens", err);
	return b->ops->count_tokens(b->impl, m, texts, n_texts, n, c, err);
}

int backend_count_tokens(struct backend *b, const struct tuned_model *m, const char *text, long *n,
			 struct backend_cancel *c, struct backend_error *err)
{
	return backend_count_tokens_many(b, m, &text, 1, n, c, err);
}

void backend_dataset_rules(const struct backend *b, size_t n_examples,
			   struct backend_dataset_rules *out)
{
	memset(out, 0, sizeof(*out));
	out->limits = "";
	if (b->ops->dataset_rules)
		b->ops->dataset_rules(n_examples, out);
}

void backend_stats(struct backend *b, struct backend_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (b->ops->stats)
		b->ops->stats(b->impl, out);
}

static int backend_no_batch(const struct backend *b, struct backend_error *err)
{
	return b->ops->batch ? 0 : backend_unsupported(b, "run batches", err);
}

int backend_batch_submit(struct backend *b, const struct tuned_model *m, const char *display_name,
			 const struct batch_item *items, size_t n, char **name,
			 struct backend_cancel *c, struct backend_error *err)
{
	int rc = backend_no_batch(b, err);

	*name = NULL;
	return rc ? rc : b->ops->batch->submit(b->impl, m, display_name, items, n, name, c, err);
}

int backend_batch_find(struct backend *b, const struct tuned_model *m, const char *display_name,
		       char **name, struct backend_cancel *c, struct backend_error *err)
{
	int rc = backend_no_batch(b, err);

	*name = NULL;
	return rc ? rc : b->ops->batch->find(b->impl, m, display_name, name, c, err);
}

int backend_batch_get(struct backend *b, const char *name, struct batch_status *out,
		      struct backend_cancel *c, struct backend_error *err)
{
	int rc = backend_no_batch(b, err);

	memset(out, 0, sizeof(*out));
	return rc ? rc : b->ops->batch->get(b->impl, name, out, c, err);
}

int backend_batch_results(struct backend *b, const char *name, struct batch_result **out, size_t *n,
			  struct backend_cancel *c, struct backend_error *err)
{
	int rc = backend_no_batch(b, err);

	*out = NULL;
	*n = 0;
	return rc ? rc : b->ops->batch->results(b->impl, name, out, n, c, err);
}

int backend_batch_cancel(struct backend *b, const char *name, struct backend_cancel *c,
			 struct backend_error *err)
{
	int rc = backend_no_batch(b, err);

	return rc ? rc : b->ops->batch->cancel(b->impl, name, c, err);
}

void backend_thread_end(void)
{
	OPENSSL_thread_stop();
}
